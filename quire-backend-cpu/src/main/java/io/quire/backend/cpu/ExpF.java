package io.quire.backend.cpu;

import static io.quire.spi.SamplingMath.LN2_HI;
import static io.quire.spi.SamplingMath.LN2_LO;
import static io.quire.spi.SamplingMath.LOG2E;
import static io.quire.spi.SamplingMath.P0;
import static io.quire.spi.SamplingMath.P1;
import static io.quire.spi.SamplingMath.P2;
import static io.quire.spi.SamplingMath.P3;
import static io.quire.spi.SamplingMath.P4;
import static io.quire.spi.SamplingMath.P5;
import static io.quire.spi.SamplingMath.ROUND;

import io.quire.spi.SamplingMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * exp in fp32 (Cephes' expf, within 2 ulp) as a fixed sequence of fp32 multiplies and adds: the
 * scalar form is {@link SamplingMath#expf} with range checks, the vector form repeats its operations.
 *
 * <p>Why not {@code lanewise(EXP)}: C2 computes it with a vector math library and the interpreter and
 * C1 lane by lane with {@code Math.exp}; the two differ in the last bit, so softmax and SiLU results
 * (and at times a sampled token's logprob) depended on how far the JIT had warmed up. These
 * operations give the same bits in every lane, tier and tail loop.
 */
final class ExpF {
  /** exp(88) = 1.65e38; above, +inf (its 2^n would not fit a float's exponent). */
  static final float MAX_ARGUMENT = 88f;
  /** exp(-87) = 1.6e-38; below, 0. */
  static final float MIN_ARGUMENT = -87f;

  private ExpF() {}

  static float exp(float a) {
    if (a != a) return a;
    if (a > MAX_ARGUMENT) return Float.POSITIVE_INFINITY;
    if (a < MIN_ARGUMENT) return 0f;
    return SamplingMath.expf(a);
  }

  /** {@link #exp(float)} on each lane, by the same operations. */
  static FloatVector exp(FloatVector a) {
    FloatVector c = a.max(MIN_ARGUMENT).min(MAX_ARGUMENT);  // NaN stays NaN
    FloatVector n = c.mul(LOG2E).add(ROUND).sub(ROUND);
    FloatVector r = c.sub(n.mul(LN2_HI)).sub(n.mul(LN2_LO));
    FloatVector z = r.mul(r);
    FloatVector p = r.mul(P0).add(P1);
    p = p.mul(r).add(P2);
    p = p.mul(r).add(P3);
    p = p.mul(r).add(P4);
    p = p.mul(r).add(P5);
    FloatVector e = p.mul(z).add(r).add(1f);
    FloatVector scale = ((IntVector) n.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23)
        .reinterpretAsFloats();
    return e.mul(scale)
        .blend(0f, a.compare(VectorOperators.LT, MIN_ARGUMENT))
        .blend(Float.POSITIVE_INFINITY, a.compare(VectorOperators.GT, MAX_ARGUMENT));
  }
}

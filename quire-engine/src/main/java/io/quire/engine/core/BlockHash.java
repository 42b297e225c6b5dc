package io.quire.engine.core;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Identity of a full KV block's content for automatic prefix caching: the first 128 bits of
 * SHA-256(parent hash, token ids of the block), so equal hashes mean an equal whole prefix. 128
 * bits of SHA-256 make an accidental collision practically impossible (vLLM's {@code sha256}
 * option); a weak hash would silently serve another prompt's K/V.
 */
public record BlockHash(long hi, long lo) {

  /** Parent of a sequence's first block. */
  public static final BlockHash ROOT = new BlockHash(0, 0);

  /** Hash of {@code tokens[from, from + blockSize)} chained to {@code parent}. */
  public static BlockHash of(BlockHash parent, Request request, int from, int blockSize) {
    ByteBuffer buf = ByteBuffer.allocate(16 + 4 * blockSize).order(ByteOrder.LITTLE_ENDIAN);
    buf.putLong(parent.hi).putLong(parent.lo);
    for (int i = from; i < from + blockSize; i++) buf.putInt(request.tokenAt(i));
    ByteBuffer digest = ByteBuffer.wrap(sha256().digest(buf.array()));
    return new BlockHash(digest.getLong(), digest.getLong());
  }

  private static final ThreadLocal<MessageDigest> SHA256 =
      ThreadLocal.withInitial(
          () -> {
            try {
              return MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
              throw new IllegalStateException("SHA-256 is required by every Java platform", e);
            }
          });

  private static MessageDigest sha256() {
    return SHA256.get();
  }
}

package io.quire.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;

/** UTF-8 helpers that reproduce Rust's {@code String::from_utf8_lossy}, which HF decoders use. */
final class Utf8 {
  private Utf8() {}

  static final char REPLACEMENT = '\uFFFD';

  /**
   * Decodes {@code bytes[0..len)}, replacing each maximal invalid subpart with one U+FFFD (the
   * Unicode-recommended practice that Rust follows; Java's decoder can differ on some inputs).
   */
  static String decodeLossy(byte[] bytes, int len) {
    StringBuilder sb = new StringBuilder(len);
    int i = 0;
    while (i < len) {
      int b0 = bytes[i] & 0xFF;
      if (b0 < 0x80) {
        sb.append((char) b0);
        i++;
        continue;
      }
      int need;
      int lo = 0x80;
      int hi = 0xBF;
      if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
      } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;
      } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
      } else {
        sb.append(REPLACEMENT);
        i++;
        continue;
      }
      int cp = b0 & (0x3F >> need);
      int j = i + 1;
      boolean ok = true;
      for (int k = 0; k < need; k++, j++) {
        if (j >= len) {
          ok = false;
          break;
        }
        int b = bytes[j] & 0xFF;
        int min = k == 0 ? lo : 0x80;
        int max = k == 0 ? hi : 0xBF;
        if (b < min || b > max) {
          ok = false;
          break;
        }
        cp = (cp << 6) | (b & 0x3F);
      }
      if (ok) {
        sb.appendCodePoint(cp);
      } else {
        sb.append(REPLACEMENT);
      }
      i = j;
    }
    return sb.toString();
  }

  static String decodeLossy(ByteArrayOutputStream bytes) {
    return decodeLossy(bytes.toByteArray(), bytes.size());
  }

  /** Whether {@code bytes[0..len)} are valid UTF-8 (Rust's {@code String::from_utf8} check). */
  static boolean isValid(byte[] bytes, int len) {
    try {
      StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes, 0, len));
      return true;
    } catch (CharacterCodingException e) {
      return false;
    }
  }
}

package dev.contextstore.client;

import java.util.HexFormat;

/** Lowercase hex, as the server writes digests in error details. */
final class Hex {
  private static final HexFormat LOWER = HexFormat.of();

  private Hex() {}

  static String encode(byte[] bytes) {
    return LOWER.formatHex(bytes);
  }

  /**
   * @throws IllegalArgumentException for an odd length or a character that is not a hex digit
   */
  static byte[] decode(String hex) {
    return LOWER.parseHex(hex);
  }
}

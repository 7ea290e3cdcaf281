package herald.twin;

import java.nio.charset.StandardCharsets;

/** Herald's deterministic output ids (schemas/README.md "Output ids"): same bytes, same id. */
final class Ids {
  private Ids() {}

  private static long fmix(long h) {
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    h *= 0xc4ceb9fe1a85ec53L;
    return h ^ (h >>> 33);
  }

  static String makeId(String rule, String entity, String trigger) {
    long fnv = 0xcbf29ce484222325L;
    long mix = 0x9e3779b97f4a7c15L;
    long n = 0;
    for (String part : new String[] {rule, "\u001f", entity, "\u001f", trigger}) {
      for (byte b : part.getBytes(StandardCharsets.UTF_8)) {
        int c = b & 0xFF;
        fnv = (fnv ^ c) * 0x100000001b3L;
        mix = Long.rotateLeft(mix ^ c, 27) * 0x9e3779b97f4a7c15L;
        n++;
      }
    }
    return hex(fmix(fnv ^ n)) + hex(fmix(mix ^ Long.rotateLeft(n, 32)));
  }

  private static String hex(long v) {
    String s = Long.toHexString(v);
    return "0".repeat(16 - s.length()) + s;
  }
}

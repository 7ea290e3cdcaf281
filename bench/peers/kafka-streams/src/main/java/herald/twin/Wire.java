package herald.twin;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** Compact binary codec for state values and internal records: varints, strings, doubles. */
final class Wire {
  private Wire() {}

  /** Appends to a growable buffer; reuse one per processor and copy out with {@link #toBytes}. */
  static final class Writer {
    private byte[] buf = new byte[256];
    private int len;

    Writer reset() {
      len = 0;
      return this;
    }

    byte[] toBytes() {
      return Arrays.copyOf(buf, len);
    }

    private void ensure(int n) {
      if (len + n > buf.length) buf = Arrays.copyOf(buf, Math.max(buf.length * 2, len + n));
    }

    Writer u8(int v) {
      ensure(1);
      buf[len++] = (byte) v;
      return this;
    }

    Writer varint(long v) {
      ensure(10);
      while ((v & ~0x7FL) != 0) {
        buf[len++] = (byte) ((v & 0x7F) | 0x80);
        v >>>= 7;
      }
      buf[len++] = (byte) v;
      return this;
    }

    Writer svarint(long v) {
      return varint((v << 1) ^ (v >> 63));
    }

    Writer f64(double v) {
      long b = Double.doubleToRawLongBits(v);
      ensure(8);
      for (int i = 0; i < 8; i++) buf[len++] = (byte) (b >>> (8 * i));
      return this;
    }

    Writer str(String s) {
      byte[] b = s.getBytes(StandardCharsets.UTF_8);
      varint(b.length);
      ensure(b.length);
      System.arraycopy(b, 0, buf, len, b.length);
      len += b.length;
      return this;
    }
  }

  /** Reads what a Writer wrote; throws IllegalStateException on truncated input. */
  static final class Reader {
    private final byte[] buf;
    private int pos;

    Reader(byte[] buf) {
      this.buf = buf;
    }

    boolean done() {
      return pos == buf.length;
    }

    int u8() {
      if (pos >= buf.length) throw new IllegalStateException("truncated");
      return buf[pos++] & 0xFF;
    }

    long varint() {
      long v = 0;
      for (int shift = 0; shift < 64; shift += 7) {
        int b = u8();
        v |= (long) (b & 0x7F) << shift;
        if ((b & 0x80) == 0) return v;
      }
      throw new IllegalStateException("varint too long");
    }

    long svarint() {
      long v = varint();
      return (v >>> 1) ^ -(v & 1);
    }

    int count() {
      long n = varint();
      if (n < 0 || n > buf.length - pos) throw new IllegalStateException("bad count");
      return (int) n;
    }

    double f64() {
      if (pos + 8 > buf.length) throw new IllegalStateException("truncated");
      long b = 0;
      for (int i = 0; i < 8; i++) b |= (long) (buf[pos++] & 0xFF) << (8 * i);
      return Double.longBitsToDouble(b);
    }

    String str() {
      int n = count();
      String s = new String(buf, pos, n, StandardCharsets.UTF_8);
      pos += n;
      return s;
    }
  }
}

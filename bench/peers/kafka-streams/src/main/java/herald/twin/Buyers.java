package herald.twin;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * A SKU's recent buyers (Herald's `sku_state::buyers`) in two stores of their own, so a sale or a
 * waitlist request touches one small value instead of the SKU's whole buyer list:
 * (SKU, customer) -> latest purchase time, and the index (SKU, purchase time, customer) -> empty,
 * whose range scan from the SKU's oldest purchase finds what to forget first. The SKU's count,
 * newest purchase and a lower bound of its oldest live in its {@link SkuState}.
 *
 * <p>Keys start with the SKU's UTF-8 length (2 bytes) and bytes, so one SKU's keys are a contiguous
 * range; times are big-endian with the sign bit flipped, so they sort as numbers. Past the count
 * cap the oldest purchase goes first; equal times go in customer id (byte) order.
 */
final class Buyers {
  /** How far past the oldest known purchase time an eviction scan first looks. */
  static final long WINDOW_MS = Config.HOUR;

  private final KeyValueStore<Bytes, byte[]> byCustomer;
  private final KeyValueStore<Bytes, byte[]> byTime;
  private static final byte[] EMPTY = new byte[0];

  Buyers(KeyValueStore<Bytes, byte[]> byCustomer, KeyValueStore<Bytes, byte[]> byTime) {
    this.byCustomer = byCustomer;
    this.byTime = byTime;
  }

  /** True when `customer` bought `sku` at or after `ts`. */
  boolean boughtSince(SkuState s, String sku, String customer, long ts) {
    if (s.buyerCount == 0) return false;
    byte[] v = byCustomer.get(customerKey(sku, customer));
    return v != null && ByteBuffer.wrap(v).getLong() >= ts;
  }

  /** Records a purchase, then forgets buyers older than `maxAgeMs` before the newest, and the oldest past `max`. */
  void remember(SkuState s, String sku, String customer, long ts, long maxAgeMs, int max) {
    Bytes ck = customerKey(sku, customer);
    byte[] old = byCustomer.get(ck);
    if (old == null) {
      byCustomer.put(ck, time(ts));
      byTime.put(timeKey(sku, ts, customer), EMPTY);
      s.oldestBuyMs = s.buyerCount == 0 ? ts : Math.min(s.oldestBuyMs, ts);
      s.buyerCount++;
    } else {
      long was = ByteBuffer.wrap(old).getLong();
      if (ts > was) {
        byCustomer.put(ck, time(ts));
        byTime.delete(timeKey(sku, was, customer));
        byTime.put(timeKey(sku, ts, customer), EMPTY);
      }
    }
    s.newestBuyMs = Math.max(s.newestBuyMs, ts);
    // Older than the age limit before the newest purchase (never the newest itself).
    long cutoff = s.newestBuyMs - maxAgeMs;  // forget those at or before it
    if (s.oldestBuyMs <= cutoff) {
      List<byte[]> gone = new ArrayList<>();
      try (KeyValueIterator<Bytes, byte[]> it = byTime.range(timeKey(sku, s.oldestBuyMs, ""), timeKey(sku, cutoff + 1, ""))) {
        while (it.hasNext()) {
          byte[] k = it.next().key.get();
          if (timeOf(k) <= cutoff) gone.add(k);
        }
      }
      for (byte[] k : gone) forget(s, sku, k);
      s.oldestBuyMs = cutoff + 1;
    }
    while (s.buyerCount > max) {
      byte[] k = oldest(s, sku);
      if (k == null) break;  // not reached: the count says there is one
      forget(s, sku, k);
      s.oldestBuyMs = timeOf(k);
    }
  }

  /** The index key of the SKU's oldest purchase, scanning forward from the known lower bound. */
  private byte[] oldest(SkuState s, String sku) {
    long from = s.oldestBuyMs;
    long window = WINDOW_MS;
    while (from <= s.newestBuyMs) {
      long to = s.newestBuyMs - from < window ? s.newestBuyMs + 1 : from + window;
      try (KeyValueIterator<Bytes, byte[]> it = byTime.range(timeKey(sku, from, ""), timeKey(sku, to, ""))) {
        if (it.hasNext()) return it.next().key.get();
      }
      from = to;
      window = Math.min(window * 2, 1L << 50);
    }
    return null;
  }

  private void forget(SkuState s, String sku, byte[] timeKey) {
    byTime.delete(Bytes.wrap(timeKey));
    int skuLen = 2 + ((timeKey[0] & 0xFF) << 8 | (timeKey[1] & 0xFF));
    byte[] ck = new byte[timeKey.length - 8];
    System.arraycopy(timeKey, 0, ck, 0, skuLen);
    System.arraycopy(timeKey, skuLen + 8, ck, skuLen, timeKey.length - skuLen - 8);
    byCustomer.delete(Bytes.wrap(ck));
    s.buyerCount--;
  }

  private static byte[] prefix(String sku, int extra) {
    byte[] b = sku.getBytes(StandardCharsets.UTF_8);
    if (b.length > 0xFFFF) throw new IllegalArgumentException("sku too long");
    byte[] k = new byte[2 + b.length + extra];
    k[0] = (byte) (b.length >>> 8);
    k[1] = (byte) b.length;
    System.arraycopy(b, 0, k, 2, b.length);
    return k;
  }

  static Bytes customerKey(String sku, String customer) {
    byte[] c = customer.getBytes(StandardCharsets.UTF_8);
    byte[] k = prefix(sku, c.length);
    System.arraycopy(c, 0, k, k.length - c.length, c.length);
    return Bytes.wrap(k);
  }

  static Bytes timeKey(String sku, long ts, String customer) {
    byte[] c = customer.getBytes(StandardCharsets.UTF_8);
    byte[] k = prefix(sku, 8 + c.length);
    int at = k.length - c.length - 8;
    ByteBuffer.wrap(k, at, 8).putLong(ts ^ Long.MIN_VALUE);
    System.arraycopy(c, 0, k, at + 8, c.length);
    return Bytes.wrap(k);
  }

  private static long timeOf(byte[] timeKey) {
    int at = 2 + ((timeKey[0] & 0xFF) << 8 | (timeKey[1] & 0xFF));
    return ByteBuffer.wrap(timeKey, at, 8).getLong() ^ Long.MIN_VALUE;
  }

  private static byte[] time(long ts) {
    return ByteBuffer.allocate(8).putLong(ts).array();
  }
}

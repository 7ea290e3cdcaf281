package herald.twin;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Event-time timers in a key-value store keyed by (due time big-endian, timer key), so a range
 * scan from the start finds every due timer in (time, key) order. The value is the payload.
 * A lower bound of the earliest due time is kept in memory (read from the store on init), so
 * checking for due timers before each record costs a comparison, not a scan. Every scan is a
 * bounded range from that bound: never {@code all()} or an open-ended range, which on a cached
 * store copy the whole cache's key set, and which would step over the tombstones of every timer
 * fired or cancelled before.
 */
final class Timers {
  /** A timer that fell due. */
  record Due(long at, String key, String payload) {}

  private final KeyValueStore<Bytes, byte[]> store;
  /** How far past a scan the next pending timer is looked for. */
  static final long LOOKAHEAD_MS = 60_000;

  private long next = Long.MAX_VALUE;  // at most the earliest pending due time (stale-low: rescanned)

  Timers(KeyValueStore<Bytes, byte[]> store) {
    this.store = store;
    try (KeyValueIterator<Bytes, byte[]> it = store.all()) {
      if (it.hasNext()) next = timeOf(it.next().key);
    }
  }

  void schedule(long at, String key, String payload) {
    store.put(key(at, key), payload.getBytes(StandardCharsets.UTF_8));
    next = Math.min(next, at);
  }

  void cancel(long at, String key) {
    store.delete(key(at, key));
  }

  boolean anyDue(long upTo) {
    return next <= upTo;
  }

  /** Removes and returns the timers due at or before `upTo`, oldest first. */
  List<Due> takeDue(long upTo) {
    List<Due> due = new ArrayList<>();
    if (next > upTo) return due;
    long from = next;  // no timer is due before it
    long end = upTo == Long.MAX_VALUE ? upTo : upTo + 1;
    // Collected first, deleted after: the store is not modified under an open iterator.
    try (KeyValueIterator<Bytes, byte[]> it = store.range(key(from, ""), key(end, ""))) {
      while (it.hasNext()) {
        KeyValue<Bytes, byte[]> kv = it.next();
        long at = timeOf(kv.key);
        if (at > upTo) break;
        byte[] k = kv.key.get();
        due.add(new Due(at, new String(k, 8, k.length - 8, StandardCharsets.UTF_8),
            new String(kv.value, StandardCharsets.UTF_8)));
      }
    }
    for (Due d : due) store.delete(key(d.at, d.key));
    // Every timer left is due after upTo. Look one window ahead for the earliest; if none is
    // there, the window's end is a valid lower bound (the next check past it scans again).
    next = Long.MAX_VALUE;
    if (end != Long.MAX_VALUE) {
      long ahead = end > Long.MAX_VALUE - LOOKAHEAD_MS ? Long.MAX_VALUE : end + LOOKAHEAD_MS;
      next = ahead;
      try (KeyValueIterator<Bytes, byte[]> it = store.range(key(end, ""), key(ahead, ""))) {
        if (it.hasNext()) next = Math.min(next, timeOf(it.next().key));
      }
    }
    return due;
  }

  private static Bytes key(long at, String key) {
    byte[] k = key.getBytes(StandardCharsets.UTF_8);
    return Bytes.wrap(ByteBuffer.allocate(8 + k.length).putLong(at).put(k).array());
  }

  private static long timeOf(Bytes key) {
    return ByteBuffer.wrap(key.get(), 0, 8).getLong();
  }
}

package herald.twin;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * Herald's global availability table as a Kafka Streams global store over all of
 * shop.inventory: per SKU and location the recent levels by event time, so a reminder due at T
 * sees the stock as of T. Levels older than `availabilityHistoryMs` behind the store's
 * watermark (minimum over partitions of the newest level read) fold into the latest one before
 * them. It runs in its own KafkaStreams instance: Kafka Streams refuses one topic as both a
 * global and a partitioned source of one topology, and the SKU side reads shop.inventory too.
 */
final class Availability {
  static final String STORE = "availability";

  private Availability() {}

  static Topology topology(Config cfg) {
    StreamsBuilder b = new StreamsBuilder();
    b.addGlobalStore(
        Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(STORE), Serdes.Bytes(), Serdes.ByteArray())
            .withLoggingDisabled(),
        cfg.inventory,
        Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()).withTimestampExtractor(new EventTimeExtractor(cfg)),
        () -> new Updater(cfg));
    return b.build();
  }

  /** Applies stock levels to the global store; bad records are skipped (the SKU side dead-letters them). */
  static final class Updater implements Processor<byte[], byte[], Void, Void> {
    private final Config cfg;
    private final Decoder decoder = new Decoder();
    private final Event ev = new Event();
    private final Wire.Writer writer = new Wire.Writer();
    private final Map<Integer, Long> newest = new HashMap<>();
    private ProcessorContext<Void, Void> ctx;
    private KeyValueStore<Bytes, byte[]> store;

    Updater(Config cfg) {
      this.cfg = cfg;
    }

    @Override
    public void init(ProcessorContext<Void, Void> context) {
      ctx = context;
      store = context.getStateStore(STORE);
    }

    @Override
    public void process(Record<byte[], byte[]> rec) {
      if (!decoder.decode(Event.Topic.INVENTORY, rec.key(), rec.value(), ev)) return;
      int partition = ctx.recordMetadata().map(m -> m.partition()).orElse(0);
      newest.merge(partition, ev.ts, Math::max);
      long watermark = Long.MAX_VALUE;
      for (long t : newest.values()) watermark = Math.min(watermark, t);
      Bytes key = Bytes.wrap(rec.key());
      byte[] old = store.get(key);
      List<Loc> locs = old == null ? new ArrayList<>() : decode(old);
      Loc loc = null;
      for (Loc l : locs) if (l.name.equals(ev.location)) loc = l;
      if (loc == null) locs.add(loc = new Loc(ev.location));
      // The latest level of a location at one instant wins.
      int at = upperBound(loc.ts, loc.n, ev.ts);
      if (at > 0 && loc.ts[at - 1] == ev.ts) loc.available[at - 1] = ev.available;
      else loc.insert(at, ev.ts, ev.available);
      // Fold what no reminder will ask about any more into the latest reading before it.
      int keep = upperBound(loc.ts, loc.n, watermark - cfg.availabilityHistoryMs);
      if (keep > 1) loc.dropFirst(keep - 1);
      store.put(key, encode(writer, locs));
    }
  }

  /** Reads the global store of a running availability instance. */
  static CartRule.StockView view(ReadOnlyKeyValueStore<Bytes, byte[]> store) {
    return (sku, asOf) -> {
      byte[] v = store.get(Bytes.wrap(sku.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
      return v == null ? null : availableAsOf(decode(v), asOf);
    };
  }

  /** Sum over locations of each one's latest level at or before `asOf`; null when none is known. */
  static Long availableAsOf(List<Loc> locs, long asOf) {
    long total = 0;
    boolean known = false;
    for (Loc l : locs) {
      int at = upperBound(l.ts, l.n, asOf);
      if (at == 0) continue;
      total += l.available[at - 1];
      known = true;
    }
    return known ? total : null;
  }

  static final class Loc {
    final String name;
    long[] ts = new long[2];
    long[] available = new long[2];
    int n;

    Loc(String name) {
      this.name = name;
    }

    void insert(int at, long t, long a) {
      if (n == ts.length) {
        ts = java.util.Arrays.copyOf(ts, n * 2);
        available = java.util.Arrays.copyOf(available, n * 2);
      }
      System.arraycopy(ts, at, ts, at + 1, n - at);
      System.arraycopy(available, at, available, at + 1, n - at);
      ts[at] = t;
      available[at] = a;
      n++;
    }

    void dropFirst(int k) {
      System.arraycopy(ts, k, ts, 0, n - k);
      System.arraycopy(available, k, available, 0, n - k);
      n -= k;
    }
  }

  /** First index whose time is > t. */
  private static int upperBound(long[] ts, int n, long t) {
    int lo = 0, hi = n;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (ts[mid] <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  static byte[] encode(Wire.Writer w, List<Loc> locs) {
    w.reset().varint(locs.size());
    for (Loc l : locs) {
      w.str(l.name).varint(l.n);
      for (int i = 0; i < l.n; i++) w.svarint(l.ts[i]).svarint(l.available[i]);
    }
    return w.toBytes();
  }

  static List<Loc> decode(byte[] in) {
    Wire.Reader r = new Wire.Reader(in);
    List<Loc> out = new ArrayList<>();
    for (int i = r.count(); i > 0; i--) {
      Loc l = new Loc(r.str());
      for (int k = r.count(); k > 0; k--) l.insert(l.n, r.svarint(), r.svarint());
      out.add(l);
    }
    return out;
  }
}

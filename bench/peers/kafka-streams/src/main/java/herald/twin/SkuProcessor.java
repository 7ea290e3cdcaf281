package herald.twin;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The SKU side (shop.inventory + the SKU signals, co-partitioned by SKU): back-in-stock
 * notifications to waiting customers and low/out-of-stock alerts to merchants. Top-up timers
 * fire in stream time, before any record of a later time is applied.
 */
final class SkuProcessor implements Processor<byte[], byte[], byte[], byte[]>, InventoryRule.Effects {
  static final String SKUS = "skus";
  static final String TIMERS = "sku-timers";
  static final String BUYERS = "sku-buyers";
  static final String BUYERS_BY_TIME = "sku-buyers-by-time";

  private final Config cfg;
  private final String restockChild;
  private final String dlqChild;
  private final InventoryRule rule;
  private final Decoder decoder = new Decoder();
  private final Event ev = new Event();
  private final Encoder encoder = new Encoder();
  private final Wire.Writer writer = new Wire.Writer();
  private ProcessorContext<byte[], byte[]> ctx;
  private KeyValueStore<Bytes, byte[]> skus;
  private Timers timers;
  private Buyers buyers;

  SkuProcessor(Config cfg, String restockChild, String dlqChild) {
    this.cfg = cfg;
    this.restockChild = restockChild;
    this.dlqChild = dlqChild;
    this.rule = new InventoryRule(cfg);
  }

  @Override
  public void init(ProcessorContext<byte[], byte[]> context) {
    ctx = context;
    skus = context.getStateStore(SKUS);
    timers = new Timers(context.getStateStore(TIMERS));
    buyers = new Buyers(context.getStateStore(BUYERS), context.getStateStore(BUYERS_BY_TIME));
    context.schedule(Duration.ofSeconds(1), PunctuationType.STREAM_TIME, this::fireDue);
  }

  @Override
  public void process(Record<byte[], byte[]> rec) {
    fireDue(ctx.currentStreamTimeMs());
    String topic = ctx.recordMetadata().map(m -> m.topic()).orElse("");
    if (!topic.equals(cfg.inventory)) {
      Signal sig = rec.key() == null || rec.value() == null ? null : Signal.decode(rec.value());
      if (sig == null) {
        Dlq.SKIPPED_SIGNALS.increment();
        return;
      }
      if (sig.kind == Signal.VIEW || sig.kind == Signal.CART_ADD) return;  // detector-only signals
      Bytes key = Bytes.wrap(rec.key());
      save(key, rule.onSignal(new String(rec.key(), StandardCharsets.UTF_8), sig, load(key), timers, buyers, this));
      return;
    }
    if (!decoder.decode(Event.Topic.INVENTORY, rec.key(), rec.value(), ev)) {
      Dlq.send(ctx, dlqChild, rec, decoder.message);
      return;
    }
    if (ev.ts < cfg.minEventTimeMs || ev.ts > ctx.currentSystemTimeMs() + cfg.maxFutureMs) {
      Dlq.send(ctx, dlqChild, rec, "field 'ts' is out of range: " + ev.ts);
      return;
    }
    Bytes key = Bytes.wrap(rec.key());
    save(key, rule.onStock(ev, load(key), timers, this));
  }

  private void fireDue(long streamTimeMs) {
    if (streamTimeMs < 0) return;
    while (timers.anyDue(streamTimeMs)) {
      List<Timers.Due> due = timers.takeDue(streamTimeMs);
      for (Timers.Due d : due) {
        Bytes key = Bytes.wrap(d.key().getBytes(StandardCharsets.UTF_8));
        SkuState s = load(key);
        if (s != null) save(key, rule.onTimer(d.key(), d.at(), d.payload(), s, timers, this));
      }
    }
  }

  @Override
  public void backInStock(String id, long ts, String customer, String sku, long available) {
    ctx.forward(new Record<>(customer.getBytes(StandardCharsets.UTF_8),
        encoder.backInStock(id, ts, customer, sku, available), ctx.currentSystemTimeMs()), restockChild);
  }

  @Override
  public void stockAlert(boolean out, String id, long ts, String sku, long available, long threshold,
                         double perDay, double daysOfCover) {
    ctx.forward(new Record<>(sku.getBytes(StandardCharsets.UTF_8),
        encoder.stockAlert(out, id, ts, sku, available, threshold, perDay, daysOfCover), ctx.currentSystemTimeMs()),
        restockChild);
  }

  private SkuState load(Bytes key) {
    byte[] v = skus.get(key);
    return v == null ? null : SkuState.decode(v);
  }

  private void save(Bytes key, SkuState s) {
    if (s != null) skus.put(key, s.encode(writer));
  }
}

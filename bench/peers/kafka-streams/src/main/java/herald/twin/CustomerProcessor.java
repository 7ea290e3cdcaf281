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
 * The customer side (shop.clickstream + shop.carts, keyed by customer): abandoned-cart
 * reminders, and the signals the SKU side needs (waitlist requests, order lines) re-keyed by
 * SKU. Timers fire in stream time `timerGraceMs` after they are due (Herald's speaking-timer
 * grace), before any record of a later time is applied.
 */
final class CustomerProcessor implements Processor<byte[], byte[], byte[], byte[]>, CartRule.Effects {
  static final String CARTS = "carts";
  static final String TIMERS = "cart-timers";

  private final Config cfg;
  private final Children out;
  private final CartRule rule;
  private final CartRule.StockView stock;
  private final Decoder decoder = new Decoder();
  private final Event ev = new Event();
  private final Encoder encoder = new Encoder();
  private final Wire.Writer writer = new Wire.Writer();
  private ProcessorContext<byte[], byte[]> ctx;
  private KeyValueStore<Bytes, byte[]> carts;
  private Timers timers;

  /** Child node names: where signals, reminders and dead letters go. */
  record Children(String signals, String reminders, String dlq) {}

  CustomerProcessor(Config cfg, Children out, CartRule.StockView stock) {
    this.cfg = cfg;
    this.out = out;
    this.rule = new CartRule(cfg);
    this.stock = stock;
  }

  @Override
  public void init(ProcessorContext<byte[], byte[]> context) {
    ctx = context;
    carts = context.getStateStore(CARTS);
    timers = new Timers(context.getStateStore(TIMERS));
    context.schedule(Duration.ofSeconds(1), PunctuationType.STREAM_TIME, this::fireDue);
  }

  @Override
  public void process(Record<byte[], byte[]> rec) {
    fireDue(ctx.currentStreamTimeMs());
    String topic = ctx.recordMetadata().map(m -> m.topic()).orElse("");
    Event.Topic kind = topic.equals(cfg.clickstream) ? Event.Topic.CLICKSTREAM : Event.Topic.CARTS;
    if (!decoder.decode(kind, rec.key(), rec.value(), ev)) {
      Dlq.send(ctx, out.dlq(), rec, decoder.message);
      return;
    }
    long wall = ctx.currentSystemTimeMs();
    if (ev.ts < cfg.minEventTimeMs || ev.ts > wall + cfg.maxFutureMs) {
      Dlq.send(ctx, out.dlq(), rec, "field 'ts' is out of range: " + ev.ts);
      return;
    }
    switch (ev.type) {
      case notify_me -> signal(ev.sku, Signal.NOTIFY_ME, 0, ev.eventId);
      case wishlist_add -> signal(ev.sku, Signal.WISHLIST_ADD, 0, ev.eventId);
      case order_placed -> {
        for (int i = 0; i < ev.lines.size(); i++)
          signal(ev.lines.get(i).sku, Signal.SOLD, ev.lines.get(i).quantity, ev.eventId + '#' + i);
      }
      case product_view -> {
        if (cfg.detectorSignals) signal(ev.sku, Signal.VIEW, 0, ev.eventId);
      }
      case cart_item_added -> {
        if (cfg.detectorSignals) signal(ev.sku, Signal.CART_ADD, ev.quantity, ev.eventId);
      }
      default -> {}
    }
    if (kind == Event.Topic.CARTS) {
      Bytes key = Bytes.wrap(rec.key());
      CustomerCarts before = load(key);
      CustomerCarts after = rule.onEvent(ev, before, timers);
      if (before != null || after != null) save(key, after);
    }
  }

  private void signal(String sku, int kind, long quantity, String eventId) {
    byte[] value = Signal.encode(writer, kind, ev.customerId, quantity, ev.ts, eventId);
    ctx.forward(new Record<>(sku.getBytes(StandardCharsets.UTF_8), value, ev.ts), out.signals());
  }

  /** Fires every timer due by `streamTimeMs` less the grace, in (due time, key) order. */
  private void fireDue(long streamTimeMs) {
    if (streamTimeMs == Long.MIN_VALUE || streamTimeMs < 0) return;
    long upTo = streamTimeMs - cfg.timerGraceMs;
    long wall = ctx.currentSystemTimeMs();
    while (timers.anyDue(upTo)) {
      List<Timers.Due> due = timers.takeDue(upTo);
      for (Timers.Due d : due) {
        Bytes key = Bytes.wrap(CartRule.customerOf(d.key(), d.payload()).getBytes(StandardCharsets.UTF_8));
        // A reminder long overdue by the wall clock (an outage) goes now and keeps its spacing
        // to the next; data older than the cart retention is a replay: event time alone.
        long now = wall - d.at() <= cfg.cartRetentionForWallClockMs ? wall : d.at();
        save(key, rule.onTimer(d.key(), d.at(), d.payload(), load(key), timers, this, stock, now));
      }
    }
  }

  @Override
  public void remind(String customer, CustomerCarts.Cart cart, long dueMs, int number, List<Event.Line> lines,
                     double cartValue, String coupon) {
    String id = Ids.makeId("abandoned_cart", customer, cart.cartId + '/' + cart.lastEventId + '/' + number);
    byte[] value = encoder.cartReminder(id, dueMs, customer, cart.cartId, number, lines, cartValue, cart.currency, coupon);
    ctx.forward(new Record<>(customer.getBytes(StandardCharsets.UTF_8), value, ctx.currentSystemTimeMs()), out.reminders());
  }

  private CustomerCarts load(Bytes key) {
    byte[] v = carts.get(key);
    return v == null ? null : CustomerCarts.decode(v);
  }

  private void save(Bytes key, CustomerCarts c) {
    if (c == null) carts.delete(key);
    else carts.put(key, c.encode(writer));
  }
}

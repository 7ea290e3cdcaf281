package herald.twin;

import java.util.ArrayList;
import java.util.List;

/**
 * One SKU's stock, alerts, sales and waitlist (Herald's `sku_state`), one value per SKU. Its
 * buyers live in stores of their own ({@link Buyers}); this value keeps their count and bounds.
 */
final class SkuState {
  static final class Level {
    String location;
    long available;
    long ts;

    Level(String location, long available, long ts) {
      this.location = location;
      this.available = available;
      this.ts = ts;
    }
  }

  static final class Waiter {
    String customerId;
    long requestedMs;
    long notifiedMs;             // last back-in-stock notification, 0 = never
    String notifiedRestock = ""; // restock id of that notification

    Waiter(String customerId, long requestedMs) {
      this.customerId = customerId;
      this.requestedMs = requestedMs;
    }
  }

  final List<Level> locations = new ArrayList<>();
  long available;
  boolean known;
  Long threshold;  // from the latest stock event that carried one
  boolean lowAlerted;
  boolean outAlerted;
  String restockId = "";  // event id that started the current restock; empty = none
  final List<long[]> sales = new ArrayList<>();     // {day, units}, oldest first
  final List<Waiter> waiters = new ArrayList<>();   // oldest request first
  int buyerCount;     // buyers remembered in the buyer stores
  long newestBuyMs;   // latest purchase among them (0 = none yet)
  long oldestBuyMs;   // at most the earliest purchase among them
  long timerMs;  // pending top-up timer, 0 = none

  byte[] encode(Wire.Writer w) {
    w.reset().u8(2).varint(locations.size());
    for (Level l : locations) w.str(l.location).svarint(l.available).svarint(l.ts);
    w.svarint(available).u8((known ? 1 : 0) | (lowAlerted ? 2 : 0) | (outAlerted ? 4 : 0) | (threshold != null ? 8 : 0));
    if (threshold != null) w.svarint(threshold);
    w.str(restockId).varint(sales.size());
    for (long[] d : sales) w.svarint(d[0]).svarint(d[1]);
    w.varint(waiters.size());
    for (Waiter x : waiters) w.str(x.customerId).svarint(x.requestedMs).svarint(x.notifiedMs).str(x.notifiedRestock);
    w.svarint(timerMs).varint(buyerCount).svarint(newestBuyMs).svarint(oldestBuyMs);
    return w.toBytes();
  }

  static SkuState decode(byte[] in) {
    Wire.Reader r = new Wire.Reader(in);
    if (r.u8() != 2) throw new IllegalStateException("unknown sku_state version");
    SkuState s = new SkuState();
    for (int n = r.count(); n > 0; n--) s.locations.add(new Level(r.str(), r.svarint(), r.svarint()));
    s.available = r.svarint();
    int flags = r.u8();
    s.known = (flags & 1) != 0;
    s.lowAlerted = (flags & 2) != 0;
    s.outAlerted = (flags & 4) != 0;
    if ((flags & 8) != 0) s.threshold = r.svarint();
    s.restockId = r.str();
    for (int n = r.count(); n > 0; n--) s.sales.add(new long[] {r.svarint(), r.svarint()});
    for (int n = r.count(); n > 0; n--) {
      Waiter w = new Waiter(r.str(), r.svarint());
      w.notifiedMs = r.svarint();
      w.notifiedRestock = r.str();
      s.waiters.add(w);
    }
    s.timerMs = r.svarint();
    s.buyerCount = (int) r.varint();
    s.newestBuyMs = r.svarint();
    s.oldestBuyMs = r.svarint();
    if (!r.done()) throw new IllegalStateException("trailing bytes");
    return s;
  }
}

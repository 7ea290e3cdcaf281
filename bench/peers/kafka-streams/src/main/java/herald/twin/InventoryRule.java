package herald.twin;

import java.util.Comparator;

/**
 * Back-in-stock, low-stock and out-of-stock: a port of Herald's inventory_operator
 * (rules/inventory.hpp) with the same caps, hysteresis, renotify interval, expiry and ids.
 */
final class InventoryRule {
  interface Effects {
    void backInStock(String id, long ts, String customer, String sku, long available);
    void stockAlert(boolean out, String id, long ts, String sku, long available, long threshold,
                    double perDay, double daysOfCover);
  }

  static final String TOP_UP = "t";
  private static final long DAY_MS = 86_400_000L;
  private static final Comparator<SkuState.Waiter> WAITS_BEFORE =
      Comparator.<SkuState.Waiter>comparingLong(w -> w.requestedMs).thenComparing(w -> w.customerId);

  private final Config cfg;

  InventoryRule(Config cfg) {
    this.cfg = cfg;
  }

  /** A stock_level event; `s` null when the SKU has no state yet. Returns the state. */
  SkuState onStock(Event ev, SkuState s, Timers timers, Effects fx) {
    if (s == null) s = new SkuState();
    long previous = s.available;
    // Per-location last writer wins by event time: a late event must not undo a newer level.
    SkuState.Level level = null;
    for (SkuState.Level l : s.locations) if (l.location.equals(ev.location)) level = l;
    if (level == null) {
      s.locations.add(new SkuState.Level(ev.location, ev.available, ev.ts));
    } else if (ev.ts < level.ts) {
      return s;
    } else {
      level.available = ev.available;
      level.ts = ev.ts;
    }
    long total = 0;
    for (SkuState.Level l : s.locations) total += l.available;
    boolean wasKnown = s.known;
    s.available = total;
    s.known = true;
    if (ev.lowStockThreshold != null) s.threshold = ev.lowStockThreshold;

    long now = ev.ts;
    expireRequests(s, now);
    trimSales(s, dayOf(now));
    alert(ev, s, fx);
    if (s.available == 0) {
      endRestock(ev.sku, s, timers);
      expireRequests(s, now);  // those kept only for the restock that just ended
    } else {
      // A SKU never seen before counts as out of stock before only when someone waits for it.
      boolean fromZero = previous == 0 && (wasKnown || !s.waiters.isEmpty());
      if (s.restockId.isEmpty() && fromZero) s.restockId = ev.eventId.isEmpty() ? "@" + ev.ts : ev.eventId;
      topUp(ev.sku, s, now, timers, fx);
    }
    return s;
  }

  /** A signal re-keyed by SKU. */
  SkuState onSignal(String sku, Signal sig, SkuState s, Timers timers, Buyers buyers, Effects fx) {
    if (sig.kind != Signal.NOTIFY_ME && sig.kind != Signal.WISHLIST_ADD && sig.kind != Signal.SOLD) return s;
    if (s == null) s = new SkuState();
    long now = sig.ts;
    expireRequests(s, now);  // a customer whose old request expired starts a fresh one
    int at = -1;
    for (int i = 0; i < s.waiters.size(); i++) if (s.waiters.get(i).customerId.equals(sig.customerId)) at = i;
    if (sig.kind == Signal.SOLD) {
      if (at >= 0) s.waiters.remove(at);
      recordSale(s, sig.ts, sig.quantity);
      buyers.remember(s, sku, sig.customerId, sig.ts, cfg.subscriptionMaxAgeMs, cfg.maxRememberedBuyers);
    } else if (buyers.boughtSince(s, sku, sig.customerId, sig.ts)) {
      // asked before buying; arrived after
    } else if (at < 0) {
      SkuState.Waiter w = new SkuState.Waiter(sig.customerId, sig.ts);
      int pos = 0;  // upper bound: after every waiter that waits before or with it
      while (pos < s.waiters.size() && WAITS_BEFORE.compare(s.waiters.get(pos), w) <= 0) pos++;
      s.waiters.add(pos, w);
    } else if (sig.ts < s.waiters.get(at).requestedMs) {
      // A late-arriving earlier request moves the customer forward, never back.
      s.waiters.get(at).requestedMs = sig.ts;
      s.waiters.sort(WAITS_BEFORE);
    }
    topUp(sku, s, now, timers, fx);
    return s;
  }

  /** The top-up timer fired: outstanding notifications ended, notify the next ones. */
  SkuState onTimer(String sku, long fireMs, String payload, SkuState s, Timers timers, Effects fx) {
    if (s == null || !payload.equals(TOP_UP)) return s;
    if (s.timerMs != fireMs) {  // stale; the SKU's own timer is set again (a no-op if it exists)
      if (s.timerMs != 0) timers.schedule(s.timerMs, sku, TOP_UP);
      return s;
    }
    s.timerMs = 0;
    expireRequests(s, fireMs);
    topUp(sku, s, fireMs, timers, fx);
    return s;
  }

  private void expireRequests(SkuState s, long now) {
    // Oldest first: when the oldest has not expired, none has. Customers notified in the
    // running restock stay until it ends (no second notification of the same restock).
    if (s.waiters.isEmpty() || s.waiters.get(0).requestedMs + cfg.subscriptionMaxAgeMs > now) return;
    s.waiters.removeIf(w -> !(!s.restockId.isEmpty() && w.notifiedRestock.equals(s.restockId))
        && w.requestedMs + cfg.subscriptionMaxAgeMs <= now);
  }

  private void alert(Event ev, SkuState s, Effects fx) {
    long threshold = s.threshold != null ? s.threshold : cfg.defaultLowStockThreshold;
    // Hysteresis: once per crossing, re-armed once the level is back on the other side.
    if (s.available >= threshold) s.lowAlerted = false;
    if (s.available > 0) s.outAlerted = false;
    boolean out = s.available == 0 && !s.outAlerted;
    boolean low = s.available < threshold && !s.lowAlerted;
    if (!out && !low) return;
    // Reaching 0 also crosses the threshold: the merchant gets the stronger alert only.
    if (s.available < threshold) s.lowAlerted = true;
    if (out) s.outAlerted = true;
    long units = 0;
    for (long[] d : s.sales) units += d[1];
    double perDay = Double.NaN, cover = Double.NaN;
    if (units > 0 && cfg.velocityWindowDays > 0) {
      perDay = (double) units / cfg.velocityWindowDays;
      cover = s.available / perDay;
    }
    fx.stockAlert(out, Ids.makeId(out ? "out_of_stock" : "low_stock", ev.sku, ev.eventId), ev.ts, ev.sku,
        s.available, threshold, perDay, cover);
  }

  private void endRestock(String sku, SkuState s, Timers timers) {
    if (s.restockId.isEmpty()) return;
    s.restockId = "";  // the waiters stay for the next restock
    setTimer(sku, s, 0, timers);
  }

  private void topUp(String sku, SkuState s, long now, Timers timers, Effects fx) {
    long nextMs = 0;
    if (!s.restockId.isEmpty() && s.available > 0) {
      long outstanding = 0;
      for (SkuState.Waiter w : s.waiters) if (outstandingAt(s, w, now)) outstanding++;
      long cap = notifyCap(cfg.notifyRatio, s.available, s.waiters.size());
      long eligibleMs = 0;  // earliest end of a renotify interval that held someone back
      for (SkuState.Waiter w : s.waiters) {
        if (outstanding >= cap) break;
        if (w.notifiedRestock.equals(s.restockId)) continue;
        if (w.notifiedMs != 0 && now - w.notifiedMs < cfg.renotifyIntervalMs) {
          eligibleMs = earliest(eligibleMs, w.notifiedMs + cfg.renotifyIntervalMs);
          continue;
        }
        fx.backInStock(Ids.makeId("back_in_stock", w.customerId, sku + '/' + s.restockId), now, w.customerId,
            sku, s.available);
        w.notifiedMs = now;
        w.notifiedRestock = s.restockId;
        outstanding++;
      }
      // Wake when the next slot frees or a held-back customer becomes eligible, while someone waits.
      boolean waiting = false;
      for (SkuState.Waiter w : s.waiters) waiting |= !w.notifiedRestock.equals(s.restockId);
      if (waiting) {
        nextMs = eligibleMs;
        for (SkuState.Waiter w : s.waiters)
          if (outstandingAt(s, w, now)) nextMs = earliest(nextMs, w.notifiedMs + cfg.responseWindowMs);
      }
    }
    setTimer(sku, s, nextMs, timers);
  }

  private boolean outstandingAt(SkuState s, SkuState.Waiter w, long now) {
    return w.notifiedRestock.equals(s.restockId) && w.notifiedMs + cfg.responseWindowMs > now;
  }

  /** floor(ratio x available), at most the number of waiters. */
  private static long notifyCap(double ratio, long available, int waiters) {
    double wanted = Math.floor(ratio * available);
    if (!(wanted > 0)) return 0;
    return wanted >= waiters ? waiters : (long) wanted;
  }

  private static long dayOf(long ts) {
    return Math.floorDiv(ts, DAY_MS);
  }

  // The sales window ends at the newest day this SKU has seen, so a late event cannot pull it back.
  private static long newestDay(SkuState s, long day) {
    if (!s.sales.isEmpty()) day = Math.max(day, s.sales.get(s.sales.size() - 1)[0]);
    for (SkuState.Level l : s.locations) day = Math.max(day, dayOf(l.ts));
    return day;
  }

  private void recordSale(SkuState s, long ts, long units) {
    long day = dayOf(ts);
    trimSales(s, day);
    if (units <= 0 || cfg.velocityWindowDays <= 0) return;
    if (day <= newestDay(s, day) - cfg.velocityWindowDays) return;  // before the window
    int i = 0;
    while (i < s.sales.size() && s.sales.get(i)[0] < day) i++;
    if (i == s.sales.size() || s.sales.get(i)[0] != day) s.sales.add(i, new long[] {day, 0});
    s.sales.get(i)[1] += units;
  }

  private void trimSales(SkuState s, long day) {
    long newest = newestDay(s, day);
    s.sales.removeIf(d -> d[0] <= newest - cfg.velocityWindowDays);
  }

  private static void setTimer(String sku, SkuState s, long atMs, Timers timers) {
    if (s.timerMs == atMs) return;
    if (s.timerMs != 0) timers.cancel(s.timerMs, sku);
    s.timerMs = atMs;
    if (atMs != 0) timers.schedule(atMs, sku, TOP_UP);
  }

  private static long earliest(long slot, long t) {
    return slot == 0 || t < slot ? t : slot;
  }
}

package herald.twin;

import java.util.ArrayList;
import java.util.List;

/**
 * Abandoned-cart reminders: a port of Herald's abandoned_cart_operator (rules/abandoned_cart.hpp),
 * with the same steps, suppressions, per-cart flows, retention and output ids. Bot suppression
 * is left out (the twin runs no bot detector). Works on one customer's state at a time; the
 * processor loads and stores it.
 */
final class CartRule {
  /** Where reminders go. */
  interface Effects {
    void remind(String customer, CustomerCarts.Cart cart, long dueMs, int number, List<Event.Line> lines,
                double cartValue, String coupon);
  }

  /** Units available of a SKU as of an event time, or null when no level is known by then. */
  interface StockView {
    Long available(String sku, long asOfMs);
  }

  static final String PURGE = "p";
  private static final char REMIND = 'r';

  private final Config cfg;

  CartRule(Config cfg) {
    this.cfg = cfg;
  }

  static String reminderKey(String customer, String cartId) {
    return customer + '\0' + cartId;
  }

  /** Applies one carts event to `c` (null: the customer has no state; returns the new one). */
  CustomerCarts onEvent(Event ev, CustomerCarts c, Timers timers) {
    String customer = ev.customerId;
    switch (ev.type) {
      case cart_item_added -> {
        if (c == null) c = new CustomerCarts();
        CustomerCarts.Cart cart = open(customer, c, ev.cartId, timers);
        if (cart == null) return c;  // a late event of an ordered cart
        // The cart's currency is the latest add's; each line keeps its own.
        if (!ev.currency.isEmpty()) cart.currency = ev.currency;
        Event.Line line = null;
        for (Event.Line l : cart.lines) if (l.sku.equals(ev.sku)) line = l;
        if (line == null) {
          cart.lines.add(new Event.Line(ev.sku, ev.quantity, ev.unitPrice, cart.currency));
        } else {
          line.quantity += ev.quantity;
          line.unitPrice = ev.unitPrice;
          line.currency = cart.currency;
        }
        cart.anonymous = ev.anonymous;
        touch(cart, ev);
        arm(customer, cart, timers);
        settle(customer, c, timers, Long.MIN_VALUE);
        return c;
      }
      case cart_item_removed, cart_cleared, checkout_started -> {
        CustomerCarts.Cart cart = c == null ? null : c.find(ev.cartId);
        if (cart == null || cart.closed) return c;
        if (ev.type == Event.Type.cart_item_removed) {
          for (int i = 0; i < cart.lines.size(); i++) {
            Event.Line l = cart.lines.get(i);
            if (!l.sku.equals(ev.sku)) continue;
            if (ev.quantity <= 0 || ev.quantity >= l.quantity) cart.lines.remove(i);
            else l.quantity -= ev.quantity;
            break;
          }
        } else if (ev.type == Event.Type.cart_cleared) {
          cart.lines.clear();
        }
        touch(cart, ev);
        if (!cart.lines.isEmpty()) arm(customer, cart, timers);
        else disarm(customer, cart, timers);
        settle(customer, c, timers, Long.MIN_VALUE);
        return c;
      }
      case order_placed -> {
        // The cart the order names is done; no cart touched before the order is reminded.
        if (c == null) return null;
        for (CustomerCarts.Cart cart : c.carts) {
          if (cart.closed) continue;
          boolean named = !ev.cartId.isEmpty() && cart.cartId.equals(ev.cartId);
          if (!named && cart.lastActivityMs > ev.ts) continue;
          disarm(customer, cart, timers);
          if (named || ev.cartId.isEmpty()) {
            cart.closed = true;
            cart.lastActivityMs = Math.max(cart.lastActivityMs, ev.ts);
          }
        }
        settle(customer, c, timers, Long.MIN_VALUE);
        return c;
      }
      default -> {
        return c;
      }
    }
  }

  /** The customer of a timer key (reminder keys are customer NUL cart id). */
  static String customerOf(String key, String payload) {
    if (payload.equals(PURGE)) return key;
    String cartId = payload.substring(1);
    return key.substring(0, key.length() - cartId.length() - 1);
  }

  /**
   * A timer of `c` fell due at `fireMs` (event time); `nowMs` is when it fires. Returns the
   * state to keep, or null when the customer's state may go.
   */
  CustomerCarts onTimer(String key, long fireMs, String payload, CustomerCarts c, Timers timers,
                        Effects fx, StockView stock, long nowMs) {
    nowMs = Math.max(nowMs, fireMs);
    if (c == null) return null;
    if (payload.equals(PURGE)) {
      if (c.purgeMs != fireMs) {  // stale
        if (c.purgeMs != 0) timers.schedule(c.purgeMs, key, PURGE);
        return c;
      }
      c.purgeMs = 0;
      return settle(key, c, timers, fireMs) ? null : c;
    }
    if (payload.isEmpty() || payload.charAt(0) != REMIND) return c;
    String cartId = payload.substring(1);
    String customer = customerOf(key, payload);
    CustomerCarts.Cart cart = c.find(cartId);
    if (cart == null) return c;
    if (cart.timerMs != fireMs) {  // stale: the cart's own timer is set again (a no-op if it exists)
      if (cart.timerMs != 0) timers.schedule(cart.timerMs, reminderKey(customer, cartId), REMIND + cartId);
      return c;
    }
    remind(customer, cart, fireMs, nowMs, timers, fx, stock);
    settle(customer, c, timers, Long.MIN_VALUE);
    return c;
  }

  private void remind(String customer, CustomerCarts.Cart cart, long fireMs, long nowMs, Timers timers,
                      Effects fx, StockView stock) {
    cart.timerMs = 0;
    if (cart.anonymous || cart.closed || cart.lines.isEmpty()) return;
    // Never promote what cannot be bought: out-of-stock lines are left out.
    List<Event.Line> lines = new ArrayList<>(cart.lines.size());
    for (Event.Line l : cart.lines) {
      Long available = stock.available(l.sku, fireMs);
      if (available == null || available > 0) lines.add(new Event.Line(l.sku, l.quantity, l.unitPrice, l.currency));
    }
    if (lines.isEmpty()) return;  // suppressed: out of stock (not counted, re-armed by activity)
    int number = ++cart.remindersSent;
    // Never add different currencies: a line priced in another says so and is not counted.
    double value = 0;
    for (Event.Line l : lines) {
      if (l.currency.isEmpty() || l.currency.equals(cart.currency)) {
        value += l.quantity * l.unitPrice;
        l.currency = "";
      }
    }
    fx.remind(customer, cart, fireMs, number, lines, value, cfg.stepCoupon[number - 1]);
    if (cart.remindersSent < cfg.stepDelayMs.length) {
      arm(customer, cart, timers);
      // A later step fires later than this one and, when catching up, keeps its spacing.
      if (cart.timerMs != 0 && cart.timerMs <= nowMs) {
        long spacing = cfg.stepDelayMs[number] - cfg.stepDelayMs[number - 1];
        String key = reminderKey(customer, cart.cartId);
        timers.cancel(cart.timerMs, key);
        cart.timerMs = nowMs > fireMs ? nowMs + Math.max(spacing, 1) : fireMs + 1;
        timers.schedule(cart.timerMs, key, REMIND + cart.cartId);
      }
    }
  }

  private CustomerCarts.Cart open(String customer, CustomerCarts c, String cartId, Timers timers) {
    CustomerCarts.Cart existing = c.find(cartId);
    if (existing != null) return existing.closed ? null : existing;
    CustomerCarts.Cart fresh = new CustomerCarts.Cart();
    fresh.cartId = cartId;
    // A cart that comes back after its retention continues its count.
    long h = CustomerCarts.hash(cartId);
    for (int i = 0; i < c.finished.size(); i++) {
      CustomerCarts.Finished f = c.finished.get(i);
      if (f.idHash != h) continue;
      if (f.ordered) return null;
      fresh.remindersSent = f.remindersSent;
      c.finished.remove(i);
      break;
    }
    // Room for it: the least recently active cart goes first.
    while (!c.carts.isEmpty() && c.carts.size() >= Math.max(cfg.maxCarts, 1)) {
      int oldest = 0;
      for (int i = 1; i < c.carts.size(); i++)
        if (c.carts.get(i).lastActivityMs < c.carts.get(oldest).lastActivityMs) oldest = i;
      disarm(customer, c.carts.get(oldest), timers);
      finish(c, oldest, c.carts.get(oldest).lastActivityMs);
    }
    c.carts.add(fresh);
    return fresh;
  }

  private void finish(CustomerCarts c, int i, long nowMs) {
    CustomerCarts.Cart cart = c.carts.get(i);
    if (cart.remindersSent > 0 || cart.closed) {
      if (c.finished.size() >= CustomerCarts.MAX_FINISHED) c.finished.remove(0);
      c.finished.add(new CustomerCarts.Finished(CustomerCarts.hash(cart.cartId), cart.remindersSent,
          cart.closed, nowMs + cfg.rememberMs));
    }
    c.carts.remove(i);
  }

  private static void touch(CustomerCarts.Cart cart, Event ev) {
    // Out-of-order events must not move the inactivity clock backwards.
    if (ev.ts >= cart.lastActivityMs) {
      cart.lastActivityMs = ev.ts;
      cart.lastEventId = ev.eventId;
    }
  }

  private void arm(String customer, CustomerCarts.Cart cart, Timers timers) {
    String key = reminderKey(customer, cart.cartId);
    if (cart.timerMs != 0) {
      timers.cancel(cart.timerMs, key);
      cart.timerMs = 0;
    }
    if (cart.closed || cart.lines.isEmpty() || cart.remindersSent >= cfg.stepDelayMs.length) return;
    cart.timerMs = cart.lastActivityMs + cfg.stepDelayMs[cart.remindersSent];
    timers.schedule(cart.timerMs, key, REMIND + cart.cartId);
  }

  private static void disarm(String customer, CustomerCarts.Cart cart, Timers timers) {
    if (cart.timerMs == 0) return;
    timers.cancel(cart.timerMs, reminderKey(customer, cart.cartId));
    cart.timerMs = 0;
  }

  /** Housekeeping as of `nowMs`; schedules the next. True when nothing is left. */
  private boolean settle(String customer, CustomerCarts c, Timers timers, long nowMs) {
    for (int i = c.carts.size() - 1; i >= 0; i--) {
      CustomerCarts.Cart cart = c.carts.get(i);
      if (cart.timerMs == 0 && cart.lastActivityMs + cfg.retentionMs <= nowMs)
        finish(c, i, cart.lastActivityMs + cfg.retentionMs);
    }
    c.finished.removeIf(f -> f.untilMs <= nowMs);
    long next = 0;
    for (CustomerCarts.Cart cart : c.carts)
      if (cart.timerMs == 0) next = earliest(next, cart.lastActivityMs + cfg.retentionMs);
    for (CustomerCarts.Finished f : c.finished) next = earliest(next, f.untilMs);
    if (c.purgeMs != next) {
      if (c.purgeMs != 0) timers.cancel(c.purgeMs, customer);
      c.purgeMs = next;
      if (next != 0) timers.schedule(next, customer, PURGE);
    }
    return c.carts.isEmpty() && c.finished.isEmpty();
  }

  private static long earliest(long slot, long t) {
    return slot == 0 ? t : Math.min(slot, t);
  }
}

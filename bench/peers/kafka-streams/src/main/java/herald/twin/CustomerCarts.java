package herald.twin;

import java.util.ArrayList;
import java.util.List;

/** One customer's carts (Herald's `customer_carts`), stored as one value per customer. */
final class CustomerCarts {
  static final int MAX_FINISHED = 64;

  static final class Cart {
    String cartId = "";
    String currency = "";
    final List<Event.Line> lines = new ArrayList<>();
    long lastActivityMs;
    String lastEventId = "";  // the event that last (re-)armed the timer: the reminder's trigger
    int remindersSent;
    boolean anonymous;
    boolean closed;  // ordered: later events of this cart are ignored
    long timerMs;    // pending reminder's due time, 0 = none
  }

  /** A cart past its retention, remembered so it never gets more reminders than allowed. */
  static final class Finished {
    long idHash;
    int remindersSent;
    boolean ordered;
    long untilMs;

    Finished(long idHash, int remindersSent, boolean ordered, long untilMs) {
      this.idHash = idHash;
      this.remindersSent = remindersSent;
      this.ordered = ordered;
      this.untilMs = untilMs;
    }
  }

  final List<Cart> carts = new ArrayList<>();
  final List<Finished> finished = new ArrayList<>();
  long purgeMs;  // pending housekeeping timer, 0 = none

  Cart find(String cartId) {
    for (Cart c : carts) if (c.cartId.equals(cartId)) return c;
    return null;
  }

  /** FNV-1a 64 of the cart id: its fingerprint once finished. */
  static long hash(String s) {
    long h = 0xcbf29ce484222325L;
    for (byte b : s.getBytes(java.nio.charset.StandardCharsets.UTF_8)) h = (h ^ (b & 0xFF)) * 0x100000001b3L;
    return h;
  }

  byte[] encode(Wire.Writer w) {
    w.reset().u8(1).varint(carts.size());
    for (Cart c : carts) {
      w.str(c.cartId).str(c.currency).varint(c.lines.size());
      for (Event.Line l : c.lines) w.str(l.sku).svarint(l.quantity).f64(l.unitPrice).str(l.currency);
      w.svarint(c.lastActivityMs).str(c.lastEventId).svarint(c.remindersSent)
          .u8((c.anonymous ? 1 : 0) | (c.closed ? 2 : 0)).svarint(c.timerMs);
    }
    w.varint(finished.size());
    for (Finished f : finished) w.varint(f.idHash).svarint(f.remindersSent).u8(f.ordered ? 1 : 0).svarint(f.untilMs);
    return w.svarint(purgeMs).toBytes();
  }

  static CustomerCarts decode(byte[] in) {
    Wire.Reader r = new Wire.Reader(in);
    if (r.u8() != 1) throw new IllegalStateException("unknown customer_carts version");
    CustomerCarts out = new CustomerCarts();
    for (int i = r.count(); i > 0; i--) {
      Cart c = new Cart();
      c.cartId = r.str();
      c.currency = r.str();
      for (int n = r.count(); n > 0; n--) c.lines.add(new Event.Line(r.str(), r.svarint(), r.f64(), r.str()));
      c.lastActivityMs = r.svarint();
      c.lastEventId = r.str();
      c.remindersSent = (int) r.svarint();
      int flags = r.u8();
      c.anonymous = (flags & 1) != 0;
      c.closed = (flags & 2) != 0;
      c.timerMs = r.svarint();
      out.carts.add(c);
    }
    for (int i = r.count(); i > 0; i--)
      out.finished.add(new Finished(r.varint(), (int) r.svarint(), r.u8() == 1, r.svarint()));
    out.purgeMs = r.svarint();
    if (!r.done()) throw new IllegalStateException("trailing bytes");
    return out;
  }
}

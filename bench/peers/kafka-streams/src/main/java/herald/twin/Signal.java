package herald.twin;

/**
 * What the customer side tells the SKU side, keyed by SKU through the repartition topic
 * (Herald's `sku_signal`, minus its watermark markers). Binary: an internal topic.
 */
final class Signal {
  static final int NOTIFY_ME = 1, WISHLIST_ADD = 2, SOLD = 3, VIEW = 4, CART_ADD = 5;

  int kind;
  String customerId;
  long quantity;
  long ts;
  String eventId;

  static byte[] encode(Wire.Writer w, int kind, String customer, long quantity, long ts, String eventId) {
    return w.reset().u8(kind).str(customer).svarint(quantity).svarint(ts).str(eventId).toBytes();
  }

  /** Null when the record is not a signal. */
  static Signal decode(byte[] in) {
    try {
      Wire.Reader r = new Wire.Reader(in);
      Signal s = new Signal();
      s.kind = r.u8();
      s.customerId = r.str();
      s.quantity = r.svarint();
      s.ts = r.svarint();
      s.eventId = r.str();
      return r.done() && s.kind >= NOTIFY_ME && s.kind <= CART_ADD ? s : null;
    } catch (RuntimeException e) {
      return null;
    }
  }
}

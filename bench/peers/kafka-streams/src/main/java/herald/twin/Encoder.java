package herald.twin;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Output messages as Herald writes them (schemas/README.md "Encoding outputs"): compact JSON,
 * field order `type`, `notification_id`, `ts`, then the contract's fields; optional fields left
 * out when absent. Single-threaded: one per processor.
 */
final class Encoder {
  private final StringBuilder sb = new StringBuilder(512);

  byte[] cartReminder(String id, long ts, String customer, String cart, int number,
                      List<Event.Line> lines, double cartValue, String currency, String coupon) {
    begin("cart_reminder", id, ts);
    str("customer_id", customer).str("cart_id", cart).integer("reminder_number", number);
    key("lines");
    sb.append('[');
    for (int i = 0; i < lines.size(); i++) {
      Event.Line l = lines.get(i);
      if (i > 0) sb.append(',');
      sb.append("{\"sku\":");
      quote(l.sku);
      sb.append(",\"quantity\":").append(l.quantity).append(",\"unit_price\":");
      number(l.unitPrice);
      if (!l.currency.isEmpty()) {
        sb.append(",\"currency\":");
        quote(l.currency);
      }
      sb.append('}');
    }
    sb.append(']');
    num("cart_value", cartValue).str("currency", currency);
    if (!coupon.isEmpty()) str("coupon", coupon);
    return end();
  }

  byte[] backInStock(String id, long ts, String customer, String sku, long available) {
    begin("back_in_stock", id, ts);
    str("customer_id", customer).str("sku", sku).integer("available", available);
    return end();
  }

  /** `low_stock` or `out_of_stock`; `perDay` NaN = no sales (the optional fields left out). */
  byte[] stockAlert(boolean out, String id, long ts, String sku, long available, long threshold,
                    double perDay, double daysOfCover) {
    begin(out ? "out_of_stock" : "low_stock", id, ts);
    str("sku", sku).integer("available", available).integer("threshold", threshold);
    if (Double.isFinite(perDay)) num("units_sold_per_day", perDay);
    if (Double.isFinite(daysOfCover)) num("days_of_cover", daysOfCover);
    return end();
  }

  private void begin(String type, String id, long ts) {
    sb.setLength(0);
    sb.append("{\"type\":\"").append(type).append("\",\"notification_id\":\"").append(id)
        .append("\",\"ts\":").append(ts);
  }

  private byte[] end() {
    sb.append('}');
    return sb.toString().getBytes(StandardCharsets.UTF_8);
  }

  private void key(String k) {
    sb.append(",\"").append(k).append("\":");
  }

  private Encoder str(String k, String v) {
    key(k);
    quote(v);
    return this;
  }

  private Encoder integer(String k, long v) {
    key(k);
    sb.append(v);
    return this;
  }

  private Encoder num(String k, double v) {
    key(k);
    number(v);
    return this;
  }

  /** Integral values as integers (Herald's `21`, not `21.0`); non-finite as null. */
  private void number(double v) {
    if (!Double.isFinite(v)) {
      sb.append("null");
    } else if (v == Math.rint(v) && Math.abs(v) < 1e16) {
      sb.append((long) v);
    } else {
      String s = Double.toString(v);
      int e = s.indexOf('E');
      if (e < 0) {
        sb.append(s);
      } else {  // fmt spells 1.0E21 as 1e+21
        String mantissa = s.substring(0, e);
        if (mantissa.endsWith(".0")) mantissa = mantissa.substring(0, mantissa.length() - 2);
        String exp = s.substring(e + 1);
        sb.append(mantissa).append('e').append(exp.startsWith("-") ? exp : "+" + exp);
      }
    }
  }

  private void quote(String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\b' -> sb.append("\\b");
        case '\f' -> sb.append("\\f");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
          else sb.append(c);
        }
      }
    }
    sb.append('"');
  }
}

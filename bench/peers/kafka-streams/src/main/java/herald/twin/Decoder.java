package herald.twin;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;

/**
 * Input records to {@link Event}s with Jackson's streaming parser, one pass, no data binding.
 * Follows Herald's decoder rules (schemas/README.md): required fields and their JSON types,
 * identifiers non-empty, integers without fraction, `ts` as epoch ms or RFC 3339, the key equal
 * to the entity id, unknown fields skipped (but syntax-checked), nothing after the object. On a
 * bad record {@link #decode} returns false with {@link #code} / {@link #message} set.
 * Single-threaded: one per processor.
 */
final class Decoder {
  static final JsonFactory JSON =
      JsonFactory.builder()
          .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(256).build())
          .build();

  // Top-level fields the contract names, by slot.
  private static final String[] NAMES = {
    "type", "event_id", "ts", "customer_id", "session_id", "url", "sku", "price", "currency",
    "cart_id", "quantity", "unit_price", "anonymous", "order_id", "lines", "total", "location",
    "available", "low_stock_threshold"
  };
  private static final int TYPE = 0, EVENT_ID = 1, TS = 2, CUSTOMER = 3, SESSION = 4, URL = 5,
      SKU = 6, PRICE = 7, CURRENCY = 8, CART = 9, QUANTITY = 10, UNIT_PRICE = 11, ANONYMOUS = 12,
      ORDER = 13, LINES = 14, TOTAL = 15, LOCATION = 16, AVAILABLE = 17, THRESHOLD = 18;

  // What a slot holds.
  private static final byte ABSENT = 0, STRING = 1, INTEGER = 2, FRACTION = 3, BOOL = 4,
      OTHER = 5, HUGE = 6, ARRAY_OK = 7, ARRAY_BAD = 8;

  private final byte[] kind = new byte[NAMES.length];
  private final String[] text = new String[NAMES.length];
  private final long[] integer = new long[NAMES.length];
  private final double[] number = new double[NAMES.length];
  private String linesProblem;

  String code;
  String message;

  /** Decodes one record of `topic`; `key` is the Kafka key (null counts as empty). */
  boolean decode(Event.Topic topic, byte[] key, byte[] value, Event out) {
    out.clear();
    code = message = null;
    Arrays.fill(kind, ABSENT);
    linesProblem = null;
    if (value == null) return fail("malformed_json", "malformed JSON: the record has no value");
    try (JsonParser p = JSON.createParser(value)) {
      if (p.nextToken() != JsonToken.START_OBJECT)
        return fail("malformed_json", "malformed JSON: the record is not a JSON object");
      for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
        if (t != JsonToken.FIELD_NAME) return fail("malformed_json", "malformed JSON: truncated");
        int slot = slot(p.currentName());
        JsonToken v = p.nextToken();
        if (slot < 0) {
          p.skipChildren();
        } else if (slot == LINES) {
          readLines(p, v, out);
        } else {
          read(p, v, slot);
        }
      }
      if (p.nextToken() != null)
        return fail("malformed_json", "malformed JSON: unexpected content after the object");
    } catch (JsonProcessingException e) {
      return fail("malformed_json", "malformed JSON: " + brief(e.getOriginalMessage()));
    } catch (IOException | RuntimeException e) {
      return fail("malformed_json", "malformed JSON: " + brief(e.getMessage()));
    }
    return check(topic, key == null ? "" : new String(key, StandardCharsets.UTF_8), out);
  }

  private static int slot(String name) {
    for (int i = 0; i < NAMES.length; i++) if (NAMES[i].equals(name)) return i;
    return -1;
  }

  private void read(JsonParser p, JsonToken v, int slot) throws IOException {
    switch (v) {
      case VALUE_STRING -> {
        kind[slot] = STRING;
        text[slot] = p.getText();
      }
      case VALUE_NUMBER_INT -> {
        if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
          kind[slot] = HUGE;
          number[slot] = p.getDoubleValue();
        } else {
          kind[slot] = INTEGER;
          integer[slot] = p.getLongValue();
          number[slot] = integer[slot];
        }
      }
      case VALUE_NUMBER_FLOAT -> {
        double d = p.getDoubleValue();
        number[slot] = d;
        if (d == Math.rint(d) && Math.abs(d) < 9.2e18) {
          kind[slot] = INTEGER;  // 2.0 and 2e0 are the integer 2
          integer[slot] = (long) d;
        } else {
          kind[slot] = Double.isFinite(d) && d == Math.rint(d) ? HUGE : FRACTION;
        }
      }
      case VALUE_TRUE, VALUE_FALSE -> {
        kind[slot] = BOOL;
        integer[slot] = v == JsonToken.VALUE_TRUE ? 1 : 0;
      }
      case VALUE_NULL -> kind[slot] = ABSENT;  // null is the same as absent
      default -> {
        kind[slot] = OTHER;
        p.skipChildren();
      }
    }
  }

  private void readLines(JsonParser p, JsonToken v, Event out) throws IOException {
    out.lines.clear();
    if (v == JsonToken.VALUE_NULL) {
      kind[LINES] = ABSENT;
      return;
    }
    if (v != JsonToken.START_ARRAY) {
      kind[LINES] = OTHER;
      p.skipChildren();
      return;
    }
    kind[LINES] = ARRAY_OK;
    int index = 0;
    for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken(), index++) {
      if (t == null) throw new IOException("truncated");
      if (t != JsonToken.START_OBJECT) {
        p.skipChildren();
        problem("field 'lines[" + index + "]' must be an object");
        continue;
      }
      String sku = null;
      Long qty = null;
      Double price = null;
      for (JsonToken f = p.nextToken(); f != JsonToken.END_OBJECT; f = p.nextToken()) {
        if (f != JsonToken.FIELD_NAME) throw new IOException("truncated");
        String name = p.currentName();
        JsonToken lv = p.nextToken();
        switch (name) {
          case "sku" -> {
            if (lv == JsonToken.VALUE_STRING && !p.getText().isEmpty()) sku = p.getText();
          }
          case "quantity" -> {
            if (lv.isNumeric() && p.getDoubleValue() == Math.rint(p.getDoubleValue())
                && p.getDoubleValue() > 0 && p.getDoubleValue() < 9.2e18)
              qty = (long) p.getDoubleValue();
          }
          case "unit_price" -> {
            if (lv.isNumeric() && p.getDoubleValue() >= 0) price = p.getDoubleValue();
          }
          default -> {}
        }
        p.skipChildren();
      }
      if (sku == null) problem("field 'lines[" + index + "].sku' must be a non-empty string");
      else if (qty == null) problem("field 'lines[" + index + "].quantity' must be an integer > 0");
      else if (price == null) problem("field 'lines[" + index + "].unit_price' must be a number >= 0");
      else out.lines.add(new Event.Line(sku, qty, price, ""));
    }
    if (index == 0) problem("field 'lines' must be a non-empty array");
  }

  private void problem(String why) {
    if (linesProblem == null) linesProblem = why;
    kind[LINES] = ARRAY_BAD;
  }

  // ---- checks, in Herald's order: type, event_id, ts, the type's fields, the key ----------

  private boolean check(Event.Topic topic, String key, Event out) {
    if (kind[TYPE] == ABSENT) return fail("missing_field", "missing field 'type'");
    if (kind[TYPE] != STRING) return fail("wrong_type", "field 'type' must be a string");
    Event.Type type;
    try {
      type = Event.Type.valueOf(text[TYPE]);
    } catch (IllegalArgumentException e) {
      return fail("unknown_type", "unknown event type '" + cut(text[TYPE]) + "' for topic " + topic.label);
    }
    if (type.topic != topic)
      return fail("unknown_type", "event type '" + type + "' belongs on topic " + type.topic.label
          + ", not " + topic.label);
    out.type = type;
    if (!id(EVENT_ID)) return false;
    out.eventId = text[EVENT_ID];
    if (!ts(out)) return false;
    switch (type) {
      case page_view -> {
        if (!id(CUSTOMER) || !id(SESSION) || !optString(URL)) return false;
      }
      case product_view -> {
        if (!id(CUSTOMER) || !id(SESSION) || !id(SKU) || !amount(PRICE) || !optString(CURRENCY))
          return false;
        out.price = number[PRICE];
      }
      case wishlist_add, notify_me -> {
        if (!id(CUSTOMER) || !id(SKU)) return false;
      }
      case cart_item_added -> {
        if (!id(CUSTOMER) || !id(CART) || !id(SKU) || !integer(QUANTITY, 1, true)
            || !amount(UNIT_PRICE) || !string(CURRENCY) || !anonymous(out)) return false;
        out.quantity = integer[QUANTITY];
        out.unitPrice = number[UNIT_PRICE];
      }
      case cart_item_removed -> {
        if (!id(CUSTOMER) || !id(CART) || !id(SKU) || !integer(QUANTITY, 1, false)
            || !anonymous(out)) return false;
        out.quantity = kind[QUANTITY] == ABSENT ? 0 : integer[QUANTITY];
      }
      case cart_cleared, checkout_started -> {
        if (!id(CUSTOMER) || !id(CART) || !anonymous(out)) return false;
      }
      case order_placed -> {
        if (!id(CUSTOMER) || !id(ORDER) || !optId(CART) || !lines() || !amount(TOTAL)
            || !string(CURRENCY) || !anonymous(out)) return false;
        out.total = number[TOTAL];
      }
      case stock_level -> {
        if (!id(SKU) || !string(LOCATION) || !integer(AVAILABLE, 0, true)
            || !integer(THRESHOLD, 0, false)) return false;
        out.available = integer[AVAILABLE];
        if (kind[THRESHOLD] != ABSENT) out.lowStockThreshold = integer[THRESHOLD];
      }
    }
    out.customerId = str(CUSTOMER);
    out.sessionId = str(SESSION);
    out.sku = str(SKU);
    out.currency = str(CURRENCY);
    out.cartId = str(CART);
    out.orderId = str(ORDER);
    out.location = str(LOCATION);
    String entity = topic == Event.Topic.INVENTORY ? out.sku : out.customerId;
    String field = topic == Event.Topic.INVENTORY ? "sku" : "customer_id";
    if (key.isEmpty()) return fail("key_mismatch", "empty key does not match " + field + " '" + cut(entity) + "'");
    if (!key.equals(entity))
      return fail("key_mismatch", "key '" + cut(key) + "' does not match " + field + " '" + cut(entity) + "'");
    return true;
  }

  private String str(int slot) {
    return kind[slot] == STRING ? text[slot] : "";
  }

  private boolean id(int slot) {
    if (kind[slot] == ABSENT) return fail("missing_field", "missing field '" + NAMES[slot] + "'");
    if (kind[slot] != STRING || text[slot].isEmpty())
      return fail(kind[slot] == STRING ? "invalid_value" : "wrong_type",
          "field '" + NAMES[slot] + "' must be a non-empty string");
    return true;
  }

  private boolean optId(int slot) {
    return kind[slot] == ABSENT || id(slot);
  }

  private boolean string(int slot) {
    if (kind[slot] == ABSENT) return fail("missing_field", "missing field '" + NAMES[slot] + "'");
    return optString(slot);
  }

  private boolean optString(int slot) {
    if (kind[slot] == ABSENT || kind[slot] == STRING) return true;
    return fail("wrong_type", "field '" + NAMES[slot] + "' must be a string");
  }

  private boolean amount(int slot) {
    if (kind[slot] == ABSENT) return fail("missing_field", "missing field '" + NAMES[slot] + "'");
    if (kind[slot] != INTEGER && kind[slot] != FRACTION && kind[slot] != HUGE)
      return fail("wrong_type", "field '" + NAMES[slot] + "' must be a number >= 0");
    if (!(number[slot] >= 0)) return fail("invalid_value", "field '" + NAMES[slot] + "' must be a number >= 0");
    return true;
  }

  private boolean integer(int slot, long min, boolean required) {
    String why = "field '" + NAMES[slot] + "' must be an integer " + (min == 0 ? ">= 0" : "> 0");
    if (kind[slot] == ABSENT)
      return !required || fail("missing_field", "missing field '" + NAMES[slot] + "'");
    if (kind[slot] == HUGE) return fail("invalid_value", why);
    if (kind[slot] != INTEGER) return fail("wrong_type", why);
    if (integer[slot] < min) return fail("invalid_value", why);
    return true;
  }

  private boolean anonymous(Event out) {
    if (kind[ANONYMOUS] == ABSENT) return true;
    if (kind[ANONYMOUS] != BOOL) return fail("wrong_type", "field 'anonymous' must be a boolean");
    out.anonymous = integer[ANONYMOUS] == 1;
    return true;
  }

  private boolean lines() {
    if (kind[LINES] == ABSENT) return fail("missing_field", "missing field 'lines'");
    if (kind[LINES] == OTHER) return fail("wrong_type", "field 'lines' must be a non-empty array");
    if (kind[LINES] == ARRAY_BAD) return fail("invalid_value", linesProblem);
    return true;
  }

  private boolean ts(Event out) {
    String why = "field 'ts' must be epoch milliseconds or an RFC 3339 string";
    if (kind[TS] == ABSENT) return fail("missing_field", "missing field 'ts'");
    if (kind[TS] == INTEGER) {
      if (integer[TS] < 0) return fail("invalid_value", why);
      out.ts = integer[TS];
      return true;
    }
    if (kind[TS] != STRING) return fail(kind[TS] == HUGE || kind[TS] == FRACTION ? "invalid_value" : "wrong_type", why);
    long ms = rfc3339(text[TS]);
    if (ms < 0) return fail("invalid_value", why);
    out.ts = ms;
    return true;
  }

  /** Epoch ms of an RFC 3339 date-time (`t`/`z`/space accepted), or -1. */
  static long rfc3339(String s) {
    if (s.length() < 20) return -1;
    char sep = s.charAt(10);
    if (sep != 'T' && sep != 't' && sep != ' ') return -1;
    String norm = s.substring(0, 10) + 'T' + s.substring(11);
    if (norm.endsWith("z")) norm = norm.substring(0, norm.length() - 1) + 'Z';
    try {
      long ms = OffsetDateTime.parse(norm, DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant().toEpochMilli();
      return ms;
    } catch (RuntimeException e) {
      return -1;
    }
  }

  /** The event time of a record without decoding it: its top-level `ts`, or -1. */
  static long timestampOf(byte[] value) {
    if (value == null) return -1;
    try (JsonParser p = JSON.createParser(value)) {
      if (p.nextToken() != JsonToken.START_OBJECT) return -1;
      for (JsonToken t = p.nextToken(); t == JsonToken.FIELD_NAME; t = p.nextToken()) {
        boolean isTs = "ts".equals(p.currentName());
        JsonToken v = p.nextToken();
        if (!isTs) {
          p.skipChildren();
        } else if (v == JsonToken.VALUE_NUMBER_INT) {
          return p.getNumberType() == JsonParser.NumberType.BIG_INTEGER ? -1 : p.getLongValue();
        } else if (v == JsonToken.VALUE_NUMBER_FLOAT) {
          double d = p.getDoubleValue();
          return d >= 0 && d == Math.rint(d) && d < 9.2e18 ? (long) d : -1;
        } else if (v == JsonToken.VALUE_STRING) {
          return rfc3339(p.getText());
        } else {
          return -1;
        }
      }
    } catch (IOException | RuntimeException e) {
      return -1;
    }
    return -1;
  }

  private boolean fail(String code, String message) {
    this.code = code;
    this.message = message;
    return false;
  }

  /** Record text quoted in a message is cut at 64 characters, as Herald does. */
  private static String cut(String s) {
    return s.length() <= 64 ? s : s.substring(0, 64) + "...";
  }

  /** Jackson's reason without its location details (DLQ headers stay short). */
  private static String brief(String s) {
    if (s == null) return "unreadable";
    int end = s.length();
    for (String cut : new String[] {"\n", " (start marker", " at [Source"}) {
      int i = s.indexOf(cut);
      if (i >= 0) end = Math.min(end, i);
    }
    return s.substring(0, end);
  }
}

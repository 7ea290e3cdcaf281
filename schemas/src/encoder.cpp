#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <iterator>

#include "herald/schemas/codec.hpp"

namespace herald::schemas {
namespace {

// Length of the well-formed UTF-8 sequence starting at s[i] (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 when the bytes there are not one.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const auto cont = [&](std::size_t k) { return k < s.size() && (byte(k) & 0xC0U) == 0x80U; };
  const unsigned char c = byte(i);
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    const unsigned char c1 = byte(i + 1);
    if (c == 0xE0 && c1 < 0xA0) return 0;  // overlong
    if (c == 0xED && c1 > 0x9F) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    const unsigned char c1 = byte(i + 1);
    if (c == 0xF0 && c1 < 0x90) return 0;  // overlong
    if (c == 0xF4 && c1 > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t run = 0;  // start of the pending verbatim run
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (const std::size_t n = utf8_sequence_length(s, i); n != 0) {
        i += n;
        continue;
      }
    }
    out.append(s.data() + run, i - run);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 0xF]);
        } else {
          out += "\\ufffd";
        }
        break;
    }
    ++i;
    run = i;
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

namespace {

void append_integer(std::string& out, std::int64_t v) {
  std::array<char, 24> buf{};
  const auto result = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), result.ptr);
}

/// Shortest text that reads back as the same double. JSON has no NaN or infinity: they are
/// written as `null` (callers omit optional fields instead, see `object_writer::number`).
void append_double(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  fmt::format_to(std::back_inserter(out), "{}", v);
}

/// Writes one flat JSON object; keys are our own ASCII literals and need no escaping.
class object_writer {
 public:
  explicit object_writer(std::string& out) : out_(out) { out_.push_back('{'); }

  object_writer& string(std::string_view k, std::string_view v) {
    key(k);
    append_json_string(out_, v);
    return *this;
  }
  object_writer& integer(std::string_view k, std::int64_t v) {
    key(k);
    append_integer(out_, v);
    return *this;
  }
  object_writer& number(std::string_view k, double v) {
    key(k);
    append_double(out_, v);
    return *this;
  }
  /// An optional number is left out when absent or not finite: "unknown" either way.
  object_writer& optional_number(std::string_view k, const std::optional<double>& v) {
    if (v && std::isfinite(*v)) number(k, *v);
    return *this;
  }
  object_writer& null(std::string_view k) {
    key(k);
    out_ += "null";
    return *this;
  }
  /// `json` must already be valid JSON.
  object_writer& raw(std::string_view k, std::string_view json) {
    key(k);
    out_ += json;
    return *this;
  }
  object_writer& lines(std::string_view k, const std::vector<order_line>& lines) {
    key(k);
    out_.push_back('[');
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (i != 0) out_.push_back(',');
      object_writer line(out_);
      line.string("sku", lines[i].sku)
          .integer("quantity", lines[i].quantity)
          .number("unit_price", lines[i].unit_price);
      if (!lines[i].currency.empty()) line.string("currency", lines[i].currency);
      line.close();
    }
    out_.push_back(']');
    return *this;
  }
  void close() { out_.push_back('}'); }

 private:
  void key(std::string_view k) {
    if (!first_) out_.push_back(',');
    first_ = false;
    out_.push_back('"');
    out_ += k;
    out_ += "\":";
  }

  std::string& out_;
  bool first_ = true;
};

// ---- make_id ----------------------------------------------------------------------------

constexpr std::uint64_t rotl(std::uint64_t x, int r) noexcept {
  return (x << r) | (x >> (64 - r));
}

// MurmurHash3's 64-bit finaliser: every input bit affects every output bit.
constexpr std::uint64_t fmix64(std::uint64_t h) noexcept {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

/// Two differently built 64-bit lanes over the same bytes, so a collision in one is not a
/// collision in the other. Plain unsigned 64-bit arithmetic on bytes: the same on every
/// platform and compiler, unlike std::hash.
struct id_hasher {
  std::uint64_t fnv = 0xcbf29ce484222325ULL;  // FNV-1a 64 offset basis
  std::uint64_t mix = 0x9e3779b97f4a7c15ULL;
  std::uint64_t length = 0;

  void update(std::string_view s) noexcept {
    for (const char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      fnv = (fnv ^ c) * 0x100000001b3ULL;  // FNV-1a 64 prime
      mix = rotl(mix ^ c, 27) * 0x9e3779b97f4a7c15ULL;
    }
    length += s.size();
  }
};

}  // namespace

std::string& encode(const cart_reminder& msg, std::string& out) {
  object_writer w(out);
  w.string("type", "cart_reminder")
      .string("notification_id", msg.notification_id)
      .integer("ts", msg.ts_ms)
      .string("customer_id", msg.customer_id)
      .string("cart_id", msg.cart_id)
      .integer("reminder_number", msg.reminder_number)
      .lines("lines", msg.lines)
      .number("cart_value", msg.cart_value)
      .string("currency", msg.currency);
  if (!msg.coupon.empty()) w.string("coupon", msg.coupon);
  w.close();
  return out;
}

std::string& encode(const back_in_stock& msg, std::string& out) {
  object_writer w(out);
  w.string("type", "back_in_stock")
      .string("notification_id", msg.notification_id)
      .integer("ts", msg.ts_ms)
      .string("customer_id", msg.customer_id)
      .string("sku", msg.sku)
      .integer("available", msg.available)
      .close();
  return out;
}

std::string& encode(const stock_alert& msg, std::string& out) {
  object_writer w(out);
  w.string("type", msg.out_of_stock ? "out_of_stock" : "low_stock")
      .string("notification_id", msg.notification_id)
      .integer("ts", msg.ts_ms)
      .string("sku", msg.sku)
      .integer("available", msg.available)
      .integer("threshold", msg.threshold)
      .optional_number("units_sold_per_day", msg.units_sold_per_day)
      .optional_number("days_of_cover", msg.days_of_cover)
      .close();
  return out;
}

std::string& encode(const tracking_notification& msg, std::string& out) {
  object_writer w(out);
  w.string("type", msg.delayed ? "delivery_delayed" : "tracking_update")
      .string("notification_id", msg.notification_id)
      .integer("ts", msg.ts_ms)
      .string("customer_id", msg.customer_id)
      .string("shipment_id", msg.shipment_id)
      .string("order_id", msg.order_id)
      .string("carrier", msg.carrier)
      .string("status", msg.status);
  if (!msg.delayed) w.string("previous_status", msg.previous_status);
  if (msg.estimated_delivery_ms) {
    w.integer("estimated_delivery", *msg.estimated_delivery_ms);
  } else if (msg.delayed) {
    // A delay is also declared when the promised date passed and the carrier has given no new
    // estimate: the field is required for this type, and null says "no estimate".
    w.null("estimated_delivery");
  }
  w.close();
  return out;
}

std::string& encode(const anomaly_flag& msg, std::string& out) {
  object_writer w(out);
  w.string("type", "anomaly")
      .string("flag_id", msg.flag_id)
      .integer("ts", msg.ts_ms)
      .string("kind", msg.kind)
      .string("entity_type", msg.entity_type)
      .string("entity_id", msg.entity_id)
      .number("score", msg.score)
      .number("threshold", msg.threshold)
      .integer("window_ms", msg.window_ms)
      .raw("evidence", msg.evidence_json.empty() ? std::string_view{"{}"} : msg.evidence_json)
      .close();
  return out;
}

std::string make_id(std::string_view rule, std::string_view entity, std::string_view trigger) {
  // 0x1f (ASCII unit separator) keeps ("ab", "c") and ("a", "bc") apart.
  constexpr std::string_view separator{"\x1f", 1};
  id_hasher h;
  h.update(rule);
  h.update(separator);
  h.update(entity);
  h.update(separator);
  h.update(trigger);
  const std::uint64_t hi = fmix64(h.fnv ^ h.length);
  const std::uint64_t lo = fmix64(h.mix ^ rotl(h.length, 32));
  return fmt::format("{:016x}{:016x}", hi, lo);
}

}  // namespace herald::schemas

#include <fmt/format.h>
#include <simdjson.h>

#include <array>
#include <cmath>
#include <cstring>

#include "herald/schemas/codec.hpp"
#include "rfc3339.hpp"

namespace herald::schemas {
namespace {

namespace od = simdjson::ondemand;

// Every body field the contract names. The decoder reads the object once, front to back,
// parking each known field in a slot; only when the whole object has been read does it know
// the event type and so which slots matter. That keeps the single pass regardless of where
// producers put `type`.
enum class field : std::uint8_t {
  type,
  event_id,
  ts,
  customer_id,
  session_id,
  url,
  sku,
  price,
  currency,
  cart_id,
  quantity,
  unit_price,
  anonymous,
  order_id,
  lines,
  total,
  location,
  available,
  low_stock_threshold,
  shipment_id,
  carrier,
  service,
  origin,
  destination,
  status_code,
  description,
  promised_delivery,
  estimated_delivery,
  unknown,  // must stay last: it is the count of real fields
};
constexpr std::size_t field_count = static_cast<std::size_t>(field::unknown);

// Indexed by `field`.
constexpr std::array<std::string_view, field_count> field_names = {
    "type",
    "event_id",
    "ts",
    "customer_id",
    "session_id",
    "url",
    "sku",
    "price",
    "currency",
    "cart_id",
    "quantity",
    "unit_price",
    "anonymous",
    "order_id",
    "lines",
    "total",
    "location",
    "available",
    "low_stock_threshold",
    "shipment_id",
    "carrier",
    "service",
    "origin",
    "destination",
    "status_code",
    "description",
    "promised_delivery",
    "estimated_delivery",
};

constexpr std::string_view name_of(field f) noexcept {
  return field_names[static_cast<std::size_t>(f)];
}

// Runs once per key of every record: a switch on the length narrows 28 names to at most five
// memcmp calls.
field lookup_field(std::string_view k) noexcept {
  switch (k.size()) {
    case 2:
      if (k == "ts") return field::ts;
      break;
    case 3:
      if (k == "sku") return field::sku;
      if (k == "url") return field::url;
      break;
    case 4:
      if (k == "type") return field::type;
      break;
    case 5:
      if (k == "lines") return field::lines;
      if (k == "total") return field::total;
      if (k == "price") return field::price;
      break;
    case 6:
      if (k == "origin") return field::origin;
      break;
    case 7:
      if (k == "cart_id") return field::cart_id;
      if (k == "carrier") return field::carrier;
      if (k == "service") return field::service;
      break;
    case 8:
      if (k == "event_id") return field::event_id;
      if (k == "quantity") return field::quantity;
      if (k == "currency") return field::currency;
      if (k == "order_id") return field::order_id;
      if (k == "location") return field::location;
      break;
    case 9:
      if (k == "available") return field::available;
      if (k == "anonymous") return field::anonymous;
      break;
    case 10:
      if (k == "session_id") return field::session_id;
      if (k == "unit_price") return field::unit_price;
      break;
    case 11:
      if (k == "customer_id") return field::customer_id;
      if (k == "shipment_id") return field::shipment_id;
      if (k == "status_code") return field::status_code;
      if (k == "destination") return field::destination;
      if (k == "description") return field::description;
      break;
    case 17:
      if (k == "promised_delivery") return field::promised_delivery;
      break;
    case 18:
      if (k == "estimated_delivery") return field::estimated_delivery;
      break;
    case 19:
      if (k == "low_stock_threshold") return field::low_stock_threshold;
      break;
    default:
      break;
  }
  return field::unknown;
}

/// What JSON a field held, already converted where that is cheap.
enum class value_kind : std::uint8_t {
  absent,
  null,
  string,
  integer,      ///< fits int64
  big_integer,  ///< an integer beyond int64 (valid JSON, out of our range)
  floating,     ///< has a fraction or exponent
  huge_number,  ///< grammatical JSON number simdjson cannot represent (1e400, 30 digits)
  boolean,
  array,
  object,
};

struct slot {
  value_kind kind = value_kind::absent;
  bool boolean = false;
  std::int64_t integer = 0;
  double floating = 0;
  std::string_view string;  ///< points into the parser's string buffer, valid for one decode
};

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

// RFC 8259 number grammar; tells "out of range" apart from "not a number" when simdjson
// refuses a number.
bool is_json_number(std::string_view s) noexcept {
  std::size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size()) return false;
  if (s[i] == '0') {
    ++i;
  } else if (is_digit(s[i])) {
    while (i < s.size() && is_digit(s[i])) ++i;
  } else {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (i >= s.size() || !is_digit(s[i])) return false;
    while (i < s.size() && is_digit(s[i])) ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= s.size() || !is_digit(s[i])) return false;
    while (i < s.size() && is_digit(s[i])) ++i;
  }
  return i == s.size();
}

/// Reads one field value into `s`. Returns an error only when the JSON itself is broken; a
/// value of an unexpected type is recorded in the slot and judged later, once the event type
/// (and so whether the field matters) is known. Arrays and objects are left unconsumed for
/// the caller to parse or `check_syntax`.
simdjson::error_code read_value(od::value& v, slot& s) noexcept {
  od::json_type type{};
  if (auto err = v.type().get(type)) return err;
  switch (type) {
    case od::json_type::string:
      s.kind = value_kind::string;
      return v.get_string().get(s.string);
    case od::json_type::number: {
      od::number n;
      auto err = v.get_number().get(n);
      if (err == simdjson::NUMBER_ERROR) {
        if (!is_json_number(trim(v.raw_json_token()))) return err;
        s.kind = value_kind::huge_number;
        return simdjson::SUCCESS;
      }
      if (err) return err;
      switch (n.get_number_type()) {
        case od::number_type::signed_integer:
          s.kind = value_kind::integer;
          s.integer = n.get_int64();
          break;
        case od::number_type::unsigned_integer:
          s.kind = value_kind::big_integer;
          break;
        case od::number_type::floating_point_number:
          s.kind = value_kind::floating;
          s.floating = n.get_double();
          break;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::boolean:
      s.kind = value_kind::boolean;
      return v.get_bool().get(s.boolean);
    case od::json_type::null: {
      bool is_null = false;
      if (auto err = v.is_null().get(is_null)) return err;
      if (!is_null) return simdjson::N_ATOM_ERROR;
      s.kind = value_kind::null;
      return simdjson::SUCCESS;
    }
    case od::json_type::array:
      s.kind = value_kind::array;
      return simdjson::SUCCESS;
    case od::json_type::object:
      s.kind = value_kind::object;
      return simdjson::SUCCESS;
  }
  return simdjson::INCORRECT_TYPE;
}

/// Deepest nesting accepted inside a value Herald does not use. Bounds the recursion of
/// `check_syntax`; no real event comes near it.
constexpr int max_nesting = 256;

/// Walks a value Herald does not use, only to check its syntax. On-demand would skip it by
/// counting brackets alone, letting `{"extra": [1,,tru}, ...}` through; the DLQ promise is that
/// a record that is not JSON is rejected. Costs nothing for records without such values.
simdjson::error_code check_syntax(od::value& v, int depth) noexcept {
  od::json_type type{};
  if (auto err = v.type().get(type)) return err;
  if (type == od::json_type::array) {
    if (depth >= max_nesting) return simdjson::DEPTH_ERROR;
    od::array array;
    if (auto err = v.get_array().get(array)) return err;
    for (auto element : array) {
      if (auto err = element.error()) return err;
      if (auto err = check_syntax(element.value_unsafe(), depth + 1)) return err;
    }
    return simdjson::SUCCESS;
  }
  if (type == od::json_type::object) {
    if (depth >= max_nesting) return simdjson::DEPTH_ERROR;
    od::object object;
    if (auto err = v.get_object().get(object)) return err;
    for (auto field_result : object) {
      if (auto err = field_result.error()) return err;
      od::field& f = field_result.value_unsafe();
      std::string_view name;
      if (auto err = f.unescaped_key().get(name)) return err;
      if (auto err = check_syntax(f.value(), depth + 1)) return err;
    }
    return simdjson::SUCCESS;
  }
  slot scalar;
  return read_value(v, scalar);
}

/// Reads a value into `s`, checking the syntax of arrays and objects it does not parse.
simdjson::error_code read_scalar_or_check(od::value& v, slot& s) noexcept {
  if (auto err = read_value(v, s)) return err;
  if (s.kind == value_kind::array || s.kind == value_kind::object) return check_syntax(v, 1);
  return simdjson::SUCCESS;
}

// Untrusted text quoted in an error message: bounded so a hostile 1 MiB id cannot bloat DLQ
// headers, cut on a UTF-8 boundary so the header stays valid text.
std::string_view clip(std::string_view s) noexcept {
  constexpr std::size_t max_len = 64;
  if (s.size() <= max_len) return s;
  std::size_t n = max_len;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0U) == 0x80U) --n;
  return s.substr(0, n);
}
std::string_view ellipsis(std::string_view s) noexcept {
  return s.size() > clip(s).size() ? "..." : "";
}

/// Outcome of checking one slot against a rule; the message is built by the caller, which
/// knows the field's (possibly indexed) name.
enum class verdict : std::uint8_t { ok, missing, null, wrong_type, invalid };

enum class presence : bool { optional, required };

verdict absent_verdict(const slot& s, presence p) noexcept {
  if (p == presence::optional) return verdict::ok;
  return s.kind == value_kind::absent ? verdict::missing : verdict::null;
}

bool is_absent(const slot& s) noexcept {
  return s.kind == value_kind::absent || s.kind == value_kind::null;
}

verdict check_string(const slot& s, presence p, bool non_empty, std::string& dst) {
  if (is_absent(s)) return absent_verdict(s, p);
  if (s.kind != value_kind::string) return verdict::wrong_type;
  if (non_empty && s.string.empty()) return verdict::invalid;
  dst.assign(s.string);
  return verdict::ok;
}

bool is_number(value_kind k) noexcept {
  return k == value_kind::integer || k == value_kind::big_integer || k == value_kind::floating ||
         k == value_kind::huge_number;
}

// JSON Schema counts 2.0 and 1e3 as integers, so the decoder does too: producers that write
// every number as a double (JavaScript, some JSON libraries) stay valid.
verdict integral_value(const slot& s, std::int64_t& v) noexcept {
  switch (s.kind) {
    case value_kind::integer:
      v = s.integer;
      return verdict::ok;
    case value_kind::floating:
      if (std::trunc(s.floating) != s.floating) return verdict::wrong_type;
      // 2^63 is exact as a double; anything at or beyond it does not fit int64.
      if (s.floating < -9223372036854775808.0 || s.floating >= 9223372036854775808.0) {
        return verdict::invalid;
      }
      v = static_cast<std::int64_t>(s.floating);
      return verdict::ok;
    case value_kind::big_integer:
    case value_kind::huge_number:
      return verdict::invalid;
    default:
      return verdict::wrong_type;
  }
}

verdict check_integer(const slot& s, presence p, std::int64_t min, std::int64_t& dst) noexcept {
  if (is_absent(s)) return absent_verdict(s, p);
  std::int64_t v = 0;
  if (const verdict r = integral_value(s, v); r != verdict::ok) return r;
  if (v < min) return verdict::invalid;
  dst = v;
  return verdict::ok;
}

// Prices and totals: JSON integers and decimals alike, never negative.
verdict check_amount(const slot& s, presence p, double& dst) noexcept {
  if (is_absent(s)) return absent_verdict(s, p);
  if (!is_number(s.kind)) return verdict::wrong_type;
  if (s.kind == value_kind::huge_number) return verdict::invalid;
  double v = 0;
  if (s.kind == value_kind::integer) {
    v = static_cast<double>(s.integer);
  } else if (s.kind == value_kind::floating) {
    v = s.floating;
  } else {
    return verdict::invalid;  // beyond int64: no shop prices anything at 9.2e18
  }
  if (!(v >= 0)) return verdict::invalid;
  dst = v;
  return verdict::ok;
}

verdict check_bool(const slot& s, presence p, bool& dst) noexcept {
  if (is_absent(s)) return absent_verdict(s, p);
  if (s.kind != value_kind::boolean) return verdict::wrong_type;
  dst = s.boolean;
  return verdict::ok;
}

// Event times: epoch ms integers or RFC 3339 strings; before 1970 is rejected because no
// live producer can emit it and downstream windows assume non-negative times.
verdict check_ts(const slot& s, presence p, std::optional<std::int64_t>& dst) noexcept {
  if (is_absent(s)) return absent_verdict(s, p);
  std::int64_t ms = 0;
  if (s.kind == value_kind::string) {
    if (!detail::parse_rfc3339(s.string, ms)) return verdict::invalid;
  } else if (const verdict r = integral_value(s, ms); r != verdict::ok) {
    return r;
  }
  if (ms < 0) return verdict::invalid;
  dst = ms;
  return verdict::ok;
}

decode_error make_error(verdict v, std::string_view name, std::string_view requirement) {
  switch (v) {
    case verdict::ok:
      return {};
    case verdict::missing:
      return {decode_code::missing_field, fmt::format("missing field '{}'", name)};
    case verdict::null:
      return {decode_code::missing_field, fmt::format("missing field '{}' (null)", name)};
    case verdict::wrong_type:
      return {decode_code::wrong_type, fmt::format("field '{}' must be {}", name, requirement)};
    case verdict::invalid:
      return {decode_code::invalid_value, fmt::format("field '{}' must be {}", name, requirement)};
  }
  return {};
}

constexpr std::string_view req_id = "a non-empty string";
constexpr std::string_view req_string = "a string";
constexpr std::string_view req_positive = "an integer > 0";
constexpr std::string_view req_non_negative = "an integer >= 0";
constexpr std::string_view req_amount = "a number >= 0";
constexpr std::string_view req_bool = "a boolean";
constexpr std::string_view req_ts = "epoch milliseconds or an RFC 3339 string";
constexpr std::string_view req_lines = "a non-empty array of {sku, quantity, unit_price} objects";

/// Applies the per-type field rules to the slots of one record, filling `out`. Each method
/// returns false after storing the first problem in `error`.
class field_checker {
 public:
  field_checker(const std::array<slot, field_count>& slots, decode_error& error) noexcept
      : slots_(slots), error_(error) {}

  bool id(field f, std::string& dst) {
    return apply(check_string(at(f), presence::required, true, dst), f, req_id);
  }
  bool string(field f, std::string& dst) {
    return apply(check_string(at(f), presence::required, false, dst), f, req_string);
  }
  bool optional_id(field f, std::string& dst) {
    return apply(check_string(at(f), presence::optional, true, dst), f, req_id);
  }
  bool optional_string(field f, std::string& dst) {
    return apply(check_string(at(f), presence::optional, false, dst), f, req_string);
  }
  bool positive(field f, presence p, std::int64_t& dst) {
    return apply(check_integer(at(f), p, 1, dst), f, req_positive);
  }
  bool non_negative(field f, std::int64_t& dst) {
    return apply(check_integer(at(f), presence::required, 0, dst), f, req_non_negative);
  }
  bool optional_non_negative(field f, std::optional<std::int64_t>& dst) {
    std::int64_t v = 0;
    const verdict r = check_integer(at(f), presence::optional, 0, v);
    if (r == verdict::ok && !is_absent(at(f))) dst = v;
    return apply(r, f, req_non_negative);
  }
  bool amount(field f, presence p, double& dst) {
    return apply(check_amount(at(f), p, dst), f, req_amount);
  }
  bool optional_bool(field f, bool& dst) {
    return apply(check_bool(at(f), presence::optional, dst), f, req_bool);
  }
  bool ts(field f, std::int64_t& dst) {
    std::optional<std::int64_t> v;
    const verdict r = check_ts(at(f), presence::required, v);
    if (v) dst = *v;
    return apply(r, f, req_ts);
  }
  bool optional_ts(field f, std::optional<std::int64_t>& dst) {
    return apply(check_ts(at(f), presence::optional, dst), f, req_ts);
  }

 private:
  const slot& at(field f) const noexcept { return slots_[static_cast<std::size_t>(f)]; }

  bool apply(verdict v, field f, std::string_view requirement) {
    if (v == verdict::ok) return true;
    error_ = make_error(v, name_of(f), requirement);
    return false;
  }

  const std::array<slot, field_count>& slots_;
  decode_error& error_;
};

decode_error malformed(simdjson::error_code err) {
  return {decode_code::malformed_json,
          fmt::format("malformed JSON: {}", simdjson::error_message(err))};
}

decode_error malformed(simdjson::error_code err, std::string_view field_name) {
  return {decode_code::malformed_json,
          fmt::format("malformed JSON in field '{}{}': {}", clip(field_name), ellipsis(field_name),
                      simdjson::error_message(err))};
}

}  // namespace

std::string_view to_string(decode_code code) noexcept {
  switch (code) {
    case decode_code::ok:
      return "ok";
    case decode_code::oversized:
      return "oversized";
    case decode_code::malformed_json:
      return "malformed_json";
    case decode_code::missing_field:
      return "missing_field";
    case decode_code::wrong_type:
      return "wrong_type";
    case decode_code::invalid_value:
      return "invalid_value";
    case decode_code::unknown_type:
      return "unknown_type";
    case decode_code::key_mismatch:
      return "key_mismatch";
    case decode_code::time_out_of_range:
      return "time_out_of_range";
  }
  return "unknown";
}

struct decoder::impl {
  explicit impl(std::size_t max_record_bytes) : max_record_bytes_(max_record_bytes) {}

  decode_error decode(topic_kind topic, std::string_view key, std::string_view value, event& out);

 private:
  /// Copies `value` into the reusable buffer with the zeroed tail simdjson reads past the end.
  void load(std::string_view value);
  /// Reads `lines` into `out.lines`. Problems inside the array are parked in `lines_error_`
  /// because they matter only if the record turns out to be an order_placed.
  simdjson::error_code read_lines(od::value& v, std::vector<order_line>& lines);
  decode_error check(topic_kind topic, std::string_view key, event& out);

  std::size_t max_record_bytes_;
  od::parser parser_;
  std::unique_ptr<char[]> buffer_;
  std::size_t buffer_capacity_ = 0;
  std::array<slot, field_count> slots_{};
  decode_error lines_error_;
};

void decoder::impl::load(std::string_view value) {
  const std::size_t needed = value.size() + simdjson::SIMDJSON_PADDING;
  if (needed > buffer_capacity_) {
    // Grow geometrically so a slowly rising record size does not reallocate every time.
    const std::size_t capacity = std::max(needed, buffer_capacity_ * 2);
    buffer_ = std::make_unique_for_overwrite<char[]>(capacity);
    buffer_capacity_ = capacity;
  }
  if (!value.empty()) std::memcpy(buffer_.get(), value.data(), value.size());
  std::memset(buffer_.get() + value.size(), 0, simdjson::SIMDJSON_PADDING);
}

simdjson::error_code decoder::impl::read_lines(od::value& v, std::vector<order_line>& lines) {
  lines.clear();
  lines_error_ = {};
  od::array array;
  if (auto err = v.get_array().get(array)) return err;
  std::size_t index = 0;
  for (auto element_result : array) {
    if (auto err = element_result.error()) return err;
    od::value& element = element_result.value_unsafe();
    od::json_type type{};
    if (auto err = element.type().get(type)) return err;
    if (type != od::json_type::object) {
      if (auto err = check_syntax(element, 1)) return err;
      if (!lines_error_) {
        lines_error_ = {decode_code::wrong_type,
                        fmt::format("field 'lines[{}]' must be an object", index)};
      }
      ++index;
      continue;
    }
    od::object object;
    if (auto err = element.get_object().get(object)) return err;
    slot sku;
    slot quantity;
    slot unit_price;
    for (auto field_result : object) {
      if (auto err = field_result.error()) return err;
      od::field& f = field_result.value_unsafe();
      std::string_view name;
      if (auto err = f.unescaped_key().get(name)) return err;
      slot* target = name == "sku"          ? &sku
                     : name == "quantity"   ? &quantity
                     : name == "unit_price" ? &unit_price
                                            : nullptr;
      if (target == nullptr) {
        if (auto err = check_syntax(f.value(), 2)) return err;
        continue;
      }
      if (auto err = read_scalar_or_check(f.value(), *target)) return err;
    }
    if (!lines_error_) {
      order_line& line = lines.emplace_back();
      verdict r = check_string(sku, presence::required, true, line.sku);
      std::string_view part = "sku";
      std::string_view requirement = req_id;
      if (r == verdict::ok) {
        r = check_integer(quantity, presence::required, 1, line.quantity);
        part = "quantity";
        requirement = req_positive;
      }
      if (r == verdict::ok) {
        r = check_amount(unit_price, presence::required, line.unit_price);
        part = "unit_price";
        requirement = req_amount;
      }
      if (r != verdict::ok) {
        lines_error_ = make_error(r, fmt::format("lines[{}].{}", index, part), requirement);
      }
    }
    ++index;
  }
  if (index == 0 && !lines_error_) {
    lines_error_ = {decode_code::invalid_value, fmt::format("field 'lines' must be {}", req_lines)};
  }
  return simdjson::SUCCESS;
}

decode_error decoder::impl::decode(topic_kind topic, std::string_view key, std::string_view value,
                                   event& out) {
  if (value.size() > max_record_bytes_) {
    return {decode_code::oversized, fmt::format("record of {} bytes exceeds the {}-byte limit",
                                                value.size(), max_record_bytes_)};
  }
  out.clear();
  for (slot& s : slots_) s.kind = value_kind::absent;
  lines_error_ = {};

  load(value);
  od::document doc;
  if (auto err = parser_.iterate(buffer_.get(), value.size(), buffer_capacity_).get(doc)) {
    return malformed(err);
  }
  od::object object;
  if (auto err = doc.get_object().get(object)) {
    if (err == simdjson::INCORRECT_TYPE) {
      return {decode_code::malformed_json, "malformed JSON: the record is not a JSON object"};
    }
    return malformed(err);
  }
  for (auto field_result : object) {
    // Work on the iterator's own objects: copying simdjson's small value structs through
    // the stack cost a store-forwarding stall per field (a third of the decode time).
    if (auto err = field_result.error()) return malformed(err);
    od::field& f = field_result.value_unsafe();
    std::string_view name;
    if (auto err = f.unescaped_key().get(name)) return malformed(err);
    const field id = lookup_field(name);
    od::value& v = f.value();
    if (id == field::unknown) {
      if (auto err = check_syntax(v, 1)) return malformed(err, name);
      continue;
    }
    slot& s = slots_[static_cast<std::size_t>(id)];
    if (id == field::lines) {
      if (auto err = read_value(v, s)) return malformed(err, name);
      if (s.kind == value_kind::array) {
        if (auto err = read_lines(v, out.lines)) return malformed(err, name);
      } else if (s.kind == value_kind::object) {
        if (auto err = check_syntax(v, 1)) return malformed(err, name);
      }
    } else if (auto err = read_scalar_or_check(v, s)) {
      return malformed(err, name);
    }
  }
  // On-demand stops at the root object's closing brace without looking further; anything
  // left over (a second object, a stray brace, the rest of a broken nested value) means the
  // record is not one JSON object.
  auto rest = doc.current_location();
  if (rest.error() != simdjson::OUT_OF_BOUNDS) {
    if (rest.error()) return malformed(rest.error());
    return {decode_code::malformed_json,
            fmt::format("malformed JSON: unexpected content at byte {} after the object",
                        rest.value_unsafe() - buffer_.get())};
  }
  return check(topic, key, out);
}

decode_error decoder::impl::check(topic_kind topic, std::string_view key, event& out) {
  decode_error error;
  field_checker c(slots_, error);

  const slot& type_slot = slots_[static_cast<std::size_t>(field::type)];
  if (type_slot.kind != value_kind::string) {
    const verdict v =
        is_absent(type_slot) ? absent_verdict(type_slot, presence::required) : verdict::wrong_type;
    return make_error(v, name_of(field::type), req_string);
  }
  const auto type = parse_event_type(type_slot.string);
  if (!type) {
    return {decode_code::unknown_type,
            fmt::format("unknown event type '{}{}' for topic {}", clip(type_slot.string),
                        ellipsis(type_slot.string), to_string(topic))};
  }
  if (topic_of(*type) != topic) {
    return {decode_code::unknown_type,
            fmt::format("event type '{}' belongs on topic {}, not {}", to_string(*type),
                        to_string(topic_of(*type)), to_string(topic))};
  }
  out.type = *type;
  if (!c.id(field::event_id, out.event_id) || !c.ts(field::ts, out.ts_ms)) return error;

  bool ok = true;
  switch (*type) {
    case event_type::page_view:
      ok = c.id(field::customer_id, out.customer_id) && c.id(field::session_id, out.session_id) &&
           c.optional_string(field::url, out.url);
      break;
    case event_type::product_view:
      ok = c.id(field::customer_id, out.customer_id) && c.id(field::session_id, out.session_id) &&
           c.id(field::sku, out.sku) && c.amount(field::price, presence::required, out.price) &&
           c.optional_string(field::currency, out.currency);
      break;
    case event_type::wishlist_add:
    case event_type::notify_me:
      ok = c.id(field::customer_id, out.customer_id) && c.id(field::sku, out.sku);
      break;
    case event_type::cart_item_added:
      ok = c.id(field::customer_id, out.customer_id) && c.id(field::cart_id, out.cart_id) &&
           c.id(field::sku, out.sku) &&
           c.positive(field::quantity, presence::required, out.quantity) &&
           c.amount(field::unit_price, presence::required, out.unit_price) &&
           c.string(field::currency, out.currency) &&
           c.optional_bool(field::anonymous, out.anonymous);
      break;
    case event_type::cart_item_removed:
      ok = c.id(field::customer_id, out.customer_id) && c.id(field::cart_id, out.cart_id) &&
           c.id(field::sku, out.sku) &&
           c.positive(field::quantity, presence::optional, out.quantity) &&
           c.optional_bool(field::anonymous, out.anonymous);
      break;
    case event_type::cart_cleared:
    case event_type::checkout_started:
      ok = c.id(field::customer_id, out.customer_id) && c.id(field::cart_id, out.cart_id) &&
           c.optional_bool(field::anonymous, out.anonymous);
      break;
    case event_type::order_placed: {
      ok = c.id(field::customer_id, out.customer_id) && c.id(field::order_id, out.order_id) &&
           c.optional_id(field::cart_id, out.cart_id);
      if (!ok) break;
      const slot& lines = slots_[static_cast<std::size_t>(field::lines)];
      if (lines.kind != value_kind::array) {
        return make_error(
            is_absent(lines) ? absent_verdict(lines, presence::required) : verdict::wrong_type,
            name_of(field::lines), req_lines);
      }
      if (lines_error_) return std::move(lines_error_);
      ok = c.amount(field::total, presence::required, out.total) &&
           c.string(field::currency, out.currency) &&
           c.optional_bool(field::anonymous, out.anonymous);
      break;
    }
    case event_type::stock_level:
      ok = c.id(field::sku, out.sku) && c.string(field::location, out.location) &&
           c.non_negative(field::available, out.available) &&
           c.optional_non_negative(field::low_stock_threshold, out.low_stock_threshold);
      break;
    case event_type::shipment_created:
      ok = c.id(field::shipment_id, out.shipment_id) && c.id(field::order_id, out.order_id) &&
           c.id(field::customer_id, out.customer_id) && c.string(field::carrier, out.carrier) &&
           c.optional_string(field::service, out.service) &&
           c.optional_string(field::origin, out.origin) &&
           c.optional_string(field::destination, out.destination) &&
           c.optional_ts(field::promised_delivery, out.promised_delivery_ms);
      break;
    case event_type::carrier_scan:
      ok = c.id(field::shipment_id, out.shipment_id) && c.string(field::carrier, out.carrier) &&
           c.string(field::status_code, out.status_code) &&
           c.optional_string(field::description, out.description) &&
           c.optional_string(field::location, out.location) &&
           c.optional_ts(field::estimated_delivery, out.estimated_delivery_ms);
      break;
  }
  if (!ok) return error;
  // `lines` was read before the type was known; other types must not carry it.
  if (*type != event_type::order_placed) out.lines.clear();

  std::string_view entity_name;
  const std::string* entity = nullptr;
  switch (topic) {
    case topic_kind::clickstream:
    case topic_kind::carts:
      entity_name = "customer_id";
      entity = &out.customer_id;
      break;
    case topic_kind::inventory:
      entity_name = "sku";
      entity = &out.sku;
      break;
    case topic_kind::shipments:
      entity_name = "shipment_id";
      entity = &out.shipment_id;
      break;
  }
  if (key.empty()) {
    return {decode_code::key_mismatch, fmt::format("empty key does not match {} '{}{}'",
                                                   entity_name, clip(*entity), ellipsis(*entity))};
  }
  if (key != *entity) {
    return {decode_code::key_mismatch,
            fmt::format("key '{}{}' does not match {} '{}{}'", clip(key), ellipsis(key),
                        entity_name, clip(*entity), ellipsis(*entity))};
  }
  return {};
}

decoder::decoder(std::size_t max_record_bytes) : impl_(std::make_unique<impl>(max_record_bytes)) {}
decoder::~decoder() = default;
decoder::decoder(decoder&&) noexcept = default;
decoder& decoder::operator=(decoder&&) noexcept = default;

decode_error decoder::decode(topic_kind topic, std::string_view key, std::string_view value,
                             event& out) {
  if (!impl_) return {decode_code::malformed_json, "decoder used after being moved from"};
  // simdjson is used through error codes, so only allocation failure can throw here; it must
  // still not escape into the task that owns this decoder.
  try {
    return impl_->decode(topic, key, value, out);
  } catch (...) {
    // Short enough for the small-string buffer: reporting must not allocate after a
    // failed allocation.
    return {decode_code::malformed_json, "decoder failure"};
  }
}

}  // namespace herald::schemas

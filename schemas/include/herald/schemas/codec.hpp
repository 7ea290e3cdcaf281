#pragma once
/// Decoding input records and encoding output messages (CONTRACT.md).
///
/// Thread-safety: a `decoder` is single-threaded (one per task actor); the encode functions
/// are pure and thread-safe.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "herald/schemas/events.hpp"

namespace herald::schemas {

/// Why a record is bad input. Bounded set: used as a metrics label.
enum class decode_code : std::uint8_t {
  ok,
  oversized,       ///< value larger than the configured limit
  malformed_json,  ///< not parseable JSON, or not an object
  missing_field,   ///< a required field is absent (or null)
  wrong_type,      ///< a field has the wrong JSON type
  invalid_value,   ///< right type, value out of range (quantity <= 0, bad timestamp, ...)
  unknown_type,    ///< `type` is not an event type of this topic
  key_mismatch,    ///< the Kafka key disagrees with the body's entity id (or is empty)
  /// `ts` further ahead of the wall clock than task.max_future_ms, or before
  /// task.min_event_time_ms: an absurd timestamp (checked by the task, not the decoder)
  time_out_of_range,
};

/// "malformed_json", "missing_field", ...
[[nodiscard]] std::string_view to_string(decode_code code) noexcept;

/// Result of a decode: `code == ok`, or the code plus a readable message naming the field,
/// e.g. "missing field 'cart_id'" or "field 'quantity' must be an integer > 0".
struct decode_error {
  decode_code code = decode_code::ok;
  std::string message;

  [[nodiscard]] explicit operator bool() const noexcept { return code != decode_code::ok; }
};

/// Decodes JSON records into `event`s with simdjson on-demand.
class decoder {
 public:
  /// Records whose value is larger than `max_record_bytes` are rejected as `oversized`.
  /// Default: 1 MiB.
  explicit decoder(std::size_t max_record_bytes = 1 << 20);
  ~decoder();
  decoder(const decoder&) = delete;
  decoder& operator=(const decoder&) = delete;
  decoder(decoder&&) noexcept;
  decoder& operator=(decoder&&) noexcept;

  /// Decodes one record read from a topic of kind `topic`. On success fills `out` (cleared
  /// first) and returns an error with code `ok`. Never throws on bad input.
  /// The event's `type` must belong to `topic` (else `unknown_type`); the Kafka `key` must
  /// equal the body's entity id for that topic (customer_id / sku / shipment_id).
  /// A `null` field counts as absent; unknown fields are ignored but must be valid JSON.
  /// The full rule set, with the message of each error, is in schemas/README.md.
  [[nodiscard]] decode_error decode(topic_kind topic, std::string_view key, std::string_view value,
                                    event& out);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// ---- outputs -------------------------------------------------------------------------------

/// `herald.cart-reminders` / `cart_reminder`.
struct cart_reminder {
  std::string notification_id;
  std::int64_t ts_ms = 0;
  std::string customer_id;
  std::string cart_id;
  int reminder_number = 1;
  std::vector<order_line> lines;  ///< in-stock lines only
  double cart_value = 0;
  std::string currency;
  std::string coupon;  ///< empty = absent
};

/// `herald.restock-alerts` / `back_in_stock`.
struct back_in_stock {
  std::string notification_id;
  std::int64_t ts_ms = 0;
  std::string customer_id;
  std::string sku;
  std::int64_t available = 0;
};

/// `herald.restock-alerts` / `low_stock` or `out_of_stock`.
struct stock_alert {
  bool out_of_stock = false;  ///< type `out_of_stock` when true, else `low_stock`
  std::string notification_id;
  std::int64_t ts_ms = 0;
  std::string sku;
  std::int64_t available = 0;
  std::int64_t threshold = 0;
  std::optional<double> units_sold_per_day;
  std::optional<double> days_of_cover;
};

/// `herald.tracking-notifications` / `tracking_update` or `delivery_delayed`.
struct tracking_notification {
  bool delayed = false;  ///< type `delivery_delayed` when true, else `tracking_update`
  std::string notification_id;
  std::int64_t ts_ms = 0;
  std::string customer_id;
  std::string shipment_id;
  std::string order_id;
  std::string carrier;
  std::string status;
  std::string previous_status;  ///< tracking_update only
  std::optional<std::int64_t> estimated_delivery_ms;
};

/// `herald.anomalies` / `anomaly`.
struct anomaly_flag {
  std::string flag_id;
  std::int64_t ts_ms = 0;
  std::string kind;         ///< bot_click_rate, demand_spike, ...
  std::string entity_type;  ///< customer, session, sku, shipment
  std::string entity_id;
  double score = 0;
  double threshold = 0;
  std::int64_t window_ms = 0;
  std::string evidence_json = "{}";  ///< a JSON object, emitted verbatim
};

/// Each encoder appends one JSON object (no trailing newline) to `out` and returns it.
std::string& encode(const cart_reminder& msg, std::string& out);
std::string& encode(const back_in_stock& msg, std::string& out);
std::string& encode(const stock_alert& msg, std::string& out);
std::string& encode(const tracking_notification& msg, std::string& out);
std::string& encode(const anomaly_flag& msg, std::string& out);

/// Appends `s` as a JSON string (with its quotes). Valid UTF-8 is copied as is; each byte that
/// is not part of a valid sequence becomes U+FFFD, so the output is always valid JSON whatever
/// the input (an operator's field, a log message).
void append_json_string(std::string& out, std::string_view s);

/// Deterministic output id: the same (rule, entity, trigger) always gives the same 32 hex
/// characters. `trigger` names what caused the message (e.g. the triggering event id and the
/// reminder number), so a downstream sender can dedupe replays.
[[nodiscard]] std::string make_id(std::string_view rule, std::string_view entity,
                                  std::string_view trigger);

}  // namespace herald::schemas

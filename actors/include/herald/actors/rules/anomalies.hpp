#pragma once
/// Anomaly detectors (ARCHITECTURE.md "Rules": Anomalies), each emitting `anomaly` flags on
/// herald.anomalies with score, threshold, window and evidence, rate-limited per entity:
///
/// - bot_click_rate (per customer or session): events in a sliding window above an absolute
///   limit, or above k x the population's robust baseline (median + MAD of per-entity window
///   counts) once a minimum count is reached.
/// - demand_spike (per SKU, views and cart adds) and traffic_spike (the whole shop, every
///   event): counts per time bucket against an EWMA mean and variance of past buckets.
/// - price_anomaly (per SKU): a product_view price far from the trailing median price.
/// - cart_quantity (per SKU): a cart_item_added quantity above an absolute limit or far above
///   the trailing median quantity.
///
/// Plain C++: each detector is owned by one task, single-threaded. Event time only. State per
/// entity is bounded (fixed-size rings and a few scalars), whatever the traffic.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "herald/actors/rules/context.hpp"
#include "herald/schemas/codec.hpp"
#include "herald/schemas/events.hpp"

namespace herald::rules {

struct bot_config {
  /// Sliding window over which a customer's events are counted. Default: 60 s.
  std::int64_t window_ms = 60'000;
  /// Events in one window above which an entity is flagged whatever the population does.
  /// Also sizes the per-entity ring (limit + 1 event times). Default: 30.
  int absolute_limit = 30;
  /// Relative rule: flag above k x (median + MAD) of the population's window counts. With real
  /// shoppers at most ~8 events per minute (REES46) and a baseline of at least 1, k = 10 keeps
  /// them clear. Default: 10.
  double baseline_factor = 10.0;
  /// Least events in the window before the relative rule applies. Default: 20.
  int min_count = 20;
  /// Window counts the population sketch needs before the relative rule applies. Default: 200.
  std::int64_t min_population = 200;
  /// Least time between two flags of one entity. Default: 10 min.
  std::int64_t min_interval_ms = 600'000;
  /// How long an entity counts as a bot after a flag (see bot_state::flagged_until_ms).
  /// Default: 1 h.
  std::int64_t flagged_for_ms = 3'600'000;
};

struct demand_config {
  /// Width of a count bucket. Default: 10 min.
  std::int64_t bucket_ms = 600'000;
  /// EWMA weight of the newest bucket. Default: 0.3.
  double alpha = 0.3;
  /// z-score at or above which a closed bucket is flagged. Default: 4.
  double z_threshold = 4.0;
  /// Least count in the bucket for a flag (small numbers are noise). Default: 20.
  std::int64_t min_volume = 20;
  /// Least count / mean for a flag: with thousands of SKUs, z alone flags ordinary noise on
  /// busy ones (563 views against 439 is z 5, not a spike). Default: 3.
  double min_ratio = 3.0;
  /// Closed buckets of history needed before flagging. Default: 3.
  int min_history = 3;
  /// Least standard deviation used in z (besides sqrt(mean), the Poisson noise). Default: 1.
  double sd_floor = 1.0;
  /// Least time between two flags of one entity. Default: 1 h.
  std::int64_t min_interval_ms = 3'600'000;
  /// Empty buckets folded into the EWMA after a gap, at most (older ones change nothing that
  /// matters: the mean has decayed to ~0). Default: 64.
  int max_gap_buckets = 64;
};

struct price_config {
  /// Trailing prices kept per SKU (ring). Default: 31.
  std::size_t samples = 31;
  /// Prices needed before flagging. Default: 5.
  std::size_t min_samples = 5;
  /// Flag above factor x median or below median / factor. Default: 3.
  double factor = 3.0;
  /// Least time between two flags of one SKU. Default: 1 h.
  std::int64_t min_interval_ms = 3'600'000;
};

struct cart_quantity_config {
  /// Quantity above which a cart add is flagged whatever the SKU's history. Default: 50.
  std::int64_t absolute_limit = 50;
  /// Flag above factor x the SKU's trailing median quantity. Default: 10.
  double factor = 10.0;
  /// Trailing quantities kept per SKU (ring). Default: 31.
  std::size_t samples = 31;
  /// Quantities needed before the relative rule applies. Default: 5.
  std::size_t min_samples = 5;
  /// Least time between two flags of one SKU. Default: 10 min.
  std::int64_t min_interval_ms = 600'000;
};

/// All anomaly detectors' configuration.
/// Demand counted in units as well as in events: one order line of 2 880 units is a spike in
/// demand even as one event.
struct demand_units_config {
  /// The cart-add detector counts units added (quantity) rather than cart-add events.
  /// Default: false.
  bool cart_adds = false;
  /// A demand detector per SKU over units ordered (order lines' quantities; signal
  /// "units_ordered", `demand`'s settings with min_volume in units). Default: true.
  bool orders = true;
};

struct anomaly_config {
  bot_config bot;
  demand_config demand;  ///< per SKU, views and cart adds separately
  demand_units_config demand_units;
  demand_config traffic;  ///< per input partition, all events
  price_config price;
  cart_quantity_config cart_quantity;
};

/// The last `capacity` values, oldest overwritten first. Never holds more than its capacity.
template <class T>
struct bounded_ring {
  std::vector<T> values;   ///< at most `capacity` values, in ring order
  std::uint32_t next = 0;  ///< slot the next value overwrites once full

  void push(T v, std::size_t capacity) {
    if (capacity == 0) return;
    if (values.size() > capacity) values.resize(capacity);  // capacity lowered by config
    if (values.size() < capacity) {
      values.push_back(v);
      return;
    }
    if (next >= values.size()) next = 0;
    values[next] = v;
    next = static_cast<std::uint32_t>((next + 1) % capacity);
  }
  friend bool operator==(const bounded_ring&, const bounded_ring&) = default;
};

/// Per-customer (or per-session) state of the bot detector, persisted with a version byte.
struct bot_state {
  bounded_ring<std::int64_t> times;  ///< the last absolute_limit + 1 event times
  std::int64_t bucket_start_ms = 0;  ///< current population-sample window; 0 = none yet
  std::int64_t bucket_count = 0;
  std::int64_t last_flag_ms = 0;      ///< 0 = never flagged
  std::int64_t flagged_until_ms = 0;  ///< counts as a bot before this event time

  /// Whether the entity counts as a bot at event time `now_ms` (e.g. to suppress reminders).
  [[nodiscard]] bool is_bot(std::int64_t now_ms) const noexcept {
    return now_ms < flagged_until_ms;
  }
  /// Whether the event just observed created it: the ring holds one time (states are erased
  /// when they expire, never emptied).
  [[nodiscard]] bool is_new() const noexcept { return times.values.size() == 1; }
  void encode(std::string& out) const;
  [[nodiscard]] static bool decode(std::string_view in, bot_state& out);
  friend bool operator==(const bot_state&, const bot_state&) = default;
};

/// Population sketch of per-entity window counts: a histogram of counts 0..63 (larger counts
/// clamp into the last bin, which is above any sane baseline anyway). Halves itself when full,
/// so it follows the current population and its memory is fixed.
struct count_sketch {
  static constexpr std::size_t bins = 64;
  static constexpr std::uint64_t max_total = 20'000;
  std::uint32_t counts[bins] = {};
  std::uint64_t total = 0;

  void add(std::int64_t count) noexcept;
  [[nodiscard]] std::int64_t median() const noexcept;
  /// Median absolute deviation from `median()`.
  [[nodiscard]] std::int64_t mad() const noexcept;
  void encode(std::string& out) const;
  [[nodiscard]] static bool decode(std::string_view in, count_sketch& out);
  friend bool operator==(const count_sketch&, const count_sketch&) = default;
};

/// Per-key state of the demand / traffic spike detector, persisted with a version byte.
struct demand_state {
  std::int64_t bucket_start_ms = 0;  ///< open bucket; meaningful once `started`
  std::int64_t count = 0;            ///< events in the open bucket
  double mean = 0;                   ///< EWMA of closed buckets
  double var = 0;                    ///< EWMA variance of closed buckets
  std::int64_t history = 0;          ///< closed buckets seen (saturates)
  std::int64_t last_flag_ms = 0;     ///< 0 = never flagged
  bool started = false;

  void encode(std::string& out) const;
  [[nodiscard]] static bool decode(std::string_view in, demand_state& out);
  friend bool operator==(const demand_state&, const demand_state&) = default;
};

/// Per-SKU state of the price detector, persisted with a version byte.
struct price_state {
  bounded_ring<double> prices;
  std::int64_t last_flag_ms = 0;

  void encode(std::string& out) const;
  [[nodiscard]] static bool decode(std::string_view in, price_state& out);
  friend bool operator==(const price_state&, const price_state&) = default;
};

/// Per-SKU state of the cart quantity detector, persisted with a version byte.
struct cart_quantity_state {
  bounded_ring<std::int64_t> quantities;
  std::int64_t last_flag_ms = 0;

  void encode(std::string& out) const;
  [[nodiscard]] static bool decode(std::string_view in, cart_quantity_state& out);
  friend bool operator==(const cart_quantity_state&, const cart_quantity_state&) = default;
};

class anomaly_effects {
 public:
  virtual ~anomaly_effects() = default;
  virtual void emit(schemas::anomaly_flag&& msg) = 0;
};

/// bot_click_rate. The population sketch is this detector's (one per task, so per partition
/// of customers); a task that wants it across restarts persists `population()`.
class bot_detector {
 public:
  explicit bot_detector(bot_config config = {});

  /// Any customer event, keyed by customer_id (entity_type "customer"). Each returns the
  /// entity's state after the event (valid until the store's next flush), or null when the
  /// event has no such key.
  const bot_state* on_event(const schemas::event& ev, keyed_state<bot_state>& customers,
                            anomaly_effects& effects);
  /// Any event of a session, keyed by session_id (entity_type "session").
  const bot_state* on_session_event(const schemas::event& ev, keyed_state<bot_state>& sessions,
                                    anomaly_effects& effects);
  /// One event of `entity_id` at `ts_ms`; `trigger` names it (the event id) in the flag id.
  const bot_state* observe(std::string_view entity_type, std::string_view entity_id,
                           std::int64_t ts_ms, std::string_view trigger,
                           keyed_state<bot_state>& states, anomaly_effects& effects);

  /// Event time from which `s` no longer matters: no event left in the window, no bot flag
  /// in force, no rate limit pending. A task erases the state then, so idle customers cost
  /// nothing (the state is per customer, and customers are unbounded).
  [[nodiscard]] std::int64_t expires_at(const bot_state& s) const noexcept;
  /// Adds `s`'s current window to the population. observe() does it when a window ends; call
  /// it before erasing an expired state too (else only customers who never pause would shape
  /// the baseline).
  void retire(const bot_state& s);

  [[nodiscard]] const count_sketch& population() const noexcept { return population_; }
  count_sketch& population() noexcept { return population_; }
  [[nodiscard]] const bot_config& config() const noexcept { return config_; }

 private:
  bot_config config_;
  count_sketch population_;
};

/// demand_spike per SKU, or, constructed with kind "traffic_spike" and entity_type "partition",
/// the same detector over all events of an input partition under one key. A non-empty
/// `signal` ("view", "cart_add") names what is counted, in the flag's evidence and id, so one
/// SKU can have a detector per rate.
///
/// Counting is by each event's own time, and a bucket closes once time (an event of a later
/// bucket, or `advance` with the task's watermark) passes its end: callers feed events in
/// event-time order up to their watermark (SKU tasks apply their signals in event-time order;
/// an input partition is in its own order). An event older than the open bucket is late and
/// left out: closed buckets are final.
class demand_spike_detector {
 public:
  explicit demand_spike_detector(demand_config config = {}, std::string kind = "demand_spike",
                                 std::string entity_type = "sku", std::string signal = {});

  /// product_view and cart_item_added count towards their SKU; other events are ignored.
  void on_event(const schemas::event& ev, keyed_state<demand_state>& states,
                anomaly_effects& effects);
  /// One event of `key` at `ts_ms`, counting `weight` (1, or its units) (closes the open
  /// bucket when `ts_ms` is past its end). True when this made the open bucket reach
  /// min_volume (the caller may then schedule its close, `closes_at`).
  bool observe(std::string_view key, std::int64_t ts_ms, keyed_state<demand_state>& states,
               anomaly_effects& effects, std::int64_t weight = 1);
  /// Closes the buckets of `key` that ended at or before `now_ms` (a watermark or timer), so
  /// a spike is flagged without waiting for the key's next event.
  void advance(std::string_view key, std::int64_t now_ms, keyed_state<demand_state>& states,
               anomaly_effects& effects);

  /// Event time at which `s`'s open bucket closes (advance() at or after it flags it).
  [[nodiscard]] std::int64_t closes_at(const demand_state& s) const noexcept;

  [[nodiscard]] const demand_config& config() const noexcept { return config_; }

 private:
  void close_until(std::string_view key, demand_state& s, std::int64_t now_ms,
                   anomaly_effects& effects) const;
  void close_bucket(std::string_view key, demand_state& s, anomaly_effects& effects) const;

  demand_config config_;
  std::string kind_;
  std::string entity_type_;
  std::string signal_;
};

/// price_anomaly per SKU, from product_view prices.
class price_detector {
 public:
  explicit price_detector(price_config config = {});
  void on_event(const schemas::event& ev, keyed_state<price_state>& skus, anomaly_effects& effects);
  [[nodiscard]] const price_config& config() const noexcept { return config_; }

 private:
  price_config config_;
};

/// cart_quantity per SKU, from cart_item_added quantities.
class cart_quantity_detector {
 public:
  explicit cart_quantity_detector(cart_quantity_config config = {});
  void on_event(const schemas::event& ev, keyed_state<cart_quantity_state>& skus,
                anomaly_effects& effects);
  [[nodiscard]] const cart_quantity_config& config() const noexcept { return config_; }

 private:
  cart_quantity_config config_;
};

}  // namespace herald::rules

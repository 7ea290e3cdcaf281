#pragma once
/// Tracking rules of the shipment task family (ARCHITECTURE.md "Rules", "Anomalies"):
///
/// Carrier scans are mapped to one status taxonomy (`carrier_mappings`, configuration). A
/// customer gets a `tracking_update` on each meaningful status change (a status in
/// `notify_on`), not on every scan; duplicate and out-of-order scans are absorbed. A scan
/// carrying a revised estimated delivery moves the deadline and tells the customer. The
/// deadline passing without delivery gives one `delivery_delayed` per deadline. No scan for
/// longer than the lane's usual transit (p95, learned from delivered shipments of the same
/// carrier, origin and destination) gives a `shipment_stuck` anomaly, at most one per
/// `anomaly_min_interval_ms`. A lane is learned from every partition's deliveries: the task's
/// own (its `lanes` state, exact) and, through a `lane_view`, those the other shipment tasks
/// published before the time of the decision. The threshold is looked at again when the stuck
/// timer fires, so deliveries learned meanwhile count; a lane still short of samples is looked
/// at daily. Still undelivered `late_after_ms` past its deadline gives one
/// `shipment_late` anomaly per deadline (for the merchant: the customer had delivery_delayed).
/// Created but not picked up by the carrier `fulfilment_stall_ms` after creation gives one
/// `fulfilment_stalled` anomaly for the merchant (the parcel has not left: the shop's problem,
/// not the carrier's, so no shipment_stuck before pickup).
///
/// Scans may overtake their shipment_created (different producers): they are held in the
/// shipment's state for `hold_unknown_ms` and applied in event-time order once it arrives.
///
/// Event time only: "now" is the triggering event's ts or the timer's fire time, so a replay
/// gives the same outputs. Plain C++: owned by one shipment task, single-threaded. State: one
/// `shipment_state` per shipment (key shipment_id) and one `lane_stats` per lane (key
/// `lane_key`). Timers are keyed shipment_id + '\x1f' + kind letter, one per kind, so two
/// timers of one shipment due at the same ms do not collide.

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "herald/actors/rules/context.hpp"
#include "herald/schemas/codec.hpp"
#include "herald/schemas/events.hpp"

namespace herald::rules {

/// The normalised status taxonomy of the contract (CONTRACT.md "Normalised shipment status").
enum class shipment_status : std::uint8_t {
  info_received,
  picked_up,
  in_transit,
  out_for_delivery,
  failed_attempt,
  available_for_pickup,
  delivered,
  exception,
  returned_to_sender,
};
inline constexpr std::size_t shipment_status_count = 9;
/// The contract's spelling, e.g. "out_for_delivery".
[[nodiscard]] std::string_view to_string(shipment_status s) noexcept;
/// Inverse of to_string (exact, lower-case); nullopt for anything else.
[[nodiscard]] std::optional<shipment_status> parse_shipment_status(std::string_view s) noexcept;
/// No later scan can change a delivered or returned shipment.
[[nodiscard]] bool is_final(shipment_status s) noexcept;

/// Carrier status codes -> normalised status, per carrier.
struct carrier_mappings {
  /// Carrier the codes of every carrier fall back to, for aggregators (e.g. EasyPost) that
  /// already speak one vocabulary for all carriers.
  static constexpr std::string_view any_carrier = "*";

  /// Lower-case carrier -> carrier status code (exact) -> status.
  std::map<std::string, std::map<std::string, shipment_status>, std::less<>> carriers;

  /// Adds (or replaces) one code; `carrier` is stored lower-case.
  void add(std::string_view carrier, std::string_view code, shipment_status status);
  /// The carrier's own mapping first (carrier matched case-insensitively), then `any_carrier`'s.
  [[nodiscard]] std::optional<shipment_status> lookup(std::string_view carrier,
                                                      std::string_view code) const;
};

/// EasyPost's tracker status vocabulary. `unknown`, `error` (the tracker itself failed, e.g. an
/// invalid tracking number) and `cancelled` say nothing about where the parcel is and are left
/// unmapped, so such scans are counted as unknown codes; `failure` is a carrier-side delivery
/// failure (lost, damaged, undeliverable) and maps to `exception`.
[[nodiscard]] std::map<std::string, shipment_status> easypost_status_codes();

struct shipment_config {
  static constexpr std::int64_t hour_ms = 3'600'000;
  static constexpr std::int64_t day_ms = 24 * hour_ms;

  /// Carrier code mapping; loaded from YAML by the app. Default: empty (every code unknown).
  carrier_mappings carriers;
  /// Status changes the customer is told about. Default: all but info_received, in_transit.
  std::set<shipment_status> notify_on = {
      shipment_status::picked_up,         shipment_status::out_for_delivery,
      shipment_status::failed_attempt,    shipment_status::available_for_pickup,
      shipment_status::delivered,         shipment_status::exception,
      shipment_status::returned_to_sender};
  /// How long scans of a shipment not created yet are held. Default: 6 h.
  std::int64_t hold_unknown_ms = 6 * hour_ms;
  /// Scans held per unknown shipment; the oldest goes first. Default: 32.
  std::size_t max_held_scans = 32;
  /// Transit estimate when neither the producer nor the lane's history gives one. Default: 5 d.
  std::int64_t default_transit_ms = 5 * day_ms;
  /// No-scan threshold before a lane has `min_lane_samples`. Default: 4 days.
  std::int64_t stuck_default_ms = 4 * day_ms;
  /// Delivered shipments a lane needs before its learned transit times are used. Default: 20.
  std::size_t min_lane_samples = 20;
  /// Stuck threshold = stuck_factor x lane p95 transit. Default: 1.0.
  double stuck_factor = 1.0;
  /// Least time between two shipment_stuck flags of one shipment. Default: 1 day.
  std::int64_t anomaly_min_interval_ms = day_ms;
  /// A shipment still undelivered this long after its deadline is flagged shipment_late
  /// (0 = never). Default: 3 days.
  std::int64_t late_after_ms = 3 * day_ms;
  /// A shipment the carrier has not picked up (still info_received) this long after its
  /// creation is flagged fulfilment_stalled, once (0 = never). Default: 3 days.
  std::int64_t fulfilment_stall_ms = 3 * day_ms;
  /// How long a delivered or returned shipment is kept after its last scan (absorbs late
  /// duplicates). Default: 30 days.
  std::int64_t retention_ms = 30 * day_ms;
  /// How long a shipment not delivered yet is kept after its last scan or its delivery date,
  /// whichever is later: a carrier may go quiet for weeks and still deliver. Dropped then,
  /// counted as `undelivered_dropped`. Default: 180 days.
  std::int64_t open_retention_ms = 180 * day_ms;
  /// Samples after which a lane halves its counts, so it follows the carrier's recent
  /// performance instead of all history. Default: 10 000.
  std::uint64_t lane_max_samples = 10'000;
  /// How often the stuck check of a shipment whose lane is short of `min_lane_samples` looks
  /// again at what the other partitions have taught it. Default: 1 day.
  std::int64_t lane_recheck_ms = day_ms;
  /// How far (event time) a shipment task may apply records ahead of the other shipment tasks
  /// of its instance that still have records to apply: the others' deliveries are learned up
  /// to this long before a decision however unevenly the partitions' backlogs are read. A task
  /// that has caught up holds nobody back, so live traffic is held only while another
  /// partition of the instance works through a backlog more than this far behind it.
  /// 0 = no alignment. Default: 1 day.
  std::int64_t lane_drift_ms = day_ms;
};

/// Per-shipment state, persisted with a format version byte.
struct shipment_state {
  /// A mapped scan received before its shipment_created.
  struct held_scan {
    std::string event_id;
    std::int64_t ts_ms = 0;
    shipment_status status = shipment_status::info_received;
    std::optional<std::int64_t> estimated_delivery_ms;
    friend bool operator==(const held_scan&, const held_scan&) = default;
  };

  bool created = false;  ///< shipment_created seen (false: only held scans)
  std::string order_id;
  std::string customer_id;
  std::string carrier;  ///< as the producer spelled it (outputs repeat it)
  std::string origin;
  std::string destination;
  std::int64_t created_ms = 0;
  /// info_received from creation on: a created shipment is one the carrier has data for.
  shipment_status status = shipment_status::info_received;
  std::int64_t last_scan_ms = 0;        ///< newest applied scan (creation until the first)
  std::int64_t deadline_ms = 0;         ///< current estimated delivery
  std::int64_t estimate_ts_ms = 0;      ///< event time of the deadline's source (older lose)
  std::int64_t delay_notified_ms = 0;   ///< deadline a delivery_delayed was sent for, 0 = none
  std::int64_t stuck_threshold_ms = 0;  ///< threshold the pending stuck timer was set with
  std::int64_t flagged_ms = 0;          ///< last shipment_stuck flag, 0 = never
  std::int64_t flagged_scan_ms = 0;     ///< last_scan_ms at that flag (one flag per quiet spell)
  std::int64_t late_flagged_ms = 0;     ///< deadline a shipment_late was flagged for, 0 = none
  bool stall_flagged = false;           ///< fulfilment_stalled flagged
  std::vector<held_scan> held;          ///< before creation only; (ts, event_id) order
  // Pending timers (0 = none): a firing that does not match is stale and ignored.
  std::int64_t delay_timer_ms = 0;
  std::int64_t stuck_timer_ms = 0;
  std::int64_t hold_timer_ms = 0;
  std::int64_t purge_timer_ms = 0;
  std::int64_t late_timer_ms = 0;
  std::int64_t stall_timer_ms = 0;

  void encode(std::string& out) const;
  [[nodiscard]] static bool decode(std::string_view in, shipment_state& out);
  friend bool operator==(const shipment_state&, const shipment_state&) = default;
};

/// Transit times (creation -> delivered) of one lane: a histogram over fixed log-scale buckets
/// (upper edges 1 h x 2^(i/4), ~19 % wide; the last one takes everything above), so memory is
/// bounded whatever the traffic. Persisted with a format version byte.
struct lane_stats {
  static constexpr std::size_t bucket_count = 64;
  std::array<std::uint32_t, bucket_count> counts{};
  std::uint64_t samples = 0;  ///< sum of counts

  /// Adds one transit time (negative ones clamp to 0); halves every count once `samples`
  /// reaches `max_samples`.
  void add(std::int64_t transit_ms, std::uint64_t max_samples);
  /// Adds every count of `other` (saturating).
  void merge(const lane_stats& other) noexcept;
  /// The q-quantile (0..1), interpolated linearly inside its bucket; 0 when empty.
  [[nodiscard]] std::int64_t quantile_ms(double q) const noexcept;
  /// Upper edge of bucket `i` (exclusive).
  [[nodiscard]] static std::int64_t bucket_upper_ms(std::size_t i) noexcept;
  /// The bucket `transit_ms` falls in.
  [[nodiscard]] static std::size_t bucket_of(std::int64_t transit_ms) noexcept;

  void encode(std::string& out) const;
  [[nodiscard]] static bool decode(std::string_view in, lane_stats& out);
  friend bool operator==(const lane_stats&, const lane_stats&) = default;
};

/// Lane key: lower-case carrier|origin|destination (region codes do not contain '|').
[[nodiscard]] std::string lane_key(std::string_view carrier, std::string_view origin,
                                   std::string_view destination);

/// What the other shipment partitions have learned of a lane (the global lane table).
class lane_view {
 public:
  virtual ~lane_view() = default;
  /// Adds to `out` the transit times of `lane` that the other partitions published for
  /// deliveries before `before_ms` (event time).
  virtual void add_shared(std::string_view lane, std::int64_t before_ms, lane_stats& out) const = 0;
};

/// Why a scan or an event gave no message. Bounded: a metrics label.
enum class shipment_suppression : std::uint8_t {
  duplicate_scan,            ///< same status as the current one, no estimate revision
  out_of_order_scan,         ///< older than the last applied scan and would move backwards
  not_meaningful,            ///< status changed to one not in notify_on (state still updated)
  after_final,               ///< a different status after delivered / returned_to_sender
  unknown_code,              ///< the carrier's status code has no mapping
  unknown_shipment_expired,  ///< a held scan whose shipment_created never came
  held_overflow,             ///< a held scan pushed out by max_held_scans newer ones
  duplicate_created,         ///< a second shipment_created for a known shipment
  undelivered_dropped,       ///< never delivered or returned within open_retention_ms: forgotten
};
inline constexpr std::size_t shipment_suppression_count = 9;
[[nodiscard]] std::string_view to_string(shipment_suppression s) noexcept;

class shipment_effects {
 public:
  virtual ~shipment_effects() = default;
  virtual void emit(schemas::tracking_notification&& msg) = 0;
  virtual void emit(schemas::anomaly_flag&& msg) = 0;
  virtual void suppressed(shipment_suppression reason) = 0;
  /// The task's own transit times of `lane` changed with a delivery it learned at `ts_ms`:
  /// what the other partitions' `lane_view` is fed with.
  virtual void lane_learned(std::string_view /*lane*/, const lane_stats& /*stats*/,
                            std::int64_t /*ts_ms*/) {}
};

class shipment_operator {
 public:
  /// `shared`: the other partitions' lanes (outliving the operator); null: own deliveries only.
  explicit shipment_operator(shipment_config config = {}, const lane_view* shared = nullptr);

  /// A shipments event (key = shipment_id): shipment_created / carrier_scan; others ignored.
  void on_event(const schemas::event& ev, keyed_state<shipment_state>& shipments,
                keyed_state<lane_stats>& lanes, timer_service& timers, shipment_effects& effects);
  /// A timer fired; `key` is the timer key as scheduled (shipment_id '\x1f' kind).
  void on_timer(std::string_view key, std::int64_t fire_ms, std::string_view payload,
                keyed_state<shipment_state>& shipments, keyed_state<lane_stats>& lanes,
                timer_service& timers, shipment_effects& effects);

  [[nodiscard]] const shipment_config& config() const noexcept { return config_; }

 private:
  void on_created(const schemas::event& ev, keyed_state<shipment_state>& shipments,
                  keyed_state<lane_stats>& lanes, timer_service& timers, shipment_effects& effects);
  void on_scan(const schemas::event& ev, keyed_state<shipment_state>& shipments,
               keyed_state<lane_stats>& lanes, timer_service& timers, shipment_effects& effects);
  // `now`: the event time of the record applying it (a held scan's is its shipment's
  // creation).
  void apply_scan(std::string_view id, shipment_state& s, const shipment_state::held_scan& scan,
                  std::int64_t now, keyed_state<lane_stats>& lanes,
                  shipment_effects& effects) const;
  void hold(std::string_view id, shipment_state& s, shipment_state::held_scan&& scan,
            timer_service& timers, shipment_effects& effects) const;
  void expire_held(std::string_view id, shipment_state& s, std::int64_t now,
                   keyed_state<shipment_state>& shipments, timer_service& timers,
                   shipment_effects& effects) const;
  void delay(std::string_view id, shipment_state& s, std::int64_t now,
             shipment_effects& effects) const;
  void late(std::string_view id, shipment_state& s, std::int64_t now,
            shipment_effects& effects) const;
  void stalled(std::string_view id, shipment_state& s, std::int64_t now,
               shipment_effects& effects) const;
  void stuck(std::string_view id, shipment_state& s, std::int64_t now,
             keyed_state<lane_stats>& lanes, shipment_effects& effects) const;
  /// Brings the delay, stuck and purge timers in line with the state at event time `now`.
  void arm(std::string_view id, shipment_state& s, std::int64_t now, keyed_state<lane_stats>& lanes,
           timer_service& timers) const;
  /// When the current quiet spell is stuck by `lane` (the threshold is kept in the state).
  [[nodiscard]] std::int64_t stuck_due(shipment_state& s, const lane_stats& lane) const noexcept;
  /// When the state of `s` may go: retention after its last scan once delivered or returned;
  /// before that, open_retention_ms after its last scan or its delivery date.
  [[nodiscard]] std::int64_t purge_at(const shipment_state& s) const noexcept;
  [[nodiscard]] std::int64_t stuck_threshold_ms(const lane_stats& lane) const noexcept;
  /// The shipment's lane as known before `before_ms`: own deliveries and the shared ones.
  [[nodiscard]] lane_stats lane_at(const shipment_state& s, keyed_state<lane_stats>& lanes,
                                   std::int64_t before_ms) const;
  [[nodiscard]] schemas::tracking_notification message(std::string_view id, const shipment_state& s,
                                                       std::int64_t ts_ms) const;

  shipment_config config_;
  const lane_view* shared_;
};

}  // namespace herald::rules

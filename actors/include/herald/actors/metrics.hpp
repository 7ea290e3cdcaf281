#pragma once
/// Herald's Prometheus probe: every metric the app exports, created up front so the hot path
/// only increments pre-resolved counters (callers aggregate per batch).
///
/// Thread-safety: all increment/set functions are thread-safe. Lifecycle: owned by the app,
/// outlives every task.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "herald/actors/rules/abandoned_cart.hpp"
#include "herald/actors/rules/inventory.hpp"
#include "herald/actors/rules/shipments.hpp"
#include "herald/schemas/codec.hpp"
#include "herald/state/keys.hpp"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace herald::actors {

/// Outcome of one input record.
enum class event_result : std::uint8_t { ok, dlq };
inline constexpr std::size_t event_result_count = 2;
inline constexpr std::size_t decode_code_count = 9;

/// The anomaly kinds counted by herald_anomalies_total{kind} (any other counts as "other").
inline constexpr std::array<std::string_view, 8> anomaly_kinds = {
    "bot_click_rate", "demand_spike",   "traffic_spike", "price_anomaly",
    "cart_quantity",  "shipment_stuck", "shipment_late", "fulfilment_stalled"};

class metrics {
 public:
  /// `topics`: the consumed topics, indexed as the source's bindings; `internal` marks
  /// Herald's own (repartition) topics among them (empty = none).
  metrics(const std::vector<std::string>& topics, std::size_t reminder_steps,
          std::vector<bool> internal = {});
  ~metrics();
  metrics(const metrics&) = delete;
  metrics& operator=(const metrics&) = delete;

  /// Every metric in the Prometheus text exposition format (what /metrics serves).
  [[nodiscard]] std::string scrape() const;
  [[nodiscard]] prometheus::Registry& registry() noexcept { return *registry_; }

  void add_events(std::size_t topic, event_result result, std::uint64_t n);
  void add_dlq(schemas::decode_code reason, std::uint64_t n);
  /// A dead letter cut to task.dlq_max_bytes.
  void add_dlq_truncated();
  /// An output record Kafka rejected for good, dropped from the outbox (the log names it).
  void add_output_dropped();
  void add_late(std::size_t topic, std::uint64_t n);
  /// Records of `topic` not applied: their event id was applied already (task.dedup_window_ms).
  void add_duplicates(std::size_t topic, std::uint64_t n);
  /// Records of `topic` deleted by its retention before they were read.
  void add_input_lost(std::size_t topic, std::uint64_t n);
  /// Records of `topic` on another partition than Kafka's default partitioner gives their key.
  /// True the first time any is counted for `topic` (so it is logged once per process).
  bool add_misrouted(std::size_t topic, std::uint64_t n);
  /// Event ids remembered for deduplication: `delta` more (or fewer); `evicted` forgotten
  /// before their window ended (task.dedup_max_ids).
  void add_dedup_ids(std::int64_t delta, std::uint64_t evicted);
  /// Records of `topic` now waiting for their task's watermark: `delta` more (or fewer).
  void add_waiting(std::size_t topic, std::int64_t delta);
  /// A late event of `topic`, `seconds` of event time behind its task's watermark.
  void observe_lateness(std::size_t topic, double seconds);
  /// Watermark markers published to (or received from) the repartition topic.
  void add_watermark_markers(bool received, std::uint64_t n);
  /// Task `id` has committed everything up to event time `ms` (its records applied, its
  /// timers fired). herald_watermark_seconds{family} is the lowest over the family's tasks on
  /// this instance; `drop_watermark` when the task goes.
  void set_watermark(state::task_id id, std::int64_t ms);
  void drop_watermark(state::task_id id);
  void add_reminder(int reminder_number);
  void add_suppression(rules::suppression reason, std::uint64_t n);
  void add_inventory_suppression(rules::inventory_suppression reason, std::uint64_t n);
  /// Restock-alert messages by type.
  enum class restock_type : std::uint8_t { back_in_stock, low_stock, out_of_stock };
  void add_restock_alert(restock_type type);
  /// Re-keyed signals emitted to the SKU tasks.
  void add_sku_signals(std::uint64_t n);
  void set_availability_skus(std::int64_t n);
  void add_shipment_suppression(rules::shipment_suppression reason);
  /// Tracking notifications by type (delayed = delivery_delayed, else tracking_update).
  void add_tracking_notification(bool delayed);
  /// Anomaly flags by kind (a known kind; others count as "other").
  void add_anomaly(std::string_view kind);
  /// `n` records finished `seconds` after they were polled.
  void observe_latency(double seconds, std::uint64_t n);
  void add_commit(double seconds);
  void add_produced(bool ok);
  void add_timers(std::int64_t delta);
  void add_tasks(std::int64_t delta);
  void set_in_flight(std::int64_t n);
  void set_paused_tasks(std::int64_t n);
  void set_consumer_lag(std::int64_t n);
  void add_rebalances(std::uint64_t n);
  void set_state_bytes(std::size_t store, double bytes);
  /// A task restored from its changelogs: `full` (from the beginning) or a catch-up.
  void add_restore(bool full, double seconds, double cpu_seconds = 0, std::uint64_t bytes = 0);
  /// Changelog records applied by restores.
  void add_restored_records(std::uint64_t n);
  /// An exactly-once transaction ended: committed (after `seconds` from its start) or
  /// aborted (its tasks rewound).
  void add_transaction(bool committed, double seconds);
  /// Tasks restoring, and the changelog records they still have to read (an upper bound).
  void set_restoring(std::int64_t tasks, std::int64_t records);
  /// A state operation failed: `kind` is "commit" (a write), "read" or "decode".
  /// A failed state operation of `store` ("all" for a commit, which writes every store):
  /// commit, read, decode, outbox (the outbox unreadable) or task (a task failed).
  void add_state_error(std::string_view kind, std::string_view store = "all");
  /// Changelog records produced: acknowledged (ok) or failed (sent again).
  void add_changelog(bool ok);
  /// Restored records applied, and the seconds restores took, for tests and benchmarks.
  [[nodiscard]] std::uint64_t restored_records_total() const;
  [[nodiscard]] double restore_seconds_total() const {
    return static_cast<double>(restore_us_.load()) / 1e6;
  }
  /// Key and value bytes those restores applied.
  [[nodiscard]] std::uint64_t restored_bytes_total() const { return restore_bytes_.load(); }
  /// CPU seconds of the restore thread over those restores.
  [[nodiscard]] double restore_cpu_seconds_total() const {
    return static_cast<double>(restore_cpu_us_.load()) / 1e6;
  }

  // Totals, for the demo's progress lines and tests.
  /// Records of every consumed topic, internal ones included.
  [[nodiscard]] std::uint64_t events_total(event_result result) const;
  /// Records of the shop's input topics only (ok + dlq): what producers sent and Herald read.
  [[nodiscard]] std::uint64_t input_events_total() const;
  /// Records read and waiting for their task's watermark.
  [[nodiscard]] std::uint64_t waiting_total() const;
  /// Records not applied because they repeated an event id, over every topic.
  [[nodiscard]] std::uint64_t duplicates_total() const;
  /// Input records read: processed (`input_events_total`) or waiting for their watermark.
  [[nodiscard]] std::uint64_t inputs_read_total() const {
    return input_events_total() + waiting_total();
  }
  [[nodiscard]] std::uint64_t reminders_total() const;
  [[nodiscard]] std::uint64_t suppressions_total() const;
  [[nodiscard]] std::uint64_t restock_alerts_total(restock_type type) const;
  [[nodiscard]] std::uint64_t tracking_notifications_total(bool delayed) const;
  [[nodiscard]] std::uint64_t anomalies_total(std::string_view kind) const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::vector<std::array<prometheus::Counter*, event_result_count>> events_;
  std::vector<prometheus::Counter*> late_;
  std::vector<prometheus::Counter*> duplicates_;
  std::vector<prometheus::Counter*> misrouted_;
  std::vector<prometheus::Counter*> input_lost_;
  std::unique_ptr<std::atomic<bool>[]> misrouted_seen_;
  prometheus::Gauge* dedup_ids_ = nullptr;
  prometheus::Counter* dedup_evicted_ = nullptr;
  std::vector<prometheus::Gauge*> waiting_;
  std::vector<prometheus::Histogram*> lateness_;
  std::array<prometheus::Counter*, 2> markers_{};
  void update_watermark_gauge(state::family f);  // with watermarks_mutex_ held
  std::mutex watermarks_mutex_;
  std::map<state::task_id, std::int64_t> watermarks_;
  std::array<prometheus::Gauge*, 4> watermark_{};  // per family value
  std::vector<bool> internal_;
  std::array<prometheus::Counter*, decode_code_count> dlq_{};
  prometheus::Counter* dlq_truncated_ = nullptr;
  prometheus::Counter* outputs_dropped_ = nullptr;
  std::vector<prometheus::Counter*> reminders_;
  std::array<prometheus::Counter*, rules::suppression_count> suppressions_{};
  std::array<prometheus::Counter*, rules::inventory_suppression_count> inventory_suppressions_{};
  std::array<prometheus::Counter*, 3> restock_alerts_{};
  prometheus::Counter* sku_signals_ = nullptr;
  prometheus::Gauge* availability_skus_ = nullptr;
  std::array<prometheus::Counter*, rules::shipment_suppression_count> shipment_suppressions_{};
  std::array<prometheus::Counter*, 2> tracking_{};
  std::vector<std::pair<std::string, prometheus::Counter*>> anomalies_;
  prometheus::Histogram* latency_ = nullptr;
  prometheus::Histogram* commit_latency_ = nullptr;
  std::array<prometheus::Counter*, 2> produced_{};
  prometheus::Gauge* timers_ = nullptr;
  prometheus::Gauge* tasks_ = nullptr;
  prometheus::Gauge* in_flight_ = nullptr;
  prometheus::Gauge* paused_ = nullptr;
  prometheus::Gauge* lag_ = nullptr;
  prometheus::Counter* rebalances_ = nullptr;
  std::vector<prometheus::Gauge*> state_bytes_;
  std::array<prometheus::Counter*, 2> restores_{};  // catch_up, full
  prometheus::Histogram* restore_seconds_ = nullptr;
  std::atomic<std::uint64_t> restore_us_{0};
  std::atomic<std::uint64_t> restore_cpu_us_{0};
  std::atomic<std::uint64_t> restore_bytes_{0};
  prometheus::Counter* restored_records_ = nullptr;
  std::array<prometheus::Counter*, 2> transactions_{};  // aborted, committed
  prometheus::Histogram* transaction_seconds_ = nullptr;
  prometheus::Gauge* restoring_tasks_ = nullptr;
  prometheus::Gauge* restore_remaining_ = nullptr;
  std::array<prometheus::Counter*, 2> changelog_{};  // failed, ok
  prometheus::Family<prometheus::Counter>* state_errors_ = nullptr;
  std::vector<double> latency_bounds_;
};

}  // namespace herald::actors

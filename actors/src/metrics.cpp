#include "herald/actors/metrics.hpp"

#include <algorithm>
#include <limits>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "herald/state/db.hpp"

namespace herald::actors {

metrics::metrics(const std::vector<std::string>& topics, std::size_t reminder_steps,
                 std::vector<bool> internal)
    : registry_(std::make_shared<prometheus::Registry>()), internal_(std::move(internal)) {
  internal_.resize(topics.size(), false);
  misrouted_seen_ = std::make_unique<std::atomic<bool>[]>(topics.size());
  using namespace prometheus;
  auto& events = BuildCounter()
                     .Name("herald_events_total")
                     .Help(
                         "Input records by topic and result (ok = decoded and applied, "
                         "dlq = sent to the dead-letter topic)")
                     .Register(*registry_);
  auto& late = BuildCounter()
                   .Name("herald_late_events_total")
                   .Help("Events older than their task's watermark (still applied)")
                   .Register(*registry_);
  auto& duplicates = BuildCounter()
                         .Name("herald_duplicate_events_total")
                         .Help(
                             "Records not applied because their task applied the same event_id "
                             "of the same entity already (within task.dedup_window_ms)")
                         .Register(*registry_);
  auto& misrouted = BuildCounter()
                        .Name("herald_misrouted_records_total")
                        .Help(
                            "Input records on another partition than Kafka's default (murmur2) "
                            "partitioner gives their key: produced with another partitioner")
                        .Register(*registry_);
  auto& lost = BuildCounter()
                   .Name("herald_input_lost_records_total")
                   .Help(
                       "Input records deleted by their topic's retention before Herald read them "
                       "(it was down or behind for longer than retention.ms)")
                   .Register(*registry_);
  dlq_truncated_ = &BuildCounter()
                        .Name("herald_dlq_truncated_total")
                        .Help("Dead letters cut to task.dlq_max_bytes (header herald.truncated)")
                        .Register(*registry_)
                        .Add({});
  outputs_dropped_ = &BuildCounter()
                          .Name("herald_outputs_dropped_total")
                          .Help(
                              "Output records Kafka rejected for good (too large, invalid, not "
                              "authorised), dropped from the outbox and logged")
                          .Register(*registry_)
                          .Add({});
  dedup_ids_ = &BuildGauge()
                    .Name("herald_dedup_ids")
                    .Help("Event ids the tasks on this instance remember for deduplication")
                    .Register(*registry_)
                    .Add({});
  dedup_evicted_ = &BuildCounter()
                        .Name("herald_dedup_evicted_ids_total")
                        .Help(
                            "Event ids forgotten before their window ended because a task "
                            "reached task.dedup_max_ids")
                        .Register(*registry_)
                        .Add({});
  auto& lateness = BuildHistogram()
                       .Name("herald_event_lateness_seconds")
                       .Help("How far (event time) late events were behind their task's watermark")
                       .Register(*registry_);
  auto& waiting = BuildGauge()
                      .Name("herald_waiting_records")
                      .Help(
                          "Records read and waiting for their task's watermark (another input "
                          "of the task is behind in event time)")
                      .Register(*registry_);
  const std::vector<double> lateness_bounds = {1, 10, 60, 300, 1800, 3600, 21600, 86400};
  for (const auto& t : topics) {
    events_.push_back({&events.Add({{"topic", t}, {"result", "ok"}}),
                       &events.Add({{"topic", t}, {"result", "dlq"}})});
    late_.push_back(&late.Add({{"topic", t}}));
    duplicates_.push_back(&duplicates.Add({{"topic", t}}));
    misrouted_.push_back(&misrouted.Add({{"topic", t}}));
    input_lost_.push_back(&lost.Add({{"topic", t}}));
    waiting_.push_back(&waiting.Add({{"topic", t}}));
    lateness_.push_back(
        &lateness.Add({{"topic", t}}, Histogram::BucketBoundaries(lateness_bounds)));
  }
  auto& markers = BuildCounter()
                      .Name("herald_watermark_markers_total")
                      .Help("Watermark markers through the repartition topic, by direction")
                      .Register(*registry_);
  markers_ = {&markers.Add({{"direction", "published"}}),
              &markers.Add({{"direction", "received"}})};
  auto& watermark = BuildGauge()
                        .Name("herald_watermark_seconds")
                        .Help(
                            "Event time (Unix seconds) up to which the family's tasks on this "
                            "instance have committed every record and timer: the lowest over "
                            "its tasks; NaN without tasks. time() minus it is the event-time lag")
                        .Register(*registry_);
  for (const auto f : {state::family::customer, state::family::sku, state::family::shipment}) {
    auto* g = &watermark.Add({{"family", std::string(state::to_string(f))}});
    g->Set(std::numeric_limits<double>::quiet_NaN());
    watermark_[static_cast<std::size_t>(f)] = g;
  }
  auto& dlq = BuildCounter()
                  .Name("herald_dlq_records_total")
                  .Help("Bad input records copied to the dead-letter topic, by reason")
                  .Register(*registry_);
  for (std::size_t i = 1; i < decode_code_count; ++i)
    dlq_[i] = &dlq.Add(
        {{"reason", std::string(schemas::to_string(static_cast<schemas::decode_code>(i)))}});
  auto& reminders = BuildCounter()
                        .Name("herald_cart_reminders_total")
                        .Help("Abandoned-cart reminders emitted, by reminder number")
                        .Register(*registry_);
  for (std::size_t i = 1; i <= reminder_steps; ++i)
    reminders_.push_back(&reminders.Add({{"reminder_number", std::to_string(i)}}));
  auto& suppressions = BuildCounter()
                           .Name("herald_suppressions_total")
                           .Help(
                               "Messages not sent because a condition said no, by rule and "
                               "reason")
                           .Register(*registry_);
  for (std::size_t i = 0; i < rules::suppression_count; ++i)
    suppressions_[i] = &suppressions.Add(
        {{"rule", "abandoned_cart"},
         {"reason", std::string(rules::to_string(static_cast<rules::suppression>(i)))}});
  for (std::size_t i = 0; i < rules::inventory_suppression_count; ++i)
    inventory_suppressions_[i] = &suppressions.Add(
        {{"rule", "back_in_stock"},
         {"reason", std::string(rules::to_string(static_cast<rules::inventory_suppression>(i)))}});
  auto& restock = BuildCounter()
                      .Name("herald_restock_alerts_total")
                      .Help("Messages to herald.restock-alerts, by type")
                      .Register(*registry_);
  restock_alerts_ = {&restock.Add({{"type", "back_in_stock"}}),
                     &restock.Add({{"type", "low_stock"}}),
                     &restock.Add({{"type", "out_of_stock"}})};
  sku_signals_ = &BuildCounter()
                      .Name("herald_sku_signals_total")
                      .Help("Waitlist requests and order lines re-keyed by SKU for the SKU tasks")
                      .Register(*registry_)
                      .Add({});
  availability_skus_ = &BuildGauge()
                            .Name("herald_availability_skus")
                            .Help("SKUs in this instance's global availability table")
                            .Register(*registry_)
                            .Add({});
  for (std::size_t i = 0; i < rules::shipment_suppression_count; ++i)
    shipment_suppressions_[i] = &suppressions.Add(
        {{"rule", "tracking"},
         {"reason", std::string(rules::to_string(static_cast<rules::shipment_suppression>(i)))}});
  auto& tracking = BuildCounter()
                       .Name("herald_tracking_notifications_total")
                       .Help("Messages to herald.tracking-notifications, by type")
                       .Register(*registry_);
  tracking_ = {&tracking.Add({{"type", "tracking_update"}}),
               &tracking.Add({{"type", "delivery_delayed"}})};
  auto& anomalies = BuildCounter()
                        .Name("herald_anomalies_total")
                        .Help("Anomaly flags to herald.anomalies, by kind")
                        .Register(*registry_);
  for (const auto kind : anomaly_kinds)
    anomalies_.emplace_back(kind, &anomalies.Add({{"kind", std::string(kind)}}));
  anomalies_.emplace_back("other", &anomalies.Add({{"kind", "other"}}));
  latency_bounds_ = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                     0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  latency_ = &BuildHistogram()
                  .Name("herald_processing_latency_seconds")
                  .Help("Time from poll to the end of processing, per record")
                  .Register(*registry_)
                  .Add({}, Histogram::BucketBoundaries(latency_bounds_));
  commit_latency_ = &BuildHistogram()
                         .Name("herald_state_commit_seconds")
                         .Help("Duration of a task's state commit (one RocksDB WriteBatch)")
                         .Register(*registry_)
                         .Add({}, Histogram::BucketBoundaries(latency_bounds_));
  auto& restores = BuildCounter()
                       .Name("herald_restores_total")
                       .Help(
                           "Tasks restored from their changelog topics before processing: "
                           "from the beginning (full) or from the local checkpoint (catch_up)")
                       .Register(*registry_);
  restores_ = {&restores.Add({{"kind", "catch_up"}}), &restores.Add({{"kind", "full"}})};
  restore_seconds_ =
      &BuildHistogram()
           .Name("herald_restore_seconds")
           .Help("Duration of a task's restore from its changelog topics")
           .Register(*registry_)
           .Add({}, Histogram::BucketBoundaries({0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900}));
  auto& txns = BuildCounter()
                   .Name("herald_transactions_total")
                   .Help(
                       "Exactly-once transactions (outputs, changelog records and consumed "
                       "offsets of every task of the instance) by result: committed, or aborted "
                       "(the tasks rewound to their committed state)")
                   .Register(*registry_);
  transactions_ = {&txns.Add({{"result", "aborted"}}), &txns.Add({{"result", "committed"}})};
  transaction_seconds_ =
      &BuildHistogram()
           .Name("herald_transaction_seconds")
           .Help("Duration of a committed transaction, from its start to the broker's commit")
           .Register(*registry_)
           .Add({}, Histogram::BucketBoundaries(latency_bounds_));
  restored_records_ = &BuildCounter()
                           .Name("herald_restored_records_total")
                           .Help("Changelog records applied to local state by restores")
                           .Register(*registry_)
                           .Add({});
  restoring_tasks_ = &BuildGauge()
                          .Name("herald_restoring_tasks")
                          .Help("Tasks assigned to this instance and restoring their state")
                          .Register(*registry_)
                          .Add({});
  restore_remaining_ = &BuildGauge()
                            .Name("herald_restore_remaining_records")
                            .Help(
                                "Changelog records the restoring tasks have still to read "
                                "(an upper bound: compaction removes some)")
                            .Register(*registry_)
                            .Add({});
  auto& changelog = BuildCounter()
                        .Name("herald_changelog_records_total")
                        .Help(
                            "State changes produced to the changelog topics, acknowledged "
                            "(ok) or failed (sent again)")
                        .Register(*registry_);
  changelog_ = {&changelog.Add({{"result", "failed"}}), &changelog.Add({{"result", "ok"}})};
  auto& state_errors = BuildCounter()
                           .Name("herald_state_errors_total")
                           .Help(
                               "Failed state operations by store and kind: commit (a RocksDB "
                               "write; the task pauses and retries), read and decode (the task "
                               "restores its state from the changelogs), outbox (unreadable: the "
                               "task stops and is restored), task (a task failed and was "
                               "restarted from committed state)")
                           .Register(*registry_);
  state_errors_ = &state_errors;
  state_errors.Add({{"store", "all"}, {"kind", "commit"}});
  auto& produced = BuildCounter()
                       .Name("herald_produced_records_total")
                       .Help("Output records acknowledged (ok) or failed (retried) by Kafka")
                       .Register(*registry_);
  produced_ = {&produced.Add({{"result", "failed"}}), &produced.Add({{"result", "ok"}})};
  timers_ = &BuildGauge()
                 .Name("herald_timers_pending")
                 .Help("Scheduled event-time timers of the tasks on this instance")
                 .Register(*registry_)
                 .Add({});
  tasks_ = &BuildGauge()
                .Name("herald_tasks")
                .Help("Tasks (family, partition) running on this instance")
                .Register(*registry_)
                .Add({});
  in_flight_ = &BuildGauge()
                    .Name("herald_in_flight_records")
                    .Help("Records handed to tasks and not yet processed")
                    .Register(*registry_)
                    .Add({});
  paused_ = &BuildGauge()
                 .Name("herald_paused_tasks")
                 .Help("Tasks whose partitions are paused by backpressure")
                 .Register(*registry_)
                 .Add({});
  lag_ = &BuildGauge()
              .Name("herald_consumer_lag_records")
              .Help("Records behind the high watermark over assigned partitions")
              .Register(*registry_)
              .Add({});
  rebalances_ = &BuildCounter()
                     .Name("herald_rebalances_total")
                     .Help("Consumer-group rebalance callbacks (assign and revoke)")
                     .Register(*registry_)
                     .Add({});
  auto& bytes = BuildGauge()
                    .Name("herald_state_bytes")
                    .Help("Estimated live bytes of each RocksDB store")
                    .Register(*registry_);
  for (std::size_t i = 0; i < state::store_count; ++i)
    state_bytes_.push_back(
        &bytes.Add({{"store", std::string(state::to_string(static_cast<state::store>(i)))}}));
}

metrics::~metrics() = default;

std::string metrics::scrape() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

void metrics::add_events(std::size_t topic, event_result result, std::uint64_t n) {
  if (n != 0) events_[topic][static_cast<std::size_t>(result)]->Increment(static_cast<double>(n));
}
void metrics::add_dlq(schemas::decode_code reason, std::uint64_t n) {
  if (auto* c = dlq_[static_cast<std::size_t>(reason)]) c->Increment(static_cast<double>(n));
}
void metrics::add_waiting(std::size_t topic, std::int64_t delta) {
  if (delta != 0) waiting_[topic]->Increment(static_cast<double>(delta));
}

void metrics::add_late(std::size_t topic, std::uint64_t n) {
  if (n != 0) late_[topic]->Increment(static_cast<double>(n));
}
void metrics::add_duplicates(std::size_t topic, std::uint64_t n) {
  if (n != 0) duplicates_[topic]->Increment(static_cast<double>(n));
}
void metrics::add_input_lost(std::size_t topic, std::uint64_t n) {
  if (n != 0 && topic < input_lost_.size()) input_lost_[topic]->Increment(static_cast<double>(n));
}
void metrics::add_dlq_truncated() {
  dlq_truncated_->Increment();
}
void metrics::add_output_dropped() {
  outputs_dropped_->Increment();
}
bool metrics::add_misrouted(std::size_t topic, std::uint64_t n) {
  if (n == 0) return false;
  misrouted_[topic]->Increment(static_cast<double>(n));
  return !misrouted_seen_[topic].exchange(true);
}
void metrics::add_dedup_ids(std::int64_t delta, std::uint64_t evicted) {
  if (delta != 0) dedup_ids_->Increment(static_cast<double>(delta));
  if (evicted != 0) dedup_evicted_->Increment(static_cast<double>(evicted));
}
void metrics::observe_lateness(std::size_t topic, double seconds) {
  lateness_[topic]->Observe(seconds);
}
void metrics::add_watermark_markers(bool received, std::uint64_t n) {
  if (n != 0) markers_[received ? 1 : 0]->Increment(static_cast<double>(n));
}
void metrics::set_watermark(state::task_id id, std::int64_t ms) {
  const std::lock_guard lock(watermarks_mutex_);
  watermarks_[id] = ms;
  update_watermark_gauge(id.fam);
}
void metrics::drop_watermark(state::task_id id) {
  const std::lock_guard lock(watermarks_mutex_);
  if (watermarks_.erase(id) != 0) update_watermark_gauge(id.fam);
}
void metrics::update_watermark_gauge(state::family f) {
  auto* g = watermark_[static_cast<std::size_t>(f)];
  if (g == nullptr) return;
  double low = std::numeric_limits<double>::quiet_NaN();
  // The map is ordered by family first: one family's tasks are one range.
  for (auto it = watermarks_.lower_bound({f, std::numeric_limits<std::int32_t>::min()});
       it != watermarks_.end() && it->first.fam == f; ++it) {
    const double s = static_cast<double>(it->second) / 1000.0;
    if (!(low <= s)) low = s;  // NaN compares false: the first one taken
  }
  g->Set(low);
}
void metrics::add_reminder(int number) {
  if (number >= 1 && static_cast<std::size_t>(number) <= reminders_.size())
    reminders_[static_cast<std::size_t>(number - 1)]->Increment();
}
void metrics::add_suppression(rules::suppression reason, std::uint64_t n) {
  suppressions_[static_cast<std::size_t>(reason)]->Increment(static_cast<double>(n));
}
void metrics::add_inventory_suppression(rules::inventory_suppression reason, std::uint64_t n) {
  inventory_suppressions_[static_cast<std::size_t>(reason)]->Increment(static_cast<double>(n));
}
void metrics::add_restock_alert(restock_type type) {
  restock_alerts_[static_cast<std::size_t>(type)]->Increment();
}
void metrics::add_sku_signals(std::uint64_t n) {
  if (n != 0) sku_signals_->Increment(static_cast<double>(n));
}
void metrics::set_availability_skus(std::int64_t n) {
  availability_skus_->Set(static_cast<double>(n));
}
std::uint64_t metrics::restock_alerts_total(restock_type type) const {
  return static_cast<std::uint64_t>(restock_alerts_[static_cast<std::size_t>(type)]->Value());
}
void metrics::add_shipment_suppression(rules::shipment_suppression reason) {
  shipment_suppressions_[static_cast<std::size_t>(reason)]->Increment();
}
void metrics::add_tracking_notification(bool delayed) {
  tracking_[delayed ? 1 : 0]->Increment();
}
void metrics::add_anomaly(std::string_view kind) {
  for (auto& [name, counter] : anomalies_)
    if (name == kind) return counter->Increment();
  anomalies_.back().second->Increment();  // "other"
}
std::uint64_t metrics::tracking_notifications_total(bool delayed) const {
  return static_cast<std::uint64_t>(tracking_[delayed ? 1 : 0]->Value());
}
std::uint64_t metrics::anomalies_total(std::string_view kind) const {
  for (const auto& [name, counter] : anomalies_)
    if (name == kind) return static_cast<std::uint64_t>(counter->Value());
  return 0;
}
void metrics::observe_latency(double seconds, std::uint64_t n) {
  if (n == 0) return;
  std::vector<double> buckets(latency_bounds_.size() + 1, 0.0);
  const auto i = static_cast<std::size_t>(
      std::lower_bound(latency_bounds_.begin(), latency_bounds_.end(), seconds) -
      latency_bounds_.begin());
  buckets[i] = static_cast<double>(n);
  latency_->ObserveMultiple(buckets, seconds * static_cast<double>(n));
}
void metrics::add_commit(double seconds) {
  commit_latency_->Observe(seconds);
}
void metrics::add_produced(bool ok) {
  produced_[ok ? 1 : 0]->Increment();
}
void metrics::add_timers(std::int64_t delta) {
  timers_->Increment(static_cast<double>(delta));
}
void metrics::add_tasks(std::int64_t delta) {
  tasks_->Increment(static_cast<double>(delta));
}
void metrics::set_in_flight(std::int64_t n) {
  in_flight_->Set(static_cast<double>(n));
}
void metrics::set_paused_tasks(std::int64_t n) {
  paused_->Set(static_cast<double>(n));
}
void metrics::set_consumer_lag(std::int64_t n) {
  lag_->Set(static_cast<double>(n));
}
void metrics::add_restore(bool full, double seconds, double cpu_seconds, std::uint64_t bytes) {
  restore_bytes_.fetch_add(bytes);
  restore_cpu_us_.fetch_add(static_cast<std::uint64_t>(cpu_seconds * 1e6));
  restores_[full ? 1 : 0]->Increment();
  restore_seconds_->Observe(seconds);
  restore_us_.fetch_add(static_cast<std::uint64_t>(seconds * 1e6));
}

void metrics::add_transaction(bool committed, double seconds) {
  transactions_[committed ? 1 : 0]->Increment();
  if (committed) transaction_seconds_->Observe(seconds);
}

void metrics::add_restored_records(std::uint64_t n) {
  if (n != 0) restored_records_->Increment(static_cast<double>(n));
}

void metrics::set_restoring(std::int64_t tasks, std::int64_t records) {
  restoring_tasks_->Set(static_cast<double>(tasks));
  restore_remaining_->Set(static_cast<double>(records));
}

void metrics::add_state_error(std::string_view kind, std::string_view store) {
  state_errors_->Add({{"store", std::string(store)}, {"kind", std::string(kind)}}).Increment();
}

void metrics::add_changelog(bool ok) {
  changelog_[ok ? 1 : 0]->Increment();
}

std::uint64_t metrics::restored_records_total() const {
  return static_cast<std::uint64_t>(restored_records_->Value());
}

void metrics::add_rebalances(std::uint64_t n) {
  if (n != 0) rebalances_->Increment(static_cast<double>(n));
}
void metrics::set_state_bytes(std::size_t store, double bytes) {
  state_bytes_[store]->Set(bytes);
}

std::uint64_t metrics::events_total(event_result result) const {
  double sum = 0;
  for (const auto& t : events_) sum += t[static_cast<std::size_t>(result)]->Value();
  return static_cast<std::uint64_t>(sum);
}
std::uint64_t metrics::input_events_total() const {
  double sum = 0;
  for (std::size_t t = 0; t < events_.size(); ++t)
    if (!internal_[t]) sum += events_[t][0]->Value() + events_[t][1]->Value();
  return static_cast<std::uint64_t>(sum);
}
std::uint64_t metrics::duplicates_total() const {
  double sum = 0;
  for (const auto* c : duplicates_) sum += c->Value();
  return static_cast<std::uint64_t>(sum);
}

std::uint64_t metrics::waiting_total() const {
  double sum = 0;
  for (const auto* g : waiting_) sum += g->Value();
  return static_cast<std::uint64_t>(sum);
}
std::uint64_t metrics::reminders_total() const {
  double sum = 0;
  for (const auto* c : reminders_) sum += c->Value();
  return static_cast<std::uint64_t>(sum);
}
std::uint64_t metrics::suppressions_total() const {
  double sum = 0;
  for (const auto* c : suppressions_) sum += c->Value();
  return static_cast<std::uint64_t>(sum);
}

}  // namespace herald::actors

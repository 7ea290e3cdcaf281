// The Olist orders sample through the shipment rule alone (no Kafka): every order delivered
// after its estimated date gets exactly one delivery_delayed, and no other order does. The
// expected set is computed here from the CSV's date strings, independently of the replay's
// own timestamp handling.

#include <set>

#include <gtest/gtest.h>

#include "../common/olist.hpp"
#include "fakes.hpp"
#include "herald/actors/config.hpp"
#include "herald/actors/demo.hpp"
#include "herald/actors/lane_table.hpp"
#include "herald/actors/rules/shipments.hpp"
#include "herald/schemas/codec.hpp"
#include "herald/streams/partitioner.hpp"

namespace herald::rules {
namespace {

struct recorder final : shipment_effects {
  std::multiset<std::string> delayed;  // shipment ids
  std::size_t updates = 0, flags = 0, stuck = 0;
  // Set: this partition's lanes go to the shared table, as a shipment task's do.
  actors::lane_table* table = nullptr;
  std::int32_t partition = 0;
  void emit(schemas::tracking_notification&& n) override {
    if (n.delayed)
      delayed.insert(n.shipment_id);
    else
      ++updates;
  }
  void emit(schemas::anomaly_flag&& f) override {
    ++flags;
    if (f.kind == "shipment_stuck") ++stuck;
  }
  void suppressed(shipment_suppression) override {}
  void lane_learned(std::string_view lane, const lane_stats& stats, std::int64_t ts) override {
    if (table != nullptr) table->publish(partition, lane, ts, stats);
  }
};

/// One shipment partition of a replay: its own rule, state and timers, sharing `table`.
struct partition_run {
  partition_run(actors::lane_table& table, std::int32_t p)
      : view(table, p), op(actors::default_shipment_config(), &view) {
    fx.table = &table;
    fx.partition = p;
  }
  actors::lane_table_view view;
  shipment_operator op;
  test::fake_state<shipment_state> shipments;
  test::fake_state<lane_stats> lanes;
  test::fake_timers timers;
  recorder fx;
  void fire_until(std::int64_t ts) {
    timers.fire_until(ts, [&](const std::string& key, std::int64_t at, const std::string& payload) {
      op.on_timer(key, at, payload, shipments, lanes, timers, fx);
    });
  }
};

/// The Olist sample over `partitions` shipment partitions (keyed as Kafka's default
/// partitioner puts them) sharing one lane table, in event-time order: every partition's
/// timers due by an event fire before it. Returns the shipment_stuck flags.
std::size_t stuck_flags(int partitions) {
  std::uint64_t orders = 0;
  std::string error;
  const auto records = actors::olist_shipment_events(herald::test::olist_dir(), orders, error);
  EXPECT_TRUE(error.empty()) << error;
  actors::lane_table table;
  std::vector<std::unique_ptr<partition_run>> runs;
  for (int p = 0; p < partitions; ++p) runs.push_back(std::make_unique<partition_run>(table, p));
  schemas::decoder dec;
  schemas::event ev;
  for (const auto& r : records) {
    EXPECT_FALSE(dec.decode(schemas::topic_kind::shipments, r.key, r.value, ev)) << r.value;
    for (auto& run : runs) run->fire_until(ev.ts_ms);
    auto& run = *runs[static_cast<std::size_t>(streams::default_partition(r.key, partitions))];
    run.op.on_event(ev, run.shipments, run.lanes, run.timers, run.fx);
  }
  std::size_t stuck = 0;
  for (auto& run : runs) {
    run->fire_until(std::numeric_limits<std::int64_t>::max() / 2);
    stuck += run->fx.stuck;
  }
  return stuck;
}

TEST(OlistReplayTest, DelayedExactlyTheOrdersDeliveredAfterTheirEstimatedDate) {
  std::size_t with_both = 0;
  const auto late = herald::test::late_orders_from_csv(with_both);
  ASSERT_EQ(with_both, 9999u);
  ASSERT_EQ(late.size(), 653u) << "the dataset README's figure";

  std::uint64_t orders = 0;
  std::string error;
  const auto records = actors::olist_shipment_events(herald::test::olist_dir(), orders, error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(orders, 9999u);

  shipment_operator op(actors::default_shipment_config());
  test::fake_state<shipment_state> shipments;
  test::fake_state<lane_stats> lanes;
  test::fake_timers timers;
  recorder fx;
  schemas::decoder dec;
  schemas::event ev;
  for (const auto& r : records) {
    ASSERT_FALSE(dec.decode(schemas::topic_kind::shipments, r.key, r.value, ev)) << r.value;
    // As a task does with one partition: timers due by this event's time fire first.
    timers.fire_until(ev.ts_ms,
                      [&](const std::string& key, std::int64_t at, const std::string& payload) {
                        op.on_timer(key, at, payload, shipments, lanes, timers, fx);
                      });
    op.on_event(ev, shipments, lanes, timers, fx);
  }
  std::vector<std::string> missing, extra;
  for (const auto& id : late)
    if (fx.delayed.count(id) == 0) missing.push_back(id);
  for (const auto& id : fx.delayed)
    if (late.count(id) == 0) extra.push_back(id);
  EXPECT_TRUE(missing.empty()) << missing.size() << " late orders not flagged, e.g. "
                               << (missing.empty() ? "" : missing.front());
  EXPECT_TRUE(extra.empty()) << extra.size() << " on-time orders flagged, e.g. "
                             << (extra.empty() ? "" : extra.front());
  EXPECT_EQ(fx.delayed.size(), 653u) << "once each";
}

// Lanes are learned from every partition's deliveries: four partitions flag exactly the
// shipments one would (where each learned only its own, about one on-time order in five was
// flagged).
TEST(OlistReplayTest, LanesLearnedAcrossPartitionsFlagAsOnePartitionWould) {
  const std::size_t one = stuck_flags(1);
  EXPECT_EQ(stuck_flags(4), one);
  EXPECT_LT(one, 1000u) << "of 9 999 orders, all delivered";
}

}  // namespace
}  // namespace herald::rules

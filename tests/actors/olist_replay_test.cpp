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
#include "herald/actors/rules/shipments.hpp"
#include "herald/schemas/codec.hpp"

namespace herald::rules {
namespace {

struct recorder final : shipment_effects {
  std::multiset<std::string> delayed;  // shipment ids
  std::size_t updates = 0, flags = 0;
  void emit(schemas::tracking_notification&& n) override {
    if (n.delayed)
      delayed.insert(n.shipment_id);
    else
      ++updates;
  }
  void emit(schemas::anomaly_flag&&) override { ++flags; }
  void suppressed(shipment_suppression) override {}
};

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

}  // namespace
}  // namespace herald::rules

#include "herald/actors/rules/shipments.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fakes.hpp"

namespace herald::rules {
namespace {

using schemas::event;
using schemas::event_type;
using status = shipment_status;
using sup = shipment_suppression;

using test::day;
using test::fake_timers;
using test::hour;
using test::minute;
using test::t0;

using strings = std::vector<std::string>;
using times = std::vector<std::int64_t>;

struct fake_effects final : shipment_effects {
  std::vector<schemas::tracking_notification> notes;
  std::vector<schemas::anomaly_flag> flags;
  std::map<shipment_suppression, int> suppressed_by;
  void emit(schemas::tracking_notification&& m) override { notes.push_back(std::move(m)); }
  void emit(schemas::anomaly_flag&& m) override { flags.push_back(std::move(m)); }
  void suppressed(shipment_suppression s) override { ++suppressed_by[s]; }
};

// Every normalised status under its own name, plus two carrier-specific codes.
shipment_config base_config() {
  shipment_config cfg;
  for (std::size_t i = 0; i < shipment_status_count; ++i) {
    const auto s = static_cast<status>(i);
    cfg.carriers.add("UPS", to_string(s), s);
  }
  cfg.carriers.add("UPS", "X1", status::exception);
  cfg.carriers.add("UPS", "RS", status::returned_to_sender);
  return cfg;
}

/// Drives the operator like a shipment task does: timers due up to an input's time fire first.
struct harness {
  shipment_operator op;
  test::fake_state<shipment_state> shipments;
  test::fake_state<lane_stats> lanes;
  fake_timers timers;
  fake_effects fx;
  int next_id = 0;

  explicit harness(shipment_config cfg = base_config()) : op(std::move(cfg)) {}

  void advance(std::int64_t to) {
    timers.fire_until(to, [&](const std::string& key, std::int64_t at, const std::string& payload) {
      op.on_timer(key, at, payload, shipments, lanes, timers, fx);
    });
  }
  void created(std::int64_t ts, std::string id = "shp-1",
               std::optional<std::int64_t> promised = std::nullopt, std::string origin = "DE-BE",
               std::string destination = "DE-HH", std::string carrier = "UPS") {
    event e;
    e.type = event_type::shipment_created;
    e.event_id = "c" + std::to_string(++next_id);
    e.ts_ms = ts;
    e.shipment_id = std::move(id);
    e.order_id = "ord-" + e.shipment_id;
    e.customer_id = "cust-" + e.shipment_id;
    e.carrier = std::move(carrier);
    e.origin = std::move(origin);
    e.destination = std::move(destination);
    e.promised_delivery_ms = promised;
    advance(ts);
    op.on_event(e, shipments, lanes, timers, fx);
  }
  /// Returns the event id.
  std::string scan(std::int64_t ts, std::string code,
                   std::optional<std::int64_t> estimate = std::nullopt, std::string id = "shp-1",
                   std::string event_id = "", std::string carrier = "UPS") {
    event e;
    e.type = event_type::carrier_scan;
    e.event_id = event_id.empty() ? "e" + std::to_string(++next_id) : std::move(event_id);
    e.ts_ms = ts;
    e.shipment_id = std::move(id);
    e.carrier = std::move(carrier);
    e.status_code = std::move(code);
    e.estimated_delivery_ms = estimate;
    advance(ts);
    op.on_event(e, shipments, lanes, timers, fx);
    return e.event_id;
  }
  /// A shipment on the default lane delivered `transit` after creation at `at`.
  void delivered_after(std::string id, std::int64_t at, std::int64_t transit) {
    created(at, id);
    scan(at + transit, "delivered", std::nullopt, id);
  }

  [[nodiscard]] strings statuses() const {
    strings out;
    for (const auto& n : fx.notes) out.push_back((n.delayed ? "delayed:" : "") + n.status);
    return out;
  }
  [[nodiscard]] strings previous() const {
    strings out;
    for (const auto& n : fx.notes) out.push_back(n.previous_status);
    return out;
  }
  [[nodiscard]] times flag_times() const {
    times out;
    for (const auto& f : fx.flags) out.push_back(f.ts_ms);
    return out;
  }
  [[nodiscard]] times timer_times(char kind, std::string_view id = "shp-1") const {
    times out;
    const std::string key = std::string(id) + '\x1f' + kind;
    for (const auto& [k, payload] : timers.pending)
      if (k.second == key) out.push_back(k.first);
    return out;
  }
  shipment_state& state(std::string_view id = "shp-1") { return *shipments.find(id); }
  int suppressed(shipment_suppression s) { return fx.suppressed_by[s]; }
};

const std::string default_lane = lane_key("UPS", "DE-BE", "DE-HH");

// ---- status changes -------------------------------------------------------------------------

TEST(ShipmentTest, DuplicateScanNotifiesOnce) {
  harness h;
  h.created(t0);
  const std::string first = h.scan(t0 + hour, "picked_up");
  h.scan(t0 + 2 * hour, "picked_up");
  h.scan(t0 + hour, "picked_up", std::nullopt, "shp-1", first);  // redelivered record
  ASSERT_EQ(h.fx.notes.size(), 1U);
  const auto& n = h.fx.notes[0];
  EXPECT_FALSE(n.delayed);
  EXPECT_EQ(n.notification_id, schemas::make_id("tracking", "shp-1", first));
  EXPECT_EQ(n.ts_ms, t0 + hour);
  EXPECT_EQ(n.customer_id, "cust-shp-1");
  EXPECT_EQ(n.shipment_id, "shp-1");
  EXPECT_EQ(n.order_id, "ord-shp-1");
  EXPECT_EQ(n.carrier, "UPS");
  EXPECT_EQ(n.status, "picked_up");
  EXPECT_EQ(n.previous_status, "info_received");
  EXPECT_EQ(n.estimated_delivery_ms, t0 + 5 * day);
  EXPECT_EQ(h.suppressed(sup::duplicate_scan), 2);
  // The repeated scan still showed the parcel moving.
  EXPECT_EQ(h.state().last_scan_ms, t0 + 2 * hour);
}

TEST(ShipmentTest, OlderScanNeverMovesBackwards) {
  harness h;
  h.created(t0);
  h.scan(t0 + 10 * hour, "out_for_delivery");
  h.scan(t0 + 5 * hour, "in_transit");
  h.scan(t0 + 2 * hour, "picked_up");
  h.scan(t0 + 3 * hour, "exception");  // left behind by the newer scan
  EXPECT_EQ(h.statuses(), (strings{"out_for_delivery"}));
  EXPECT_EQ(h.suppressed(sup::out_of_order_scan), 3);
  EXPECT_EQ(h.state().status, status::out_for_delivery);
  EXPECT_EQ(h.state().last_scan_ms, t0 + 10 * hour);
}

TEST(ShipmentTest, OlderScanMayFillInSkippedProgress) {
  harness h;
  h.created(t0);
  h.scan(t0 + 5 * hour, "in_transit");
  h.scan(t0 + 4 * hour, "out_for_delivery");  // older, but further along
  EXPECT_EQ(h.statuses(), (strings{"out_for_delivery"}));
  EXPECT_EQ(h.previous(), (strings{"in_transit"}));
  // The stuck clock does not go back with it.
  EXPECT_EQ(h.state().last_scan_ms, t0 + 5 * hour);
}

TEST(ShipmentTest, RedeliveryAfterFailedAttemptAndProgressAfterException) {
  harness h;
  h.created(t0);
  h.scan(t0 + 1 * hour, "out_for_delivery");
  h.scan(t0 + 2 * hour, "failed_attempt");
  h.scan(t0 + 20 * hour, "out_for_delivery");
  h.scan(t0 + 21 * hour, "X1");  // exception
  h.scan(t0 + 30 * hour, "in_transit");
  h.scan(t0 + 40 * hour, "out_for_delivery");
  EXPECT_EQ(h.statuses(), (strings{"out_for_delivery", "failed_attempt", "out_for_delivery",
                                   "exception", "out_for_delivery"}));
  EXPECT_EQ(h.previous(), (strings{"info_received", "out_for_delivery", "failed_attempt",
                                   "out_for_delivery", "in_transit"}));
  EXPECT_EQ(h.suppressed(sup::not_meaningful), 1);
  EXPECT_EQ(h.suppressed(sup::out_of_order_scan), 0);
}

TEST(ShipmentTest, NeverRegressesFromDelivered) {
  harness h;
  h.created(t0);
  h.scan(t0 + day, "delivered");
  h.scan(t0 + day + hour, "in_transit");                          // newer
  h.scan(t0 + day + 2 * hour, "delivered");                       // late duplicate
  h.scan(t0 + day + 3 * hour, "delivered", t0 + 9 * day);         // estimate after delivery
  h.scan(t0 + day + 4 * hour, "out_for_delivery", t0 + 9 * day);  // ditto
  EXPECT_EQ(h.statuses(), (strings{"delivered"}));
  EXPECT_EQ(h.suppressed(sup::after_final), 2);
  EXPECT_EQ(h.suppressed(sup::duplicate_scan), 2);
  EXPECT_EQ(h.state().status, status::delivered);
  EXPECT_EQ(h.state().deadline_ms, t0 + 5 * day);
}

TEST(ShipmentTest, ReturnedToSenderIsFinal) {
  harness h;
  h.created(t0);
  h.scan(t0 + day, "RS");
  h.scan(t0 + 2 * day, "in_transit");  // on its way back
  EXPECT_EQ(h.statuses(), (strings{"returned_to_sender"}));
  EXPECT_EQ(h.suppressed(sup::after_final), 1);
  h.advance(t0 + 20 * day);
  EXPECT_TRUE(h.fx.flags.empty());
  EXPECT_EQ(h.statuses(), (strings{"returned_to_sender"}));  // no delay either
  EXPECT_TRUE(h.lanes.values.empty());                       // not a delivery
}

TEST(ShipmentTest, InTransitIsNotMeaningfulButChainsPreviousStatus) {
  harness h;
  h.created(t0);
  h.scan(t0 + hour, "picked_up");
  h.scan(t0 + 2 * hour, "in_transit");
  h.scan(t0 + 3 * hour, "out_for_delivery");
  EXPECT_EQ(h.statuses(), (strings{"picked_up", "out_for_delivery"}));
  EXPECT_EQ(h.previous(), (strings{"info_received", "in_transit"}));
  EXPECT_EQ(h.suppressed(sup::not_meaningful), 1);
}

TEST(ShipmentTest, NotifyOnIsConfigurable) {
  auto cfg = base_config();
  cfg.notify_on = {status::in_transit};
  harness h(cfg);
  h.created(t0);
  h.scan(t0 + hour, "picked_up");
  h.scan(t0 + 2 * hour, "in_transit");
  EXPECT_EQ(h.statuses(), (strings{"in_transit"}));
  EXPECT_EQ(h.previous(), (strings{"picked_up"}));
}

TEST(ShipmentTest, UnknownCarrierCodeIsCountedAndChangesNothing) {
  harness h;
  h.created(t0);
  h.scan(t0 + hour, "ZZ");
  h.scan(t0 + hour, "picked_up", std::nullopt, "shp-1", "", "DHL");  // carrier without mapping
  h.scan(t0 + hour, "ZZ", std::nullopt, "shp-unknown");
  EXPECT_EQ(h.suppressed(sup::unknown_code), 3);
  EXPECT_TRUE(h.fx.notes.empty());
  EXPECT_EQ(h.state().status, status::info_received);
  EXPECT_EQ(h.state().last_scan_ms, t0);
  EXPECT_EQ(h.shipments.find("shp-unknown"), nullptr);
}

// ---- scans before creation ------------------------------------------------------------------

TEST(ShipmentTest, ScansBeforeCreationAreHeldThenAppliedInEventTimeOrder) {
  harness h;
  const auto ofd = h.scan(t0 + 2 * hour, "out_for_delivery");
  const auto pu = h.scan(t0, "picked_up");
  h.scan(t0 + hour, "in_transit");
  EXPECT_TRUE(h.fx.notes.empty());
  EXPECT_EQ(h.state().held.size(), 3U);
  EXPECT_EQ(h.timer_times('h'), (times{t0 + 6 * hour}));
  h.created(t0 + 3 * hour);
  EXPECT_EQ(h.statuses(), (strings{"picked_up", "out_for_delivery"}));
  EXPECT_EQ(h.previous(), (strings{"info_received", "in_transit"}));
  EXPECT_EQ(h.fx.notes[0].notification_id, schemas::make_id("tracking", "shp-1", pu));
  EXPECT_EQ(h.fx.notes[1].notification_id, schemas::make_id("tracking", "shp-1", ofd));
  EXPECT_EQ(h.fx.notes[1].ts_ms, t0 + 2 * hour);
  EXPECT_EQ(h.fx.notes[1].customer_id, "cust-shp-1");
  EXPECT_TRUE(h.state().held.empty());
  EXPECT_TRUE(h.timer_times('h').empty());
  h.advance(t0 + 7 * hour);
  EXPECT_EQ(h.suppressed(sup::unknown_shipment_expired), 0);
}

TEST(ShipmentTest, HeldScansExpireAndAreCounted) {
  harness h;
  h.scan(t0, "picked_up");
  h.scan(t0 + hour, "in_transit");
  h.scan(t0 + hour, "in_transit", std::nullopt, "shp-1", "e2");  // redelivered: held once
  EXPECT_EQ(h.suppressed(sup::duplicate_scan), 1);
  h.advance(t0 + 6 * hour);
  EXPECT_EQ(h.suppressed(sup::unknown_shipment_expired), 1);
  ASSERT_NE(h.shipments.find("shp-1"), nullptr);
  EXPECT_EQ(h.timer_times('h'), (times{t0 + 7 * hour}));
  h.advance(t0 + 7 * hour);
  EXPECT_EQ(h.suppressed(sup::unknown_shipment_expired), 2);
  EXPECT_EQ(h.shipments.find("shp-1"), nullptr);
  EXPECT_TRUE(h.timers.pending.empty());
  h.created(t0 + 8 * hour);
  EXPECT_TRUE(h.fx.notes.empty());
}

TEST(ShipmentTest, HeldScansAreBounded) {
  auto cfg = base_config();
  cfg.max_held_scans = 2;
  harness h(cfg);
  h.scan(t0, "picked_up");
  h.scan(t0 + hour, "in_transit");
  h.scan(t0 + 2 * hour, "out_for_delivery");
  EXPECT_EQ(h.suppressed(sup::held_overflow), 1);
  EXPECT_EQ(h.timer_times('h'), (times{t0 + 7 * hour}));  // the oldest left
  h.created(t0 + 3 * hour);
  EXPECT_EQ(h.statuses(), (strings{"out_for_delivery"}));
  EXPECT_EQ(h.previous(), (strings{"in_transit"}));
}

TEST(ShipmentTest, SecondCreationIsIgnored) {
  harness h;
  h.created(t0);
  h.scan(t0 + hour, "picked_up");
  h.created(t0 + 2 * hour, "shp-1", t0 + day);
  EXPECT_EQ(h.suppressed(sup::duplicate_created), 1);
  EXPECT_EQ(h.state().status, status::picked_up);
  EXPECT_EQ(h.state().deadline_ms, t0 + 5 * day);
}

// ---- estimates and delays -------------------------------------------------------------------

TEST(ShipmentTest, EstimateRevisionNotifiesAndMovesDelayTimer) {
  harness h;
  h.created(t0, "shp-1", t0 + 3 * day);
  EXPECT_EQ(h.timer_times('d'), (times{t0 + 3 * day}));
  h.scan(t0 + day, "in_transit", t0 + 4 * day);
  ASSERT_EQ(h.fx.notes.size(), 1U);
  EXPECT_EQ(h.fx.notes[0].status, "in_transit");
  EXPECT_EQ(h.fx.notes[0].previous_status, "info_received");
  EXPECT_EQ(h.fx.notes[0].estimated_delivery_ms, t0 + 4 * day);
  // Same status, new estimate: still worth telling.
  const auto id = h.scan(t0 + 2 * day, "in_transit", t0 + 5 * day);
  ASSERT_EQ(h.fx.notes.size(), 2U);
  EXPECT_EQ(h.fx.notes[1].notification_id, schemas::make_id("tracking", "shp-1", id));
  EXPECT_EQ(h.fx.notes[1].status, "in_transit");
  EXPECT_EQ(h.fx.notes[1].previous_status, "in_transit");
  EXPECT_EQ(h.fx.notes[1].estimated_delivery_ms, t0 + 5 * day);
  EXPECT_EQ(h.timer_times('d'), (times{t0 + 5 * day}));
  // Confirming the estimate, or an older scan's estimate, changes nothing.
  h.scan(t0 + 2 * day + hour, "in_transit", t0 + 5 * day);
  h.scan(t0 + day + hour, "in_transit", t0 + 3 * day);
  EXPECT_EQ(h.fx.notes.size(), 2U);
  EXPECT_EQ(h.suppressed(sup::duplicate_scan), 2);
  h.advance(t0 + 5 * day - 1);
  EXPECT_EQ(h.fx.notes.size(), 2U);  // the old deadlines passed silently
}

TEST(ShipmentTest, DelayFiresOncePerDeadline) {
  harness h;
  h.created(t0, "shp-1", t0 + 2 * day);
  h.scan(t0 + hour, "in_transit");
  h.advance(t0 + 10 * day);
  ASSERT_EQ(h.statuses(), (strings{"delayed:in_transit"}));
  const auto& d = h.fx.notes[0];
  EXPECT_EQ(d.notification_id,
            schemas::make_id("delivery_delayed", "shp-1", std::to_string(t0 + 2 * day)));
  EXPECT_EQ(d.ts_ms, t0 + 2 * day);
  EXPECT_EQ(d.customer_id, "cust-shp-1");
  EXPECT_EQ(d.order_id, "ord-shp-1");
  EXPECT_EQ(d.carrier, "UPS");
  EXPECT_EQ(d.previous_status, "");
  EXPECT_EQ(d.estimated_delivery_ms, t0 + 2 * day);
  // A revision re-arms it for the new deadline.
  h.scan(t0 + 10 * day, "in_transit", t0 + 12 * day);
  h.advance(t0 + 20 * day);
  EXPECT_EQ(h.statuses(), (strings{"delayed:in_transit", "in_transit", "delayed:in_transit"}));
  EXPECT_EQ(h.fx.notes[2].notification_id,
            schemas::make_id("delivery_delayed", "shp-1", std::to_string(t0 + 12 * day)));
}

TEST(ShipmentTest, NoDelayAfterDelivery) {
  harness h;
  h.created(t0, "shp-1", t0 + 2 * day);
  h.scan(t0 + day, "delivered");
  EXPECT_TRUE(h.timer_times('d').empty());
  EXPECT_TRUE(h.timer_times('s').empty());
  h.advance(t0 + 10 * day);
  EXPECT_EQ(h.statuses(), (strings{"delivered"}));
  EXPECT_TRUE(h.fx.flags.empty());
}

TEST(ShipmentTest, DeadlineFromPromiseThenLaneMedianThenDefault) {
  harness h;
  for (int i = 0; i < 20; ++i) h.delivered_after("old-" + std::to_string(i), t0, 48 * hour);
  const lane_stats& lane = *h.lanes.find(default_lane);
  ASSERT_EQ(lane.samples, 20U);
  const std::int64_t p50 = lane.quantile_ms(0.5);
  EXPECT_GE(p50, 45 * hour);  // within the ~19 % bucket holding 48 h
  EXPECT_LE(p50, 54 * hour);

  const std::int64_t t1 = t0 + 10 * day;
  h.created(t1, "promised", t1 + day);
  h.created(t1, "learned");
  h.created(t1, "other-lane", std::nullopt, "DE-BE", "FR-PA");
  EXPECT_EQ(h.state("promised").deadline_ms, t1 + day);
  EXPECT_EQ(h.state("learned").deadline_ms, t1 + p50);
  EXPECT_EQ(h.state("other-lane").deadline_ms, t1 + 5 * day);
  EXPECT_EQ(h.timer_times('d', "learned"), (times{t1 + p50}));
  h.scan(t1 + hour, "picked_up", std::nullopt, "learned");
  EXPECT_EQ(h.fx.notes.back().estimated_delivery_ms, t1 + p50);
}

TEST(ShipmentTest, LaneNeedsMinSamplesBeforeItIsUsed) {
  harness h;
  for (int i = 0; i < 19; ++i) h.delivered_after("old-" + std::to_string(i), t0, 48 * hour);
  h.created(t0 + 10 * day, "new");
  h.scan(t0 + 10 * day, "picked_up", std::nullopt, "new");  // stuck counts from the pickup
  EXPECT_EQ(h.state("new").deadline_ms, t0 + 15 * day);
  EXPECT_EQ(h.timer_times('s', "new"), (times{t0 + 14 * day + 1}));
}

// ---- stuck shipments ------------------------------------------------------------------------

TEST(ShipmentTest, NotPickedUpThreeDaysAfterCreationIsAStalledFulfilmentOnce) {
  harness h;
  h.created(t0, "shp-1", t0 + 30 * day);
  h.created(t0, "shp-2", t0 + 30 * day);
  h.scan(t0 + 2 * day, "picked_up", std::nullopt, "shp-2");  // handed over in time
  h.advance(t0 + 20 * day);
  std::vector<schemas::anomaly_flag> stalled, stuck;
  for (const auto& f : h.fx.flags) (f.kind == "fulfilment_stalled" ? stalled : stuck).push_back(f);
  ASSERT_EQ(stalled.size(), 1u);
  const auto& f = stalled[0];
  EXPECT_EQ(f.entity_id, "shp-1");
  EXPECT_EQ(f.ts_ms, t0 + 3 * day);
  EXPECT_DOUBLE_EQ(f.threshold, 3.0);  // days, as the score
  EXPECT_DOUBLE_EQ(f.score, 3.0);
  EXPECT_EQ(f.evidence_json,
            "{\"carrier\":\"UPS\",\"status\":\"info_received\",\"order_id\":"
            "\"ord-shp-1\",\"created_ms\":" +
                std::to_string(t0) + "}");
  // Never picked up: no shipment_stuck for it (the parcel has not left); shp-2 went quiet
  // after its pickup and is stuck.
  for (const auto& x : stuck) EXPECT_EQ(x.entity_id, "shp-2") << x.kind;
  EXPECT_TRUE(std::none_of(h.fx.notes.begin(), h.fx.notes.end(),
                           [](const auto& n) { return n.shipment_id == "shp-1" && !n.delayed; }));
}

TEST(ShipmentTest, StuckFlagWithDefaultThreshold) {
  harness h;
  h.created(t0, "shp-1", t0 + 30 * day);
  h.scan(t0 + hour, "picked_up");
  // Quiet for longer than the threshold: the first millisecond past it.
  EXPECT_EQ(h.timer_times('s'), (times{t0 + hour + 4 * day + 1}));
  h.advance(t0 + 20 * day);
  ASSERT_EQ(h.fx.flags.size(), 1U);  // one per quiet spell
  const auto& f = h.fx.flags[0];
  EXPECT_EQ(f.flag_id, schemas::make_id("shipment_stuck", "shp-1", std::to_string(t0 + hour)));
  EXPECT_EQ(f.ts_ms, t0 + hour + 4 * day + 1);
  EXPECT_EQ(f.kind, "shipment_stuck");
  EXPECT_EQ(f.entity_type, "shipment");
  EXPECT_EQ(f.entity_id, "shp-1");
  // Score and threshold in one unit (hours without a scan), flagged when score > threshold.
  EXPECT_DOUBLE_EQ(f.threshold, 96.0);
  EXPECT_GT(f.score, f.threshold);
  EXPECT_NEAR(f.score, 96.0, 1e-6);
  EXPECT_EQ(f.window_ms, 4 * day);
  EXPECT_EQ(f.evidence_json, "{\"carrier\":\"UPS\",\"status\":\"picked_up\",\"last_scan_ms\":" +
                                 std::to_string(t0 + hour) + ",\"lane_samples\":0}");
}

TEST(ShipmentTest, LateFlagOncePerDeadlineAndReArmedByARevisedEstimate) {
  harness h;
  h.created(t0, "shp-1", t0 + 2 * day);
  h.scan(t0 + hour, "picked_up");
  h.scan(t0 + 3 * day, "in_transit");  // scans keep it from being stuck
  EXPECT_EQ(h.timer_times('l'), (times{t0 + 5 * day}));
  h.advance(t0 + 5 * day - 1);
  auto late = [&] {
    std::vector<schemas::anomaly_flag> out;
    for (const auto& f : h.fx.flags)
      if (f.kind == "shipment_late") out.push_back(f);
    return out;
  };
  EXPECT_TRUE(late().empty());
  h.advance(t0 + 5 * day);
  ASSERT_EQ(late().size(), 1U);
  const auto f = late()[0];
  EXPECT_EQ(f.flag_id, schemas::make_id("shipment_late", "shp-1", std::to_string(t0 + 2 * day)));
  EXPECT_EQ(f.ts_ms, t0 + 5 * day);
  EXPECT_EQ(f.entity_type, "shipment");
  EXPECT_EQ(f.entity_id, "shp-1");
  EXPECT_DOUBLE_EQ(f.score, 3.0);  // days past the deadline
  EXPECT_DOUBLE_EQ(f.threshold, 3.0);
  EXPECT_EQ(f.window_ms, 3 * day);
  EXPECT_EQ(f.evidence_json,
            "{\"carrier\":\"UPS\",\"status\":\"in_transit\",\"order_id\":\"ord-shp-1\","
            "\"deadline_ms\":" +
                std::to_string(t0 + 2 * day) + ",\"last_scan_ms\":" + std::to_string(t0 + 3 * day) +
                "}");
  // Once per deadline, whatever the scans in between.
  h.scan(t0 + 6 * day, "in_transit");
  h.advance(t0 + 9 * day);
  EXPECT_EQ(late().size(), 1U);
  // A revised estimate is a new deadline: late again only if that one passes by 3 days too.
  h.scan(t0 + 9 * day, "in_transit", t0 + 12 * day);
  EXPECT_EQ(h.timer_times('l'), (times{t0 + 15 * day}));
  h.scan(t0 + 14 * day, "delivered");  // delivered in time for the new grace
  h.advance(t0 + 40 * day);
  EXPECT_EQ(late().size(), 1U);
  EXPECT_TRUE(h.timer_times('l').empty());
}

TEST(ShipmentTest, LateFlagCanBeTurnedOff) {
  auto cfg = base_config();
  cfg.late_after_ms = 0;
  harness h(cfg);
  h.created(t0, "shp-1", t0 + 2 * day);
  h.advance(t0 + 20 * day);
  for (const auto& f : h.fx.flags) EXPECT_NE(f.kind, "shipment_late");
  EXPECT_TRUE(h.timer_times('l').empty());
}

TEST(ShipmentTest, ScansPushTheStuckFlagOut) {
  harness h;
  h.created(t0, "shp-1", t0 + 30 * day);
  h.scan(t0 + hour, "picked_up");
  h.scan(t0 + 3 * day, "in_transit");
  h.scan(t0 + 6 * day, "in_transit");  // a repeated status is still a sign of life
  h.advance(t0 + 10 * day);
  EXPECT_TRUE(h.fx.flags.empty()) << "quiet for exactly the threshold is not stuck yet";
  h.advance(t0 + 10 * day + 1);
  EXPECT_EQ(h.flag_times(), (times{t0 + 10 * day + 1}));
}

TEST(ShipmentTest, StuckThresholdIsLearnedFromTheLane) {
  auto cfg = base_config();
  cfg.stuck_factor = 2.0;
  harness h(cfg);
  for (int i = 0; i < 20; ++i)
    h.delivered_after("old-" + std::to_string(i), t0, (10 + i) * hour);  // 10..29 h
  const lane_stats& lane = *h.lanes.find(default_lane);
  const std::int64_t p95 = lane.quantile_ms(0.95);
  EXPECT_GE(p95, 26 * hour);
  EXPECT_LE(p95, 33 * hour);
  const std::int64_t threshold = 2 * p95;

  const std::int64_t t1 = t0 + 10 * day;
  h.created(t1, "new", t1 + 30 * day);
  h.scan(t1 + hour, "picked_up", std::nullopt, "new");
  EXPECT_EQ(h.timer_times('s', "new"), (times{t1 + hour + threshold + 1}));
  h.advance(t1 + 10 * day);
  ASSERT_EQ(h.fx.flags.size(), 1U);
  const auto& f = h.fx.flags[0];
  EXPECT_EQ(f.ts_ms, t1 + hour + threshold + 1);
  EXPECT_DOUBLE_EQ(f.threshold, static_cast<double>(threshold) / hour);
  EXPECT_EQ(f.window_ms, threshold);
  EXPECT_DOUBLE_EQ(f.score, static_cast<double>(threshold + 1) / hour);
  EXPECT_EQ(f.evidence_json, "{\"carrier\":\"UPS\",\"status\":\"picked_up\",\"last_scan_ms\":" +
                                 std::to_string(t1 + hour) + ",\"lane_samples\":20}");
}

TEST(ShipmentTest, StuckFlagsAreRateLimitedPerShipment) {
  auto cfg = base_config();
  cfg.stuck_default_ms = 6 * hour;
  harness h(cfg);
  h.created(t0, "shp-1", t0 + 30 * day);
  h.scan(t0, "picked_up");
  h.advance(t0 + 7 * hour);
  EXPECT_EQ(h.flag_times(), (times{t0 + 6 * hour + 1}));
  h.scan(t0 + 7 * hour, "picked_up");
  // Quiet again at 13 h, but the last flag was at 6 h: deferred to 30 h, not dropped.
  EXPECT_EQ(h.timer_times('s'), (times{t0 + 30 * hour + 1}));
  h.advance(t0 + 29 * hour);
  EXPECT_EQ(h.flag_times(), (times{t0 + 6 * hour + 1}));
  h.advance(t0 + 31 * hour);
  EXPECT_EQ(h.flag_times(), (times{t0 + 6 * hour + 1, t0 + 30 * hour + 1}));
  EXPECT_NEAR(h.fx.flags[1].score, 23.0, 1e-6) << "hours without a scan";
  EXPECT_DOUBLE_EQ(h.fx.flags[1].threshold, 6.0);
  EXPECT_EQ(h.fx.flags[1].flag_id,
            schemas::make_id("shipment_stuck", "shp-1", std::to_string(t0 + 7 * hour)));
  h.scan(t0 + 31 * hour, "in_transit");
  EXPECT_EQ(h.timer_times('s'), (times{t0 + 54 * hour + 1}));
}

TEST(ShipmentTest, TimersOfOneShipmentDueTogetherBothFire) {
  auto cfg = base_config();
  // Deadline and stuck timer at the same ms (stuck: the first ms past its threshold).
  cfg.default_transit_ms = cfg.stuck_default_ms + 1;
  harness h(cfg);
  h.created(t0);
  h.scan(t0, "picked_up");
  EXPECT_EQ(h.timer_times('d'), (times{t0 + 4 * day + 1}));
  EXPECT_EQ(h.timer_times('s'), (times{t0 + 4 * day + 1}));
  h.advance(t0 + 4 * day + 1);
  EXPECT_EQ(h.statuses(), (strings{"picked_up", "delayed:picked_up"}));
  EXPECT_EQ(h.flag_times(), (times{t0 + 4 * day + 1}));
}

TEST(ShipmentTest, StaleTimerFiringsAreIgnored) {
  harness h;
  h.created(t0, "shp-1", t0 + 2 * day);
  h.op.on_timer(std::string("shp-1\x1f") + "d", t0 + day, "d", h.shipments, h.lanes, h.timers,
                h.fx);
  h.op.on_timer(std::string("shp-1\x1f") + "s", t0 + day, "s", h.shipments, h.lanes, h.timers,
                h.fx);
  h.op.on_timer("shp-1", t0 + 2 * day, "d", h.shipments, h.lanes, h.timers, h.fx);
  h.op.on_timer(std::string("nobody\x1f") + "d", t0 + 2 * day, "d", h.shipments, h.lanes, h.timers,
                h.fx);
  EXPECT_TRUE(h.fx.notes.empty());
  EXPECT_TRUE(h.fx.flags.empty());
}

TEST(ShipmentTest, DeliveredShipmentIsKeptForRetentionThenErased) {
  harness h;
  h.created(t0);
  h.scan(t0 + day, "delivered");
  h.scan(t0 + 10 * day, "delivered");  // late duplicate, still absorbed
  EXPECT_EQ(h.suppressed(sup::duplicate_scan), 1);
  EXPECT_EQ(h.timer_times('p'), (times{t0 + 31 * day})) << "30 days after the delivery scan";
  h.advance(t0 + 30 * day);  // 30 days after creation, but only 29 after the last scan
  ASSERT_NE(h.shipments.find("shp-1"), nullptr);
  h.advance(t0 + 31 * day);
  EXPECT_EQ(h.shipments.find("shp-1"), nullptr);
  EXPECT_TRUE(h.timers.pending.empty());
  EXPECT_EQ(h.statuses(), (strings{"delivered"}));
}

TEST(ShipmentTest, UndeliveredShipmentOutlivesAQuietSpellLongerThanTheRetention) {
  // Picked up, then weeks without a scan (common for Olist orders): the state must survive
  // past the delivery date, or the delay notification and the delivery would be lost.
  harness h;
  h.created(t0, "shp-1", t0 + 20 * day);
  h.scan(t0 + day, "picked_up");
  h.advance(t0 + 40 * day);  // more than 30 days after the last scan
  ASSERT_NE(h.shipments.find("shp-1"), nullptr);
  EXPECT_EQ(
      std::count_if(h.fx.notes.begin(), h.fx.notes.end(), [](const auto& n) { return n.delayed; }),
      1);
  h.scan(t0 + 75 * day, "delivered");  // 55 days after its delivery date: still told
  EXPECT_EQ(h.statuses(), (strings{"picked_up", "delayed:picked_up", "delivered"}));
  EXPECT_EQ(h.suppressed(sup::undelivered_dropped), 0);
}

TEST(ShipmentTest, AShipmentNeverDeliveredIsDroppedAfterTheOpenRetentionAndCounted) {
  harness h;
  h.created(t0, "shp-1", t0 + 5 * day);
  h.scan(t0 + day, "picked_up");
  h.advance(t0 + 5 * day + 180 * day - 1);
  ASSERT_NE(h.shipments.find("shp-1"), nullptr);
  h.advance(t0 + 5 * day + 180 * day);
  EXPECT_EQ(h.shipments.find("shp-1"), nullptr);
  EXPECT_EQ(h.suppressed(sup::undelivered_dropped), 1);
  EXPECT_TRUE(h.timers.pending.empty());
}

TEST(ShipmentTest, OutputsAreDeterministic) {
  auto run = [] {
    harness h;
    h.scan(t0 - hour, "picked_up");
    h.created(t0);
    h.scan(t0 + day, "in_transit", t0 + 6 * day);
    h.scan(t0 + 2 * day, "out_for_delivery");
    h.advance(t0 + 8 * day);
    std::string out;
    for (const auto& n : h.fx.notes) schemas::encode(n, out).push_back('\n');
    for (const auto& f : h.fx.flags) schemas::encode(f, out).push_back('\n');
    return out;
  };
  const std::string first = run();
  EXPECT_EQ(std::count(first.begin(), first.end(), '\n'), 5);  // 3 updates, delay, stuck
  EXPECT_EQ(run(), first);
}

// ---- mappings -------------------------------------------------------------------------------

TEST(ShipmentTest, StatusNamesRoundTrip) {
  for (std::size_t i = 0; i < shipment_status_count; ++i) {
    const auto s = static_cast<status>(i);
    EXPECT_EQ(parse_shipment_status(to_string(s)), s);
  }
  EXPECT_EQ(to_string(status::returned_to_sender), "returned_to_sender");
  EXPECT_EQ(parse_shipment_status("Delivered"), std::nullopt);
  EXPECT_EQ(parse_shipment_status(""), std::nullopt);
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < shipment_suppression_count; ++i)
    names.insert(to_string(static_cast<sup>(i)));
  EXPECT_EQ(names.size(), shipment_suppression_count);
  EXPECT_FALSE(names.contains("unknown"));
}

TEST(ShipmentTest, CarrierMatchIsCaseInsensitiveWithCatchAll) {
  carrier_mappings m;
  m.add("DHL", "PU", status::picked_up);
  m.add("*", "delivered", status::delivered);
  m.carriers["GLS"]["AV"] = status::available_for_pickup;  // filled in directly, own spelling
  EXPECT_EQ(m.carriers.count("dhl"), 1U);
  EXPECT_EQ(m.lookup("dhl", "PU"), status::picked_up);
  EXPECT_EQ(m.lookup("Dhl", "PU"), status::picked_up);
  EXPECT_EQ(m.lookup("DHL", "pu"), std::nullopt);  // codes are the carrier's, exact
  EXPECT_EQ(m.lookup("DHL", "delivered"), status::delivered);
  EXPECT_EQ(m.lookup("nobody", "delivered"), status::delivered);
  EXPECT_EQ(m.lookup("gls", "AV"), status::available_for_pickup);
  EXPECT_EQ(m.lookup("nobody", "PU"), std::nullopt);
}

TEST(ShipmentTest, EasyPostVocabularyMapsToNormalisedStatuses) {
  carrier_mappings m;
  m.carriers[std::string(carrier_mappings::any_carrier)] = easypost_status_codes();
  EXPECT_EQ(m.lookup("USPS", "pre_transit"), status::info_received);
  EXPECT_EQ(m.lookup("USPS", "in_transit"), status::in_transit);
  EXPECT_EQ(m.lookup("USPS", "out_for_delivery"), status::out_for_delivery);
  EXPECT_EQ(m.lookup("USPS", "available_for_pickup"), status::available_for_pickup);
  EXPECT_EQ(m.lookup("USPS", "delivered"), status::delivered);
  EXPECT_EQ(m.lookup("USPS", "return_to_sender"), status::returned_to_sender);
  EXPECT_EQ(m.lookup("USPS", "failure"), status::exception);
  EXPECT_EQ(m.lookup("USPS", "error"), std::nullopt);
  EXPECT_EQ(m.lookup("USPS", "unknown"), std::nullopt);
  EXPECT_EQ(m.lookup("USPS", "cancelled"), std::nullopt);
  EXPECT_EQ(easypost_status_codes().size(), 7U);
}

// One tracker of the EasyPost fixtures (trk_8f86b00b…): its 8 scans, each carrying the
// tracker's est_delivery_date, then the `error` status of an invalid tracking number.
TEST(ShipmentTest, EasyPostTraceNotifiesOnMeaningfulChangesOnly) {
  shipment_config cfg;
  cfg.carriers.carriers[std::string(carrier_mappings::any_carrier)] = easypost_status_codes();
  harness h(cfg);
  const std::int64_t est = 1740162833000;
  const std::int64_t created = 1737484433000;
  h.created(created, "EZ1", std::nullopt, "", "TX-77063", "USPS");
  const std::vector<std::pair<std::int64_t, std::string>> scans = {
      {1737484433000, "pre_transit"},      {1737529853000, "pre_transit"},
      {1737566153000, "in_transit"},       {1737658313000, "in_transit"},
      {1737668573000, "in_transit"},       {1737688973000, "in_transit"},
      {1737689573000, "out_for_delivery"}, {1737707093000, "delivered"}};
  for (const auto& [ts, code] : scans) h.scan(ts, code, est, "EZ1", "", "USPS");
  h.scan(1737707093000 + hour, "error", std::nullopt, "EZ1", "", "USPS");
  // The first scan revises the 5-day default to the tracker's estimate.
  EXPECT_EQ(h.statuses(), (strings{"info_received", "out_for_delivery", "delivered"}));
  EXPECT_EQ(h.previous(), (strings{"info_received", "in_transit", "out_for_delivery"}));
  for (const auto& n : h.fx.notes) EXPECT_EQ(n.estimated_delivery_ms, est);
  EXPECT_EQ(h.suppressed(sup::duplicate_scan), 4);
  EXPECT_EQ(h.suppressed(sup::not_meaningful), 1);
  EXPECT_EQ(h.suppressed(sup::unknown_code), 1);
  const lane_stats& lane = *h.lanes.find(lane_key("usps", "", "TX-77063"));
  EXPECT_EQ(lane.samples, 1U);
  EXPECT_EQ(lane.counts[lane_stats::bucket_of(1737707093000 - created)], 1U);
}

// ---- codecs ---------------------------------------------------------------------------------

shipment_state sample_state() {
  shipment_state s;
  s.created = true;
  s.order_id = "ord-1";
  s.customer_id = "cust-1";
  s.carrier = "UPS";
  s.origin = "DE-BE";
  s.destination = "DE-HH";
  s.created_ms = t0;
  s.status = status::failed_attempt;
  s.last_scan_ms = t0 + hour;
  s.deadline_ms = t0 + 3 * day;
  s.estimate_ts_ms = t0 + minute;
  s.delay_notified_ms = t0 + 2 * day;
  s.stuck_threshold_ms = 4 * day;
  s.flagged_ms = t0 + 5 * hour;
  s.flagged_scan_ms = t0 + hour;
  s.held = {{"e1", t0 - hour, status::picked_up, std::nullopt},
            {"e2", t0 - minute, status::returned_to_sender, t0 + 9 * day}};
  s.delay_timer_ms = t0 + 3 * day;
  s.stuck_timer_ms = t0 + hour + 4 * day;
  s.hold_timer_ms = -5;
  s.purge_timer_ms = t0 + 31 * day;
  s.stall_flagged = true;
  s.stall_timer_ms = t0 + 3 * day;
  return s;
}

TEST(ShipmentTest, StateRoundTripsAndRejectsBadBytes) {
  const shipment_state s = sample_state();
  std::string bytes;
  s.encode(bytes);
  shipment_state back;
  ASSERT_TRUE(shipment_state::decode(bytes, back));
  EXPECT_EQ(back, s);
  shipment_state empty;
  std::string empty_bytes;
  empty.encode(empty_bytes);
  ASSERT_TRUE(shipment_state::decode(empty_bytes, back));
  EXPECT_EQ(back, empty);

  for (std::size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(shipment_state::decode(bytes.substr(0, n), back)) << "prefix " << n;
  EXPECT_FALSE(shipment_state::decode(bytes + 'x', back));
  std::string bad = bytes;
  bad[0] = 4;  // version
  EXPECT_FALSE(shipment_state::decode(bad, back));
  // Version 2 (before fulfilment_stalled) has no stall timer: it reads as 0.
  shipment_state v2 = s;
  v2.stall_timer_ms = 0;
  std::string v2_bytes;
  v2.encode(v2_bytes);
  v2_bytes.resize(v2_bytes.size() - 1);  // one zero varint
  v2_bytes[0] = 2;
  ASSERT_TRUE(shipment_state::decode(v2_bytes, back));
  EXPECT_EQ(back, v2);
  // Version 1 (before shipment_late) has no late fields either.
  shipment_state v1 = v2;
  v1.late_flagged_ms = 0;
  v1.late_timer_ms = 0;
  std::string v1_bytes;
  v1.encode(v1_bytes);
  v1_bytes.resize(v1_bytes.size() - 3);  // three zero varints
  v1_bytes[0] = 1;
  ASSERT_TRUE(shipment_state::decode(v1_bytes, back));
  EXPECT_EQ(back, v1);
  bad = bytes;
  bad[1] = 4;  // unknown flag
  EXPECT_FALSE(shipment_state::decode(bad, back));
  // The status byte follows the five strings and created_ms.
  const std::size_t status_at = 2 + 6 + 7 + 4 + 6 + 6 + 6;
  ASSERT_EQ(static_cast<std::uint8_t>(bytes[status_at]), 4);  // failed_attempt
  bad = bytes;
  bad[status_at] = 9;
  EXPECT_FALSE(shipment_state::decode(bad, back));
}

TEST(LaneStatsTest, BucketsAreLogScale) {
  EXPECT_EQ(lane_stats::bucket_upper_ms(0), hour);
  EXPECT_EQ(lane_stats::bucket_upper_ms(4), 2 * hour);
  EXPECT_EQ(lane_stats::bucket_upper_ms(8), 4 * hour);
  EXPECT_EQ(lane_stats::bucket_of(0), 0U);
  EXPECT_EQ(lane_stats::bucket_of(-hour), 0U);
  EXPECT_EQ(lane_stats::bucket_of(hour - 1), 0U);
  EXPECT_EQ(lane_stats::bucket_of(hour), 1U);
  EXPECT_EQ(lane_stats::bucket_of(2 * hour), 5U);
  EXPECT_EQ(lane_stats::bucket_of(std::numeric_limits<std::int64_t>::max()),
            lane_stats::bucket_count - 1);
  for (std::size_t i = 1; i < lane_stats::bucket_count; ++i)
    EXPECT_GT(lane_stats::bucket_upper_ms(i), lane_stats::bucket_upper_ms(i - 1));
}

TEST(LaneStatsTest, QuantilesInterpolateWithinBuckets) {
  lane_stats l;
  EXPECT_EQ(l.quantile_ms(0.5), 0);
  for (int i = 0; i < 10; ++i) l.add(90 * minute, 0);   // bucket 3: [1.41 h, 1.68 h)
  for (int i = 0; i < 10; ++i) l.add(3 * hour + 1, 0);  // bucket 7: [2.83 h, 3.36 h)
  EXPECT_EQ(l.samples, 20U);
  const std::size_t low = lane_stats::bucket_of(90 * minute);
  ASSERT_EQ(low, 3U);
  EXPECT_EQ(l.counts[low], 10U);
  EXPECT_EQ(lane_stats::bucket_of(3 * hour + 1), 7U);
  // p50 is the top of the lower bucket; p75 the middle of the upper one.
  EXPECT_EQ(l.quantile_ms(0.5), lane_stats::bucket_upper_ms(low));
  EXPECT_EQ(l.quantile_ms(0.75),
            std::llround((lane_stats::bucket_upper_ms(6) + lane_stats::bucket_upper_ms(7)) / 2.0));
  EXPECT_EQ(l.quantile_ms(1.0), lane_stats::bucket_upper_ms(7));
  EXPECT_EQ(l.quantile_ms(0.0), lane_stats::bucket_upper_ms(low - 1));
}

TEST(LaneStatsTest, HalvesCountsAtMaxSamples) {
  lane_stats l;
  for (int i = 0; i < 7; ++i) l.add(10 * hour, 10);
  l.add(50 * hour, 10);
  l.add(50 * hour, 10);
  EXPECT_EQ(l.samples, 9U);
  l.add(100 * hour, 10);  // the 10th: everything halves, the single sample goes
  EXPECT_EQ(l.samples, 4U);
  EXPECT_EQ(l.counts[lane_stats::bucket_of(10 * hour)], 3U);
  EXPECT_EQ(l.counts[lane_stats::bucket_of(50 * hour)], 1U);
  EXPECT_EQ(l.counts[lane_stats::bucket_of(100 * hour)], 0U);
}

TEST(LaneStatsTest, RoundTripsAndRejectsBadBytes) {
  lane_stats l;
  l.add(0, 0);
  l.add(30 * hour, 0);
  l.add(30 * hour, 0);
  l.add(std::numeric_limits<std::int64_t>::max(), 0);
  std::string bytes;
  l.encode(bytes);
  lane_stats back;
  back.add(5 * hour, 0);  // decode replaces, not adds
  ASSERT_TRUE(lane_stats::decode(bytes, back));
  EXPECT_EQ(back, l);
  EXPECT_EQ(back.samples, 4U);
  for (std::size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(lane_stats::decode(bytes.substr(0, n), back)) << "prefix " << n;
  EXPECT_FALSE(lane_stats::decode(bytes + '\0', back));
  std::string bad = bytes;
  bad[0] = 7;  // version
  EXPECT_FALSE(lane_stats::decode(bad, back));
  // Layout: version, count, then (index, count) pairs ascending.
  ASSERT_EQ(bytes[1], 3);
  bad = bytes;
  bad[2] = 64;  // bucket index out of range
  EXPECT_FALSE(lane_stats::decode(bad, back));
  bad = bytes;
  bad[4] = bad[2];  // indexes not ascending
  EXPECT_FALSE(lane_stats::decode(bad, back));
  bad = bytes;
  bad[3] = 0;  // an empty bucket is never written
  EXPECT_FALSE(lane_stats::decode(bad, back));
}

TEST(LaneStatsTest, LaneKeyLowerCasesTheCarrier) {
  EXPECT_EQ(lane_key("UPS", "DE-BE", "DE-HH"), "ups|DE-BE|DE-HH");
  EXPECT_EQ(lane_key("ups", "", ""), "ups||");
}

}  // namespace
}  // namespace herald::rules

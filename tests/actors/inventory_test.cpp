#include "herald/actors/rules/inventory.hpp"

#include <map>

#include <gtest/gtest.h>

#include "fakes.hpp"

namespace herald::rules {
namespace {

using schemas::event;
using schemas::event_type;
using kind = sku_signal::kind;

using test::day;
using test::fake_timers;
using test::hour;
using test::minute;
using test::t0;

using fake_skus = test::fake_state<sku_state>;

struct fake_effects final : inventory_effects {
  std::vector<schemas::back_in_stock> notified;
  std::vector<schemas::stock_alert> alerts;
  std::map<inventory_suppression, int> suppressed_by;
  void emit(schemas::back_in_stock&& m) override { notified.push_back(std::move(m)); }
  void emit(schemas::stock_alert&& m) override { alerts.push_back(std::move(m)); }
  void suppressed(inventory_suppression s) override { ++suppressed_by[s]; }
};

/// Drives the operator like a SKU task does: timers due up to an input's time fire before it.
struct harness {
  inventory_operator op;
  fake_skus skus;
  fake_timers timers;
  fake_effects fx;
  int next_id = 0;

  explicit harness(inventory_config cfg = {}) : op(cfg) {}

  void advance(std::int64_t to) {
    timers.fire_until(to, [&](const std::string& key, std::int64_t at, const std::string& payload) {
      op.on_timer(key, at, payload, skus, timers, fx);
    });
  }
  /// Returns the event id.
  std::string stock(std::int64_t ts, std::int64_t available, std::string location = "L1",
                    std::optional<std::int64_t> threshold = std::nullopt, std::string sku = "sku-1",
                    std::string id = "") {
    event e;
    e.type = event_type::stock_level;
    e.event_id = id.empty() ? "s" + std::to_string(++next_id) : std::move(id);
    e.ts_ms = ts;
    e.sku = std::move(sku);
    e.location = std::move(location);
    e.available = available;
    e.low_stock_threshold = threshold;
    advance(ts);
    op.on_stock(e, skus, timers, fx);
    return e.event_id;
  }
  void signal(kind type, std::string customer, std::int64_t ts, std::int64_t qty = 0,
              std::string sku = "sku-1") {
    sku_signal s;
    s.type = type;
    s.sku = std::move(sku);
    s.customer_id = std::move(customer);
    s.quantity = qty;
    s.ts_ms = ts;
    s.event_id = "g" + std::to_string(++next_id);
    advance(ts);
    op.on_signal(s, skus, timers, fx);
  }
  void notify(std::string customer, std::int64_t ts, std::string sku = "sku-1") {
    signal(kind::notify_me, std::move(customer), ts, 0, std::move(sku));
  }
  void sold(std::string customer, std::int64_t ts, std::int64_t qty = 1,
            std::string sku = "sku-1") {
    signal(kind::sold, std::move(customer), ts, qty, std::move(sku));
  }
  [[nodiscard]] std::vector<std::string> customers() const {
    std::vector<std::string> out;
    for (const auto& n : fx.notified) out.push_back(n.customer_id);
    return out;
  }
  [[nodiscard]] std::vector<std::string> waiting(std::string_view sku = "sku-1") {
    std::vector<std::string> out;
    for (const auto& w : skus.find(sku)->waiters) out.push_back(w.customer_id);
    return out;
  }
  const sku_state& state(std::string_view sku = "sku-1") { return *skus.find(sku); }
  int suppressed(inventory_suppression s) { return fx.suppressed_by[s]; }
  [[nodiscard]] std::vector<std::int64_t> timer_times() const {
    std::vector<std::int64_t> out;
    for (const auto& [k, payload] : timers.pending) out.push_back(k.first);
    return out;
  }
};

inventory_config ratio(double r) {
  inventory_config cfg;
  cfg.notify_ratio = r;
  return cfg;
}

using strings = std::vector<std::string>;

// ---- back in stock --------------------------------------------------------------------------

TEST(InventoryTest, ThreeUnitsTenWaitingRatioTwoNotifiesSixOldestFirst) {
  harness h;
  h.stock(t0, 0);
  // Names run against request order, so the test sees time order rather than name order.
  for (int i = 0; i < 10; ++i)
    h.notify(std::string("cust-") + char('j' - i), t0 + (i + 1) * minute);
  const std::int64_t t1 = t0 + hour;
  h.stock(t1, 3, "L1", std::nullopt, "sku-1", "restock-1");
  EXPECT_EQ(h.customers(), (strings{"cust-j", "cust-i", "cust-h", "cust-g", "cust-f", "cust-e"}));
  for (const auto& n : h.fx.notified) {
    EXPECT_EQ(n.ts_ms, t1);
    EXPECT_EQ(n.sku, "sku-1");
    EXPECT_EQ(n.available, 3);
    EXPECT_EQ(n.notification_id,
              schemas::make_id("back_in_stock", n.customer_id, "sku-1/restock-1"));
  }
  EXPECT_EQ(h.state().restock_id, "restock-1");
  // The four others wait for the first notifications' response window to end.
  EXPECT_EQ(h.timer_times(), (std::vector<std::int64_t>{t1 + day}));
  EXPECT_EQ(h.timers.pending.begin()->second, "t");
  EXPECT_EQ(h.state().timer_ms, t1 + day);
}

TEST(InventoryTest, EqualRequestTimesAreOrderedByCustomerId) {
  harness h(ratio(1));
  h.stock(t0, 0);
  h.notify("b", t0 + minute);
  h.notify("c", t0 + minute);
  h.notify("a", t0 + minute);
  h.stock(t0 + hour, 2);
  EXPECT_EQ(h.customers(), (strings{"a", "b"}));
}

TEST(InventoryTest, CapIsRatioTimesAvailableRoundedDown) {
  harness h(ratio(1.5));
  h.stock(t0, 0);
  for (int i = 0; i < 6; ++i) h.notify("w" + std::to_string(i), t0 + (i + 1) * minute);
  h.stock(t0 + hour, 3);  // 4.5 -> 4
  EXPECT_EQ(h.customers(), (strings{"w0", "w1", "w2", "w3"}));
}

TEST(InventoryTest, FlappingStockNeverNotifiesTwiceWithinTheRenotifyInterval) {
  harness h;
  h.stock(t0, 0);
  h.notify("a", t0 + minute);
  h.notify("b", t0 + 2 * minute);
  const std::int64_t t1 = t0 + hour;
  const std::string first = h.stock(t1, 3);
  ASSERT_EQ(h.customers(), (strings{"a", "b"}));
  EXPECT_TRUE(h.timers.pending.empty()) << "nobody left to wait for";
  h.stock(t1 + hour, 0);
  EXPECT_EQ(h.suppressed(inventory_suppression::sold_out), 0) << "everyone had been told";
  const std::string second = h.stock(t1 + 2 * hour, 3);
  EXPECT_EQ(h.fx.notified.size(), 2u);
  EXPECT_EQ(h.suppressed(inventory_suppression::renotify_interval), 2);
  // Once the interval since their last notification is over, this restock reaches them.
  EXPECT_EQ(h.timer_times(), (std::vector<std::int64_t>{t1 + 3 * day}));
  h.advance(t1 + 3 * day - 1);
  EXPECT_EQ(h.fx.notified.size(), 2u);
  h.advance(t1 + 3 * day);
  ASSERT_EQ(h.customers(), (strings{"a", "b", "a", "b"}));
  EXPECT_EQ(h.fx.notified[2].ts_ms, t1 + 3 * day);
  EXPECT_EQ(h.fx.notified[2].notification_id,
            schemas::make_id("back_in_stock", "a", "sku-1/" + second));
  EXPECT_NE(h.fx.notified[2].notification_id, h.fx.notified[0].notification_id);
  EXPECT_EQ(h.fx.notified[0].notification_id,
            schemas::make_id("back_in_stock", "a", "sku-1/" + first));
  EXPECT_EQ(h.suppressed(inventory_suppression::renotify_interval), 2);
}

TEST(InventoryTest, ExpiredSubscriptionsAreDroppedAndCounted) {
  harness h;
  h.stock(t0, 0);
  h.notify("old", t0);
  h.notify("edge", t0 + 1);
  h.notify("fresh", t0 + 20 * day);
  h.stock(t0 + 30 * day, 2);  // "old" is exactly 30 days old: expired
  EXPECT_EQ(h.customers(), (strings{"edge", "fresh"}));
  EXPECT_EQ(h.suppressed(inventory_suppression::subscription_expired), 1);
  EXPECT_EQ(h.waiting(), (strings{"edge", "fresh"}));
}

TEST(InventoryTest, ExpiredRequestLeavesTheWaitlistEvenWithoutARestock) {
  harness h;
  h.stock(t0, 5);
  h.notify("a", t0);
  h.notify("b", t0 + 31 * day);
  EXPECT_EQ(h.waiting(), (strings{"b"}));
  EXPECT_EQ(h.suppressed(inventory_suppression::subscription_expired), 1);
  EXPECT_TRUE(h.fx.notified.empty());
}

TEST(InventoryTest, BuyerLeavesTheWaitlistAndFreesASlot) {
  harness h(ratio(1));
  h.stock(t0, 0);
  h.notify("a", t0 + minute);
  h.notify("b", t0 + 2 * minute);
  h.notify("c", t0 + 3 * minute);
  h.stock(t0 + hour, 1);
  ASSERT_EQ(h.customers(), (strings{"a"}));
  h.sold("c", t0 + 2 * hour);  // bought before their turn: never notified
  EXPECT_EQ(h.customers(), (strings{"a"})) << "a's notification is still outstanding";
  h.sold("a", t0 + 3 * hour);  // a acted on it: the slot goes to the next waiter
  ASSERT_EQ(h.customers(), (strings{"a", "b"}));
  EXPECT_EQ(h.fx.notified[1].ts_ms, t0 + 3 * hour);
  EXPECT_EQ(h.suppressed(inventory_suppression::bought), 2);
  EXPECT_EQ(h.waiting(), (strings{"b"}));
  h.advance(t0 + 20 * day);
  EXPECT_EQ(h.fx.notified.size(), 2u);
}

TEST(InventoryTest, RequestMadeBeforeAPurchaseButArrivingAfterItIsIgnored) {
  // Orders and waitlist requests travel on different topics: a customer's purchase can reach
  // the SKU task before the request they made earlier.
  harness h;
  h.stock(t0, 0);
  h.sold("early-bird", t0 + 2 * minute);
  h.notify("early-bird", t0 + minute);  // asked at +1 min, bought at +2 min
  h.notify("later", t0 + 3 * minute);
  EXPECT_EQ(h.waiting(), (strings{"later"}));
  EXPECT_EQ(h.suppressed(inventory_suppression::bought), 1);
  h.notify("early-bird", t0 + 5 * minute);  // asking again after the purchase counts
  h.stock(t0 + hour, 10);
  EXPECT_EQ(h.customers(), (strings{"later", "early-bird"}));
}

TEST(InventoryTest, BuyersAreForgottenAfterTheSubscriptionAgeAndBounded) {
  inventory_config c;
  c.max_remembered_buyers = 3;
  harness h(c);
  for (int i = 0; i < 5; ++i) h.sold("b" + std::to_string(i), t0 + i * minute);
  ASSERT_NE(h.skus.find("sku-1"), nullptr);
  const auto& buyers = h.skus.find("sku-1")->buyers;
  ASSERT_EQ(buyers.size(), 3u);
  EXPECT_EQ(buyers[0].customer_id, "b4") << "the most recent are kept";
  h.sold("late", t0 + 40 * day);
  ASSERT_EQ(h.skus.find("sku-1")->buyers.size(), 1u) << "older than the subscription age";
}

TEST(InventoryTest, SaleOfACustomerWhoWasNotWaitingCountsNothing) {
  harness h;
  h.stock(t0, 4);
  h.sold("walk-in", t0 + minute, 2);
  EXPECT_EQ(h.suppressed(inventory_suppression::bought), 0);
  EXPECT_TRUE(h.fx.notified.empty());
}

TEST(InventoryTest, EachCustomerAtMostOncePerRestockAndTopUpWhenNotificationsExpire) {
  harness h;
  h.stock(t0, 0);
  h.notify("a", t0 + minute);
  h.notify("b", t0 + 2 * minute);
  h.notify("c", t0 + 3 * minute);
  const std::int64_t t1 = t0 + hour;
  h.stock(t1, 1);
  ASSERT_EQ(h.customers(), (strings{"a", "b"}));
  h.advance(t1 + day - 1);
  EXPECT_EQ(h.fx.notified.size(), 2u);
  h.advance(t1 + day);  // a's and b's windows ended: c's turn, a and b are not told again
  ASSERT_EQ(h.customers(), (strings{"a", "b", "c"}));
  EXPECT_EQ(h.fx.notified[2].ts_ms, t1 + day);
  EXPECT_EQ(h.fx.notified[2].available, 1);
  EXPECT_TRUE(h.timers.pending.empty());
  h.stock(t1 + day + hour, 10);
  h.advance(t1 + 10 * day);
  EXPECT_EQ(h.fx.notified.size(), 3u);
}

TEST(InventoryTest, OncePerRestockHoldsEvenWithAShortRenotifyInterval) {
  inventory_config cfg;
  cfg.renotify_interval_ms = hour;  // shorter than the response window
  harness h(cfg);
  h.stock(t0, 0);
  h.notify("a", t0 + minute);
  h.notify("b", t0 + 2 * minute);
  h.notify("c", t0 + 3 * minute);
  const std::int64_t t1 = t0 + hour;
  h.stock(t1, 1);
  h.advance(t1 + 10 * day);
  h.stock(t1 + 10 * day, 5);
  EXPECT_EQ(h.customers(), (strings{"a", "b", "c"}));
  EXPECT_EQ(h.suppressed(inventory_suppression::renotify_interval), 0);
}

TEST(InventoryTest, RequestExpiringDuringItsRestockDoesNotGetASecondNotification) {
  inventory_config cfg;
  cfg.renotify_interval_ms = hour;
  harness h(cfg);
  h.stock(t0, 0);
  h.notify("a", t0);
  h.notify("b", t0 + minute);
  h.stock(t0 + 29 * day, 1);
  ASSERT_EQ(h.customers(), (strings{"a", "b"}));
  h.notify("a", t0 + 31 * day);  // a's first request is 31 days old, but a was told this restock
  h.stock(t0 + 31 * day + minute, 3);
  EXPECT_EQ(h.customers(), (strings{"a", "b"}));
  EXPECT_EQ(h.suppressed(inventory_suppression::subscription_expired), 0);
  h.stock(t0 + 32 * day, 0);  // the restock is over: the old requests can go now
  EXPECT_EQ(h.suppressed(inventory_suppression::subscription_expired), 2);
  EXPECT_TRUE(h.state().waiters.empty());
}

TEST(InventoryTest, RisingStockTopsUpAtOnce) {
  harness h;
  h.stock(t0, 0);
  for (int i = 1; i <= 5; ++i) h.notify("w" + std::to_string(i), t0 + i * minute);
  const std::int64_t t1 = t0 + hour;
  h.stock(t1, 1);
  ASSERT_EQ(h.customers(), (strings{"w1", "w2"}));
  h.stock(t1 + hour, 2);
  ASSERT_EQ(h.customers(), (strings{"w1", "w2", "w3", "w4"}));
  EXPECT_EQ(h.fx.notified[2].available, 2);
  EXPECT_EQ(h.fx.notified[2].ts_ms, t1 + hour);
  EXPECT_EQ(h.timer_times(), (std::vector<std::int64_t>{t1 + day})) << "the earliest expiry";
}

TEST(InventoryTest, NewWaiterIsNotifiedAtOnceWhileUnderTheCap) {
  harness h;
  h.stock(t0, 0);
  h.notify("a", t0 + minute);
  h.stock(t0 + hour, 3);
  ASSERT_EQ(h.customers(), (strings{"a"}));
  h.notify("b", t0 + 2 * hour);
  ASSERT_EQ(h.customers(), (strings{"a", "b"}));
  EXPECT_EQ(h.fx.notified[1].ts_ms, t0 + 2 * hour);
  EXPECT_EQ(h.fx.notified[1].available, 3);
}

TEST(InventoryTest, NothingOnceStockIsZeroAgain) {
  harness h(ratio(1));
  h.stock(t0, 0);
  h.notify("a", t0 + minute);
  h.notify("b", t0 + 2 * minute);
  h.notify("c", t0 + 3 * minute);
  const std::int64_t t1 = t0 + hour;
  h.stock(t1, 1);
  ASSERT_EQ(h.customers(), (strings{"a"}));
  EXPECT_EQ(h.timer_times(), (std::vector<std::int64_t>{t1 + day}));
  h.stock(t1 + hour, 0);
  EXPECT_TRUE(h.timers.pending.empty()) << "no stale top-up timer";
  EXPECT_EQ(h.state().timer_ms, 0);
  EXPECT_TRUE(h.state().restock_id.empty());
  EXPECT_EQ(h.suppressed(inventory_suppression::sold_out), 1);
  h.notify("d", t1 + 2 * hour);
  h.sold("a", t1 + 3 * hour);
  h.advance(t1 + 5 * day);
  EXPECT_EQ(h.customers(), (strings{"a"}));
  EXPECT_EQ(h.waiting(), (strings{"b", "c", "d"})) << "they wait for the next restock";
}

TEST(InventoryTest, WaitersLeftFromARestockAreServedByTheNext) {
  harness h(ratio(1));
  h.stock(t0, 0);
  h.notify("a", t0 + minute);
  h.notify("b", t0 + 2 * minute);
  h.stock(t0 + hour, 1);
  h.stock(t0 + 2 * hour, 0);
  h.stock(t0 + 3 * hour, 1);  // a is inside the renotify interval: b's turn
  EXPECT_EQ(h.customers(), (strings{"a", "b"}));
  EXPECT_EQ(h.suppressed(inventory_suppression::renotify_interval), 1);
}

TEST(InventoryTest, WishlistAddWaitsToo) {
  harness h;
  h.stock(t0, 0);
  h.signal(kind::wishlist_add, "a", t0 + minute);
  h.stock(t0 + hour, 1);
  EXPECT_EQ(h.customers(), (strings{"a"}));
}

TEST(InventoryTest, DuplicateRequestKeepsTheOlderOne) {
  harness h(ratio(1));
  h.stock(t0, 0);
  h.notify("a", t0 + 10 * minute);
  h.notify("b", t0 + 15 * minute);
  h.notify("a", t0 + 20 * minute);  // asking again does not move a back
  h.signal(kind::wishlist_add, "c", t0 + 30 * minute);
  h.notify("c", t0 + 5 * minute);  // an earlier request arriving late moves c forward
  const auto& ws = h.state().waiters;
  ASSERT_EQ(h.waiting(), (strings{"c", "a", "b"}));
  EXPECT_EQ(ws[0].requested_ms, t0 + 5 * minute);
  EXPECT_EQ(ws[1].requested_ms, t0 + 10 * minute);
  EXPECT_EQ(ws[2].requested_ms, t0 + 15 * minute);
  h.stock(t0 + hour, 2);
  EXPECT_EQ(h.customers(), (strings{"c", "a"}));
}

TEST(InventoryTest, FirstStockEventStartsARestockOnlyWhenSomeoneWaits) {
  harness h;
  h.notify("a", t0, "sku-a");  // SKU not seen yet
  h.stock(t0 + hour, 4, "L1", std::nullopt, "sku-a");
  EXPECT_EQ(h.customers(), (strings{"a"}));

  h.stock(t0, 4, "L1", std::nullopt, "sku-b");  // nobody waits: just the starting level
  h.notify("b", t0 + hour, "sku-b");
  EXPECT_EQ(h.customers(), (strings{"a"}));
  h.stock(t0 + 2 * hour, 0, "L1", std::nullopt, "sku-b");
  h.stock(t0 + 3 * hour, 4, "L1", std::nullopt, "sku-b");
  EXPECT_EQ(h.customers(), (strings{"a", "b"}));
  EXPECT_EQ(h.fx.notified[1].sku, "sku-b");
}

TEST(InventoryTest, AvailableIsTheSumOfTheLatestLevelPerLocation) {
  inventory_config cfg;
  cfg.default_low_stock_threshold = 1;
  harness h(cfg);
  h.stock(t0, 3, "L1");
  h.stock(t0 + minute, 4, "L2");
  EXPECT_EQ(h.state().available, 7);
  h.stock(t0 - minute, 0, "L1");  // older than L1's level: ignored
  EXPECT_EQ(h.state().available, 7);
  EXPECT_EQ(h.state().locations[0].ts_ms, t0);
  h.stock(t0 + 2 * minute, 0, "L2");
  EXPECT_EQ(h.state().available, 3);
  EXPECT_TRUE(h.fx.alerts.empty());
  h.notify("a", t0 + 3 * minute);
  h.stock(t0 + 4 * minute, 0, "L1");
  EXPECT_EQ(h.state().available, 0);
  ASSERT_EQ(h.fx.alerts.size(), 1u);
  EXPECT_TRUE(h.fx.alerts[0].out_of_stock);
  h.stock(t0 + 5 * minute, 2, "L2");
  h.stock(t0 + 6 * minute, 5, "L3");
  ASSERT_EQ(h.customers(), (strings{"a"}));
  EXPECT_EQ(h.fx.notified[0].available, 2);
  EXPECT_EQ(h.state().available, 7);
}

TEST(InventoryTest, StaleTimerIsIgnored) {
  harness h(ratio(1));
  h.stock(t0, 0);
  h.notify("a", t0 + minute);
  h.notify("b", t0 + 2 * minute);
  h.stock(t0 + hour, 1);
  ASSERT_EQ(h.customers(), (strings{"a"}));
  h.op.on_timer("sku-1", t0 + hour + day - 1, "t", h.skus, h.timers, h.fx);  // not the armed time
  h.op.on_timer("sku-1", t0 + hour + day, "x", h.skus, h.timers, h.fx);      // not our payload
  h.op.on_timer("sku-9", t0 + hour + day, "t", h.skus, h.timers, h.fx);      // unknown SKU
  EXPECT_EQ(h.customers(), (strings{"a"}));
  EXPECT_EQ(h.timer_times(), (std::vector<std::int64_t>{t0 + hour + day}));
}

TEST(InventoryTest, TopUpTimerIsReplacedNotDuplicated) {
  harness h(ratio(1));
  h.stock(t0, 0);
  h.notify("a", t0 + minute);
  h.notify("b", t0 + 2 * minute);
  h.notify("c", t0 + 3 * minute);
  const std::int64_t t1 = t0 + hour;
  h.stock(t1, 1);
  EXPECT_EQ(h.timer_times(), (std::vector<std::int64_t>{t1 + day}));
  h.sold("a", t1 + hour);
  ASSERT_EQ(h.customers(), (strings{"a", "b"}));
  EXPECT_EQ(h.timer_times(), (std::vector<std::int64_t>{t1 + hour + day}));
  h.advance(t1 + hour + day);
  EXPECT_EQ(h.customers(), (strings{"a", "b", "c"}));
  EXPECT_TRUE(h.timers.pending.empty());
}

TEST(InventoryTest, NotificationIdsAreDeterministicAndDistinct) {
  auto run = [] {
    harness h(ratio(1));
    h.stock(t0, 0);
    h.notify("a", t0 + minute);
    h.notify("b", t0 + 2 * minute);
    h.stock(t0 + hour, 1);
    h.advance(t0 + hour + day);
    return h.fx;
  };
  const auto x = run(), y = run();
  ASSERT_EQ(x.notified.size(), 2u);
  ASSERT_EQ(x.alerts.size(), 1u);  // out_of_stock; 0 -> 1 stays below the low threshold
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(x.notified[i].notification_id, y.notified[i].notification_id);
    EXPECT_EQ(x.notified[i].notification_id.size(), 32u);
  }
  EXPECT_NE(x.notified[0].notification_id, x.notified[1].notification_id);
  EXPECT_EQ(x.notified[1].notification_id, schemas::make_id("back_in_stock", "b", "sku-1/s4"));
  EXPECT_EQ(x.alerts[0].notification_id, y.alerts[0].notification_id);
  EXPECT_EQ(x.alerts[0].notification_id, schemas::make_id("out_of_stock", "sku-1", "s1"));
}

// ---- low / out of stock ---------------------------------------------------------------------

TEST(InventoryTest, LowStockOncePerCrossingWithHysteresis) {
  harness h;
  h.stock(t0, 10);
  const std::string first = h.stock(t0 + 1 * minute, 4);
  h.stock(t0 + 2 * minute, 3);
  h.stock(t0 + 3 * minute, 5);  // back at the threshold: re-armed
  const std::string second = h.stock(t0 + 4 * minute, 4);
  h.stock(t0 + 5 * minute, 6);
  const std::string third = h.stock(t0 + 6 * minute, 2);
  ASSERT_EQ(h.fx.alerts.size(), 3u);
  const std::vector<std::pair<std::string, std::int64_t>> want = {
      {first, 4}, {second, 4}, {third, 2}};
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& a = h.fx.alerts[i];
    EXPECT_FALSE(a.out_of_stock);
    EXPECT_EQ(a.notification_id, schemas::make_id("low_stock", "sku-1", want[i].first));
    EXPECT_EQ(a.sku, "sku-1");
    EXPECT_EQ(a.available, want[i].second);
    EXPECT_EQ(a.threshold, 5);
    EXPECT_FALSE(a.units_sold_per_day.has_value());
    EXPECT_FALSE(a.days_of_cover.has_value());
  }
  EXPECT_EQ(h.fx.alerts[2].ts_ms, t0 + 6 * minute);
}

TEST(InventoryTest, AtTheThresholdIsNotLowBelowItIs) {
  // As the schemas say (low_stock, stock_level.low_stock_threshold): strictly below.
  harness h;
  h.stock(t0, 5);  // the default threshold
  EXPECT_TRUE(h.fx.alerts.empty());
  h.stock(t0 + minute, 4);
  ASSERT_EQ(h.fx.alerts.size(), 1u);
  EXPECT_FALSE(h.fx.alerts[0].out_of_stock);
  EXPECT_EQ(h.fx.alerts[0].threshold, 5);
}

TEST(InventoryTest, FirstStockEventAlreadyBelowThresholdAlerts) {
  harness h;
  h.stock(t0, 3, "L1", std::nullopt, "sku-a");
  h.stock(t0, 0, "L1", std::nullopt, "sku-b");
  ASSERT_EQ(h.fx.alerts.size(), 2u);
  EXPECT_FALSE(h.fx.alerts[0].out_of_stock);
  EXPECT_EQ(h.fx.alerts[0].sku, "sku-a");
  EXPECT_TRUE(h.fx.alerts[1].out_of_stock) << "only the stronger alert";
  EXPECT_EQ(h.fx.alerts[1].sku, "sku-b");
}

TEST(InventoryTest, OutOfStockOnceAtZeroAndRearmedAboveZero) {
  harness h;
  h.stock(t0, 10);
  const std::string out1 = h.stock(t0 + 1 * minute, 0);  // straight past the threshold
  h.stock(t0 + 2 * minute, 0);
  h.stock(t0 + 3 * minute, 2);  // still below the threshold: no new low_stock
  const std::string out2 = h.stock(t0 + 4 * minute, 0);
  h.stock(t0 + 5 * minute, 10);
  const std::string low = h.stock(t0 + 6 * minute, 3);
  const std::string out3 = h.stock(t0 + 7 * minute, 0);
  ASSERT_EQ(h.fx.alerts.size(), 4u);
  const std::vector<std::pair<bool, std::string>> want = {
      {true, out1}, {true, out2}, {false, low}, {true, out3}};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(h.fx.alerts[i].out_of_stock, want[i].first) << i;
    EXPECT_EQ(
        h.fx.alerts[i].notification_id,
        schemas::make_id(want[i].first ? "out_of_stock" : "low_stock", "sku-1", want[i].second))
        << i;
  }
  EXPECT_EQ(h.fx.alerts[0].available, 0);
  EXPECT_EQ(h.fx.alerts[0].threshold, 5);
  EXPECT_EQ(h.fx.alerts[0].ts_ms, t0 + minute);
}

TEST(InventoryTest, ThresholdFromTheEventOverridesTheDefault) {
  inventory_config cfg;
  cfg.default_low_stock_threshold = 8;
  harness h(cfg);
  h.stock(t0, 9);
  h.stock(t0 + 1 * minute, 7);
  h.stock(t0 + 2 * minute, 30, "L1", 20);
  h.stock(t0 + 3 * minute, 19);  // no threshold: the last one given still holds
  h.stock(t0 + 4 * minute, 25);
  h.stock(t0 + 5 * minute, 22, "L1", 24);
  ASSERT_EQ(h.fx.alerts.size(), 3u);
  EXPECT_EQ(h.fx.alerts[0].available, 7);
  EXPECT_EQ(h.fx.alerts[0].threshold, 8);
  EXPECT_EQ(h.fx.alerts[1].available, 19);
  EXPECT_EQ(h.fx.alerts[1].threshold, 20);
  EXPECT_EQ(h.fx.alerts[2].available, 22);
  EXPECT_EQ(h.fx.alerts[2].threshold, 24);
}

TEST(InventoryTest, LateStockEventAtALocationGivesNoAlert) {
  harness h;
  h.stock(t0, 10);
  h.stock(t0 - minute, 0);
  EXPECT_TRUE(h.fx.alerts.empty());
  EXPECT_EQ(h.state().available, 10);
}

TEST(InventoryTest, AlertsCarryVelocityAndDaysOfCover) {
  inventory_config cfg;
  cfg.default_low_stock_threshold = 10;
  harness h(cfg);
  const std::int64_t d0 = t0 / day * day + hour;  // one hour into a day
  h.sold("x", d0 - 8 * day, 100);                 // outside the 7-day window
  h.sold("x", d0 - 7 * day, 50);                  // the day just before the window
  h.sold("x", d0 - 6 * day, 7);
  h.sold("x", d0 - 1 * day, 7);
  h.sold("x", d0, 10);
  h.sold("x", d0 + 2 * hour, 4);
  h.stock(d0 + 3 * hour, 8);
  h.stock(d0 + 4 * hour, 0);
  h.stock(d0 + 5 * hour, 3, "L1", std::nullopt, "sku-2");  // no sales
  ASSERT_EQ(h.fx.alerts.size(), 3u);
  const auto& low = h.fx.alerts[0];
  EXPECT_FALSE(low.out_of_stock);
  ASSERT_TRUE(low.units_sold_per_day.has_value());
  EXPECT_DOUBLE_EQ(*low.units_sold_per_day, 4.0);  // 28 units / 7 days
  ASSERT_TRUE(low.days_of_cover.has_value());
  EXPECT_DOUBLE_EQ(*low.days_of_cover, 2.0);
  const auto& out = h.fx.alerts[1];
  EXPECT_TRUE(out.out_of_stock);
  EXPECT_DOUBLE_EQ(out.units_sold_per_day.value_or(-1), 4.0);
  EXPECT_DOUBLE_EQ(out.days_of_cover.value_or(-1), 0.0);
  EXPECT_FALSE(h.fx.alerts[2].units_sold_per_day.has_value());
  EXPECT_FALSE(h.fx.alerts[2].days_of_cover.has_value());
  ASSERT_EQ(h.state().sales.size(), 3u);
  EXPECT_EQ(h.state().sales[0].day, d0 / day - 6);
  EXPECT_EQ(h.state().sales[2].units, 14);
}

TEST(InventoryTest, VelocityWindowEndsAtTheNewestDaySeen) {
  inventory_config cfg;
  cfg.default_low_stock_threshold = 10;
  harness h(cfg);
  const std::int64_t d0 = t0 / day * day + hour;
  h.sold("x", d0, 14);
  h.stock(d0 + 6 * day, 8);
  ASSERT_EQ(h.fx.alerts.size(), 1u);
  EXPECT_DOUBLE_EQ(h.fx.alerts[0].units_sold_per_day.value_or(-1), 2.0);
  EXPECT_DOUBLE_EQ(h.fx.alerts[0].days_of_cover.value_or(-1), 4.0);
  h.stock(d0 + 7 * day, 10);
  h.stock(d0 + 7 * day + hour, 8);
  ASSERT_EQ(h.fx.alerts.size(), 2u);
  EXPECT_FALSE(h.fx.alerts[1].units_sold_per_day.has_value());
  EXPECT_TRUE(h.state().sales.empty());
  h.sold("y", d0, 3);  // a late sale from before the window is not counted
  EXPECT_TRUE(h.state().sales.empty());
  h.sold("y", d0 + day, 3);  // a late one inside it is
  ASSERT_EQ(h.state().sales.size(), 1u);
  EXPECT_EQ(h.state().sales[0].day, d0 / day + 1);
}

TEST(InventoryTest, UnknownSignalKindIsIgnored) {
  harness h;
  sku_signal s;
  s.type = static_cast<kind>(9);
  s.sku = "sku-1";
  s.customer_id = "a";
  h.op.on_signal(s, h.skus, h.timers, h.fx);
  EXPECT_TRUE(h.skus.values.empty());
}

TEST(InventoryTest, SuppressionLabels) {
  EXPECT_EQ(to_string(inventory_suppression::subscription_expired), "subscription_expired");
  EXPECT_EQ(to_string(inventory_suppression::bought), "bought");
  EXPECT_EQ(to_string(inventory_suppression::renotify_interval), "renotify_interval");
  EXPECT_EQ(to_string(inventory_suppression::sold_out), "sold_out");
}

// ---- codecs ---------------------------------------------------------------------------------

TEST(SkuSignalTest, EncodeDecodeRoundTrip) {
  for (kind k : {kind::notify_me, kind::wishlist_add, kind::sold, kind::view, kind::cart_add}) {
    sku_signal s;
    s.type = k;
    s.sku = "sku-1";
    s.customer_id = "c-42";
    s.quantity = k == kind::sold || k == kind::cart_add ? 3 : 0;
    s.ts_ms = t0;
    s.event_id = "order-7/1";
    s.price = k == kind::view || k == kind::cart_add ? 19.99 : 0;
    if (k == kind::cart_add) s.cart_id = "cart-9";
    std::string bytes;
    s.encode(bytes);
    EXPECT_EQ(static_cast<std::uint8_t>(bytes[0]), 3) << "format version byte";
    sku_signal back;
    ASSERT_TRUE(sku_signal::decode(bytes, back));
    EXPECT_EQ(back, s);
  }
}

TEST(SkuSignalTest, DecodeRejectsUnknownVersionKindTruncationAndTrailingBytes) {
  sku_signal s;
  s.type = kind::sold;
  s.sku = "x";
  s.customer_id = "c";
  s.quantity = 1;
  std::string bytes;
  s.encode(bytes);
  sku_signal out;
  std::string bad = bytes;
  bad[0] = 9;
  EXPECT_FALSE(sku_signal::decode(bad, out));
  bad = bytes;
  bad[1] = 7;  // 6 is the watermark marker
  EXPECT_FALSE(sku_signal::decode(bad, out));
  bad[1] = 0;
  EXPECT_FALSE(sku_signal::decode(bad, out));
  for (std::size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(sku_signal::decode(std::string_view(bytes).substr(0, n), out)) << n;
  EXPECT_FALSE(sku_signal::decode(bytes + "x", out));
}

sku_signal signal_of(kind type, std::int64_t quantity, std::string event_id, double price,
                     std::string cart_id = {}) {
  sku_signal s;
  s.type = type;
  s.sku = "x";
  s.customer_id = "c";
  s.quantity = quantity;
  s.ts_ms = t0;
  s.event_id = std::move(event_id);
  s.price = price;
  s.cart_id = std::move(cart_id);
  return s;
}

TEST(SkuSignalTest, DecodesVersionOneRecordsWithoutAPrice) {
  // Records written before the price was added (still in the topic after an upgrade).
  const sku_signal s = signal_of(kind::sold, 2, "o/0", 5);
  std::string bytes;
  s.encode(bytes);
  std::string v1 = bytes.substr(0, bytes.size() - 9);  // drop the price and the cart id
  v1[0] = 1;
  sku_signal back;
  ASSERT_TRUE(sku_signal::decode(v1, back));
  EXPECT_EQ(back.quantity, 2);
  EXPECT_EQ(back.event_id, "o/0");
  EXPECT_EQ(back.price, 0);
  EXPECT_FALSE(sku_signal::decode(v1 + std::string(8, '\0'), back)) << "v1 has no price";
}

TEST(SkuSignalTest, CarriesTheCartIdOfACartAddAndReadsVersionTwoWithout) {
  const sku_signal s = signal_of(kind::cart_add, 720, "a1", 2.5, "cart-17");
  std::string bytes;
  s.encode(bytes);
  sku_signal back;
  ASSERT_TRUE(sku_signal::decode(bytes, back));
  EXPECT_EQ(back.cart_id, "cart-17");
  std::string v2 = bytes.substr(0, bytes.size() - 8);  // drop the cart id (length + 7 bytes)
  v2[0] = 2;
  ASSERT_TRUE(sku_signal::decode(v2, back));
  EXPECT_EQ(back.cart_id, "");
  EXPECT_EQ(back.price, 2.5);
}

sku_state full_state() {
  sku_state s;
  s.locations = {{"L1", 3, t0}, {"L2", 0, t0 - 5}};
  s.available = 3;
  s.known = true;
  s.threshold = 12;
  s.low_alerted = true;
  s.out_alerted = false;
  s.restock_id = "s9";
  s.sales = {{19000, 4}, {19002, 1}};
  s.waiters = {{"a", t0 - day, t0, "s9"}, {"b", t0 - hour, 0, ""}};
  s.buyers = {{"c", t0 - minute}, {"d", t0}};
  s.timer_ms = t0 + day;
  return s;
}

TEST(SkuStateTest, EncodeDecodeRoundTrip) {
  const sku_state s = full_state();
  std::string bytes;
  s.encode(bytes);
  EXPECT_EQ(static_cast<std::uint8_t>(bytes[0]), 1) << "format version byte";
  sku_state back;
  ASSERT_TRUE(sku_state::decode(bytes, back));
  EXPECT_EQ(back, s);

  sku_state plain;  // no threshold: decoding into a used value must clear it
  bytes.clear();
  plain.encode(bytes);
  ASSERT_TRUE(sku_state::decode(bytes, back));
  EXPECT_EQ(back, plain);
}

TEST(SkuStateTest, StateOfARunRoundTrips) {
  harness h;
  h.stock(t0, 0);
  h.notify("a", t0 + minute);
  h.notify("b", t0 + 2 * minute);
  h.notify("c", t0 + 3 * minute);
  h.sold("z", t0 + 4 * minute, 2);
  h.stock(t0 + hour, 1, "L2", 4);
  std::string bytes;
  h.state().encode(bytes);
  sku_state back;
  ASSERT_TRUE(sku_state::decode(bytes, back));
  EXPECT_EQ(back, h.state());
}

TEST(SkuStateTest, DecodeRejectsUnknownVersionFlagsTruncationAndTrailingBytes) {
  std::string bytes;
  full_state().encode(bytes);
  sku_state out;
  std::string bad = bytes;
  bad[0] = 2;
  EXPECT_FALSE(sku_state::decode(bad, out));
  for (std::size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(sku_state::decode(std::string_view(bytes).substr(0, n), out)) << n;
  EXPECT_FALSE(sku_state::decode(bytes + "x", out));

  std::string empty;
  sku_state{}.encode(empty);
  // version, locations, available, flags, restock id, sales, waiters, timer, buyers
  ASSERT_EQ(empty.size(), 9u);
  ASSERT_EQ(empty[3], 0) << "the flags byte";
  empty[3] = 0x10;
  EXPECT_FALSE(sku_state::decode(empty, out));
}

}  // namespace
}  // namespace herald::rules

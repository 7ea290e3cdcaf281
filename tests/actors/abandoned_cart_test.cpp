#include "herald/actors/rules/abandoned_cart.hpp"

#include <map>

#include <gtest/gtest.h>

#include "fakes.hpp"
#include "herald/state/bytes.hpp"

namespace herald::rules {
namespace {

using schemas::event;
using schemas::event_type;

using test::day;
using test::fake_timers;
using test::hour;
using test::minute;
using test::t0;

using fake_carts = test::fake_state<customer_carts>;

struct fake_effects final : cart_effects {
  std::vector<schemas::cart_reminder> sent;
  std::map<suppression, int> suppressed_by;
  void emit(schemas::cart_reminder&& r) override { sent.push_back(std::move(r)); }
  void suppressed(suppression s) override { ++suppressed_by[s]; }
};

struct fake_stock final : stock_view {
  std::map<std::string, std::int64_t, std::less<>> levels;
  std::optional<std::int64_t> available(std::string_view sku, std::int64_t) const override {
    auto it = levels.find(sku);
    return it == levels.end() ? std::nullopt : std::optional<std::int64_t>(it->second);
  }
};

/// Bot flags: customer -> flagged until (event time).
struct fake_audience final : audience_view {
  std::map<std::string, std::int64_t, std::less<>> bot_until;
  bool is_bot(std::string_view customer, std::int64_t now_ms) const override {
    auto it = bot_until.find(customer);
    return it != bot_until.end() && now_ms < it->second;
  }
};

/// Drives the operator like a task does: timers due up to an event's time fire before it.
struct harness {
  abandoned_cart_operator op;
  fake_carts carts;
  fake_timers timers;
  fake_effects fx;
  fake_stock stock;
  fake_audience audience;
  int next_id = 0;

  explicit harness(abandoned_cart_config cfg = {}) : op(std::move(cfg)) {}

  // Fires timers due up to `to`, `now` being when the firing happens (0: at each due time).
  void advance(std::int64_t to, std::int64_t now = 0) {
    timers.fire_until(to, [&](const std::string& key, std::int64_t at, const std::string& payload) {
      op.on_timer(key, at, payload, carts, timers, fx, stock, audience, now);
    });
  }
  void apply(event ev) {
    if (ev.event_id.empty()) ev.event_id = "e" + std::to_string(++next_id);
    advance(ev.ts_ms);
    op.on_event(ev, carts, timers, fx, audience);
  }
  static event base(event_type type, std::int64_t ts, std::string customer = "c1",
                    std::string cart = "cart1") {
    event e;
    e.type = type;
    e.ts_ms = ts;
    e.customer_id = std::move(customer);
    e.cart_id = std::move(cart);
    return e;
  }
  void add(std::int64_t ts, std::string sku = "sku-1", std::int64_t qty = 1, double price = 10,
           std::string customer = "c1", std::string cart = "cart1", bool anonymous = false) {
    event e = base(event_type::cart_item_added, ts, std::move(customer), std::move(cart));
    e.sku = std::move(sku);
    e.quantity = qty;
    e.unit_price = price;
    e.currency = "EUR";
    e.anonymous = anonymous;
    apply(std::move(e));
  }
  void remove(std::int64_t ts, std::string sku, std::int64_t qty = 0) {
    event e = base(event_type::cart_item_removed, ts);
    e.sku = std::move(sku);
    e.quantity = qty;
    apply(std::move(e));
  }
  void order(std::int64_t ts, std::string cart = "cart1") {
    event e = base(event_type::order_placed, ts, "c1", std::move(cart));
    e.order_id = "o1";
    apply(std::move(e));
  }
  int suppressed(suppression s) { return fx.suppressed_by[s]; }
};

TEST(AbandonedCartTest, FirstReminderAfterOneHourOfInactivity) {
  harness h;
  h.add(t0, "sku-1", 2, 10.5);
  h.advance(t0 + hour - 1);
  EXPECT_TRUE(h.fx.sent.empty());
  h.advance(t0 + hour);
  ASSERT_EQ(h.fx.sent.size(), 1u);
  const auto& r = h.fx.sent[0];
  EXPECT_EQ(r.reminder_number, 1);
  EXPECT_EQ(r.customer_id, "c1");
  EXPECT_EQ(r.cart_id, "cart1");
  EXPECT_EQ(r.ts_ms, t0 + hour);
  ASSERT_EQ(r.lines.size(), 1u);
  EXPECT_EQ(r.lines[0].sku, "sku-1");
  EXPECT_EQ(r.lines[0].quantity, 2);
  EXPECT_DOUBLE_EQ(r.cart_value, 21.0);
  EXPECT_EQ(r.currency, "EUR");
  EXPECT_TRUE(r.coupon.empty());
}

TEST(AbandonedCartTest, SecondReminderAfterADayCarriesCoupon) {
  harness h;
  h.add(t0);
  h.advance(t0 + day - 1);
  ASSERT_EQ(h.fx.sent.size(), 1u);
  h.advance(t0 + day);
  ASSERT_EQ(h.fx.sent.size(), 2u);
  EXPECT_EQ(h.fx.sent[1].reminder_number, 2);
  EXPECT_EQ(h.fx.sent[1].coupon, "COMEBACK10");
}

// Under at-least-once a crash can leave the carts' changelog one commit ahead of the timers':
// restored, the cart says reminder 1 was sent and reminder 2 is armed, while the timers are
// those before the commit (reminder 1's timer, not reminder 2's). Reminder 1's timer fires
// again and is stale; the cart's own timer is set again, and reminder 2 is not lost.
TEST(AbandonedCartTest, AStaleTimerSetsTheCartsOwnTimerAgainWhenARestoreLostIt) {
  harness h;
  h.add(t0);
  h.advance(t0 + hour);
  ASSERT_EQ(h.fx.sent.size(), 1u);
  auto timers_before = h.timers.pending;  // the commit's timer changes, lost
  ASSERT_EQ(timers_before.size(), 1u);
  const auto [next_at, next_key] = timers_before.begin()->first;
  ASSERT_EQ(next_at, t0 + day);
  h.timers.pending.clear();
  h.timers.schedule(t0 + hour, next_key, timers_before.begin()->second);
  h.advance(t0 + hour);  // the watermark passes reminder 1's due time again
  EXPECT_EQ(h.fx.sent.size(), 1u) << "reminder 1 is not sent again";
  h.advance(t0 + day);
  ASSERT_EQ(h.fx.sent.size(), 2u) << "reminder 2 came back with its timer";
  EXPECT_EQ(h.fx.sent[1].reminder_number, 2);
  EXPECT_EQ(h.fx.sent[1].ts_ms, t0 + day);
}

TEST(AbandonedCartTest, AtMostTwoRemindersPerCart) {
  harness h;
  h.add(t0);
  h.advance(t0 + 30 * day);
  EXPECT_EQ(h.fx.sent.size(), 2u);
}

TEST(AbandonedCartTest, CatchingUpAfterAnOutageKeepsTheStepsApart) {
  harness h;
  h.add(t0);
  // Back after three days: both steps are overdue; the first goes now, the second a day
  // minus an hour later, not at once.
  const std::int64_t back = t0 + 3 * day;
  h.advance(back, back);
  ASSERT_EQ(h.fx.sent.size(), 1u);
  EXPECT_EQ(h.fx.sent[0].ts_ms, t0 + hour) << "stamped with its due time";
  h.advance(back + day - hour - 1, back + day - hour - 1);
  EXPECT_EQ(h.fx.sent.size(), 1u);
  h.advance(back + day - hour, back + day - hour);
  ASSERT_EQ(h.fx.sent.size(), 2u);
  EXPECT_EQ(h.fx.sent[1].reminder_number, 2);
}

TEST(AbandonedCartTest, ConfiguredStepsAndCoupons) {
  abandoned_cart_config cfg;
  cfg.steps = {{30 * minute, ""}, {2 * hour, "A"}, {6 * hour, "B"}};
  harness h(cfg);
  h.add(t0);
  h.advance(t0 + 10 * day);
  ASSERT_EQ(h.fx.sent.size(), 3u);
  EXPECT_EQ(h.fx.sent[0].ts_ms, t0 + 30 * minute);
  EXPECT_EQ(h.fx.sent[1].coupon, "A");
  EXPECT_EQ(h.fx.sent[2].ts_ms, t0 + 6 * hour);
  EXPECT_EQ(h.fx.sent[2].coupon, "B");
}

TEST(AbandonedCartTest, NoReminderAfterOrder) {
  harness h;
  h.add(t0);
  h.order(t0 + 30 * minute);
  h.advance(t0 + 10 * day);
  EXPECT_TRUE(h.fx.sent.empty());
  EXPECT_EQ(h.suppressed(suppression::ordered), 1);
}

TEST(AbandonedCartTest, OrderFromAnotherCartAlsoStopsReminders) {
  harness h;
  h.add(t0);
  h.order(t0 + 30 * minute, "other-cart");
  h.advance(t0 + 10 * day);
  EXPECT_TRUE(h.fx.sent.empty());
}

TEST(AbandonedCartTest, ReminderDueBeforeTheOrderIsSentButNotTheNextOne) {
  harness h;
  h.add(t0);
  h.order(t0 + 2 * hour);  // the 1 h reminder was due before the order
  h.advance(t0 + 10 * day);
  ASSERT_EQ(h.fx.sent.size(), 1u);
  EXPECT_EQ(h.fx.sent[0].reminder_number, 1);
  EXPECT_EQ(h.suppressed(suppression::ordered), 1);
}

TEST(AbandonedCartTest, LateEventOfAnOrderedCartIsIgnored) {
  harness h;
  h.add(t0);
  h.order(t0 + 10 * minute);
  h.add(t0 + 5 * minute, "sku-2");  // replayed / late add of the ordered cart
  h.advance(t0 + 10 * day);
  EXPECT_TRUE(h.fx.sent.empty());
}

TEST(AbandonedCartTest, NoReminderAfterCartCleared) {
  harness h;
  h.add(t0);
  h.apply(harness::base(event_type::cart_cleared, t0 + 10 * minute));
  h.advance(t0 + 10 * day);
  EXPECT_TRUE(h.fx.sent.empty());
  EXPECT_EQ(h.suppressed(suppression::cart_cleared), 1);
}

TEST(AbandonedCartTest, NoReminderWhenEveryItemWasRemoved) {
  harness h;
  h.add(t0, "sku-1", 2);
  h.add(t0 + minute, "sku-2", 1);
  h.remove(t0 + 2 * minute, "sku-1", 1);
  h.remove(t0 + 3 * minute, "sku-1", 1);
  h.remove(t0 + 4 * minute, "sku-2");  // no quantity: all of it
  h.advance(t0 + 10 * day);
  EXPECT_TRUE(h.fx.sent.empty());
  EXPECT_EQ(h.suppressed(suppression::cart_emptied), 1);
}

TEST(AbandonedCartTest, AmountsInDifferentCurrenciesAreNeverAdded) {
  harness h;
  h.add(t0, "sku-a", 1, 10);  // EUR
  event usd = harness::base(event_type::cart_item_added, t0 + 1);
  usd.sku = "sku-b";
  usd.quantity = 1;
  usd.unit_price = 5;
  usd.currency = "USD";  // the storefront switched currency
  h.apply(std::move(usd));
  h.advance(t0 + 1 + hour);
  ASSERT_EQ(h.fx.sent.size(), 1u);
  const auto& r = h.fx.sent[0];
  EXPECT_EQ(r.currency, "USD");
  EXPECT_DOUBLE_EQ(r.cart_value, 5) << "10 EUR + 5 USD is not 15 USD";
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_EQ(r.lines[0].sku, "sku-a");
  EXPECT_EQ(r.lines[0].currency, "EUR") << "listed with its own currency, not counted";
  EXPECT_EQ(r.lines[1].currency, "") << "in the reminder's currency";
}

TEST(AbandonedCartTest, PartialRemovalRemindsWithRemainingLines) {
  harness h;
  h.add(t0, "sku-1", 3, 5);
  h.add(t0 + minute, "sku-2", 1, 7);
  h.remove(t0 + 2 * minute, "sku-1", 1);
  h.advance(t0 + 2 * minute + hour);
  ASSERT_EQ(h.fx.sent.size(), 1u);
  const auto& lines = h.fx.sent[0].lines;
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].quantity, 2);
  EXPECT_DOUBLE_EQ(h.fx.sent[0].cart_value, 2 * 5 + 7);
}

TEST(AbandonedCartTest, AnonymousCartIsTrackedButNeverReminded) {
  harness h;
  h.add(t0, "sku-1", 1, 10, "visitor", "cart-v", true);
  h.advance(t0 + 10 * day);
  EXPECT_TRUE(h.fx.sent.empty());
  EXPECT_EQ(h.suppressed(suppression::anonymous), 1);
}

TEST(AbandonedCartTest, ActivityBeforeTheReminderRearmsTheTimer) {
  harness h;
  h.add(t0);
  h.add(t0 + 50 * minute, "sku-2");
  h.advance(t0 + hour);
  EXPECT_TRUE(h.fx.sent.empty());
  h.advance(t0 + 50 * minute + hour);
  ASSERT_EQ(h.fx.sent.size(), 1u);
  EXPECT_EQ(h.fx.sent[0].lines.size(), 2u);
}

TEST(AbandonedCartTest, CheckoutStartedCountsAsActivity) {
  harness h;
  h.add(t0);
  h.apply(harness::base(event_type::checkout_started, t0 + 30 * minute));
  h.advance(t0 + hour);
  EXPECT_TRUE(h.fx.sent.empty());
  h.advance(t0 + 30 * minute + hour);
  EXPECT_EQ(h.fx.sent.size(), 1u);
}

TEST(AbandonedCartTest, ActivityAfterAReminderRearmsButNeverResetsTheCount) {
  harness h;
  h.add(t0);
  h.advance(t0 + hour);
  ASSERT_EQ(h.fx.sent.size(), 1u);
  const std::int64_t t1 = t0 + 3 * hour;
  h.add(t1, "sku-2");  // re-activated after reminder 1
  h.advance(t1 + hour);
  EXPECT_EQ(h.fx.sent.size(), 1u) << "re-arming must not restart the sequence at reminder 1";
  h.advance(t1 + day);
  ASSERT_EQ(h.fx.sent.size(), 2u);
  EXPECT_EQ(h.fx.sent[1].reminder_number, 2);
  EXPECT_EQ(h.fx.sent[1].ts_ms, t1 + day);
  h.add(t1 + 2 * day, "sku-3");  // activity after the last allowed reminder
  h.advance(t1 + 30 * day);
  EXPECT_EQ(h.fx.sent.size(), 2u);
  EXPECT_EQ(h.suppressed(suppression::max_reminders), 1);
}

TEST(AbandonedCartTest, ANewCartStartsItsOwnCount) {
  harness h;
  h.add(t0);
  h.advance(t0 + 2 * day);
  ASSERT_EQ(h.fx.sent.size(), 2u);
  h.add(t0 + 3 * day, "sku-9", 1, 10, "c1", "cart2");
  h.advance(t0 + 3 * day + hour);
  ASSERT_EQ(h.fx.sent.size(), 3u);
  EXPECT_EQ(h.fx.sent[2].cart_id, "cart2");
  EXPECT_EQ(h.fx.sent[2].reminder_number, 1);
  ASSERT_EQ(h.fx.sent[2].lines.size(), 1u);
  EXPECT_EQ(h.fx.sent[2].lines[0].sku, "sku-9");
}

TEST(AbandonedCartTest, OutOfOrderEventDoesNotMoveTheInactivityClockBack) {
  harness h;
  h.add(t0 + 10 * minute);
  event late = harness::base(event_type::cart_item_added, t0);
  late.sku = "sku-2";
  late.quantity = 1;
  late.event_id = "late";
  h.op.on_event(late, h.carts, h.timers, h.fx);  // applied without advancing time
  h.advance(t0 + 10 * minute + hour);
  ASSERT_EQ(h.fx.sent.size(), 1u);
  EXPECT_EQ(h.fx.sent[0].ts_ms, t0 + 10 * minute + hour);
  EXPECT_EQ(h.fx.sent[0].lines.size(), 2u);
}

TEST(AbandonedCartTest, RemindersForManyCustomersAreIndependent) {
  harness h;
  for (int i = 0; i < 50; ++i) h.add(t0 + i * minute, "sku", 1, 1, "cust" + std::to_string(i), "k");
  h.order(t0 + 55 * minute);  // c1 is not among them: nothing suppressed
  h.advance(t0 + 49 * minute + hour);
  EXPECT_EQ(h.fx.sent.size(), 50u);
}

TEST(AbandonedCartTest, NotificationIdsAreDeterministicAndDistinct) {
  auto run = [] {
    harness h;
    h.add(t0);
    h.advance(t0 + 2 * day);
    return h.fx.sent;
  };
  auto a = run(), b = run();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].notification_id, b[0].notification_id);
  EXPECT_EQ(a[1].notification_id, b[1].notification_id);
  EXPECT_NE(a[0].notification_id, a[1].notification_id);
  EXPECT_EQ(a[0].notification_id.size(), 32u);
}

TEST(AbandonedCartTest, FinishedCartStateIsPurgedAfterRetention) {
  harness h;
  h.add(t0);
  h.order(t0 + minute);
  ASSERT_NE(h.carts.find("c1"), nullptr);
  h.advance(t0 + minute + 7 * day);
  // The cart itself is gone; that it was ordered is remembered compactly, for a year.
  ASSERT_NE(h.carts.find("c1"), nullptr);
  EXPECT_TRUE(h.carts.find("c1")->carts.empty());
  ASSERT_EQ(h.carts.find("c1")->finished.size(), 1u);
  EXPECT_TRUE(h.carts.find("c1")->finished[0].ordered);
  h.advance(t0 + minute + 7 * day + 365 * day);
  EXPECT_EQ(h.carts.find("c1"), nullptr);
  EXPECT_TRUE(h.timers.pending.empty());
}

TEST(AbandonedCartTest, EachCartOfACustomerIsItsOwnFlowAtMostTwoRemindersEver) {
  harness h;
  h.add(t0, "sku-1", 1, 10, "c1", "k1");
  h.advance(t0 + 2 * day);
  ASSERT_EQ(h.fx.sent.size(), 2u);
  h.add(t0 + 2 * day + hour, "sku-2", 1, 10, "c1", "k2");      // a second cart
  h.add(t0 + 2 * day + 2 * hour, "sku-3", 1, 10, "c1", "k1");  // and back to the first
  h.advance(t0 + 10 * day);
  ASSERT_EQ(h.fx.sent.size(), 4u);
  for (std::size_t i = 2; i < 4; ++i) {
    EXPECT_EQ(h.fx.sent[i].cart_id, "k2") << i;
    EXPECT_EQ(h.fx.sent[i].reminder_number, static_cast<int>(i) - 1);
  }
  EXPECT_EQ(h.suppressed(suppression::max_reminders), 1) << "k1 touched after its two";
}

TEST(AbandonedCartTest, ACartIdThatComesBackAfterItsRetentionContinuesItsCount) {
  harness h;
  h.add(t0, "sku-1", 1, 10, "c1", "k1");
  h.advance(t0 + 30 * day);  // both reminders, then the cart's 7 days of retention
  ASSERT_EQ(h.fx.sent.size(), 2u);
  ASSERT_TRUE(h.carts.find("c1")->carts.empty());
  h.add(t0 + 30 * day, "sku-1", 1, 10, "c1", "k1");  // the shop reuses the cart id
  h.advance(t0 + 60 * day);
  EXPECT_EQ(h.fx.sent.size(), 2u) << "never a third reminder for k1";
  EXPECT_EQ(h.suppressed(suppression::max_reminders), 1);
  // After a year it is forgotten, and the id is a new cart.
  h.add(t0 + 500 * day, "sku-1", 1, 10, "c1", "k1");
  h.advance(t0 + 500 * day + hour);
  EXPECT_EQ(h.fx.sent.size(), 3u);
}

TEST(AbandonedCartTest, MoreCartsThanTheLimitFinishTheLeastRecentlyActive) {
  abandoned_cart_config cfg;
  cfg.max_carts = 2;
  harness h(cfg);
  h.add(t0, "sku-1", 1, 10, "c1", "k1");
  h.add(t0 + minute, "sku-2", 1, 10, "c1", "k2");
  h.add(t0 + 2 * minute, "sku-3", 1, 10, "c1", "k3");  // k1 goes
  EXPECT_EQ(h.suppressed(suppression::too_many_carts), 1);
  ASSERT_EQ(h.carts.find("c1")->carts.size(), 2u);
  h.advance(t0 + 2 * minute + hour);
  ASSERT_EQ(h.fx.sent.size(), 2u);
  EXPECT_EQ(h.fx.sent[0].cart_id, "k2");
  EXPECT_EQ(h.fx.sent[1].cart_id, "k3");
}

TEST(AbandonedCartTest, AnOrderNamingOneCartClosesItAndStopsTheOthersPendingReminder) {
  harness h;
  h.add(t0, "sku-1", 1, 10, "c1", "k1");
  h.add(t0 + minute, "sku-2", 1, 10, "c1", "k2");
  h.order(t0 + 10 * minute, "k2");
  h.advance(t0 + 3 * hour);
  EXPECT_TRUE(h.fx.sent.empty());
  EXPECT_EQ(h.suppressed(suppression::ordered), 2);
  h.add(t0 + 4 * hour, "sku-9", 1, 10, "c1", "k2");  // the ordered cart: ignored
  h.add(t0 + 4 * hour, "sku-3", 1, 10, "c1", "k1");  // k1 touched after the order: re-armed
  h.advance(t0 + 6 * hour);
  ASSERT_EQ(h.fx.sent.size(), 1u);
  EXPECT_EQ(h.fx.sent[0].cart_id, "k1");
}

TEST(AbandonedCartTest, TimersOfAnEarlierVersionStillFire) {
  // Before several carts per customer, a reminder timer had the customer as key and "r" as
  // payload, and the state one cart.
  harness h;
  customer_carts& c = h.carts.get_or_create("c1");
  cart_state& cart = c.carts.emplace_back();
  cart.cart_id = "k1";
  cart.currency = "EUR";
  cart.lines = {{"sku-1", 1, 10, "EUR"}};
  cart.last_activity_ms = t0;
  cart.last_event_id = "e1";
  cart.timer_ms = t0 + hour;
  h.timers.schedule(t0 + hour, "c1", "r");
  h.advance(t0 + 2 * day);
  ASSERT_EQ(h.fx.sent.size(), 2u);
  EXPECT_EQ(h.fx.sent[1].reminder_number, 2);
}

TEST(AbandonedCartTest, EveryStoredCartHasExactlyOnePendingTimer) {
  harness h;
  h.add(t0);
  EXPECT_EQ(h.timers.pending.size(), 1u);
  h.advance(t0 + hour);
  EXPECT_EQ(h.timers.pending.size(), 1u);
  h.advance(t0 + day);
  EXPECT_EQ(h.timers.pending.size(), 1u);  // the purge timer
  EXPECT_EQ(h.timers.pending.begin()->second, "p");
}

TEST(AbandonedCartTest, ReminderLeavesOutOutOfStockLines) {
  harness h;
  h.add(t0, "sku-1", 1, 10);
  h.add(t0 + minute, "sku-2", 2, 5);
  h.add(t0 + 2 * minute, "sku-3", 1, 1);
  h.stock.levels = {{"sku-1", 4}, {"sku-2", 0}};  // sku-3 unknown: counts as available
  h.advance(t0 + 2 * minute + hour);
  ASSERT_EQ(h.fx.sent.size(), 1u);
  const auto& r = h.fx.sent[0];
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_EQ(r.lines[0].sku, "sku-1");
  EXPECT_EQ(r.lines[1].sku, "sku-3");
  EXPECT_DOUBLE_EQ(r.cart_value, 11.0) << "value of the lines in the reminder only";
  EXPECT_EQ(h.suppressed(suppression::out_of_stock), 0);
}

TEST(AbandonedCartTest, ReminderSuppressedWhenEveryLineIsOutOfStock) {
  harness h;
  h.add(t0, "sku-1");
  h.add(t0 + minute, "sku-2");
  h.stock.levels = {{"sku-1", 0}, {"sku-2", 0}};
  h.advance(t0 + 10 * day);
  EXPECT_TRUE(h.fx.sent.empty());
  EXPECT_EQ(h.suppressed(suppression::out_of_stock), 1);
  // Back in stock and the customer returns: the suppressed reminder did not count.
  h.stock.levels["sku-2"] = 3;
  h.add(t0 + 11 * day, "sku-2");
  h.advance(t0 + 11 * day + hour);
  ASSERT_EQ(h.fx.sent.size(), 1u);
  EXPECT_EQ(h.fx.sent[0].reminder_number, 1);
  ASSERT_EQ(h.fx.sent[0].lines.size(), 1u);
  EXPECT_EQ(h.fx.sent[0].lines[0].sku, "sku-2");
}

TEST(AbandonedCartTest, NoReminderToACustomerFlaggedAsBot) {
  harness h;
  h.audience.bot_until["c1"] = t0 + 2 * hour;  // flagged while the reminder falls due
  h.add(t0);
  h.advance(t0 + 2 * day);
  EXPECT_TRUE(h.fx.sent.empty());
  EXPECT_EQ(h.suppressed(suppression::bot), 1);
  EXPECT_EQ(to_string(suppression::bot), "bot");
  // The flag expired: the cart touched while flagged is still never reminded; a new cart is,
  // like any returning customer's.
  h.add(t0 + 3 * day, "sku-2");
  h.advance(t0 + 3 * day + hour);
  EXPECT_TRUE(h.fx.sent.empty());
  EXPECT_EQ(h.suppressed(suppression::bot), 2);
  h.add(t0 + 4 * day, "sku-2", 1, 10, "c1", "cart2");
  h.advance(t0 + 4 * day + hour);
  ASSERT_EQ(h.fx.sent.size(), 1u);
  EXPECT_EQ(h.fx.sent[0].reminder_number, 1);
  EXPECT_EQ(h.fx.sent[0].cart_id, "cart2");
  // Another customer is not affected by c1's flag.
  harness other;
  other.audience.bot_until["c9"] = t0 + 10 * day;
  other.add(t0);
  other.advance(t0 + hour);
  EXPECT_EQ(other.fx.sent.size(), 1u);
}

TEST(AbandonedCartTest, ACartTouchedWhileFlaggedIsNotRemindedAfterTheFlagLapses) {
  harness h;
  h.audience.bot_until["c1"] = t0 + 30 * minute;  // the 1 h flag of a scraper, nearly over
  h.add(t0 + 10 * minute);                        // its cart, touched while flagged
  h.advance(t0 + 10 * minute + 2 * day);          // the reminders fall due after the flag
  EXPECT_TRUE(h.fx.sent.empty());
  EXPECT_EQ(h.suppressed(suppression::bot), 1);
}

TEST(CartStateTest, EncodeDecodeRoundTrip) {
  customer_carts c;
  cart_state& s = c.carts.emplace_back();
  s.cart_id = "cart-1";
  s.currency = "EUR";
  s.lines = {{"a", 2, 1.25, "EUR"}, {"b", 1, 99.99, "USD"}};
  s.last_activity_ms = -5;
  s.last_event_id = "ev-9";
  s.reminders_sent = 1;
  s.anonymous = true;
  s.closed = false;
  s.bot = true;
  s.timer_ms = t0;
  c.carts.emplace_back().cart_id = "cart-2";
  c.finished = {{0xfedcba9876543210ull, 2, false, t0 + day}, {7, 0, true, -3}};
  c.purge_ms = t0 + 2 * day;
  std::string bytes;
  c.encode(bytes);
  EXPECT_EQ(static_cast<std::uint8_t>(bytes[0]), 3) << "format version byte";
  customer_carts back;
  ASSERT_TRUE(customer_carts::decode(bytes, back));
  EXPECT_EQ(back, c);
}

TEST(CartStateTest, ReadsTheOneCartOfVersionTwo) {
  // A version 2 value as written before: cart "k", one EUR line, reminded once, purge at 9.
  std::string v;
  state::byte_writer w(v);
  w.u8(2);
  w.str("k");
  w.str("EUR");
  w.varint(1);
  w.str("sku");
  w.svarint(3);
  w.f64(2.5);
  w.str("EUR");
  w.svarint(t0);
  w.str("e7");
  w.svarint(1);
  w.u8(0);
  w.svarint(0);
  w.svarint(9);
  customer_carts c;
  ASSERT_TRUE(customer_carts::decode(v, c));
  ASSERT_EQ(c.carts.size(), 1u);
  EXPECT_EQ(c.carts[0].cart_id, "k");
  EXPECT_EQ(c.carts[0].lines[0].quantity, 3);
  EXPECT_EQ(c.carts[0].reminders_sent, 1);
  EXPECT_EQ(c.purge_ms, 9);
  EXPECT_TRUE(c.finished.empty());
}

TEST(CartStateTest, DecodeRejectsUnknownVersionAndTruncation) {
  customer_carts c;
  c.carts.emplace_back().cart_id = "x";
  c.finished.push_back({1, 1, false, 5});
  std::string bytes;
  c.encode(bytes);
  customer_carts out;
  std::string bad = bytes;
  bad[0] = 9;
  EXPECT_FALSE(customer_carts::decode(bad, out));
  for (std::size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(customer_carts::decode(std::string_view(bytes).substr(0, n), out)) << n;
  EXPECT_FALSE(customer_carts::decode(bytes + "x", out));
}

}  // namespace
}  // namespace herald::rules

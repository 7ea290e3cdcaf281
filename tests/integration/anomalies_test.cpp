// Anomaly flags through Kafka: among steady shop traffic, a synthetic bot and a synthetic
// demand spike are flagged, and nothing else is; the bot's abandoned cart gets no reminder.
// The REES46 replay flags the real traffic surge after 02:10 and no user as a bot.

#include <map>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "herald/actors/demo.hpp"

namespace herald::testing {
namespace {

using nlohmann::json;

constexpr std::int64_t minute = 60'000;
constexpr std::int64_t bucket = 10 * minute;  // the demand detectors' default bucket
constexpr std::int64_t base = 1'700'000'000'000 - 1'700'000'000'000 % bucket;
constexpr int customers = 160;  // a multiple of skus: 80 views per SKU per bucket
constexpr int skus = 20;
constexpr int traffic_minutes = 70;  // seven buckets
constexpr int spike_bucket = 4;
constexpr int bot_minute = 43;

std::string view(const std::string& customer, int sku, std::int64_t ts, const std::string& id) {
  return fmt::format(
      R"({{"type":"product_view","event_id":"{}","ts":{},"customer_id":"{}","session_id":"s-{}","sku":"sku-{}","price":{},"currency":"EUR"}})",
      id, ts, customer, customer, sku, 10 + sku);
}

std::string cart_add(const std::string& customer, int sku, std::int64_t ts, const std::string& id) {
  return fmt::format(
      R"({{"type":"cart_item_added","event_id":"{}","ts":{},"customer_id":"{}","cart_id":"cart-{}","sku":"sku-{}","quantity":1,"unit_price":{},"currency":"EUR"}})",
      id, ts, customer, customer, sku, 10 + sku);
}

struct traffic {
  struct record {
    std::string topic, key, value;
    bool sku_signal = false;  // re-keyed to the SKU tasks (views, cart adds)
  };
  std::vector<std::vector<record>> minutes;  // produced a minute of event time at a time
  std::set<std::string> cart_customers;

  traffic() {
    const actors::topics_config t;
    minutes.resize(traffic_minutes + 1);
    int id = 0;
    for (int m = 0; m < traffic_minutes; ++m) {
      auto& out = minutes[static_cast<std::size_t>(m)];
      for (int c = 0; c < customers; ++c) {
        const std::string who = fmt::format("c{:03}", c);
        const std::int64_t ts = base + m * minute + c * 300;  // one event a minute each
        int sku = (c + m) % skus;  // every SKU gets the same views per bucket
        // The spike: for ten minutes half of the shoppers look at sku-0 instead.
        if (m / 10 == spike_bucket && c % 2 == 0) sku = 0;
        out.push_back({t.clickstream, who, view(who, sku, ts, fmt::format("v{}", ++id)), true});
        // A few shoppers fill carts (sku-{c}) now and then, and leave them.
        if (c % 10 == 0 && m % 5 == 0) {
          out.push_back(
              {t.carts, who, cart_add(who, c % skus, ts + 100, fmt::format("a{}", ++id)), true});
          cart_customers.insert(who);
        }
      }
      if (m == bot_minute - 1)
        out.push_back(
            {t.carts, "bot-1", cart_add("bot-1", 3, base + m * minute + 50'000, "bot-a"), true});
      if (m == bot_minute)  // 40 views in 40 s, over all SKUs: a scraper, not a shopper
        for (int i = 0; i < 40; ++i)
          out.push_back({t.clickstream, "bot-1",
                         view("bot-1", 1 + i % (skus - 1), base + m * minute + i * 1000,
                              fmt::format("bot-v{}", i)),
                         true});
    }
    // Everyone checks in once more 2 h 20 min in, on both topics: every bucket closes, 1 h
    // reminders fall due.
    for (int c = 0; c < customers; ++c) {
      const std::string who = fmt::format("c{:03}", c);
      minutes.back().push_back(
          {t.clickstream, who,
           fmt::format(
               R"({{"type":"page_view","event_id":"hb-{}","ts":{},"customer_id":"{}","session_id":"s-{}"}})",
               c, base + 140 * minute + c, who, who),
           false});
      // A task's watermark is the minimum over its partitions: the carts check in too (a
      // checkout of an unknown cart touches no cart).
      minutes.back().push_back(
          {t.carts, who,
           fmt::format(
               R"({{"type":"checkout_started","event_id":"hbc-{}","ts":{},"customer_id":"{}","cart_id":"none"}})",
               c, base + 140 * minute + c, who),
           false});
    }
    minutes.back().push_back(
        {t.clickstream, "bot-1",
         fmt::format(
             R"({{"type":"page_view","event_id":"hb-bot","ts":{},"customer_id":"bot-1","session_id":"s-bot"}})",
             base + 140 * minute)});
  }
};

TEST(AnomalyPipelineTest, SyntheticBotAndDemandSpikeAreFlaggedAndNothingElse) {
  kafka_fixture kafka;
  temp_dir dir;
  actors::app app(kafka.config(dir.str()));
  ASSERT_EQ(app.start(), "");
  const traffic tr;
  // A minute of event time at a time, as a live shop sends it: the customer partitions stay
  // within the detectors' lateness of each other.
  std::uint64_t inputs = 0, signals = 0;
  for (const auto& chunk : tr.minutes) {
    for (const auto& r : chunk) {
      kafka.produce(r.topic, r.key, r.value);
      ++inputs;
      signals += r.sku_signal ? 1 : 0;
    }
    kafka.flush();
    // A record waits while the other topic of its task is behind it in event time.
    ASSERT_TRUE(wait_for([&] { return read_inputs(app) == inputs; }))
        << "read " << read_inputs(app) << " of " << inputs;
  }
  // The check-in on both topics releases everything.
  ASSERT_TRUE(wait_for([&] {
    return app.probe().events_total(actors::event_result::ok) == inputs + signals;
  })) << "processed "
      << app.probe().events_total(actors::event_result::ok) << " of " << inputs + signals;
  ASSERT_TRUE(wait_for([&] { return app.probe().reminders_total() == tr.cart_customers.size(); }))
      << app.probe().reminders_total();
  const std::string text = http_get(app.metrics_port(), "/metrics");
  app.stop();

  std::map<std::string, json> flags;  // by kind
  for (const auto& r : kafka.read("herald.anomalies")) {
    const json j = json::parse(r.value);
    EXPECT_EQ(r.key, j.at("entity_id").get<std::string>());
    EXPECT_TRUE(flags.emplace(j.at("kind").get<std::string>(), j).second)
        << "unexpected flag: " << r.value;
  }
  ASSERT_EQ(flags.size(), 2u);
  ASSERT_TRUE(flags.count("bot_click_rate"));
  const json& bot = flags["bot_click_rate"];
  EXPECT_EQ(bot.at("entity_type"), "customer");
  EXPECT_EQ(bot.at("entity_id"), "bot-1");
  EXPECT_EQ(bot.at("window_ms"), 60'000);
  // Shoppers click once a minute (median 1, MAD 0), so the relative rule (10 x baseline, at
  // least 20 events) fires before the absolute limit of 30: the cart add at 42:50 and the
  // views from 43:00, one a second, make 20 at 43:18.
  EXPECT_EQ(bot.at("score"), 20);
  EXPECT_EQ(bot.at("threshold"), 10);
  EXPECT_EQ(bot.at("ts"), base + bot_minute * minute + 18'000);
  EXPECT_EQ(bot.at("evidence").at("rule"), "relative");
  EXPECT_EQ(bot.at("evidence").at("baseline_median"), 1);

  ASSERT_TRUE(flags.count("demand_spike"));
  const json& spike = flags["demand_spike"];
  EXPECT_EQ(spike.at("entity_type"), "sku");
  EXPECT_EQ(spike.at("entity_id"), "sku-0");
  EXPECT_EQ(spike.at("window_ms"), bucket);
  EXPECT_EQ(spike.at("ts"), base + (spike_bucket + 1) * bucket);
  const json& ev = spike.at("evidence");
  EXPECT_EQ(ev.at("signal"), "view");
  EXPECT_EQ(ev.at("bucket_start_ms"), base + spike_bucket * bucket);
  // 80 views of every SKU per bucket before. In the spike the 80 even shoppers view sku-0 ten
  // times each, and 40 odd ones (c mod 20 in 11, 13, .., 19) come to it in their rotation.
  EXPECT_EQ(ev.at("count"), 80 * 10 + 40);
  EXPECT_DOUBLE_EQ(ev.at("mean").get<double>(), 80);
  EXPECT_GE(spike.at("score").get<double>(), spike.at("threshold").get<double>());

  // The bot's abandoned cart: suppressed, every shopper's reminded.
  std::set<std::string> reminded;
  for (const auto& r : kafka.read("herald.cart-reminders")) reminded.insert(r.key);
  EXPECT_EQ(reminded, tr.cart_customers);
  EXPECT_EQ(
      metric_value(text, "herald_suppressions_total", R"(reason="bot",rule="abandoned_cart")"), 1);
  EXPECT_EQ(metric_value(text, "herald_anomalies_total", R"(kind="bot_click_rate")"), 1);
  EXPECT_EQ(metric_value(text, "herald_anomalies_total", R"(kind="demand_spike")"), 1);
}

TEST(AnomalyPipelineTest, Rees46ReplayFlagsTheSurgeAfter0210AndNoBot) {
  std::string error;
  std::uint64_t rows = 0;
  const auto records = actors::rees46_events(
      HERALD_TEST_DATA "/rees46_multicategory_2019oct_head/2019-Oct_head.csv", rows, error);
  ASSERT_EQ(error, "");
  ASSERT_EQ(rows, 17'434u);
  const auto sum = actors::replay(records, 4, error);
  ASSERT_EQ(error, "");
  EXPECT_EQ(sum.processed, 17'434u);
  EXPECT_EQ(sum.dead_letters, 0u);
  constexpr std::int64_t surge_ms = 1'569'895'800'000;  // 2019-10-01 02:10:00 UTC
  int surge_flags = 0;
  for (const auto& f : sum.flags) {
    EXPECT_NE(f.kind, "bot_click_rate") << "nobody clicks more than 8 times a minute";
    EXPECT_TRUE(f.kind == "traffic_spike" || f.kind == "demand_spike") << f.kind;
    // Nothing before the surge: the early drop from ~500 to ~15 events per 10 min is no spike.
    const auto start = json::parse(f.evidence).at("bucket_start_ms").get<std::int64_t>();
    EXPECT_GE(start, surge_ms) << f.kind << " " << f.entity_id;
    surge_flags += start == surge_ms && f.entity_id.starts_with("shop.clickstream/") ? 1 : 0;
  }
  // The clickstream surge shows in the partitions' 02:10 bucket (535 events, from ~15).
  EXPECT_GE(surge_flags, 2);
  EXPECT_EQ(sum.anomalies.at("bot_click_rate"), 0u);
}

}  // namespace
}  // namespace herald::testing

namespace herald::testing {
namespace {

// One instance on one partition per topic, started, with the test harness's defaults.
class AnomalyOnePartitionTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(app.start(), ""); }
  static constexpr std::int64_t t0 = 1'700'000'000'000;
  kafka_fixture kafka{1};
  temp_dir dir;
  actors::app app{kafka.config(dir.str())};
};

TEST_F(AnomalyOnePartitionTest, AScrapersCartIsNotRemindedWhenTheFlagLapsesBeforeTheReminder) {
  // 35 product views in 35 s: flagged (for 1 h) by the 30th; then a cart, while flagged, whose
  // reminder falls due 1 h 40 s later, when the flag has lapsed.
  for (int i = 0; i < 35; ++i)
    kafka.produce(
        "shop.clickstream", "bot-1",
        fmt::format(
            R"({{"type":"product_view","event_id":"v-{}","ts":{},"customer_id":"bot-1","session_id":"s","sku":"sku-{}","price":10}})",
            i, t0 + i * 1000, i % 7));
  kafka.produce(
      "shop.carts", "bot-1",
      fmt::format(
          R"({{"type":"cart_item_added","event_id":"a-1","ts":{},"customer_id":"bot-1","cart_id":"k-bot","sku":"sku-1","quantity":1,"unit_price":10,"currency":"EUR"}})",
          t0 + 40'000));
  kafka.heartbeat(t0 + 3 * 3'600'000, 1);
  kafka.flush();
  auto bot_suppressions = [&] {
    return metric_value(http_get(app.metrics_port(), "/metrics"), "herald_suppressions_total",
                        R"(reason="bot",rule="abandoned_cart")");
  };
  ASSERT_TRUE(wait_for([&] { return app.probe().anomalies_total("bot_click_rate") == 1; }));
  EXPECT_TRUE(wait_for([&] { return bot_suppressions() == 1; })) << bot_suppressions();
  app.stop();
  EXPECT_TRUE(kafka.read("herald.cart-reminders").empty());
}

TEST_F(AnomalyOnePartitionTest, CartQuantityFlagNamesTheCartItCameFrom) {
  const std::string value = fmt::format(
      R"({{"type":"cart_item_added","event_id":"big-1","ts":{},"customer_id":"c-bulk","cart_id":"cart-bulk-7","sku":"sku-1","quantity":720,"unit_price":2.5,"currency":"EUR"}})",
      t0);
  kafka.produce("shop.carts", "c-bulk", value);
  kafka.heartbeat(t0 + 3'600'000, 1);  // the SKU task applies signals once the watermark passes
  kafka.flush();
  ASSERT_TRUE(wait_for([&] { return app.probe().anomalies_total("cart_quantity") == 1; }));
  app.stop();
  std::vector<nlohmann::json> flags;
  for (const auto& r : kafka.read("herald.anomalies"))
    flags.push_back(nlohmann::json::parse(r.value));
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].at("kind"), "cart_quantity");
  EXPECT_EQ(flags[0].at("evidence").at("customer_id"), "c-bulk");
  EXPECT_EQ(flags[0].at("evidence").at("cart_id"), "cart-bulk-7");
}

}  // namespace
}  // namespace herald::testing

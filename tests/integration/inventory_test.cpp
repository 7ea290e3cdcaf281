// Inventory through Kafka: waitlist requests re-keyed by SKU across two Herald instances in one
// consumer group, back-in-stock notifications exactly once each; cart reminders checked
// against the global availability table.

#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "herald/streams/partitioner.hpp"

namespace herald::testing {
namespace {

using nlohmann::json;

constexpr std::int64_t t0 = 1'700'000'000'000;

std::string stock(const std::string& sku, std::int64_t available, std::int64_t ts) {
  return fmt::format(
      R"({{"type":"stock_level","event_id":"st-{}-{}","ts":{},"sku":"{}","location":"wh-1","available":{}}})",
      sku, ts, ts, sku, available);
}

std::string notify_me(const std::string& customer, const std::string& sku, std::int64_t ts) {
  return fmt::format(
      R"({{"type":"notify_me","event_id":"nm-{}-{}","ts":{},"customer_id":"{}","sku":"{}"}})",
      customer, sku, ts, customer, sku);
}

std::string order(const std::string& customer, const std::string& sku, std::int64_t ts) {
  return fmt::format(
      R"({{"type":"order_placed","event_id":"o-{}","ts":{},"customer_id":"{}","order_id":"o-{}","lines":[{{"sku":"{}","quantity":1,"unit_price":9.5}}],"total":9.5,"currency":"EUR"}})",
      customer, ts, customer, customer, sku);
}

TEST(InventoryPipelineTest, TwoInstancesNotifyEveryWaitingCustomerExactlyOnce) {
  kafka_fixture kafka(3);
  temp_dir dir_a, dir_b;
  constexpr int skus = 8, waiters = 15;
  actors::app a(kafka.config(dir_a.str()));
  actors::app b(kafka.config(dir_b.str()));
  ASSERT_EQ(a.start(), "");
  ASSERT_EQ(b.start(), "");
  // Both instances own tasks: 3 customer + 3 SKU + 3 shipment tasks split between them.
  ASSERT_TRUE(wait_for([&] {
    return a.assigned_tasks() > 0 && b.assigned_tasks() > 0 &&
           a.assigned_tasks() + b.assigned_tasks() == 9;
  })) << a.assigned_tasks()
      << " + " << b.assigned_tasks();

  for (int s = 0; s < skus; ++s)
    kafka.produce("shop.inventory", fmt::format("sku-{}", s),
                  stock(fmt::format("sku-{}", s), 0, t0));
  std::set<std::pair<std::string, std::string>> expected;
  for (int s = 0; s < skus; ++s)
    for (int w = 0; w < waiters; ++w) {
      const std::string customer = fmt::format("cust-{}-{}", s, w), sku = fmt::format("sku-{}", s);
      kafka.produce("shop.clickstream", customer, notify_me(customer, sku, t0 + 1000 + w));
      expected.insert({customer, sku});
    }
  // Two waiters buy the SKU elsewhere before the restock: they leave the waitlist.
  kafka.produce("shop.carts", "cust-0-3", order("cust-0-3", "sku-0", t0 + 5000));
  kafka.produce("shop.carts", "cust-5-0", order("cust-5-0", "sku-5", t0 + 5000));
  expected.erase({"cust-0-3", "sku-0"});
  expected.erase({"cust-5-0", "sku-5"});
  kafka.flush();
  // Every input is read (the orders wait for the clicks of their partitions to pass them).
  const std::uint64_t inputs = skus + skus * waiters + 2;
  ASSERT_TRUE(wait_for([&] { return read_inputs(a) + read_inputs(b) == inputs; }))
      << read_inputs(a) << " + " << read_inputs(b) << " of " << inputs;
  // With idleness off a SKU task waits only for the customer tasks it has heard from: let
  // every customer task's watermark marker reach every SKU task before the restock.
  auto markers = [&](const char* direction) {
    double n = 0;
    for (actors::app* x : {&a, &b})
      n += metric_value(http_get(x->metrics_port(), "/metrics"), "herald_watermark_markers_total",
                        fmt::format(R"(direction="{}")", direction));
    return n;
  };
  ASSERT_TRUE(wait_for([&] {
    return markers("published") >= 3 * 3 && markers("received") == markers("published");
  })) << markers("published")
      << " published, " << markers("received") << " received";

  // Restock every SKU with enough units for everyone (cap = 2 x 10 = 20 >= 15 waiters).
  for (int s = 0; s < skus; ++s)
    kafka.produce("shop.inventory", fmt::format("sku-{}", s),
                  stock(fmt::format("sku-{}", s), 10, t0 + 3'600'000));
  // SKU tasks apply inputs in event-time order, once every customer task's watermark (its
  // markers) has passed them: the shop's traffic goes on past the restock.
  kafka.heartbeat(t0 + 2 * 3'600'000, 3);
  kafka.flush();
  auto notified = [&] {
    return a.probe().restock_alerts_total(actors::metrics::restock_type::back_in_stock) +
           b.probe().restock_alerts_total(actors::metrics::restock_type::back_in_stock);
  };
  ASSERT_TRUE(wait_for([&] { return notified() == expected.size(); })) << notified();
  // Nothing more may follow: both instances' SKU tasks have applied everything up to the
  // restock (their inventory partitions' event time), so it has given all it could.
  ASSERT_TRUE(wait_for([&] {
    return family_done(a, "sku", t0 + 3'600'000) && family_done(b, "sku", t0 + 3'600'000);
  }));
  EXPECT_EQ(notified(), expected.size());
  a.stop();
  b.stop();

  std::set<std::pair<std::string, std::string>> got;
  std::size_t out_of_stock = 0;
  for (const auto& r : kafka.read("herald.restock-alerts")) {
    const json j = json::parse(r.value);
    if (j.at("type") == "out_of_stock") {
      ++out_of_stock;
      continue;
    }
    ASSERT_EQ(j.at("type"), "back_in_stock") << r.value;
    EXPECT_EQ(r.key, j.at("customer_id").get<std::string>());
    EXPECT_EQ(j.at("available"), 10);
    EXPECT_TRUE(
        got.insert({j.at("customer_id").get<std::string>(), j.at("sku").get<std::string>()}).second)
        << "notified twice: " << r.value;
  }
  EXPECT_EQ(got, expected);
  EXPECT_EQ(out_of_stock, static_cast<std::size_t>(skus)) << "every SKU started sold out";
  EXPECT_TRUE(kafka.read("herald.dlq").empty());
}

TEST(InventoryPipelineTest, CartReminderLeavesOutOutOfStockLinesAndIsSuppressedWhenAllAre) {
  kafka_fixture kafka(2);
  temp_dir dir;
  // Inventory exists before the instance starts: the global table reads it all first.
  kafka.produce("shop.inventory", "sku-gone", stock("sku-gone", 0, t0));
  kafka.produce("shop.inventory", "sku-here", stock("sku-here", 7, t0));
  kafka.flush();
  actors::app app(kafka.config(dir.str()));
  ASSERT_EQ(app.start(), "");
  auto add = [&](const std::string& c, const std::string& sku, std::int64_t ts) {
    kafka.produce(
        "shop.carts", c,
        fmt::format(
            R"({{"type":"cart_item_added","event_id":"{}-{}","ts":{},"customer_id":"{}","cart_id":"k-{}","sku":"{}","quantity":1,"unit_price":4,"currency":"EUR"}})",
            c, sku, ts, c, c, sku));
  };
  add("mixed", "sku-gone", t0);
  add("mixed", "sku-here", t0 + 1);
  add("allgone", "sku-gone", t0);
  // Later activity of each customer moves their partitions' watermarks past the reminder.
  for (const char* c : {"mixed", "allgone"})
    kafka.produce(
        "shop.carts", c,
        fmt::format(
            R"({{"type":"checkout_started","event_id":"hb-{}","ts":{},"customer_id":"{}","cart_id":"other"}})",
            c, t0 + 2 * 3'600'000, c));
  // And the inventory feed goes on (levels unchanged): a reminder reads the stock as of its
  // due time, so it waits until the availability table has read that far.
  kafka.produce("shop.inventory", "sku-gone", stock("sku-gone", 0, t0 + 2 * 3'600'000));
  kafka.produce("shop.inventory", "sku-here", stock("sku-here", 7, t0 + 2 * 3'600'000));
  kafka.flush();
  ASSERT_TRUE(wait_for([&] { return processed(app) >= 9; }));
  ASSERT_TRUE(wait_for([&] { return app.probe().reminders_total() == 1; }));
  const std::string text = http_get(app.metrics_port(), "/metrics");
  EXPECT_EQ(metric_value(text, "herald_suppressions_total",
                         R"(reason="out_of_stock",rule="abandoned_cart")"),
            1);
  // A gauge refreshed about once a second.
  EXPECT_TRUE(wait_for([&] {
    return metric_value(http_get(app.metrics_port(), "/metrics"), "herald_availability_skus") == 2;
  }));
  app.stop();
  const auto reminders = kafka.read("herald.cart-reminders");
  ASSERT_EQ(reminders.size(), 1u);
  EXPECT_EQ(reminders[0].key, "mixed");
  const json j = json::parse(reminders[0].value);
  ASSERT_EQ(j.at("lines").size(), 1u);
  EXPECT_EQ(j.at("lines")[0].at("sku"), "sku-here");
  EXPECT_EQ(j.at("cart_value"), 4);
}

// kcat's default partitioner (crc32) puts most SKUs on another partition than Herald's
// murmur2 repartitioning of the waitlist requests: each such record is counted.
TEST(InventoryPipelineTest, ARecordOnAnotherPartitionThanItsKeysIsCountedMisrouted) {
  constexpr int partitions = 4;
  kafka_fixture kafka(partitions);
  temp_dir dir;
  actors::app app(kafka.config(dir.str()));
  ASSERT_EQ(app.start(), "");
  int misrouted = 0;
  for (int i = 0; i < 8; ++i) {
    const std::string sku = fmt::format("sku-{}", i);
    const int right = streams::default_partition(sku, partitions);
    const int p = i % 2 == 0 ? right : (right + 1) % partitions;
    misrouted += p != right ? 1 : 0;
    kafka.produce_to("shop.inventory", p, sku, stock(sku, 5, t0 + i));
  }
  kafka.flush();
  ASSERT_TRUE(wait_for([&] { return read_inputs(app) == 8; }));
  const std::string text = http_get(app.metrics_port(), "/metrics");
  EXPECT_EQ(metric_value(text, "herald_misrouted_records_total", R"(topic="shop.inventory")"),
            misrouted);
  EXPECT_EQ(misrouted, 4);
  app.stop();
}

// The clickstream and the carts topic number their events independently: a view and a cart
// add with the same event_id are two events, on the customer task and on the SKU task they
// are re-keyed to.
TEST(InventoryPipelineTest, AViewAndACartAddSharingAnEventIdAreNotRepeats) {
  kafka_fixture kafka(2);
  temp_dir dir;
  actors::app app(kafka.config(dir.str()));
  ASSERT_EQ(app.start(), "");
  kafka.produce(
      "shop.clickstream", "ann",
      fmt::format(
          R"({{"type":"product_view","event_id":"7","ts":{},"customer_id":"ann","session_id":"s","sku":"sku-x","price":9.5}})",
          t0));
  kafka.produce(
      "shop.carts", "ann",
      fmt::format(
          R"({{"type":"cart_item_added","event_id":"7","ts":{},"customer_id":"ann","cart_id":"k","sku":"sku-x","quantity":1,"unit_price":9.5,"currency":"EUR"}})",
          t0));
  kafka.heartbeat(t0 + 3'600'000, 2);
  kafka.flush();
  // Both signals (view and cart add of sku-x) reach the SKU task and are applied there. (The
  // family's watermark gauge is the lowest over its tasks that have one: the other SKU task
  // may be done first, so the signals' count is waited for too.)
  std::string text;
  EXPECT_TRUE(wait_for([&] {
    text = http_get(app.metrics_port(), "/metrics");
    return family_done(app, "sku", t0 + 3'600'000) &&
           metric_value(text, "herald_events_total", R"(result="ok",topic="herald.sku-signals")") ==
               metric_value(text, "herald_sku_signals_total");
  })) << text;
  EXPECT_EQ(metric_value(text, "herald_sku_signals_total"), 2);
  EXPECT_EQ(app.probe().duplicates_total(), 0u);
  app.stop();
}

// An order delivered twice (a producer's retry) is one sale: the low-stock alert's velocity
// counts its units once.
TEST(InventoryPipelineTest, ADuplicatedOrderIsOneSale) {
  kafka_fixture kafka(2);
  temp_dir dir;
  actors::app app(kafka.config(dir.str()));
  ASSERT_EQ(app.start(), "");
  const std::string placed = fmt::format(
      R"({{"type":"order_placed","event_id":"o-1","ts":{},"customer_id":"ann","order_id":"o-1","lines":[{{"sku":"sku-x","quantity":14,"unit_price":9.5}}],"total":133,"currency":"EUR"}})",
      t0);
  kafka.produce("shop.carts", "ann", placed);
  kafka.produce("shop.carts", "ann", placed);
  kafka.heartbeat(t0 + 30'000, 2);
  kafka.flush();
  // The SKU tasks have applied the sale (event time only: without idleness, a SKU task does
  // not wait for an inventory partition it has not heard from) before the level comes.
  ASSERT_TRUE(wait_for([&] { return family_done(app, "sku", t0 + 30'000); }));
  EXPECT_EQ(app.probe().duplicates_total(), 1u);
  kafka.produce("shop.inventory", "sku-x", stock("sku-x", 2, t0 + 60'000));
  kafka.heartbeat(t0 + 2 * 3'600'000, 2);
  kafka.flush();
  ASSERT_TRUE(wait_for([&] {
    return app.probe().restock_alerts_total(actors::metrics::restock_type::low_stock) == 1;
  }));
  app.stop();
  const auto alerts = kafka.read("herald.restock-alerts");
  ASSERT_EQ(alerts.size(), 1u);
  const json j = json::parse(alerts[0].value);
  EXPECT_EQ(j.at("type"), "low_stock") << alerts[0].value;
  ASSERT_TRUE(j.contains("units_sold_per_day")) << alerts[0].value;
  EXPECT_DOUBLE_EQ(j.at("units_sold_per_day").get<double>(), 2.0) << "14 units in 7 days, not 28";
}

}  // namespace
}  // namespace herald::testing

namespace herald::testing {
namespace {

// What app::start says against `bootstrap` (empty: started).
std::string start_error(const std::string& bootstrap) {
  temp_dir dir;
  actors::app_config c;
  c.kafka.properties["bootstrap.servers"] = bootstrap;
  c.state.dir = dir.str();
  c.metrics.listen = "";
  actors::app app(c);
  return app.start();
}

TEST(InventoryPipelineTest, StartRefusesTopicsOfOneFamilyWithDifferentPartitionCounts) {
  std::string error;
  auto cluster = streams::mock_cluster::start(1, error);
  ASSERT_TRUE(cluster) << error;
  actors::topics_config t;
  for (const auto* name :
       {&t.clickstream, &t.carts, &t.inventory, &t.cart_reminders, &t.restock_alerts, &t.dlq})
    cluster->create_topic(*name, 4);
  cluster->create_topic(t.sku_signals, 2);
  const std::string err = start_error(cluster->bootstrap_servers());
  EXPECT_NE(err.find("'shop.inventory' (4 partitions)"), std::string::npos) << err;
  EXPECT_NE(err.find("'herald.sku-signals' (2 partitions)"), std::string::npos) << err;
}

// Two different causes, two different messages: nothing listening is not a missing topic.
// (The mock cluster creates a topic on first request, so "no topic" needs a real broker.)
TEST(StartupTest, AnUnreachableClusterIsNotReportedAsAMissingTopic) {
  const std::string err = start_error("127.0.0.1:1");  // nothing listens there
  EXPECT_NE(err.find("cannot reach the Kafka cluster at '127.0.0.1:1'"), std::string::npos) << err;
  EXPECT_EQ(err.find("create it first"), std::string::npos) << err;
}

// A dead letter the DLQ topic would refuse could only be dropped: a broker-side limit below
// task.dlq_max_bytes stops the start with a message naming the topic and both settings.
TEST(StartupTest, ADeadLetterTopicThatCannotTakeADeadLetterIsRefusedAtStart) {
  kafka_fixture kafka(1);
  if (!kafka_fixture::real()) GTEST_SKIP() << "the mock cluster has no topic configurations";
  const streams::kafka_properties props{{"bootstrap.servers", kafka.bootstrap_servers()}};
  std::string error;
  ASSERT_TRUE(streams::delete_topics(props, {"herald.dlq"}, error)) << error;
  ASSERT_TRUE(streams::create_topics(
      props, {{"herald.dlq", 1, -1, {{"max.message.bytes", "100000"}}}}, false, error))
      << error;
  temp_dir dir;
  actors::app app(kafka.config(dir.str()));
  const std::string err = app.start();
  EXPECT_NE(err.find("topic 'herald.dlq' takes records of at most 100000 bytes"), std::string::npos)
      << err;
  EXPECT_NE(err.find("task.dlq_max_bytes"), std::string::npos) << err;
}

}  // namespace
}  // namespace herald::testing

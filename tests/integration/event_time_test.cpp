// Event time through Kafka, the way a user breaks it: a quiet restart with the production idle
// timeout, one absurd timestamp, an order slightly late in arrival, a carts topic read ahead of
// the clickstream.

#include <chrono>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "herald/streams/dlq.hpp"
#include "scenario.hpp"

namespace herald::testing {
namespace {

using nlohmann::json;

std::int64_t wall_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string click(const std::string& type, const std::string& c, std::int64_t ts,
                  const std::string& id) {
  return fmt::format(
      R"({{"type":"{}","event_id":"{}","ts":{},"customer_id":"{}","session_id":"s-{}","sku":"sku-1","price":10,"url":"/"}})",
      type, id, ts, c, c);
}

std::vector<json> values(const std::vector<streams::consumed_record>& records) {
  std::vector<json> out;
  for (const auto& r : records) out.push_back(json::parse(r.value));
  return out;
}

// Production defaults (idle timeout 30 s, timer grace 2 min) except the metrics port and a
// short group session, so the restart does not wait 45 s for the old member to time out.
actors::app_config production(const kafka_fixture& kafka, const std::string& dir) {
  actors::app_config c = kafka.config(dir);
  const actors::app_config defaults;
  c.task.watermark = defaults.task.watermark;
  c.task.commit_interval_ms = defaults.task.commit_interval_ms;
  c.task.max_record_bytes = defaults.task.max_record_bytes;
  return c;
}

TEST(EventTimeTest, QuietRestartSendsOnlyWhatIsDueAndNeverTwoRemindersAtOnce) {
  kafka_fixture kafka;
  temp_dir dir;
  const std::int64_t now = wall_now();
  // On one task: ann's cart is a minute old (reminders due in 59 min and 24 h), bob's 62 min
  // old (reminder 1 due 2 min ago, to fire now after the 2 min grace, once event time has
  // reached now; reminder 2 in ~22 h). Ann's cart holds the watermark a minute back.
  kafka.produce_to("shop.carts", 0, "ann", add("ann", "ka", "sku-1", 1, now - min_ms));
  kafka.produce_to("shop.carts", 0, "bob", add("bob", "kb", "sku-2", 1, now - 62 * min_ms));
  kafka.flush();
  {
    actors::app app(production(kafka, dir.str()));
    ASSERT_EQ(app.start(), "");
    ASSERT_TRUE(wait_for([&] { return processed(app) == 2; }));
    app.stop();  // well before the idle timeout: nothing fired yet
  }
  ASSERT_TRUE(kafka.read("herald.cart-reminders").empty());
  // The same state directory, nothing new to read. The watermark must not jump by the time
  // the process was down: only bob's first reminder is due, after the 30 s idle timeout.
  actors::app app(production(kafka, dir.str()));
  ASSERT_EQ(app.start(), "");
  const auto started = std::chrono::steady_clock::now();
  std::vector<json> got;
  ASSERT_TRUE(wait_for(
      [&] {
        got = values(kafka.read("herald.cart-reminders"));
        return !got.empty();
      },
      std::chrono::seconds(90)));
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::seconds(29))
      << "a quiet task follows the wall clock only after task.idle_timeout_ms";
  app.stop();  // the final commit: anything else that was due is out now too
  got = values(kafka.read("herald.cart-reminders"));
  ASSERT_EQ(got.size(), 1u) << got.back().dump();
  EXPECT_EQ(got[0].at("customer_id"), "bob");
  EXPECT_EQ(got[0].at("reminder_number"), 1);
  EXPECT_EQ(got[0].at("ts").get<std::int64_t>(), now - 62 * min_ms + hour_ms)
      << "the message keeps its due time";
}

TEST(EventTimeTest, FarFutureTimestampIsDeadLetteredAndFiresNothing) {
  kafka_fixture kafka;
  temp_dir dir;
  actors::app app(production(kafka, dir.str()));
  ASSERT_EQ(app.start(), "");
  const std::int64_t now = wall_now();
  kafka.produce_to("shop.carts", 0, "ann", add("ann", "ka", "sku-1", 1, now));
  const std::string bogus = click("page_view", "zed", 4'102'444'800'000, "pv-2100");  // 2100
  kafka.produce_to("shop.clickstream", 0, "zed", bogus);
  kafka.produce_to("shop.carts", 0, "cy", add("cy", "kc", "sku-1", 1, now + 1000));
  kafka.flush();
  std::vector<streams::consumed_record> dlq;
  ASSERT_TRUE(wait_for([&] {
    dlq = kafka.read("herald.dlq");
    return processed(app) == 3 && !dlq.empty();
  }));
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].value, bogus);
  EXPECT_NE(dlq[0].header(std::string(streams::dlq_error_header)).find("max_future_ms"),
            std::string::npos);
  EXPECT_EQ(dlq[0].header(std::string(streams::dlq_topic_header)), "shop.clickstream");
  const std::string text = http_get(app.metrics_port(), "/metrics");
  EXPECT_EQ(metric_value(text, "herald_dlq_records_total", R"(reason="time_out_of_range")"), 1);
  app.stop();
  EXPECT_TRUE(kafka.read("herald.cart-reminders").empty())
      << "the 2100 timestamp must not have moved the watermark past every reminder";
}

TEST(EventTimeTest, OrderSlightlyLateInArrivalStillSuppressesTheReminder) {
  kafka_fixture kafka;
  temp_dir dir;
  auto cfg = kafka.config(dir.str());  // event time only (idle off): deterministic
  actors::app app(cfg);
  ASSERT_EQ(app.start(), "");
  // ann's reminder is due at t0 + 1 h. bob's event 30 s later moves the watermark past that
  // before ann's order (placed at t0 + 59 min) arrives: within the grace, so no reminder.
  kafka.produce_to("shop.carts", 0, "ann", add("ann", "ka", "sku-1", 1, t0));
  kafka.produce_to("shop.carts", 0, "bob", add("bob", "kb", "sku-1", 1, t0 + hour_ms + 30'000));
  kafka.flush();
  ASSERT_TRUE(wait_for([&] { return processed(app) == 2; }));
  kafka.produce_to("shop.carts", 0, "ann", order("ann", "ka", t0 + 59 * min_ms));
  kafka.produce_to("shop.carts", 0, "cy",
                   simple("checkout_started", "cy", "heartbeat", t0 + 3 * hour_ms));
  kafka.flush();
  ASSERT_TRUE(wait_for([&] { return processed(app) == 4; }));
  ASSERT_TRUE(wait_for([&] { return app.probe().reminders_total() == 1; }));
  const std::string text = http_get(app.metrics_port(), "/metrics");
  EXPECT_EQ(
      metric_value(text, "herald_suppressions_total", R"(reason="ordered",rule="abandoned_cart")"),
      1);
  EXPECT_EQ(metric_value(text, "herald_late_events_total", R"(topic="shop.carts")"), 1)
      << "the order was late against the watermark, and counted";
  app.stop();
  const auto got = values(kafka.read("herald.cart-reminders"));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].at("customer_id"), "bob") << "bob's reminder, due at t0 + 2 h 30 s";
}

// A restart while the broker leading the carts partition is down: the task reads its backlog
// of clickstream at once, its carts (with the order that makes a reminder wrong) only once the
// broker is back, 10 s later (twice task.max_wait_ms, well within task.idle_timeout_ms). Until
// it has heard from the carts partition, which may hold records, event time must not move on
// the clickstream alone.
TEST(EventTimeTest, RestartWithTheCartsPartitionUnreachableFiresNothingAheadOfIt) {
  if (kafka_fixture::real()) GTEST_SKIP() << "needs the mock cluster's broker faults";
  kafka_fixture kafka(1, 2);
  rd_kafka_mock_cluster_t* mc = kafka.mock()->handle();
  // Everything on broker 1, shop.carts on broker 2.
  for (const auto& spec : actors::herald_topics(actors::topics_config{}, 1, kafka.group()))
    for (int p = 0; p < spec.partitions; ++p)
      ASSERT_EQ(rd_kafka_mock_partition_set_leader(mc, spec.name.c_str(), p, 1),
                RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_EQ(rd_kafka_mock_partition_set_leader(mc, "shop.carts", 0, 2), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_EQ(rd_kafka_mock_coordinator_set(mc, "group", kafka.group().c_str(), 1),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  temp_dir dir;
  const std::int64_t start = wall_now() - 6 * hour_ms;
  kafka.produce_to("shop.carts", 0, "ann", add("ann", "ka", "sku-1", 1, start));
  kafka.heartbeat(start, 1);
  kafka.flush();
  const actors::app_config cfg = production(kafka, dir.str());
  {
    actors::app app(cfg);
    ASSERT_EQ(app.start(), "");
    ASSERT_TRUE(wait_for([&] { return processed(app) == 3; }));
    app.stop();  // ann's cart and its reminder timer (due at start + 1 h) committed
  }
  // While Herald is down: ann orders half an hour in, and both topics move on 3 hours.
  kafka.produce_to("shop.carts", 0, "ann", order("ann", "ka", start + 30 * min_ms));
  std::uint64_t clicks = 0;
  for (std::int64_t ts = start + 10 * min_ms; ts <= start + 3 * hour_ms; ts += 10 * min_ms) {
    kafka.heartbeat(ts, 1);
    ++clicks;
  }
  kafka.flush();
  rd_kafka_mock_broker_set_down(mc, 2);
  actors::app app(cfg);
  ASSERT_EQ(app.start(), "");
  ASSERT_TRUE(wait_for([&] { return read_inputs(app) == clicks; }))
      << "the clickstream backlog is read while the carts partition is out of reach";
  // The outage, longer than task.max_wait_ms (the bound for a partition not fetched yet).
  std::this_thread::sleep_for(std::chrono::milliseconds(2 * cfg.task.max_wait_ms));
  rd_kafka_mock_broker_set_up(mc, 2);
  ASSERT_TRUE(wait_for([&] { return processed(app) == 2 * clicks + 1; }));
  ASSERT_TRUE(wait_for([&] { return family_done(app, "customer", start + 3 * hour_ms); }));
  app.stop();
  const auto got = values(kafka.read("herald.cart-reminders"));
  EXPECT_TRUE(got.empty()) << "a reminder for an ordered cart: " << got.front().dump();
}

// 35 clicks in 35 s by one customer; the carts of the same partition either arrive in
// event-time order with them or were read 10 minutes ahead before the clicks came.
std::vector<json> bot_flags(bool carts_ahead) {
  kafka_fixture kafka;
  temp_dir dir;
  actors::app app(kafka.config(dir.str()));  // event time only (idle off): deterministic
  EXPECT_EQ(app.start(), "");
  auto carts = [&] {
    for (int i = 0; i < 10; ++i)
      kafka.produce_to("shop.carts", 0, fmt::format("shopper-{}", i),
                       add(fmt::format("shopper-{}", i), "k", "sku-1", 1, t0 + i * min_ms));
  };
  auto clicks = [&] {
    for (int i = 0; i < 35; ++i)
      kafka.produce_to("shop.clickstream", 0, "bot-1",
                       click("product_view", "bot-1", t0 + i * 1000, fmt::format("v-{}", i)));
  };
  if (carts_ahead) {
    carts();
    kafka.flush();
    EXPECT_TRUE(wait_for([&] { return processed(app) == 10; }));
    clicks();
  } else {
    clicks();
    carts();
  }
  kafka.flush();
  EXPECT_TRUE(wait_for([&] { return read_inputs(app) == 45; }));
  EXPECT_TRUE(wait_for([&] { return app.probe().anomalies_total("bot_click_rate") >= 1; },
                       std::chrono::seconds(10)));
  app.stop();
  return values(kafka.read("herald.anomalies"));
}

TEST(EventTimeTest, BotIsFlaggedWhateverTheCartsTopicRanAhead) {
  const auto in_order = bot_flags(false);
  const auto ahead = bot_flags(true);
  ASSERT_EQ(in_order.size(), 1u);
  EXPECT_EQ(in_order[0].at("kind"), "bot_click_rate");
  EXPECT_EQ(in_order[0].at("entity_id"), "bot-1");
  ASSERT_EQ(ahead.size(), 1u);
  // The same decision: same event flagged, same score.
  for (const char* field : {"flag_id", "ts", "score", "threshold", "window_ms", "entity_id"})
    EXPECT_EQ(ahead[0].at(field), in_order[0].at(field)) << field;
}

}  // namespace
}  // namespace herald::testing

// End-to-end through Kafka (librdkafka's mock cluster): the scripted scenario yields exactly the
// expected reminders and dead letters; a restart mid-scenario loses and repeats nothing; the
// /metrics endpoint agrees with the scenario.

#include <map>
#include <random>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "harness.hpp"
#include "herald/streams/dlq.hpp"
#include "scenario.hpp"

namespace herald::testing {
namespace {

using nlohmann::json;

void run_part(kafka_fixture& kafka, actors::app& app, const std::vector<input>& part,
              std::uint64_t expect_processed) {
  for (const auto& in : part) kafka.produce(in.topic, in.key, in.value);
  kafka.flush();
  ASSERT_TRUE(wait_for([&] { return processed(app) >= expect_processed; }))
      << "processed " << processed(app) << " of " << expect_processed;
}

void expect_reminders(const std::vector<streams::consumed_record>& out, const scenario& s) {
  // Exactly the expected set: no extra, none missing, none twice.
  std::map<std::pair<std::string, int>, json> got;
  std::set<std::string> ids;
  for (const auto& r : out) {
    const json j = json::parse(r.value);
    EXPECT_EQ(j.at("type"), "cart_reminder");
    EXPECT_EQ(r.key, j.at("customer_id").get<std::string>());
    EXPECT_TRUE(ids.insert(j.at("notification_id").get<std::string>()).second)
        << "notification emitted twice: " << r.value;
    const auto k =
        std::make_pair(j.at("customer_id").get<std::string>(), j.at("reminder_number").get<int>());
    EXPECT_TRUE(got.emplace(k, j).second) << "duplicate reminder " << r.value;
  }
  ASSERT_EQ(got.size(), s.reminders.size());
  for (const auto& e : s.reminders) {
    auto it = got.find({e.customer, e.number});
    ASSERT_NE(it, got.end()) << "missing reminder " << e.number << " for " << e.customer;
    const json& j = it->second;
    EXPECT_EQ(j.at("ts").get<std::int64_t>(), e.ts_ms) << e.customer << " #" << e.number;
    std::vector<std::string> skus;
    for (const auto& l : j.at("lines")) skus.push_back(l.at("sku"));
    EXPECT_EQ(skus, e.skus) << e.customer << " #" << e.number;
    if (e.coupon.empty())
      EXPECT_FALSE(j.contains("coupon")) << j.dump();
    else
      EXPECT_EQ(j.at("coupon"), e.coupon);
  }
}

void expect_dead_letters(const std::vector<streams::consumed_record>& out, const scenario& s) {
  ASSERT_EQ(out.size(), s.dlq.size());
  // The DLQ keeps per-partition order; every malformed record has the same key, so one partition.
  std::vector<input> bad;
  for (const auto& in : s.part2)
    if (in.key == "mallory") bad.push_back(in);
  ASSERT_EQ(bad.size(), out.size());
  std::int64_t last_offset = -1;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto& r = out[i];
    EXPECT_EQ(r.key, bad[i].key);
    EXPECT_EQ(r.value, bad[i].value) << "DLQ copy must be byte for byte";
    const std::string reason = r.header(std::string(streams::dlq_error_header));
    EXPECT_NE(reason.find(s.dlq[i].reason_fragment), std::string::npos)
        << "reason '" << reason << "' should mention " << s.dlq[i].reason_fragment;
    EXPECT_EQ(r.header(std::string(streams::dlq_topic_header)), "shop.carts");
    EXPECT_FALSE(r.header(std::string(streams::dlq_partition_header)).empty());
    const auto offset = std::stoll(r.header(std::string(streams::dlq_offset_header)));
    EXPECT_GT(offset, last_offset);
    last_offset = offset;
  }
}

TEST(PipelineTest, ScenarioYieldsExactlyTheExpectedRemindersAndDeadLetters) {
  kafka_fixture kafka;
  temp_dir dir;
  scenario s;
  {
    actors::app app(kafka.config(dir.str()));
    ASSERT_EQ(app.start(), "");
    run_part(kafka, app, s.part1, s.part1.size());
    run_part(kafka, app, s.part2, s.total());
    app.stop();
  }
  expect_reminders(kafka.read("herald.cart-reminders"), s);
  expect_dead_letters(kafka.read("herald.dlq"), s);
}

TEST(PipelineTest, RestartMidScenarioLosesAndRepeatsNothing) {
  kafka_fixture kafka;
  temp_dir dir;
  scenario s;
  {
    actors::app app(kafka.config(dir.str()));
    ASSERT_EQ(app.start(), "");
    run_part(kafka, app, s.part1, s.part1.size());
    app.stop();  // reminders pending in the timer store, erin's first one already sent
  }
  // Erin's own later event in part 1 moved her partition's watermark past her first reminder,
  // so it went out before the stop; the rest waits in the timer store across the restart.
  const auto before = kafka.read("herald.cart-reminders");
  bool erin_first = false;
  for (const auto& r : before)
    erin_first = erin_first ||
                 (r.key == "erin" && r.value.find("\"reminder_number\":1") != std::string::npos);
  EXPECT_TRUE(erin_first);
  EXPECT_LT(before.size(), s.reminders.size());
  {
    actors::app app(kafka.config(dir.str()));
    ASSERT_EQ(app.start(), "");
    // A fresh process: its counters start at zero, and it must not re-read part 1.
    run_part(kafka, app, s.part2, s.part2.size());
    EXPECT_TRUE(
        wait_for([&] { return processed(app) == s.part2.size(); }, std::chrono::milliseconds(500)));
    EXPECT_EQ(processed(app), s.part2.size()) << "re-read already-committed input";
    app.stop();
  }
  expect_reminders(kafka.read("herald.cart-reminders"), s);
  expect_dead_letters(kafka.read("herald.dlq"), s);
}

TEST(PipelineTest, MetricsEndpointMatchesTheScenario) {
  kafka_fixture kafka;
  temp_dir dir;
  scenario s;
  actors::app app(kafka.config(dir.str()));
  ASSERT_EQ(app.start(), "");
  run_part(kafka, app, s.part1, s.part1.size());
  run_part(kafka, app, s.part2, s.total());
  // Reminders fire inside processing; wait until the last commit's counters are visible.
  ASSERT_TRUE(wait_for([&] { return app.probe().reminders_total() == s.reminders.size(); }));
  // Cart adds and order lines also go to the SKU tasks, re-keyed by SKU.
  ASSERT_EQ(s.sku_signals, 12u);
  ASSERT_TRUE(wait_for([&] {
    return app.probe().events_total(actors::event_result::ok) == s.valid + s.sku_signals;
  }));
  const std::string text = http_get(app.metrics_port(), "/metrics");
  ASSERT_FALSE(text.empty());
  const auto carts_ok =
      metric_value(text, "herald_events_total", R"(result="ok",topic="shop.carts")");
  const auto clicks_ok =
      metric_value(text, "herald_events_total", R"(result="ok",topic="shop.clickstream")");
  EXPECT_EQ(carts_ok + clicks_ok, static_cast<double>(s.valid));
  EXPECT_EQ(clicks_ok, 1);
  EXPECT_EQ(metric_value(text, "herald_events_total", R"(result="dlq",topic="shop.carts")"), 6);
  for (const char* reason : {"malformed_json", "missing_field", "wrong_type", "unknown_type",
                             "key_mismatch", "oversized"})
    EXPECT_EQ(
        metric_value(text, "herald_dlq_records_total", std::string("reason=\"") + reason + "\""), 1)
        << reason;
  EXPECT_EQ(metric_value(text, "herald_cart_reminders_total", R"(reminder_number="1")"), 3);
  EXPECT_EQ(metric_value(text, "herald_cart_reminders_total", R"(reminder_number="2")"), 2);
  auto suppressed = [&](const char* reason) {
    return metric_value(text, "herald_suppressions_total",
                        std::string("reason=\"") + reason + "\",rule=\"abandoned_cart\"");
  };
  EXPECT_EQ(suppressed("ordered"), 2);  // bob, grace
  EXPECT_EQ(suppressed("cart_cleared"), 1);
  EXPECT_EQ(suppressed("cart_emptied"), 1);
  EXPECT_EQ(suppressed("anonymous"), 1);
  EXPECT_EQ(suppressed("max_reminders"), 1);
  EXPECT_EQ(metric_value(text, "herald_tasks"), 9) << "3 customer + 3 SKU + 3 shipment tasks";
  EXPECT_EQ(metric_value(text, "herald_sku_signals_total"), static_cast<double>(s.sku_signals));
  EXPECT_EQ(metric_value(text, "herald_events_total", R"(result="ok",topic="herald.sku-signals")"),
            static_cast<double>(s.sku_signals));
  EXPECT_EQ(metric_value(text, "herald_processing_latency_seconds_count"),
            static_cast<double>(s.total() + s.sku_signals));
  EXPECT_GT(metric_value(text, "herald_timers_pending"), 0);
  app.stop();
}

TEST(PipelineTest, AReminderNeverAddsAmountsInDifferentCurrencies) {
  kafka_fixture kafka(1);
  temp_dir dir;
  actors::app app(kafka.config(dir.str()));
  ASSERT_EQ(app.start(), "");
  constexpr std::int64_t t0 = 1'700'000'000'000;
  auto add = [&](const char* sku, double price, const char* currency, std::int64_t ts) {
    kafka.produce(
        "shop.carts", "ann",
        fmt::format(
            R"({{"type":"cart_item_added","event_id":"{}","ts":{},"customer_id":"ann","cart_id":"k","sku":"{}","quantity":1,"unit_price":{},"currency":"{}"}})",
            sku, ts, sku, price, currency));
  };
  add("sku-a", 10, "EUR", t0);
  add("sku-b", 5, "USD", t0 + 1000);  // the storefront switched currency
  kafka.heartbeat(t0 + 2 * hour_ms, 1);
  kafka.flush();
  ASSERT_TRUE(wait_for([&] { return app.probe().reminders_total() == 1; }));
  app.stop();
  const auto out = kafka.read("herald.cart-reminders");
  ASSERT_EQ(out.size(), 1u);
  const auto j = nlohmann::json::parse(out[0].value);
  EXPECT_EQ(j.at("currency"), "USD");
  EXPECT_EQ(j.at("cart_value"), 5) << "not 15: 10 EUR + 5 USD";
  ASSERT_EQ(j.at("lines").size(), 2u);
  EXPECT_EQ(j.at("lines")[0].at("sku"), "sku-a");
  EXPECT_EQ(j.at("lines")[0].at("currency"), "EUR");
  EXPECT_FALSE(j.at("lines")[1].contains("currency")) << "in the reminder's currency";
}

}  // namespace
}  // namespace herald::testing

namespace herald::testing {
namespace {

// An at-least-once producer retries: the same record (same event_id) arrives twice, and once
// more after a restart of Herald. The cart counts it once.
TEST(PipelineTest, ARecordDeliveredTwiceIsAppliedOnceEvenAcrossARestart) {
  kafka_fixture kafka(1);
  temp_dir dir;
  constexpr std::int64_t t0 = 1'700'000'000'000;
  const std::string added = fmt::format(
      R"({{"type":"cart_item_added","event_id":"e-1","ts":{},"customer_id":"ann","cart_id":"k","sku":"sku-a","quantity":2,"unit_price":10,"currency":"EUR"}})",
      t0);
  {
    actors::app app(kafka.config(dir.str()));
    ASSERT_EQ(app.start(), "");
    kafka.produce("shop.carts", "ann", added);
    kafka.produce("shop.carts", "ann", added);
    kafka.flush();
    ASSERT_TRUE(wait_for([&] { return read_inputs(app) == 2; }));
    EXPECT_EQ(app.probe().duplicates_total(), 1u);
    app.stop();
  }
  actors::app app(kafka.config(dir.str()));
  ASSERT_EQ(app.start(), "");
  kafka.produce("shop.carts", "ann", added);  // a retry that took longer than the restart
  kafka.heartbeat(t0 + 2 * hour_ms, 1);
  kafka.flush();
  ASSERT_TRUE(wait_for([&] { return app.probe().reminders_total() == 1; }));
  const std::string text = http_get(app.metrics_port(), "/metrics");
  EXPECT_EQ(metric_value(text, "herald_duplicate_events_total", R"(topic="shop.carts")"), 1);
  app.stop();
  const auto out = kafka.read("herald.cart-reminders");
  ASSERT_EQ(out.size(), 1u);
  const auto j = nlohmann::json::parse(out[0].value);
  EXPECT_EQ(j.at("cart_value"), 20) << "not 40 or 60";
  ASSERT_EQ(j.at("lines").size(), 1u);
  EXPECT_EQ(j.at("lines")[0].at("quantity"), 2);
}

}  // namespace
}  // namespace herald::testing

namespace herald::testing {
namespace {

// Cart k1 gets its two reminders; the customer opens k2, then touches k1 again; a month later
// the shop reuses the id k1. Each cart is its own flow, two reminders at most, ever.
TEST(PipelineTest, EachCartOfACustomerGetsItsOwnRemindersAndNeverMoreThanTwo) {
  kafka_fixture kafka(1);
  temp_dir dir;
  actors::app app(kafka.config(dir.str()));
  ASSERT_EQ(app.start(), "");
  constexpr std::int64_t t0 = 1'700'000'000'000;
  constexpr std::int64_t day = 24 * hour_ms;
  auto add = [&](const char* cart, const char* sku, std::int64_t ts) {
    kafka.produce(
        "shop.carts", "ann",
        fmt::format(
            R"({{"type":"cart_item_added","event_id":"{}-{}-{}","ts":{},"customer_id":"ann","cart_id":"{}","sku":"{}","quantity":1,"unit_price":10,"currency":"EUR"}})",
            cart, sku, ts, ts, cart, sku));
  };
  add("k1", "sku-a", t0);
  kafka.heartbeat(t0 + day + hour_ms, 1);
  kafka.flush();
  ASSERT_TRUE(wait_for([&] { return app.probe().reminders_total() == 2; }));
  add("k2", "sku-b", t0 + day + 2 * hour_ms);
  add("k1", "sku-c", t0 + day + 3 * hour_ms);  // back to k1, after its two reminders
  kafka.heartbeat(t0 + 3 * day, 1);
  kafka.flush();
  ASSERT_TRUE(wait_for([&] { return app.probe().reminders_total() == 4; }));
  add("k1", "sku-a", t0 + 30 * day);  // the id again, long after the cart's retention
  kafka.heartbeat(t0 + 33 * day, 1);
  kafka.flush();
  ASSERT_TRUE(wait_for([&] { return read_inputs(app) == 10; }));
  const std::string text = http_get(app.metrics_port(), "/metrics");
  EXPECT_EQ(metric_value(text, "herald_suppressions_total",
                         R"(reason="max_reminders",rule="abandoned_cart")"),
            2);
  app.stop();
  std::vector<std::pair<std::string, int>> got;
  std::set<std::string> ids;
  for (const auto& r : kafka.read("herald.cart-reminders")) {
    const auto j = nlohmann::json::parse(r.value);
    got.emplace_back(j.at("cart_id"), j.at("reminder_number"));
    ids.insert(j.at("notification_id"));
  }
  const std::vector<std::pair<std::string, int>> want = {
      {"k1", 1}, {"k1", 2}, {"k2", 1}, {"k2", 2}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(ids.size(), 4u);
}

}  // namespace
}  // namespace herald::testing

namespace herald::testing {
namespace {

// A record without a key, a tombstone (no value) and one with neither reach the DLQ as they
// were: null stays null, empty stays empty.
// The idempotent producer's fatal error (the broker saw a gap in its sequence: ordering can no
// longer be guaranteed) stops Herald cleanly instead of leaving it half alive; the restart
// re-sends from the outbox what Kafka never acknowledged.
TEST(PipelineTest, AFatalProducerErrorStopsHeraldAndTheRestartSendsWhatWasLeft) {
  kafka_fixture kafka(1);
  if (kafka.mock() == nullptr) GTEST_SKIP() << "injects broker errors into the mock cluster";
  temp_dir dir;
  kafka.produce("shop.carts", "ann", "not json");
  kafka.flush();
  std::atomic<bool> fatal{false};
  {
    actors::app app(kafka.config(dir.str()));
    // Every Produce request (API key 0) from here on is answered out of sequence.
    rd_kafka_mock_push_request_errors(kafka.mock()->handle(), 0, 50,
                                      RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    ASSERT_EQ(app.start([&] { fatal = true; }), "");
    ASSERT_TRUE(wait_for([&] { return fatal.load(); }));
    EXPECT_NE(app.fatal_error().find("OUT_OF_ORDER_SEQUENCE"), std::string::npos)
        << app.fatal_error();
    EXPECT_NE(http_get(app.metrics_port(), "/healthz").find("fatal Kafka error"),
              std::string::npos);
    app.stop();
  }
  // The broker answers normally again: the dead letter committed before the error goes out.
  rd_kafka_mock_clear_request_errors(kafka.mock()->handle(), 0);
  actors::app app(kafka.config(dir.str()));
  ASSERT_EQ(app.start(), "");
  ASSERT_TRUE(wait_for([&] { return kafka.read("herald.dlq").size() >= 1; }));
  app.stop();
  const auto dlq = kafka.read("herald.dlq");
  ASSERT_GE(dlq.size(), 1u);
  EXPECT_EQ(dlq.front().value, "not json");
  EXPECT_TRUE(app.fatal_error().empty());
}

TEST(PipelineTest, NullKeysAndValuesStayNullInTheDeadLetterTopic) {
  kafka_fixture kafka(1);
  temp_dir dir;
  actors::app app(kafka.config(dir.str()));
  ASSERT_EQ(app.start(), "");
  const std::string body =
      R"({"type":"cart_cleared","event_id":"e1","ts":1700000000000,"customer_id":"ann","cart_id":"k"})";
  kafka.produce_raw("shop.carts", 0, std::string_view{}, body);
  kafka.produce_raw("shop.carts", 0, "ann", std::string_view{});
  kafka.produce_raw("shop.carts", 0, std::string_view{}, std::string_view{});
  kafka.produce_raw("shop.carts", 0, "", "");
  kafka.flush();
  ASSERT_TRUE(wait_for([&] { return read_inputs(app) == 4; }));
  app.stop();
  const auto dlq = kafka.read("herald.dlq");
  ASSERT_EQ(dlq.size(), 4u);
  EXPECT_TRUE(dlq[0].key_null);
  EXPECT_FALSE(dlq[0].value_null);
  EXPECT_EQ(dlq[0].value, body);
  EXPECT_EQ(dlq[1].key, "ann");
  EXPECT_FALSE(dlq[1].key_null);
  EXPECT_TRUE(dlq[1].value_null);
  EXPECT_NE(dlq[1].header("herald.error").find("tombstone"), std::string::npos)
      << dlq[1].header("herald.error");
  EXPECT_TRUE(dlq[2].key_null);
  EXPECT_TRUE(dlq[2].value_null);
  EXPECT_FALSE(dlq[3].key_null) << "an empty key is not a null one";
  EXPECT_FALSE(dlq[3].value_null);
  for (const auto& r : dlq) {
    EXPECT_EQ(r.header("herald.source.topic"), "shop.carts");
    EXPECT_EQ(r.header("herald.source.partition"), "0");
  }
  EXPECT_EQ(dlq[2].header("herald.source.offset"), "2");
}

}  // namespace
}  // namespace herald::testing

namespace herald::testing {
namespace {

// A 1.1 MB record is oversized input: its dead letter is cut to task.dlq_max_bytes, so Kafka
// takes it, nothing stays in the outbox, and a restart sends nothing again.
TEST(PipelineTest, AnOversizedRecordReachesTheDeadLetterTopicCutToItsLimit) {
  kafka_fixture kafka(1);
  temp_dir dir;
  const std::string big =
      R"({"type":"cart_cleared","event_id":"e1","ts":1700000000000,"customer_id":"ann","cart_id":"k","pad":")" +
      std::string(1'100'000, 'x') + R"("})";
  {
    actors::app app(kafka.config(dir.str()));
    ASSERT_EQ(app.start(), "");
    kafka.produce("shop.carts", "ann", big);
    kafka.flush();
    ASSERT_TRUE(wait_for([&] { return read_inputs(app) == 1; }));
    app.stop();  // waits for Kafka to acknowledge every output
    const std::string text = app.probe().scrape();
    EXPECT_EQ(metric_value(text, "herald_dlq_records_total", R"(reason="oversized")"), 1);
    EXPECT_EQ(metric_value(text, "herald_dlq_truncated_total"), 1);
    EXPECT_EQ(metric_value(text, "herald_produced_records_total", R"(result="failed")"), 0);
  }
  {
    actors::app app(kafka.config(dir.str()));  // a restart finds an empty outbox
    ASSERT_EQ(app.start(), "");
    app.stop();
  }
  const auto dlq = kafka.read("herald.dlq");
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].header("herald.truncated"), std::to_string(big.size()));
  EXPECT_EQ(dlq[0].header("herald.source.topic"), "shop.carts");
  std::size_t bytes = dlq[0].key.size() + dlq[0].value.size();
  for (const auto& [name, value] : dlq[0].headers) bytes += name.size() + value.size();
  EXPECT_LE(bytes, 1'000'000u);
  EXPECT_GT(dlq[0].value.size(), 990'000u);
  EXPECT_EQ(dlq[0].value, big.substr(0, dlq[0].value.size())) << "the start of the record";
}

}  // namespace
}  // namespace herald::testing

namespace herald::testing {
namespace {

// After a restart that finds nothing new, Herald is not behind: a partition it has not
// fetched from yet counts from where it resumed, not from the start of the log, and a
// transaction's commit marker at a partition's end is not a record behind. The restarted
// customer tasks publish their watermark markers to the repartition topic again (a real, short
// lag of Herald's own topic), so the lag must settle at 0 rather than read 0 at once.
TEST(PipelineTest, ARestartThatFindsNothingNewHasNoLag) {
  kafka_fixture kafka(2);
  temp_dir dir;
  constexpr std::int64_t t0 = 1'700'000'000'000;
  {
    actors::app app(kafka.config(dir.str()));
    ASSERT_EQ(app.start(), "");
    for (int i = 0; i < 20; ++i)
      kafka.produce(
          "shop.carts", fmt::format("c{}", i),
          fmt::format(
              R"({{"type":"checkout_started","event_id":"e{}","ts":{},"customer_id":"c{}","cart_id":"k"}})",
              i, t0 + i, i));
    kafka.flush();
    ASSERT_TRUE(wait_for([&] { return read_inputs(app) == 20; }));
    ASSERT_TRUE(wait_for([&] { return app.consumer_lag() == 0; }));
    app.stop();
  }
  actors::app app(kafka.config(dir.str()));
  ASSERT_EQ(app.start(), "");
  ASSERT_TRUE(wait_for([&] { return app.consumer_lag() >= 0; })) << "lag known";
  EXPECT_TRUE(wait_for([&] { return app.consumer_lag() == 0; }, std::chrono::seconds(10)))
      << app.consumer_lag();
  app.stop();
}

}  // namespace
}  // namespace herald::testing

namespace herald::testing {
namespace {

// Herald is down while the topic's retention deletes records it had not read: it says so
// (metric and error log) and goes on from the log's start.
TEST(PipelineTest, RecordsDeletedByRetentionBeforeTheyWereReadAreCountedLost) {
  kafka_fixture kafka(1);
  temp_dir dir;
  constexpr std::int64_t t0 = 1'700'000'000'000;
  std::mt19937_64 rng(7);
  auto checkout = [&](int i) {
    std::string pad(2000, ' ');  // incompressible: the producer compresses with lz4
    for (auto& c : pad) c = static_cast<char>('a' + rng() % 26);
    kafka.produce(
        "shop.carts", "ann",
        fmt::format(
            R"({{"type":"checkout_started","event_id":"e{}","ts":{},"customer_id":"ann","cart_id":"k","pad":"{}"}})",
            i, t0 + i, pad));
  };
  {
    actors::app app(kafka.config(dir.str()));
    ASSERT_EQ(app.start(), "");
    for (int i = 0; i < 3; ++i) checkout(i);
    kafka.flush();
    ASSERT_TRUE(wait_for([&] { return read_inputs(app) == 3; }));
    app.stop();
  }
  // While it is down, its oldest records go: the mock cluster keeps about 5 MiB a partition;
  // a real broker is told to delete them (what time or size retention does).
  const int more = kafka_fixture::real() ? 100 : 4000;
  for (int i = 3; i < 3 + more; ++i) checkout(i);
  kafka.flush();
  if (kafka_fixture::real()) {
    std::string error;
    ASSERT_TRUE(streams::delete_records({{"bootstrap.servers", kafka.bootstrap_servers()}},
                                        "shop.carts", 0, 50, error))
        << error;
  }
  const auto log = kafka.read("shop.carts");
  ASSERT_FALSE(log.empty());
  const std::int64_t start = log.front().offset;
  ASSERT_GT(start, 3) << "records went to retention";
  actors::app app(kafka.config(dir.str()));
  ASSERT_EQ(app.start(), "");
  ASSERT_TRUE(wait_for([&] { return read_inputs(app) == static_cast<std::uint64_t>(log.size()); }));
  EXPECT_EQ(metric_value(http_get(app.metrics_port(), "/metrics"),
                         "herald_input_lost_records_total", R"(topic="shop.carts")"),
            static_cast<double>(start - 3));
  app.stop();
}

}  // namespace
}  // namespace herald::testing

// Broker faults on a real 3-node Kafka cluster (replication factor 3, min.insync.replicas 2),
// while Herald processes: the leader of its output partition killed, and most of the cluster
// down for longer than the producer's message.timeout.ms. Each asserts:
// - every input is applied (herald_events_total; at-least-once: exactly once, no repeats;
//   exactly-once: an aborted transaction's inputs are applied, and counted, again);
// - every expected output is in its topic, none dropped: exactly-once, once (read_committed);
//   at-least-once, at least once, each copy with the same id and value;
// - the outputs of one key are in their order.
// The workload is shipments: 3 tracking updates per shipment (picked up, out for delivery,
// delivered), keyed by the customer, with deterministic notification ids.

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../integration/harness.hpp"

namespace herald::testing {
namespace {

using nlohmann::json;

constexpr std::int64_t t0 = 1'700'000'000'000;
constexpr std::int64_t hour = 3'600'000;

// scripts/kafka on the fixture's cluster; its stdout (trimmed), or a failure.
std::string kafka_script(const std::string& args) {
  const char* dir = std::getenv("HERALD_TEST_KAFKA");
  const std::string cmd = fmt::format("HERALD_KAFKA_DIR='{}' '{}/scripts/kafka' {} 2>&1",
                                      dir == nullptr ? "" : dir, HERALD_SOURCE_DIR, args);
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return "popen failed";
  char buf[512];
  while (fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  const int rc = pclose(p);
  EXPECT_EQ(rc, 0) << cmd << ":\n" << out;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  const auto nl = out.rfind('\n');
  return nl == std::string::npos ? out : out.substr(nl + 1);
}

struct workload {
  int shipments = 0;
  std::vector<std::pair<std::string, std::string>> records;  // (key, value) on shop.shipments

  explicit workload(int n) : shipments(n) {
    for (int i = 0; i < n; ++i) {
      const std::string id = fmt::format("f-{}", i);
      const std::int64_t at = t0 + i * 1000;
      records.push_back(
          {id,
           fmt::format(
               R"({{"type":"shipment_created","event_id":"{}-c","ts":{},"shipment_id":"{}","order_id":"o-{}","customer_id":"c-{}","carrier":"UPS","promised_delivery":{}}})",
               id, at, id, id, id, at + 100 * hour)});
      int step = 0;
      for (const char* code : {"P", "O", "D"})
        records.push_back(
            {id,
             fmt::format(
                 R"({{"type":"carrier_scan","event_id":"{}-{}","ts":{},"shipment_id":"{}","carrier":"UPS","status_code":"{}"}})",
                 id, code, at + (++step) * hour, id, code)});
    }
  }
  [[nodiscard]] std::size_t outputs() const { return static_cast<std::size_t>(shipments) * 3; }
};

// What the three assertions of this file check, on the tracking notifications topic.
void check_outputs(const kafka_fixture& kafka, const workload& w, actors::app& app,
                   bool exactly_once) {
  const auto out = kafka.read("herald.tracking-notifications");
  std::map<std::string, std::string> by_id;
  std::map<std::string, std::vector<std::string>> statuses;  // per key, in topic order
  for (const auto& r : out) {
    const json j = json::parse(r.value);
    const std::string id = j.at("notification_id");
    auto [it, fresh] = by_id.emplace(id, r.value);
    EXPECT_TRUE(fresh || it->second == r.value) << "a repeated id with another value: " << id;
    statuses[r.key].push_back(j.at("status"));
  }
  EXPECT_EQ(by_id.size(), w.outputs()) << out.size() << " records";
  if (exactly_once) EXPECT_EQ(out.size(), w.outputs()) << "copies in a read_committed read";
  EXPECT_EQ(statuses.size(), static_cast<std::size_t>(w.shipments));
  const std::vector<std::string> order = {"picked_up", "out_for_delivery", "delivered"};
  for (const auto& [key, seen] : statuses) {
    // A key's records first appear in their order: what a consumer that drops repeated ids
    // sees. (Copies re-sent after a failure follow later, each identical to its first.)
    std::vector<std::string> first;
    for (const auto& s : seen)
      if (std::find(first.begin(), first.end(), s) == first.end()) first.push_back(s);
    EXPECT_EQ(first, order) << key;
  }
  const std::string text = http_get(app.metrics_port(), "/metrics");
  const double applied =
      metric_value(text, "herald_events_total", R"(result="ok",topic="shop.shipments")");
  if (exactly_once)
    EXPECT_GE(applied, static_cast<double>(w.records.size()));
  else
    EXPECT_EQ(applied, static_cast<double>(w.records.size()));
  EXPECT_EQ(metric_value(text, "herald_duplicate_events_total", R"(topic="shop.shipments")"), 0);
  EXPECT_EQ(metric_value(text, "herald_outputs_dropped_total"), 0);
  EXPECT_TRUE(kafka.read("herald.dlq").empty());
}

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kafka_fixture::real()) GTEST_SKIP() << "needs the real 3-node cluster (HERALD_TEST_KAFKA)";
  }
  void TearDown() override {
    if (!kafka_fixture::real()) return;
    // Whatever a test killed comes back for the next one.
    for (int n = 1; n <= 3; ++n)
      if (kafka_script(fmt::format("status | grep -c 'node {}: running' || true", n)) == "0")
        kafka_script(fmt::format("start-node {}", n));
  }
};

TEST_F(FaultTest, TheLeaderOfTheOutputPartitionKilledWhileHeraldProcessesLosesNothing) {
  kafka_fixture kafka(3);
  temp_dir dir;
  const workload w(600);
  actors::app app(kafka.config(dir.str()));
  ASSERT_EQ(app.start(), "");
  const std::size_t half = w.records.size() / 2;
  for (std::size_t i = 0; i < half; ++i)
    kafka.produce("shop.shipments", w.records[i].first, w.records[i].second);
  kafka.flush();
  ASSERT_TRUE(wait_for([&] { return processed(app) >= half / 2; }));
  const std::string leader = kafka_script("leader herald.tracking-notifications 0");
  kafka_script("kill " + leader);
  // The rest arrives while the cluster elects new leaders: producers and consumers fail over.
  // (The killed broker may have been the group's or the transactions' coordinator: the
  // instance can lose its group membership, and a transaction can abort and rewind the
  // tasks, which then apply their inputs since the last commit again.)
  for (std::size_t i = half; i < w.records.size(); ++i)
    kafka.produce("shop.shipments", w.records[i].first, w.records[i].second);
  kafka.flush();
  ASSERT_TRUE(
      wait_for([&] { return processed(app) >= w.records.size(); }, std::chrono::seconds(120)));
  ASSERT_TRUE(wait_for(
      [&] {
        return app.probe().tracking_notifications_total(false) >= w.outputs() &&
               kafka.read("herald.tracking-notifications").size() >= w.outputs();
      },
      std::chrono::seconds(120)));
  kafka_script("start-node " + leader);
  check_outputs(kafka, w, app, /*exactly_once=*/true);
  app.stop();
}

TEST_F(FaultTest, TheClusterDownLongerThanTheMessageTimeoutLosesNothing) {
  kafka_fixture kafka(3);
  temp_dir dir;
  const workload w(2000);
  auto cfg = kafka.config(dir.str());
  // The outbox's re-sending is what this test is about: at-least-once (exactly-once instead
  // retries the transaction until the broker is back; the chaos verifier covers it).
  cfg.processing.guarantee = "at_least_once";
  // librdkafka gives a record up after this long; Herald then re-sends it from its outbox.
  cfg.kafka.properties["message.timeout.ms"] = "3000";
  actors::app app(cfg);
  ASSERT_EQ(app.start(), "");
  for (const auto& [k, v] : w.records) kafka.produce("shop.shipments", k, v);
  kafka.flush();
  ASSERT_TRUE(wait_for([&] { return processed(app) > 0; }));
  // Two of three nodes down: no partition has the two in-sync replicas a write needs.
  kafka_script("kill 2");
  kafka_script("kill 3");
  // Longer than message.timeout.ms, so deliveries fail and are re-sent.
  ASSERT_TRUE(wait_for(
      [&] {
        return metric_value(http_get(app.metrics_port(), "/metrics"),
                            "herald_produced_records_total", R"(result="failed")") > 0;
      },
      std::chrono::seconds(60)));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the outage itself, not a wait
  kafka_script("start-node 2");
  kafka_script("start-node 3");
  ASSERT_TRUE(
      wait_for([&] { return processed(app) == w.records.size(); }, std::chrono::seconds(120)));
  ASSERT_TRUE(wait_for(
      [&] {
        std::set<std::string> ids;
        for (const auto& r : kafka.read("herald.tracking-notifications"))
          ids.insert(json::parse(r.value).at("notification_id").get<std::string>());
        return ids.size() >= w.outputs();
      },
      std::chrono::seconds(120)));
  check_outputs(kafka, w, app, /*exactly_once=*/false);
  app.stop();
}

}  // namespace
}  // namespace herald::testing

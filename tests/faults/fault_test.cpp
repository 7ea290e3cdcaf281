// Broker faults on a real 3-node Kafka cluster (replication factor 3, min.insync.replicas 2),
// while Herald processes: the leader of its output partition killed, and most of the cluster
// down for longer than the producer's message.timeout.ms. Each asserts:
// - every input is applied (herald_events_total; at-least-once: exactly once, no repeats;
//   exactly-once: an aborted transaction's inputs are applied, and counted, again);
// - every expected output is in its topic, none dropped: exactly-once, once (read_committed);
//   at-least-once, at least once, each copy with the same id and value;
// - the outputs of one key are in their order.
// The workload is tracking_workload's shipments.

#include <cstdlib>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "../integration/tracking_workload.hpp"

namespace herald::testing {
namespace {

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

using workload = tracking_workload;

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
  w.produce(kafka, 0, half);
  ASSERT_TRUE(wait_for([&] { return processed(app) >= half / 2; }));
  const std::string leader = kafka_script("leader herald.tracking-notifications 0");
  kafka_script("kill " + leader);
  // The rest arrives while the cluster elects new leaders: producers and consumers fail over.
  // (The killed broker may have been the group's or the transactions' coordinator: the
  // instance can lose its group membership, and a transaction can abort and rewind the
  // tasks, which then apply their inputs since the last commit again.)
  w.produce(kafka, half, w.records.size());
  ASSERT_TRUE(
      wait_for([&] { return processed(app) >= w.records.size(); }, std::chrono::seconds(120)));
  ASSERT_TRUE(wait_for(
      [&] {
        return app.probe().tracking_notifications_total(false) >= w.outputs() &&
               kafka.read("herald.tracking-notifications").size() >= w.outputs();
      },
      std::chrono::seconds(120)));
  kafka_script("start-node " + leader);
  w.check(kafka, app, /*exactly_once=*/true);
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
  w.produce(kafka, 0, w.records.size());
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
  ASSERT_TRUE(wait_for([&] { return workload::delivered(kafka) >= w.outputs(); },
                       std::chrono::seconds(120)));
  w.check(kafka, app, /*exactly_once=*/false);
  app.stop();
}

}  // namespace
}  // namespace herald::testing

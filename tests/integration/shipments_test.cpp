// Shipment tracking through Kafka: a scripted scenario yields exactly the expected
// notifications; the Olist replay flags exactly the orders delivered late.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../common/olist.hpp"
#include "harness.hpp"
#include "herald/actors/demo.hpp"
#include "herald/streams/partitioner.hpp"

namespace herald::testing {
namespace {

using nlohmann::json;

constexpr std::int64_t t0 = 1'700'000'000'000;
constexpr std::int64_t hour = 3'600'000;
constexpr std::int64_t day = 24 * hour;

std::string created(const std::string& id, const std::string& carrier, std::int64_t ts,
                    std::int64_t promised) {
  return fmt::format(
      R"({{"type":"shipment_created","event_id":"{}-c","ts":{},"shipment_id":"{}","order_id":"o-{}","customer_id":"cust-{}","carrier":"{}","promised_delivery":{}}})",
      id, ts, id, id, id, carrier, promised);
}

std::string scan(const std::string& id, const std::string& carrier, const std::string& code,
                 std::int64_t ts, std::optional<std::int64_t> estimate = std::nullopt) {
  return fmt::format(
      R"({{"type":"carrier_scan","event_id":"{}-{}-{}","ts":{},"shipment_id":"{}","carrier":"{}","status_code":"{}"{}}})",
      id, code, ts, ts, id, carrier, code,
      estimate ? fmt::format(R"(,"estimated_delivery":{})", *estimate) : "");
}

TEST(ShipmentPipelineTest, ScriptedScenarioYieldsExactlyTheExpectedNotifications) {
  kafka_fixture kafka(2);
  temp_dir dir;
  actors::app app(kafka.config(dir.str()));
  ASSERT_EQ(app.start(), "");
  // A stream as shops send it: in time order across shipments, with local disorder only
  // (a scan overtaking its shipment's creation, a stale scan arriving after delivery).
  std::vector<std::pair<std::string, std::string>> in = {
      {"s1", created("s1", "UPS", t0, t0 + 3 * day)},
      {"s2", created("s2", "DHL", t0, t0 + 2 * day)},
      {"s1", scan("s1", "UPS", "M", t0 + hour)},  // duplicate of the created status
      {"s2", scan("s2", "DHL", "PU", t0 + hour)},
      {"s3", scan("s3", "USPS", "in_transit", t0 + 2 * hour)},  // before its creation: held
      {"s3", created("s3", "USPS", t0 + hour, t0 + 5 * day)},
      {"s1", scan("s1", "UPS", "P", t0 + 2 * hour)},
      {"s1", scan("s1", "UPS", "P", t0 + 2 * hour)},    // duplicate
      {"s1", scan("s1", "UPS", "I", t0 + 10 * hour)},   // in_transit does not notify
      {"s1", scan("s1", "UPS", "ZZ", t0 + 11 * hour)},  // unknown code
      {"s1", scan("s1", "UPS", "O", t0 + day)},
      {"s2", scan("s2", "DHL", "PU", t0 + day, t0 + 4 * day)},  // revised estimate
      {"s3", scan("s3", "USPS", "delivered", t0 + day)},        // EasyPost vocabulary via "*"
      {"s1", scan("s1", "UPS", "D", t0 + day + 3 * hour)},
      {"s1", scan("s1", "UPS", "D", t0 + day + 4 * hour)},        // duplicate after delivery
      {"s1", scan("s1", "UPS", "I", t0 + 12 * hour)},             // stale: never regresses
      {"s2", scan("s2", "DHL", "AF", t0 + 4 * day + 12 * hour)},  // the revised date passed
  };
  for (const auto& [k, v] : in) kafka.produce("shop.shipments", k, v);
  kafka.flush();
  ASSERT_TRUE(wait_for([&] { return processed(app) == in.size(); }));
  // Counted in the same report as the records: read once they are.
  const std::string text = http_get(app.metrics_port(), "/metrics");
  EXPECT_EQ(
      metric_value(text, "herald_suppressions_total", R"(reason="unknown_code",rule="tracking")"),
      1);
  // The repeated P scan has the event id of the first: not applied again. The other repeats
  // are new events of a known status, which the rule itself keeps quiet.
  EXPECT_EQ(metric_value(text, "herald_duplicate_events_total", R"(topic="shop.shipments")"), 1);
  app.stop();

  // (shipment, type, status, previous status, estimated delivery)
  using row = std::tuple<std::string, std::string, std::string, std::string, std::int64_t>;
  std::multiset<row> got;
  for (const auto& r : kafka.read("herald.tracking-notifications")) {
    const json j = json::parse(r.value);
    EXPECT_EQ(r.key, j.at("customer_id").get<std::string>());
    got.insert({j.at("shipment_id"), j.at("type"), j.at("status"),
                j.value("previous_status", std::string()),
                j.at("estimated_delivery").is_null()
                    ? 0
                    : j.at("estimated_delivery").get<std::int64_t>()});
  }
  const std::multiset<row> expected = {
      {"s1", "tracking_update", "picked_up", "info_received", t0 + 3 * day},
      {"s1", "tracking_update", "out_for_delivery", "in_transit", t0 + 3 * day},
      {"s1", "tracking_update", "delivered", "out_for_delivery", t0 + 3 * day},
      {"s2", "tracking_update", "picked_up", "info_received", t0 + 2 * day},
      {"s2", "tracking_update", "picked_up", "picked_up", t0 + 4 * day},
      {"s2", "delivery_delayed", "picked_up", "", t0 + 4 * day},
      {"s3", "tracking_update", "delivered", "in_transit", t0 + 5 * day},
  };
  EXPECT_EQ(got, expected);
  EXPECT_TRUE(kafka.read("herald.anomalies").empty());
  EXPECT_TRUE(kafka.read("herald.dlq").empty());
}

TEST(ShipmentPipelineTest, OlistReplayDelaysExactlyTheOrdersDeliveredAfterTheirEstimate) {
  std::size_t with_both = 0;
  const auto late = test::late_orders_from_csv(with_both);
  ASSERT_EQ(with_both, 9999u);
  std::string error;
  std::uint64_t orders = 0;
  const auto records = actors::olist_shipment_events(test::olist_dir(), orders, error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(orders, 9999u);
  auto sum = actors::replay(records, 4, error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(sum.processed, sum.events);
  EXPECT_EQ(sum.dead_letters, 0u);
  EXPECT_EQ(sum.messages["delivery_delayed"], late.size());
  EXPECT_EQ(late.size(), 653u);
  // shipment_late: still undelivered 3 days after the promise (the end of the estimated day),
  // so exactly the orders delivered more than 3 days after their estimated date.
  const auto very_late = test::late_orders_from_csv(with_both, 3);
  std::set<std::string> flagged;
  for (const auto& f : sum.flags)
    if (f.kind == "shipment_late") {
      EXPECT_TRUE(flagged.insert(f.entity_id).second) << f.entity_id;
    }
  EXPECT_EQ(flagged, very_late);
  EXPECT_EQ(sum.anomalies["shipment_late"], very_late.size());
  EXPECT_GT(very_late.size(), 100u);
  EXPECT_LT(very_late.size(), late.size());
}

// A lane's transit times are learned from the deliveries of every partition: with ten on each
// of two partitions, a shipment on either is flagged stuck once quiet past the lane's p95 (two
// days), not the 4-day default a partition on its own ten would still use. A restarted
// instance reads the other partition's share back from herald.lane-stats.
TEST(ShipmentPipelineTest, LanesAreLearnedFromEveryPartitionAndReadBackAfterARestart) {
  kafka_fixture kafka(2);
  temp_dir dir;
  std::array<std::vector<std::string>, 2> ids;
  for (int i = 0; ids[0].size() < 13 || ids[1].size() < 13; ++i) {
    const std::string id = "lane-" + std::to_string(i);
    ids[static_cast<std::size_t>(streams::default_partition(id, 2))].push_back(id);
  }
  std::size_t sent = 0;
  auto send = [&](const std::string& id, const std::string& value) {
    kafka.produce("shop.shipments", id, value);
    ++sent;
  };
  // Ten deliveries on each partition, two days after creation.
  for (std::size_t p = 0; p < 2; ++p)
    for (std::size_t i = 0; i < 10; ++i) {
      const std::string& id = ids[p][i];
      const std::int64_t at = t0 + static_cast<std::int64_t>(i) * hour;
      send(id, created(id, "UPS", at, at + 3 * day));
      send(id, scan(id, "UPS", "P", at + hour));
      send(id, scan(id, "UPS", "D", at + 2 * day));
    }
  // Each new shipment is picked up, then quiet for three days; a later shipment on each
  // partition moves event time past that.
  auto quiet = [&](const std::string& id, const std::string& beat, std::int64_t at) {
    send(id, created(id, "UPS", at, at + 30 * day));
    send(id, scan(id, "UPS", "P", at + hour));
    send(beat, created(beat, "UPS", at + 3 * day + 2 * hour, at + 30 * day));
  };
  auto stuck_flags = [&] {
    std::vector<json> out;
    for (const auto& r : kafka.read("herald.anomalies")) {
      const json j = json::parse(r.value);
      if (j.at("kind") == "shipment_stuck") out.push_back(j);
    }
    return out;
  };
  {
    actors::app app(kafka.config(dir.str()));
    ASSERT_EQ(app.start(), "");
    quiet(ids[1][10], ids[1][11], t0 + 5 * day);
    kafka.flush();
    ASSERT_TRUE(wait_for([&] { return processed(app) == sent && stuck_flags().size() == 1; }));
    app.stop();
    EXPECT_EQ(kafka.read("herald.lane-stats").size(), 20u) << "one record per delivery";
  }
  {
    actors::app app(kafka.config(dir.str()));
    ASSERT_EQ(app.start(), "");
    sent = 0;  // counted per run
    quiet(ids[0][11], ids[0][12], t0 + 10 * day);
    kafka.flush();
    ASSERT_TRUE(wait_for([&] { return processed(app) == sent && stuck_flags().size() == 2; }));
    app.stop();
  }
  const auto flags = stuck_flags();
  ASSERT_EQ(flags.size(), 2u);
  const std::set<std::string> flagged = {flags[0].at("entity_id"), flags[1].at("entity_id")};
  EXPECT_EQ(flagged, (std::set<std::string>{ids[1][10], ids[0][11]}));
  for (const auto& f : flags) {
    EXPECT_EQ(f.at("evidence").at("lane_samples"), 20) << f.dump();
    // The lane's p95 in hours: two days and a bucket's width at most.
    EXPECT_GE(f.at("threshold").get<double>(), 40.0) << f.dump();
    EXPECT_LT(f.at("threshold").get<double>(), 60.0) << f.dump();
    EXPECT_GT(f.at("score").get<double>(), f.at("threshold").get<double>()) << f.dump();
  }
  EXPECT_TRUE(kafka.read("herald.dlq").empty());
}

}  // namespace
}  // namespace herald::testing

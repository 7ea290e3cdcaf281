#pragma once
// Shipments with a known outcome, for the tests that break something under Herald (a broker,
// the disk) and check that nothing was lost: 3 tracking updates per shipment (picked up, out
// for delivery, delivered), keyed by the customer, with deterministic notification ids.

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace herald::testing {

struct tracking_workload {
  static constexpr std::int64_t start_ms = 1'700'000'000'000;
  static constexpr std::int64_t hour = 3'600'000;

  int shipments = 0;
  std::vector<std::pair<std::string, std::string>> records;  // (key, value) on shop.shipments

  explicit tracking_workload(int n) : shipments(n) {
    for (int i = 0; i < n; ++i) {
      const std::string id = fmt::format("f-{}", i);
      const std::int64_t at = start_ms + i * 1000;
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

  /// Produces records [from, to) to shop.shipments and flushes.
  void produce(kafka_fixture& kafka, std::size_t from, std::size_t to) const {
    for (std::size_t i = from; i < to && i < records.size(); ++i)
      kafka.produce("shop.shipments", records[i].first, records[i].second);
    kafka.flush();
  }

  /// Distinct notification ids in the tracking topic (read_committed).
  [[nodiscard]] static std::size_t delivered(const kafka_fixture& kafka) {
    std::set<std::string> ids;
    for (const auto& r : kafka.read("herald.tracking-notifications"))
      ids.insert(nlohmann::json::parse(r.value).at("notification_id").get<std::string>());
    return ids.size();
  }

  /// Every input applied (at-least-once: exactly once; exactly-once: an aborted transaction's
  /// inputs are applied, and counted, again), every output in its topic and none dropped
  /// (exactly-once: once; at-least-once: at least once, each copy with the same id and value),
  /// the outputs of one key in their order, no dead letter.
  void check(const kafka_fixture& kafka, actors::app& app, bool exactly_once) const {
    const auto out = kafka.read("herald.tracking-notifications");
    std::map<std::string, std::string> by_id;
    std::map<std::string, std::vector<std::string>> statuses;  // per key, in topic order
    for (const auto& r : out) {
      const auto j = nlohmann::json::parse(r.value);
      const std::string id = j.at("notification_id");
      auto [it, fresh] = by_id.emplace(id, r.value);
      EXPECT_TRUE(fresh || it->second == r.value) << "a repeated id with another value: " << id;
      statuses[r.key].push_back(j.at("status"));
    }
    EXPECT_EQ(by_id.size(), outputs()) << out.size() << " records";
    if (exactly_once) {
      EXPECT_EQ(out.size(), outputs()) << "copies in a read_committed read";
    }
    EXPECT_EQ(statuses.size(), static_cast<std::size_t>(shipments));
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
      EXPECT_GE(applied, static_cast<double>(records.size()));
    else
      EXPECT_EQ(applied, static_cast<double>(records.size()));
    EXPECT_EQ(metric_value(text, "herald_duplicate_events_total", R"(topic="shop.shipments")"), 0);
    EXPECT_EQ(metric_value(text, "herald_outputs_dropped_total"), 0);
    EXPECT_TRUE(kafka.read("herald.dlq").empty());
  }
};

}  // namespace herald::testing

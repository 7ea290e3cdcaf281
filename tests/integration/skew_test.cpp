// The same shop traffic fed through Kafka in event-time order and skewed — shop.carts 2 h of
// event time ahead of shop.clickstream, the reverse, four customer partitions at speeds 1, 2, 4
// and 8 — must give the same reminders, restock alerts, anomaly flags and suppressions, byte
// for byte.
//
// Idleness is off (event time only) because the feeds pause between rounds; every partition a
// task waits for is fed from the first round on (a page view and a checkout per customer
// partition, a stock level per inventory partition), as a live shop's are.

#include <algorithm>
#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "herald/actors/traffic.hpp"

namespace herald::testing {
namespace {

constexpr int partitions = 4;
constexpr std::int64_t step_ms = 10 * 60'000;  // event time per feeding round

struct generated {
  std::string topic;
  std::string key;
  std::string value;
  std::int64_t ts = 0;
  int partition = -1;  // customer topics: chosen here, the same for both; -1: by key
};

struct traffic_set {
  std::vector<generated> records;  // in event-time order
  std::int64_t start = 0, end = 0;
};

traffic_set make_traffic() {
  actors::traffic_config tc;
  tc.customers = 300;
  tc.skus = 40;
  tc.malformed_share = 0;
  tc.bot_share = 0.02;
  tc.seed = 7;
  actors::traffic_generator gen(tc);
  const actors::topics_config topics;
  traffic_set out;
  out.start = 1'700'000'000'000;
  std::int64_t now = out.start;
  for (int i = 0; i < 4000; ++i) {
    now += 4'000;  // ~4.4 h of event time
    auto r = gen.next(now);
    generated g;
    g.topic = actors::input_topic(topics, r.topic);
    g.key = r.key;
    g.ts = nlohmann::json::parse(r.value).at("ts").get<std::int64_t>();
    g.value = std::move(r.value);
    if (r.topic != schemas::topic_kind::inventory)
      g.partition = static_cast<int>(std::hash<std::string>{}(g.key) % partitions);
    out.records.push_back(std::move(g));
  }
  std::stable_sort(out.records.begin(), out.records.end(),
                   [](const generated& a, const generated& b) { return a.ts < b.ts; });
  out.end = out.records.back().ts;
  return out;
}

struct outputs {
  std::vector<std::string> reminders, restock, anomalies;
  std::map<std::string, double> suppressions;
};

// When record `r` may be produced in the round whose event time ends at `t`.
using schedule = std::function<bool(const generated& r, std::int64_t t)>;

outputs run(const traffic_set& tr, const schedule& due) {
  kafka_fixture kafka(partitions);
  temp_dir dir;
  actors::app app(kafka.config(dir.str()));
  EXPECT_EQ(app.start(), "");
  auto send = [&](const generated& r) {
    if (r.partition >= 0)
      kafka.produce_to(r.topic, r.partition, r.key, r.value);
    else
      kafka.produce(r.topic, r.key, r.value);
  };
  auto stock_beat = [&](std::int64_t ts) {
    for (int p = 0; p < partitions; ++p)
      kafka.produce_to("shop.inventory", p, fmt::format("beat-{}", p),
                       fmt::format(R"({{"type":"stock_level","event_id":"beat-{}-{}","ts":{},)"
                                   R"("sku":"beat-{}","location":"wh","available":1000}})",
                                   p, ts, ts, p));
  };
  std::uint64_t inputs = 0;
  auto settle = [&] {
    kafka.flush();
    // Read: applied, or waiting for the other inputs of its task to reach its event time.
    EXPECT_TRUE(wait_for([&] { return read_inputs(app) == inputs; })) << read_inputs(app);
    // Every signal and watermark marker the customer tasks sent has reached the SKU tasks.
    EXPECT_TRUE(wait_for([&] {
      const std::string m = http_get(app.metrics_port(), "/metrics");
      return metric_value(m, "herald_sku_signals_total") ==
                 metric_value(m, "herald_events_total",
                              R"(result="ok",topic="herald.sku-signals")") &&
             metric_value(m, "herald_watermark_markers_total", R"(direction="published")") ==
                 metric_value(m, "herald_watermark_markers_total", R"(direction="received")");
    }));
  };
  kafka.heartbeat(tr.start, partitions);
  stock_beat(tr.start);
  inputs += 3 * partitions;
  settle();
  std::vector<bool> sent(tr.records.size(), false);
  for (std::int64_t t = tr.start; t <= tr.end + 3 * 3'600'000; t += step_ms) {
    for (std::size_t i = 0; i < tr.records.size(); ++i)
      if (!sent[i] && due(tr.records[i], t)) {
        send(tr.records[i]);
        sent[i] = true;
        ++inputs;
      }
    settle();
  }
  // Two days later (a whole second, as the gauge shows it): every reminder and bucket is due.
  // Done when both families have committed everything up to then: the customer tasks their
  // records and timers, the SKU tasks every signal and marker the customer tasks sent.
  const std::int64_t at = (tr.end / 1000 + 2 * 86'400) * 1000;
  kafka.heartbeat(at, partitions);
  stock_beat(at);
  inputs += 3 * partitions;
  settle();
  EXPECT_TRUE(wait_for([&] {
    return family_done(app, "customer", at) && family_done(app, "sku", at);
  })) << http_get(app.metrics_port(), "/metrics");
  EXPECT_EQ(app.probe().waiting_total(), 0u);
  outputs out;
  const std::string m = http_get(app.metrics_port(), "/metrics");
  for (std::size_t pos = 0;
       (pos = m.find("\nherald_suppressions_total{", pos)) != std::string::npos;) {
    const auto eol = m.find('\n', pos + 1);
    const std::string line = m.substr(pos + 1, eol - pos - 1);
    const auto sp = line.rfind(' ');
    out.suppressions[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
    pos = eol;
  }
  app.stop();
  auto values = [&](const char* topic) {
    std::vector<std::string> v;
    for (const auto& r : kafka.read(topic)) v.push_back(r.key + " " + r.value);
    std::sort(v.begin(), v.end());
    return v;
  };
  out.reminders = values("herald.cart-reminders");
  out.restock = values("herald.restock-alerts");
  out.anomalies = values("herald.anomalies");
  return out;
}

std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Lines only one of `a` and `b` has, for a readable failure.
std::string difference(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::string> only_a, only_b;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(only_a));
  std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(only_b));
  std::string out;
  for (const auto& l : only_a) out += "\n  - " + l;
  for (const auto& l : only_b) out += "\n  + " + l;
  return out;
}

void expect_same(const outputs& a, const outputs& b, const char* what) {
  EXPECT_TRUE(a.reminders == b.reminders) << what << difference(a.reminders, b.reminders);
  EXPECT_TRUE(a.restock == b.restock) << what << difference(a.restock, b.restock);
  EXPECT_TRUE(a.anomalies == b.anomalies) << what << difference(a.anomalies, b.anomalies);
  EXPECT_EQ(a.suppressions, b.suppressions) << what;
}

TEST(SkewTest, SkewedFeedsGiveExactlyTheOutputsOfTheEventTimeOrder) {
  const traffic_set tr = make_traffic();
  const outputs in_order = run(tr, [](const generated& r, std::int64_t t) { return r.ts < t; });
  ASSERT_GT(in_order.reminders.size(), 20u);
  ASSERT_GT(in_order.restock.size(), 5u);
  ASSERT_FALSE(in_order.anomalies.empty()) << "the generated scrapers are flagged";
  // What ran, for comparing runs with each other (the acceptance asks for five identical).
  std::string all;
  for (const auto* v : {&in_order.reminders, &in_order.restock, &in_order.anomalies})
    for (const auto& line : *v) all += line + '\n';
  for (const auto& [name, n] : in_order.suppressions) all += fmt::format("{} {}\n", name, n);
  fmt::print("outputs: {} reminders, {} restock alerts, {} anomaly flags, fnv1a {:016x}\n",
             in_order.reminders.size(), in_order.restock.size(), in_order.anomalies.size(),
             fnv1a(all));
  constexpr std::int64_t two_hours = 2 * 3'600'000;
  const outputs carts_ahead = run(tr, [](const generated& r, std::int64_t t) {
    return r.ts < (r.topic == "shop.carts" ? t + two_hours : t);
  });
  expect_same(in_order, carts_ahead, "shop.carts 2 h ahead");
  const outputs clicks_ahead = run(tr, [](const generated& r, std::int64_t t) {
    return r.ts < (r.topic == "shop.clickstream" ? t + two_hours : t);
  });
  expect_same(in_order, clicks_ahead, "shop.clickstream 2 h ahead");
  const std::int64_t start = tr.start;
  const outputs speeds = run(tr, [start](const generated& r, std::int64_t t) {
    if (r.partition < 0) return r.ts < t;                       // inventory at the slowest pace
    const std::int64_t speed = std::int64_t{1} << r.partition;  // 1, 2, 4, 8
    return r.ts < start + (t - start) * speed;
  });
  expect_same(in_order, speeds, "partitions at speeds 1, 2, 4, 8");
}

}  // namespace
}  // namespace herald::testing

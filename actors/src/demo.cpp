#include "herald/actors/demo.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "herald/actors/app.hpp"
#include "herald/actors/changelog.hpp"
#include "herald/actors/traffic.hpp"
#include "herald/streams/dlq.hpp"
#include "herald/streams/mock_cluster.hpp"
#include "herald/streams/sink.hpp"
#include "herald/streams/topic_reader.hpp"

namespace herald::actors {
namespace {

using clock = std::chrono::steady_clock;

double seconds_since(clock::time_point t) {
  return std::chrono::duration<double>(clock::now() - t).count();
}

}  // namespace

std::vector<streams::topic_spec> herald_topics(const topics_config& t, int partitions,
                                               const std::string& app_id) {
  std::vector<streams::topic_spec> out;
  for (const auto* name :
       {&t.clickstream, &t.carts, &t.inventory, &t.sku_signals, &t.shipments,
        &t.tracking_notifications, &t.anomalies, &t.cart_reminders, &t.restock_alerts, &t.dlq})
    out.push_back({*name, partitions, -1, {}});
  // Read whole by every instance; its latest record per key is what a restart reads back.
  out.push_back({t.lane_stats, 1, -1, {{"cleanup.policy", "compact"}}});
  if (!app_id.empty())
    for (auto& spec : changelog_topics(app_id, {0, partitions, partitions, partitions}))
      out.push_back(std::move(spec));
  return out;
}

std::string topics_yaml(const topics_config& t) {
  std::string y = "topics:\n";
  for (const auto& [k, v] : std::vector<std::pair<const char*, const std::string*>>{
           {"clickstream", &t.clickstream},
           {"carts", &t.carts},
           {"inventory", &t.inventory},
           {"sku_signals", &t.sku_signals},
           {"cart_reminders", &t.cart_reminders},
           {"restock_alerts", &t.restock_alerts},
           {"shipments", &t.shipments},
           {"lane_stats", &t.lane_stats},
           {"tracking_notifications", &t.tracking_notifications},
           {"anomalies", &t.anomalies},
           {"dlq", &t.dlq}})
    y += fmt::format("  {}: '{}'\n", k, *v);
  return y;
}

void create_topics(streams::mock_cluster& mc, const topics_config& t, int partitions,
                   const std::string& app_id) {
  for (const auto& spec : herald_topics(t, partitions, app_id))
    mc.create_topic(spec.name, spec.partitions);
}

int run_demo(const demo_options& o) {
  std::string error;
  auto mc = streams::mock_cluster::start(3, error);
  if (!mc) {
    fmt::print(stderr, "demo: {}\n", error);
    return 1;
  }
  app_config cfg;
  create_topics(*mc, cfg.topics, o.partitions, "herald-demo");
  cfg.kafka.properties["bootstrap.servers"] = mc->bootstrap_servers();
  cfg.kafka.session_timeout_ms = 6000;
  cfg.kafka.group_id = "herald-demo";
  cfg.metrics.listen = o.metrics_listen;
  const bool temp_state = o.state_dir.empty();
  cfg.state.dir =
      temp_state
          ? (std::filesystem::temp_directory_path() / fmt::format("herald-demo-{}", ::getpid()))
                .string()
          : o.state_dir;
  // Event time runs `time_scale` times faster than the wall clock in the demo, so it runs
  // ahead of the clock by design: the future bound covers the whole run, and a partition quiet
  // for 2 s (hours of event time) stops holding its task's watermark back. A second of wall
  // time is an hour of event time: the count-based detectors use hour buckets (production:
  // 10 min) so a bucket holds more than a few records of each SKU.
  cfg.task.watermark.idle_timeout_ms = 2000;
  cfg.task.max_future_ms =
      static_cast<std::int64_t>((o.duration_s + 60) * 1000 * o.time_scale) + 86'400'000;
  for (auto* d : {&cfg.anomalies.demand, &cfg.anomalies.traffic}) {
    d->bucket_ms = 3'600'000;
    d->min_history = 6;  // the first hours ramp up while journeys start
  }

  fmt::print(
      "herald demo: mock Kafka at {}, {} partitions, {:.0f} records/s for {:.0f} s, "
      "event time x{:.0f}\n",
      mc->bootstrap_servers(), o.partitions, o.rate, o.duration_s, o.time_scale);
  app herald(cfg);
  if (auto err = herald.start(); !err.empty()) {
    fmt::print(stderr, "demo: {}\n", err);
    return 1;
  }
  fmt::print("metrics: http://{}:{}/metrics\n",
             o.metrics_listen.substr(0, o.metrics_listen.rfind(':')), herald.metrics_port());

  streams::sink_config sink_cfg;
  sink_cfg.properties["bootstrap.servers"] = mc->bootstrap_servers();
  auto producer = streams::sink::create(sink_cfg, error);
  if (!producer) {
    fmt::print(stderr, "demo: {}\n", error);
    return 1;
  }
  traffic_config tcfg;
  tcfg.malformed_share = o.malformed_share;
  traffic_generator gen(tcfg);
  // Event time starts at the wall clock and runs ahead of it: a quiet task's watermark then
  // never catches up with the clock mid-demo (which would fire every pending timer).
  const std::int64_t sim_start = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
  std::uint64_t produced = 0, malformed = 0;
  const auto start = clock::now();
  auto next_progress = o.progress_s;
  auto& probe = herald.probe();
  auto processed = [&] { return probe.input_events_total(); };
  fmt::print("{:>6} {:>11} {:>11} {:>10} {:>9} {:>6} {:>8}\n", "time", "produced", "processed",
             "events/s", "reminders", "dlq", "lag");
  std::uint64_t last_processed = 0;
  double last_t = 0;
  while (true) {
    const double t = seconds_since(start);
    if (t >= o.duration_s) break;
    const auto target = static_cast<std::uint64_t>(o.rate * t);
    const auto sim_now = sim_start + static_cast<std::int64_t>(t * 1000 * o.time_scale);
    while (produced < target) {
      traffic_record r = gen.next(sim_now);
      producer->produce(input_topic(cfg.topics, r.topic), r.key, r.value);
      ++produced;
      malformed += r.malformed ? 1 : 0;
    }
    if (t >= next_progress) {
      const auto p = processed();
      fmt::print("{:>5.0f}s {:>11} {:>11} {:>10.0f} {:>9} {:>6} {:>8}\n", t, produced, p,
                 static_cast<double>(p - last_processed) / (t - last_t), probe.reminders_total(),
                 probe.events_total(event_result::dlq),
                 std::max<std::int64_t>(herald.consumer_lag(), 0));
      last_processed = p;
      last_t = t;
      next_progress += o.progress_s;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  producer->flush();
  const double gen_s = seconds_since(start);
  // Let Herald drain what was produced.
  while (processed() < produced && seconds_since(start) < gen_s + 60)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const double total_s = seconds_since(start);
  herald.stop();

  std::vector<streams::consumed_record> reminders, dlq, alerts, anomalies;
  streams::kafka_properties props{{"bootstrap.servers", mc->bootstrap_servers()}};
  const bool read_ok = streams::read_topic(props, cfg.topics.cart_reminders, reminders, error) &&
                       streams::read_topic(props, cfg.topics.restock_alerts, alerts, error) &&
                       streams::read_topic(props, cfg.topics.anomalies, anomalies, error) &&
                       streams::read_topic(props, cfg.topics.dlq, dlq, error);
  fmt::print("\nsummary\n");
  fmt::print("  records produced      {} ({} malformed), {} customer journeys\n", produced,
             malformed, gen.journeys_started());
  fmt::print("  records processed     {} in {:.1f} s: {:.0f} records/s\n", processed(), total_s,
             static_cast<double>(processed()) / total_s);
  fmt::print("  reminders emitted     {} (metrics), {} in {}\n", probe.reminders_total(),
             reminders.size(), cfg.topics.cart_reminders);
  fmt::print("  cart reminders suppressed {}\n", probe.suppressions_total());
  using rt = metrics::restock_type;
  fmt::print("  back-in-stock         {} notifications ({} restock-alert records in {})\n",
             probe.restock_alerts_total(rt::back_in_stock), alerts.size(),
             cfg.topics.restock_alerts);
  fmt::print("  stock alerts          {} low_stock, {} out_of_stock\n",
             probe.restock_alerts_total(rt::low_stock),
             probe.restock_alerts_total(rt::out_of_stock));
  {
    std::string kinds;
    std::uint64_t flags = 0;
    for (const auto kind : anomaly_kinds)
      if (const auto n = probe.anomalies_total(kind); n > 0) {
        kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ", n, kind);
        flags += n;
      }
    fmt::print("  anomaly flags         {} ({}), {} in {}\n", flags, kinds.empty() ? "none" : kinds,
               anomalies.size(), cfg.topics.anomalies);
    // The generator's scrapers are "bot-<journey>"; a shopper flagged would be a false positive.
    std::uint64_t bots = 0, shoppers = 0;
    for (const auto& r : anomalies)
      if (r.value.find(R"("kind":"bot_click_rate")") != std::string::npos)
        ++(r.key.starts_with("bot-") ? bots : shoppers);
    fmt::print("  bot flags             {} on generated scrapers, {} on shoppers\n", bots,
               shoppers);
  }
  fmt::print("  dead-lettered         {} (metrics), {} in {}\n",
             probe.events_total(event_result::dlq), dlq.size(), cfg.topics.dlq);
  if (!read_ok) fmt::print("  (could not read outputs back: {})\n", error);
  if (!reminders.empty()) fmt::print("  sample reminder       {}\n", reminders.front().value);
  {
    std::set<std::string> shown;  // one flag of each kind
    for (const auto& r : anomalies) {
      const auto k = r.value.find(R"("kind":")");
      const auto kind =
          k == std::string::npos ? "" : r.value.substr(k + 8, r.value.find('"', k + 8) - k - 8);
      if (shown.insert(kind).second) fmt::print("  sample flag           {}\n", r.value);
    }
  }
  std::map<std::string, std::size_t> reasons;  // by source topic and reason
  for (const auto& r : dlq)
    ++reasons[r.header(std::string(streams::dlq_topic_header)) + ": " +
              r.header(std::string(streams::dlq_error_header))];
  std::vector<std::pair<std::size_t, std::string>> top;
  for (const auto& [reason, n] : reasons) top.emplace_back(n, reason);
  std::sort(top.rbegin(), top.rend());
  for (std::size_t i = 0; i < top.size() && i < 4; ++i)
    fmt::print("  DLQ {:>6} x          {}\n", top[i].first, top[i].second);
  if (temp_state) std::filesystem::remove_all(cfg.state.dir);
  const bool ok = processed() == produced && dlq.size() == malformed;
  if (!ok)
    fmt::print("demo: FAILED: processed {} of {} records, {} of {} malformed in the DLQ\n",
               processed(), produced, dlq.size(), malformed);
  return ok ? 0 : 1;
}

int run_dev_kafka(int brokers, int partitions) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::string error;
  auto mc = streams::mock_cluster::start(brokers, error);
  if (!mc) {
    fmt::print(stderr, "dev-kafka: {}\n", error);
    return 1;
  }
  create_topics(*mc, topics_config{}, partitions);
  fmt::print("{}\n", mc->bootstrap_servers());
  std::fflush(stdout);
  spdlog::info(
      "mock Kafka cluster with {} brokers up; topics created with {} partitions; "
      "Ctrl-C to stop",
      brokers, partitions);
  int sig = 0;
  sigwait(&set, &sig);
  return 0;
}

}  // namespace herald::actors

namespace herald::actors {
namespace {

/// Splits one CSV line (the Olist files quote no field that contains a comma).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  for (char c : line) {
    if (c == ',') {
      out.push_back(std::move(field));
      field.clear();
    } else if (c != '"' && c != '\r') {
      field.push_back(c);
    }
  }
  out.push_back(std::move(field));
  return out;
}

/// "2018-03-27 18:00:43" (UTC) -> epoch ms; nullopt when empty or malformed.
std::optional<std::int64_t> olist_time(const std::string& s) {
  std::tm tm{};
  if (s.size() < 19 || std::sscanf(s.c_str(), "%4d-%2d-%2d %2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
                                   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

struct timed_record {
  std::int64_t ts;
  int order;  // creation before scans at the same instant
  std::string key;
  std::string value;
};

}  // namespace

std::vector<replay_record> olist_shipment_events(const std::string& dir, std::uint64_t& rows,
                                                 std::string& error) {
  rows = 0;
  std::map<std::string, std::string> customer_state;
  {
    std::ifstream in(dir + "/olist_customers_dataset.csv");
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      auto f = csv_fields(line);
      if (f.size() >= 5) customer_state[f[0]] = f[4];
    }
  }
  std::ifstream in(dir + "/olist_orders_dataset.csv");
  if (!in) {
    error = "cannot read " + dir + "/olist_orders_dataset.csv";
    return {};
  }
  std::string line;
  std::getline(
      in, line);  // order_id,customer_id,order_status,purchase,approved,carrier,delivered,estimated
  std::vector<timed_record> records;
  constexpr std::int64_t day_ms = 86'400'000;
  while (std::getline(in, line)) {
    const auto f = csv_fields(line);
    if (f.size() < 8) continue;
    const auto purchase = olist_time(f[3]), approved = olist_time(f[4]), carrier = olist_time(f[5]),
               delivered = olist_time(f[6]), estimated = olist_time(f[7]);
    // The order is the shipment's creation: approval sometimes comes after the carrier's
    // pickup (122 orders of the sample) or even the delivery, the purchase never does.
    const auto created = purchase ? purchase : approved;
    if (!created || !delivered || !estimated) continue;
    ++rows;
    const std::string& id = f[0];
    const std::string dest = customer_state.count(f[1]) ? customer_state[f[1]] : "BR";
    // The estimate is a date: the promise holds until the end of that day.
    records.push_back(
        {*created, 0, id,
         fmt::format(
             R"({{"type":"shipment_created","event_id":"{}-created","ts":{},"shipment_id":"{}","order_id":"{}","customer_id":"{}","carrier":"correios","origin":"BR","destination":"{}","promised_delivery":{}}})",
             id, *created, id, id, f[1], dest, *estimated + day_ms)});
    auto scan = [&](std::int64_t ts, const char* code) {
      records.push_back(
          {ts, 1, id,
           fmt::format(
               R"({{"type":"carrier_scan","event_id":"{}-{}","ts":{},"shipment_id":"{}","carrier":"correios","status_code":"{}"}})",
               id, code, ts, id, code)});
    };
    if (carrier) scan(*carrier, "objeto_postado");
    scan(*delivered, "entregue");
  }
  std::stable_sort(records.begin(), records.end(), [](const auto& a, const auto& b) {
    return a.ts != b.ts ? a.ts < b.ts : a.order < b.order;
  });
  std::vector<replay_record> out;
  out.reserve(records.size());
  for (auto& r : records)
    out.push_back({r.ts, schemas::topic_kind::shipments, std::move(r.key), std::move(r.value)});
  return out;
}

std::vector<replay_record> rees46_events(const std::string& file, std::uint64_t& rows,
                                         std::string& error) {
  rows = 0;
  std::ifstream in(file);
  if (!in) {
    error = "cannot read " + file;
    return {};
  }
  std::vector<replay_record> out;
  std::string line;
  std::getline(in, line);  // event_time,event_type,product_id,...,price,user_id,user_session
  while (std::getline(in, line)) {
    const auto f = csv_fields(line);
    if (f.size() < 9 || f[8].empty()) continue;  // the source's truncated last row
    const auto ts = olist_time(f[0]);            // "2019-10-01 00:00:00 UTC"
    if (!ts) continue;
    const std::string id = fmt::format("rees46-{}", ++rows);
    const std::string &type = f[1], &sku = f[2], &price = f[6], &user = f[7], &session = f[8];
    replay_record r{*ts, schemas::topic_kind::carts, user, {}};
    if (type == "view") {
      r.topic = schemas::topic_kind::clickstream;
      r.value = fmt::format(
          R"({{"type":"product_view","event_id":"{}","ts":{},"customer_id":"{}","session_id":"{}","sku":"{}","price":{},"currency":"USD"}})",
          id, *ts, user, session, sku, price);
    } else if (type == "cart") {
      r.value = fmt::format(
          R"({{"type":"cart_item_added","event_id":"{}","ts":{},"customer_id":"{}","cart_id":"{}","sku":"{}","quantity":1,"unit_price":{},"currency":"USD"}})",
          id, *ts, user, session, sku, price);
    } else if (type == "remove_from_cart") {
      r.value = fmt::format(
          R"({{"type":"cart_item_removed","event_id":"{}","ts":{},"customer_id":"{}","cart_id":"{}","sku":"{}","quantity":1}})",
          id, *ts, user, session, sku);
    } else if (type == "purchase") {
      r.value = fmt::format(
          R"({{"type":"order_placed","event_id":"{}","ts":{},"customer_id":"{}","order_id":"{}","cart_id":"{}","lines":[{{"sku":"{}","quantity":1,"unit_price":{}}}],"total":{},"currency":"USD"}})",
          id, *ts, user, id, session, sku, price, price);
    } else {
      continue;
    }
    out.push_back(std::move(r));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.ts_ms < b.ts_ms; });
  return out;
}

replay_summary replay(const std::vector<replay_record>& records, int partitions,
                      std::string& error) {
  replay_summary sum;
  sum.events = records.size();
  auto mc = streams::mock_cluster::start(1, error);
  if (!mc) return sum;
  app_config cfg;
  create_topics(*mc, cfg.topics, partitions, "herald-replay");
  cfg.kafka.properties["bootstrap.servers"] = mc->bootstrap_servers();
  cfg.kafka.session_timeout_ms = 6000;
  cfg.kafka.group_id = "herald-replay";
  cfg.metrics.listen = "";
  cfg.task.watermark.idle_timeout_ms = 0;  // event time only: the replay is deterministic
  cfg.state.dir =
      (std::filesystem::temp_directory_path() / fmt::format("herald-replay-{}", ::getpid()))
          .string();
  std::filesystem::remove_all(cfg.state.dir);
  {
    app herald(cfg);
    if (auto err = herald.start(); !err.empty()) {
      error = err;
      return sum;
    }
    streams::sink_config sc;
    sc.properties["bootstrap.servers"] = mc->bootstrap_servers();
    auto producer = streams::sink::create(sc, error);
    if (!producer) return sum;
    auto& probe = herald.probe();
    // Stay within the mock cluster's per-partition retention: never far ahead of Herald.
    std::uint64_t sent = 0;
    auto read = [&] { return probe.inputs_read_total(); };
    for (const auto& r : records) {
      while (sent - read() > 20'000) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      producer->produce(input_topic(cfg.topics, r.topic), r.key, r.value);
      ++sent;
    }
    producer->flush();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (read() < sent && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    // Everything is read: the last records of a topic ahead of the other wait for nothing.
    herald.finish_input();
    while (probe.input_events_total() < sent && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    herald.stop();
    sum.processed = probe.input_events_total();
    sum.dead_letters = probe.events_total(event_result::dlq);
    sum.repeats = probe.duplicates_total();
    using rt = metrics::restock_type;
    sum.messages = {{"cart_reminder", probe.reminders_total()},
                    {"back_in_stock", probe.restock_alerts_total(rt::back_in_stock)},
                    {"low_stock", probe.restock_alerts_total(rt::low_stock)},
                    {"out_of_stock", probe.restock_alerts_total(rt::out_of_stock)},
                    {"tracking_update", probe.tracking_notifications_total(false)},
                    {"delivery_delayed", probe.tracking_notifications_total(true)}};
    for (const auto kind : anomaly_kinds)
      sum.anomalies[std::string(kind)] = probe.anomalies_total(kind);
    std::vector<streams::consumed_record> flags;
    if (!streams::read_topic(cfg.kafka.properties, cfg.topics.anomalies, flags, error)) return sum;
    for (const auto& r : flags) {
      const auto j = nlohmann::json::parse(r.value, nullptr, false);
      if (j.is_discarded()) {
        error = "unreadable anomaly record: " + r.value;
        return sum;
      }
      sum.flags.push_back({j.value("kind", ""), j.value("entity_type", ""),
                           j.value("entity_id", ""), j.value("ts", std::int64_t{0}),
                           j.value("score", 0.0), j.value("threshold", 0.0),
                           j.contains("evidence") ? j["evidence"].dump() : "{}"});
    }
  }
  std::filesystem::remove_all(cfg.state.dir);
  std::sort(sum.flags.begin(), sum.flags.end(), [](const replay_flag& a, const replay_flag& b) {
    return std::tie(a.ts_ms, a.kind, a.entity_type, a.entity_id) <
           std::tie(b.ts_ms, b.kind, b.entity_type, b.entity_id);
  });
  if (sum.processed != sum.events)
    error = fmt::format("processed {} of {} events", sum.processed, sum.events);
  return sum;
}

}  // namespace herald::actors

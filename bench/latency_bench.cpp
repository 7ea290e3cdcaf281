// End-to-end latency of Herald's event-triggered outputs: from an input record's append to the
// broker to its output, at a steady input rate.
//
// A feeder produces generated shop traffic (clickstream, carts, inventory; event time = the
// wall clock) at `--rate` records/s for `--seconds`, with probes among it, one every
// `--probe-every` records, in turn:
//   - a shipment: created, picked up, delivered, one record per probe turn: each scan gives a
//     tracking_update;
//   - a SKU: out of stock, a customer's notify_me, restocked: the restock gives a back_in_stock
//     (through the customer task, the repartition topic and the SKU task's watermark);
//   - a malformed cart record: a dead letter.
// After `--seconds` the background traffic goes on without probes until every probe has its
// output (30 s at most), so the last probes are not left to an idle input's timeout.
// Herald runs in this process with its production defaults (plus `--property`, `--commit-ms`,
// `--tick-ms`). Input and output topics are created with message.timestamp.type=LogAppendTime,
// so both ends are the broker's clock. Per output type it prints p50/p99/p99.9/max of
//   append:  output append time - input append time;
//   visible: when a read_committed consumer (in this process, fetch.wait.max.ms=5) received it
//            - input append time; under exactly-once an output is visible only once its
//            transaction commits.
// It needs a real broker (`--bootstrap`; the mock cluster has no LogAppendTime and no
// transactions).
//
// Usage: bench_latency --bootstrap ADDR [--rate R] [--seconds S] [--guarantee G]
//                      [--partitions P] [--probe-every N] [--commit-ms MS] [--tick-ms MS]
//                      [--property K=V]...

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "herald/actors/app.hpp"
#include "herald/actors/changelog.hpp"
#include "herald/actors/traffic.hpp"
#include "herald/streams/admin.hpp"
#include "herald/streams/dlq.hpp"
#include "herald/streams/sink.hpp"
#include "herald/streams/topic_reader.hpp"

namespace {

using namespace herald;
using nlohmann::json;
using clock_type = std::chrono::steady_clock;

struct options {
  std::string bootstrap;
  double rate = 20'000;
  int seconds = 60;
  std::string guarantee = "exactly_once_v2";
  int partitions = 4;
  int probe_every = 50;
  std::int64_t commit_ms = -1;  // -1: Herald's default
  std::int64_t tick_ms = -1;
  streams::kafka_properties properties;
};

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// An output as the live consumer received it.
struct received {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t append_ms = 0;
  std::int64_t seen_ms = 0;
  std::string value;
  streams::header_list headers;
};

/// Reads `topics` read_committed from their beginning until `stop`, noting when each record
/// arrived.
void consume(const std::string& bootstrap, const std::vector<std::string>& topics,
             const std::atomic<bool>& stop, std::vector<received>& out, std::mutex& mutex) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (auto [k, v] : {std::pair{"bootstrap.servers", bootstrap.c_str()},
                      {"group.id", "bench-latency-reader"},
                      {"isolation.level", "read_committed"},
                      {"fetch.wait.max.ms", "5"},
                      {"enable.auto.commit", "false"}})
    rd_kafka_conf_set(conf, k, v, err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  rd_kafka_poll_set_consumer(rk);
  auto* list = rd_kafka_topic_partition_list_new(16);
  for (const auto& t : topics) {
    std::string e;
    const int n = streams::partition_count({{"bootstrap.servers", bootstrap}}, t, e);
    for (int p = 0; p < n; ++p)
      rd_kafka_topic_partition_list_add(list, t.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  while (!stop.load()) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 50);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      received r;
      r.seen_ms = wall_ms();
      r.topic = rd_kafka_topic_name(m->rkt);
      r.partition = m->partition;
      r.append_ms = rd_kafka_message_timestamp(m, nullptr);
      if (m->payload != nullptr) r.value.assign(static_cast<const char*>(m->payload), m->len);
      r.headers = streams::headers_of(m);
      const std::lock_guard<std::mutex> lock(mutex);
      out.push_back(std::move(r));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
}

/// The probes, one per turn in rotation: shipment step, SKU step, malformed record.
class probes {
 public:
  struct record {
    const std::string* topic;
    std::string key, value;
  };
  probes(const actors::topics_config& t) : topics_(t) {}

  record next(std::int64_t now) {
    switch (turn_++ % 3) {
      case 0:
        return shipment(now);
      case 1:
        return sku(now);
      default: {
        const std::string key = fmt::format("lat-bad-{}", bad_++);
        return {&topics_.carts, key, R"({"type":"cart_item_added","event_id":)"};
      }
    }
  }
  [[nodiscard]] std::size_t shipments() const { return ship_; }
  [[nodiscard]] std::size_t skus() const { return sku_; }
  [[nodiscard]] std::size_t bad() const { return bad_; }

 private:
  record shipment(std::int64_t now) {
    const std::string id = fmt::format("lat-ship-{}", ship_);
    const int step = ship_step_++;
    if (ship_step_ == 3) {
      ship_step_ = 0;
      ++ship_;
    }
    if (step == 0)
      return {
          &topics_.shipments, id,
          fmt::format(
              R"({{"type":"shipment_created","event_id":"{}-c","ts":{},"shipment_id":"{}","order_id":"o-{}","customer_id":"c-{}","carrier":"UPS","promised_delivery":{}}})",
              id, now, id, id, id, now + 3 * 86'400'000LL)};
    const char* code = step == 1 ? "P" : "D";
    return {
        &topics_.shipments, id,
        fmt::format(
            R"({{"type":"carrier_scan","event_id":"{}-{}","ts":{},"shipment_id":"{}","carrier":"UPS","status_code":"{}"}})",
            id, code, now, id, code)};
  }
  record sku(std::int64_t now) {
    const std::string sku = fmt::format("lat-sku-{}", sku_);
    const int step = sku_step_++;
    if (sku_step_ == 3) {
      sku_step_ = 0;
      ++sku_;
    }
    if (step == 1) {
      const std::string customer = fmt::format("lat-cust-{}", sku_);
      return {
          &topics_.clickstream, customer,
          fmt::format(
              R"({{"type":"notify_me","event_id":"{}-n","ts":{},"customer_id":"{}","sku":"{}"}})",
              sku, now, customer, sku)};
    }
    return {
        &topics_.inventory, sku,
        fmt::format(
            R"({{"type":"stock_level","event_id":"{}-{}","ts":{},"sku":"{}","location":"wh","available":{}}})",
            sku, step, now, sku, step == 0 ? 0 : 5)};
  }

  const actors::topics_config& topics_;
  std::size_t turn_ = 0, ship_ = 0, sku_ = 0, bad_ = 0;
  int ship_step_ = 0, sku_step_ = 0;
};

struct percentiles {
  std::size_t n = 0;
  double p50 = 0, p99 = 0, p999 = 0, max = 0;
};

percentiles summarize(std::vector<double> v) {
  percentiles p;
  p.n = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
  };
  p.p50 = at(0.5);
  p.p99 = at(0.99);
  p.p999 = at(0.999);
  p.max = v.back();
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--bootstrap") o.bootstrap = v;
    if (k == "--rate") o.rate = std::atof(v.c_str());
    if (k == "--seconds") o.seconds = std::atoi(v.c_str());
    if (k == "--guarantee") o.guarantee = v;
    if (k == "--partitions") o.partitions = std::atoi(v.c_str());
    if (k == "--probe-every") o.probe_every = std::max(1, std::atoi(v.c_str()));
    if (k == "--commit-ms") o.commit_ms = std::atoll(v.c_str());
    if (k == "--tick-ms") o.tick_ms = std::atoll(v.c_str());
    if (k == "--property") {
      const auto eq = v.find('=');
      if (eq != std::string::npos) o.properties[v.substr(0, eq)] = v.substr(eq + 1);
    }
  }
  if (o.bootstrap.empty()) {
    fmt::print(stderr, "bench_latency: --bootstrap ADDR is needed (a real broker: {})\n",
               "scripts/kafka start; scripts/kafka bootstrap");
    return 2;
  }

  // Fresh topics and group per run.
  const std::string tag = fmt::format("lat-{}-{}", ::getpid(), wall_ms() % 100000);
  actors::app_config cfg;
  cfg.kafka.properties = o.properties;
  cfg.kafka.properties["bootstrap.servers"] = o.bootstrap;
  cfg.kafka.group_id = "bench-" + tag;
  cfg.kafka.session_timeout_ms = 6000;
  cfg.processing.guarantee = o.guarantee;
  if (o.commit_ms > 0) cfg.task.commit_interval_ms = o.commit_ms;
  if (o.tick_ms > 0) cfg.task.tick_interval_ms = o.tick_ms;
  cfg.metrics.listen = "127.0.0.1:0";
  auto& t = cfg.topics;
  for (std::string* name :
       {&t.clickstream, &t.carts, &t.inventory, &t.shipments, &t.sku_signals, &t.cart_reminders,
        &t.restock_alerts, &t.dlq, &t.anomalies, &t.tracking_notifications, &t.lane_stats})
    *name += "." + tag;
  const std::map<std::string, std::string> log_append{{"message.timestamp.type", "LogAppendTime"}};
  std::vector<streams::topic_spec> specs;
  for (const std::string* name : {&t.clickstream, &t.carts, &t.inventory, &t.shipments,
                                  &t.restock_alerts, &t.dlq, &t.tracking_notifications})
    specs.push_back({*name, o.partitions, -1, log_append});
  for (const std::string* name : {&t.sku_signals, &t.cart_reminders, &t.anomalies})
    specs.push_back({*name, o.partitions, -1, {}});
  specs.push_back({t.lane_stats, 1, -1, {{"cleanup.policy", "compact"}}});
  const streams::kafka_properties props{{"bootstrap.servers", o.bootstrap}};
  std::string error;
  if (!streams::create_topics(props, specs, false, error)) {
    fmt::print(stderr, "bench_latency: {}: {}\n", o.bootstrap, error);
    return 1;
  }
  cfg.state.dir = (std::filesystem::temp_directory_path() / ("herald-" + tag)).string();

  actors::app app(cfg);
  if (auto e = app.start(); !e.empty()) {
    fmt::print(stderr, "bench_latency: {}\n", e);
    return 1;
  }
  std::atomic<bool> stop{false};
  std::vector<received> outputs;
  std::mutex outputs_mutex;
  std::thread reader([&] {
    consume(o.bootstrap, {t.tracking_notifications, t.restock_alerts, t.dlq}, stop, outputs,
            outputs_mutex);
  });

  streams::sink_config sc;
  sc.properties["bootstrap.servers"] = o.bootstrap;
  sc.properties["linger.ms"] = "1";
  auto feeder = streams::sink::create(sc, error);
  if (!feeder) {
    fmt::print(stderr, "bench_latency: {}\n", error);
    return 1;
  }
  actors::traffic_generator gen{actors::traffic_config{}};
  probes probe(t);
  fmt::print(
      "bench_latency: {:.0f} records/s for {} s, a probe every {} records, {}, commit interval {} "
      "ms, tick {} ms, Kafka at {}\n",
      o.rate, o.seconds, o.probe_every, o.guarantee, cfg.task.commit_interval_ms,
      cfg.task.tick_interval_ms, o.bootstrap);
  const auto start = clock_type::now();
  std::uint64_t sent = 0;
  std::size_t expected = 0;
  auto probe_outputs = [&] {
    const std::lock_guard<std::mutex> lock(outputs_mutex);
    std::size_t n = 0;
    for (const auto& r : outputs) n += r.value.find("lat-") != std::string::npos ? 1 : 0;
    return n;
  };
  // After the probes, background traffic goes on (event time keeps moving, as in a live shop)
  // until every probe's output is out, for 30 s at most: the last probes are not held to the
  // idle timeout of an input that stopped.
  bool probing = true;
  std::int64_t next_check_ms = 0;
  for (;;) {
    const double elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
    if (probing && elapsed >= o.seconds) {
      probing = false;
      expected = 2 * probe.shipments() + probe.skus() + probe.bad();
    }
    if (!probing) {
      if (elapsed >= o.seconds + 30) break;
      if (const std::int64_t now = wall_ms(); now >= next_check_ms) {
        next_check_ms = now + 200;
        if (probe_outputs() >= expected) break;
      }
    }
    const auto due = static_cast<std::uint64_t>(elapsed * o.rate);
    for (; sent < due; ++sent) {
      const std::int64_t now = wall_ms();
      if (probing && sent % static_cast<std::uint64_t>(o.probe_every) == 0) {
        const auto p = probe.next(now);
        (void)feeder->produce(*p.topic, p.key, p.value);
      } else {
        const auto r = gen.next(now);
        (void)feeder->produce(actors::input_topic(t, r.topic), r.key, r.value);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  feeder->flush(30'000);
  stop = true;
  reader.join();
  app.stop();
  std::filesystem::remove_all(cfg.state.dir);

  // The probes' inputs, with the broker's append times.
  std::map<std::tuple<std::string, std::int64_t>, std::int64_t> input_at;  // (entity, ts)
  std::map<std::tuple<std::string, std::int32_t, std::int64_t>, std::int64_t> offset_at;
  for (const std::string* topic : {&t.shipments, &t.inventory, &t.carts}) {
    std::vector<streams::consumed_record> in;
    if (!streams::read_topic(props, *topic, in, error, 120'000)) {
      fmt::print(stderr, "bench_latency: {}\n", error);
      return 1;
    }
    for (const auto& r : in) {
      if (r.key.rfind("lat-", 0) != 0) continue;
      offset_at[{*topic, r.partition, r.offset}] = r.timestamp_ms;
      const json j = json::parse(r.value, nullptr, false);
      if (j.is_discarded() || !j.contains("ts")) continue;
      const std::string entity = j.contains("shipment_id") ? j["shipment_id"].get<std::string>()
                                                           : j.value("sku", std::string());
      input_at[{entity, j["ts"].get<std::int64_t>()}] = r.timestamp_ms;
    }
  }
  std::map<std::string, std::vector<double>> append, visible;
  std::map<std::string, std::size_t> unmatched;
  for (const auto& r : outputs) {
    std::int64_t in_ms = -1;
    std::string type;
    if (r.topic == t.dlq) {
      auto header = [&](std::string_view name) {
        for (const auto& [k, v] : r.headers)
          if (k == name) return v;
        return std::string();
      };
      const auto it = offset_at.find({header(streams::dlq_topic_header),
                                      std::atoi(header(streams::dlq_partition_header).c_str()),
                                      std::atoll(header(streams::dlq_offset_header).c_str())});
      if (it == offset_at.end()) continue;  // a generated malformed record, not a probe
      type = "dead_letter";
      in_ms = it->second;
    } else {
      const json j = json::parse(r.value, nullptr, false);
      if (j.is_discarded()) continue;
      type = j.value("type", std::string());
      if (type != "tracking_update" && type != "back_in_stock") continue;
      const std::string entity = type == "tracking_update" ? j.value("shipment_id", std::string())
                                                           : j.value("sku", std::string());
      if (entity.rfind("lat-", 0) != 0) continue;
      const auto it = input_at.find({entity, j.value("ts", std::int64_t{0})});
      if (it == input_at.end()) {
        ++unmatched[type];
        continue;
      }
      in_ms = it->second;
    }
    append[type].push_back(static_cast<double>(r.append_ms - in_ms));
    visible[type].push_back(static_cast<double>(r.seen_ms - in_ms));
  }
  fmt::print("probes: {} shipments (2 tracking updates each), {} restocks, {} malformed\n",
             probe.shipments(), probe.skus(), probe.bad());
  fmt::print("{:<16} {:>6} | {:>8} {:>8} {:>8} {:>8} | {:>8} {:>8} {:>8} {:>8}  (ms)\n", "output",
             "n", "app p50", "p99", "p99.9", "max", "vis p50", "p99", "p99.9", "max");
  for (const auto& [type, values] : append) {
    const percentiles a = summarize(values), v = summarize(visible[type]);
    fmt::print(
        "{:<16} {:>6} | {:>8.0f} {:>8.0f} {:>8.0f} {:>8.0f} | {:>8.0f} {:>8.0f} {:>8.0f} "
        "{:>8.0f}\n",
        type, a.n, a.p50, a.p99, a.p999, a.max, v.p50, v.p99, v.p999, v.max);
  }
  for (const auto& [type, n] : unmatched)
    fmt::print("{}: {} outputs matched no probe input\n", type, n);
  return 0;
}

// End-to-end throughput: on one mock cluster, in one run, the same generated shop traffic goes
// (a) through a raw consume->produce pass-through (librdkafka consumer + producer, no
// processing) and (b) through Herald (decode, watermark, abandoned-cart state and timers,
// RocksDB commits, outbox, reminders). Prints both rates and their ratio.
//
// The mock cluster keeps only ~5 MiB per partition, so the producer stays at most `--window`
// records ahead of the consumer in both phases (consume while producing).
//
// Both phases share two cores with the mock broker and the feeding producer, so single runs
// vary; the phases alternate for `--rounds` rounds and the medians are reported.
//
// With `--bootstrap ADDR` it runs on that cluster instead (e.g. a real broker from
// `scripts/kafka start`; its topics are re-created for the run, and retention no longer
// limits the window).
//
// `--property K=V` (repeatable) passes a librdkafka property to Herald's clients;
// `--changelog off` keeps Herald's state on the local disk only (no changelog topics);
// `--guarantee exactly_once_v2|at_least_once` sets processing.guarantee (default: Herald's,
// exactly-once on a real broker; the mock cluster always runs at-least-once).
//
// CPU per event: the CPU time of the threads a phase started (Herald's task workers, consumer,
// producers, RocksDB, ...; the pass-through's consumer and producer), read from /proc, divided
// by the events. The feeding producer, the mock broker and this thread are not counted.
//
// Usage: bench_e2e [--events N] [--partitions P] [--window W] [--rounds R] [--bootstrap ADDR]
//                  [--property K=V]... [--changelog on|off] [--guarantee G]

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include "herald/actors/app.hpp"
#include "herald/actors/changelog.hpp"
#include "herald/actors/traffic.hpp"
#include "herald/streams/admin.hpp"
#include "herald/streams/mock_cluster.hpp"
#include "herald/streams/sink.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using herald::actors::traffic_record;

struct options {
  std::size_t events = 400'000;
  int partitions = 4;
  std::int64_t window = 40'000;
  int rounds = 3;
  std::string bootstrap;  // empty: an embedded mock cluster
  herald::streams::kafka_properties herald_properties;
  bool changelog = true;  // --changelog off: Herald's state on the local disk only
  std::string guarantee;  // empty: Herald's default
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--bootstrap") {
      o.bootstrap = argv[i + 1];
      continue;
    }
    if (k == "--changelog") {
      o.changelog = std::string(argv[i + 1]) != "off";
      continue;
    }
    if (k == "--guarantee") {
      o.guarantee = argv[i + 1];
      continue;
    }
    if (k == "--property") {
      const std::string kv = argv[i + 1];
      const auto eq = kv.find('=');
      if (eq != std::string::npos) o.herald_properties[kv.substr(0, eq)] = kv.substr(eq + 1);
      continue;
    }
    const long long v = std::atoll(argv[i + 1]);
    if (k == "--events")
      o.events = static_cast<std::size_t>(v);
    else if (k == "--partitions")
      o.partitions = static_cast<int>(v);
    else if (k == "--window")
      o.window = v;
    else if (k == "--rounds")
      o.rounds = static_cast<int>(v);
  }
  return o;
}

/// The threads of this process now.
std::set<int> thread_ids() {
  std::set<int> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task"))
    out.insert(std::atoi(e.path().filename().c_str()));
  return out;
}

/// CPU seconds (user + system) of this process's threads not in `before`: what a phase
/// started since `before` was taken. Read before those threads end.
double cpu_since(const std::set<int>& before) {
  static const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  double total = 0;
  for (const int tid : thread_ids()) {
    if (before.count(tid) != 0) continue;
    std::ifstream f(fmt::format("/proc/self/task/{}/stat", tid));
    std::string line;
    if (!std::getline(f, line)) continue;
    // Fields after the command (which may hold spaces): state is field 3, utime 14, stime 15.
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::atof(field.c_str());
      if (i == 15) stime = std::atof(field.c_str());
    }
    total += (utime + stime) / tick;
  }
  return total;
}

/// A phase's throughput and CPU time per event.
struct phase_result {
  double rate = 0;
  double cpu_us = 0;
};

/// Produces `input` to `topic_of(record)`, never more than `window` ahead of `consumed()`.
template <class TopicOf, class Consumed>
void produce_paced(herald::streams::sink& producer, const std::vector<traffic_record>& input,
                   TopicOf topic_of, Consumed consumed, std::int64_t window) {
  std::int64_t sent = 0;
  for (const auto& r : input) {
    while (sent - static_cast<std::int64_t>(consumed()) > window)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    producer.produce(topic_of(r), r.key, r.value);
    ++sent;
  }
  producer.flush();
}

phase_result passthrough(const std::string& bootstrap, const std::vector<traffic_record>& input,
                         const options& o, herald::streams::sink& feeder, int round) {
  const std::set<int> before = thread_ids();
  char err[512];
  rd_kafka_conf_t* cconf = rd_kafka_conf_new();
  const std::string group = fmt::format("bench-passthrough-{}", round);
  for (auto [k, v] : {std::pair{"bootstrap.servers", bootstrap.c_str()},
                      {"group.id", nullptr},
                      {"auto.offset.reset", "earliest"},
                      {"enable.auto.commit", "true"},
                      {"session.timeout.ms", "6000"}})
    rd_kafka_conf_set(cconf, k, v != nullptr ? v : group.c_str(), err, sizeof(err));
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, err, sizeof(err));
  rd_kafka_poll_set_consumer(consumer);
  auto* subs = rd_kafka_topic_partition_list_new(3);
  const std::string clicks = fmt::format("pt.clickstream.{}", round);
  const std::string carts = fmt::format("pt.carts.{}", round);
  const std::string inventory = fmt::format("pt.inventory.{}", round);
  rd_kafka_topic_partition_list_add(subs, clicks.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_topic_partition_list_add(subs, carts.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_topic_partition_list_add(subs, inventory.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(consumer, subs);
  rd_kafka_topic_partition_list_destroy(subs);

  rd_kafka_conf_t* pconf = rd_kafka_conf_new();
  for (auto [k, v] : {std::pair{"bootstrap.servers", bootstrap.c_str()},
                      {"enable.idempotence", "true"},
                      {"linger.ms", "5"},
                      {"compression.type", "lz4"}})
    rd_kafka_conf_set(pconf, k, v, err, sizeof(err));
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, err, sizeof(err));

  std::atomic<std::uint64_t> consumed{0};
  std::thread feed([&] {
    produce_paced(
        feeder, input,
        [&](const traffic_record& r) -> const std::string& {
          switch (r.topic) {
            case herald::schemas::topic_kind::clickstream:
              return clicks;
            case herald::schemas::topic_kind::inventory:
              return inventory;
            default:
              return carts;
          }
        },
        [&] { return consumed.load(); }, o.window);
  });
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(consumer);
  std::vector<rd_kafka_message_t*> msgs(2000);
  clock_type::time_point first{};
  while (consumed.load() < input.size()) {
    const ssize_t n = rd_kafka_consume_batch_queue(queue, 100, msgs.data(), msgs.size());
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* m = msgs[i];
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (consumed.load() == 0) first = clock_type::now();
        while (rd_kafka_producev(
                   producer, RD_KAFKA_V_TOPIC("pt.out"), RD_KAFKA_V_KEY(m->key, m->key_len),
                   RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                   RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
          rd_kafka_poll(producer, 1);
        consumed.fetch_add(1);
      }
      rd_kafka_message_destroy(m);
    }
    rd_kafka_poll(producer, 0);
  }
  rd_kafka_flush(producer, 30'000);
  const double secs = std::chrono::duration<double>(clock_type::now() - first).count();
  feed.join();
  const double cpu = cpu_since(before);  // the feeding thread has ended: not counted
  rd_kafka_queue_destroy(queue);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  rd_kafka_destroy(producer);
  const auto n = static_cast<double>(input.size());
  return {n / secs, cpu * 1e6 / n};
}

phase_result herald_rate(const std::string& bootstrap, const std::vector<traffic_record>& input,
                         const options& o, herald::streams::sink& feeder, int round) {
  herald::actors::app_config cfg;
  cfg.kafka.properties = o.herald_properties;
  cfg.kafka.properties["bootstrap.servers"] = bootstrap;
  cfg.kafka.session_timeout_ms = 6000;
  cfg.kafka.group_id = fmt::format("bench-herald-{}", round);
  cfg.state.changelog = o.changelog;
  if (!o.guarantee.empty())
    cfg.processing.guarantee = o.guarantee;
  else if (!o.changelog)
    cfg.processing.guarantee = "at_least_once";  // exactly-once needs the changelogs
  cfg.topics.clickstream = fmt::format("shop.clickstream.{}", round);
  cfg.topics.carts = fmt::format("shop.carts.{}", round);
  cfg.topics.inventory = fmt::format("shop.inventory.{}", round);
  cfg.topics.sku_signals = fmt::format("herald.sku-signals.{}", round);
  cfg.metrics.listen = "127.0.0.1:0";
  cfg.state.dir =
      (std::filesystem::temp_directory_path() / fmt::format("herald-bench-{}", ::getpid()))
          .string();
  std::filesystem::remove_all(cfg.state.dir);
  const std::set<int> before = thread_ids();
  herald::actors::app app(cfg);
  if (auto e = app.start(); !e.empty()) {
    fmt::print(stderr, "bench: {}\n", e);
    std::exit(1);
  }
  auto processed = [&] { return app.probe().input_events_total(); };
  std::thread feed([&] {
    produce_paced(
        feeder, input,
        [&](const traffic_record& r) -> const std::string& {
          return herald::actors::input_topic(cfg.topics, r.topic);
        },
        processed, o.window);
  });
  while (processed() == 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
  const auto first = clock_type::now();
  // A bounded input: once all is read, end it, so the last records of the topic that ran
  // ahead do not wait the idle timeout for the other topic.
  while (app.probe().inputs_read_total() < input.size())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  app.finish_input();
  while (processed() < input.size()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double secs = std::chrono::duration<double>(clock_type::now() - first).count();
  feed.join();
  const double cpu = cpu_since(before);  // Herald's threads, before they end
  app.stop();
  std::filesystem::remove_all(cfg.state.dir);
  const auto n = static_cast<double>(input.size());
  return {n / secs, cpu * 1e6 / n};
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  const options o = parse(argc, argv);
  std::string error;
  std::vector<std::string> topics = {
      "pt.out",           "herald.cart-reminders",         "herald.restock-alerts", "herald.dlq",
      "herald.anomalies", "herald.tracking-notifications", "shop.shipments"};
  for (int r = 0; r < o.rounds; ++r)
    for (const char* t : {"pt.clickstream", "pt.carts", "pt.inventory", "shop.clickstream",
                          "shop.carts", "shop.inventory", "herald.sku-signals"})
      topics.push_back(fmt::format("{}.{}", t, r));
  std::unique_ptr<herald::streams::mock_cluster> mc;
  std::string bootstrap = o.bootstrap;
  if (bootstrap.empty()) {
    mc = herald::streams::mock_cluster::start(1, error);
    if (!mc) {
      fmt::print(stderr, "bench: {}\n", error);
      return 1;
    }
    for (const auto& t : topics) mc->create_topic(t, o.partitions);
    mc->create_topic("herald.lane-stats", 1);
    for (int r = 0; r < o.rounds; ++r)
      for (const auto& spec : herald::actors::changelog_topics(
               fmt::format("bench-herald-{}", r), {0, o.partitions, o.partitions, o.partitions}))
        mc->create_topic(spec.name, spec.partitions);
    bootstrap = mc->bootstrap_servers();
  } else {
    std::vector<herald::streams::topic_spec> specs;
    for (const auto& t : topics) specs.push_back({t, o.partitions, -1, {}});
    specs.push_back({"herald.lane-stats", 1, -1, {{"cleanup.policy", "compact"}}});
    for (int r = 0; r < o.rounds; ++r)
      for (auto& spec : herald::actors::changelog_topics(
               fmt::format("bench-herald-{}", r), {0, o.partitions, o.partitions, o.partitions}))
        specs.push_back(std::move(spec));
    std::vector<std::string> names;
    for (const auto& s : specs) names.push_back(s.name);
    const herald::streams::kafka_properties props{{"bootstrap.servers", bootstrap}};
    if (!herald::streams::delete_topics(props, names, error) ||
        !herald::streams::create_topics(props, specs, false, error)) {
      fmt::print(stderr, "bench: {}: {}\n", bootstrap, error);
      return 1;
    }
  }

  // Same input for both phases: generated shop traffic, 1 simulated hour per wall second.
  herald::actors::traffic_config tc;
  herald::actors::traffic_generator gen(tc);
  std::vector<traffic_record> input;
  input.reserve(o.events);
  const std::int64_t sim_start = 1'760'000'000'000;
  for (std::size_t i = 0; i < o.events; ++i)
    input.push_back(gen.next(sim_start + static_cast<std::int64_t>(i) * 180));  // 5.5k/s sim
  std::size_t bytes = 0;
  for (const auto& r : input) bytes += r.value.size();

  herald::streams::sink_config sc;
  sc.properties["bootstrap.servers"] = bootstrap;
  auto feeder = herald::streams::sink::create(sc, error);

  fmt::print(
      "bench_e2e: {} events ({:.0f} B avg), {} partitions, window {}, {}, changelog {}, {}\n",
      o.events, static_cast<double>(bytes) / static_cast<double>(o.events), o.partitions, o.window,
      mc ? "embedded mock cluster" : "Kafka at " + bootstrap, o.changelog ? "on" : "off",
      mc                     ? std::string("at_least_once (mock)")
      : !o.guarantee.empty() ? o.guarantee
      : o.changelog          ? std::string("exactly_once_v2")
                             : std::string("at_least_once"));
  std::vector<double> pts, hrs, pt_cpu, hr_cpu;
  for (int round = 0; round < o.rounds; ++round) {
    // Each round and phase has topics of its own, so no phase reads another's records.
    const phase_result p = passthrough(bootstrap, input, o, *feeder, round);
    const phase_result h = herald_rate(bootstrap, input, o, *feeder, round);
    pts.push_back(p.rate);
    hrs.push_back(h.rate);
    pt_cpu.push_back(p.cpu_us);
    hr_cpu.push_back(h.cpu_us);
    fmt::print(
        "round {}: pass-through {:>9.0f} events/s ({:.2f} us CPU/event), herald {:>9.0f} events/s "
        "({:.2f} us CPU/event), ratio {:.2f}\n",
        round + 1, p.rate, p.cpu_us, h.rate, h.cpu_us, h.rate / p.rate);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double pt = median(pts), hr = median(hrs);
  fmt::print("pass-through (consume->produce), median: {:>10.0f} events/s\n", pt);
  fmt::print("herald (carts + inventory), median:      {:>10.0f} events/s\n", hr);
  fmt::print("ratio herald / pass-through:              {:>10.2f} (target >= 0.60)\n", hr / pt);
  fmt::print("pass-through CPU per event, median:       {:>10.2f} us\n", median(pt_cpu));
  fmt::print("herald CPU per event, median:             {:>10.2f} us (target <= 3)\n",
             median(hr_cpu));
  return 0;
}

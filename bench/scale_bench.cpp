// bench_scale: Herald with far more state than its caches hold. `herald run` (its own process,
// production defaults) on a real broker builds the state of `--customers` customers with an
// open cart each (so as many pending reminders) and `--skus` SKUs with a stock level each, then:
//   build    the state grows from nothing: events/s and CPU per event for each tenth of the
//            input, and the state's size on disk at the end;
//   restart  the instance stops and starts again on its own disk (a pod that keeps its volume);
//   touch    `--touch` more cart adds for customers drawn at random over the whole key space
//            (every one a cache miss: the working set is the whole state), events/s and CPU;
//   restore  a fresh instance (an empty disk) takes over and restores every task from the
//            changelog topics: time until /readyz, records, rate;
//   fire     event time moves past the reminder delay: every customer gets its first reminder
//            exactly once (nothing lost in the restore), reminders/s.
// Throughout: the process's resident set every second and its peak (VmHWM).
// All input of a phase is in Kafka before the phase's instance reads it, so the feeder never
// competes with Herald for the two cores; the broker does.
//
// Event time starts 5 minutes before the run's start and the build's events span 5 minutes
// of it, so with the production idle timeout (an idle input follows the wall clock 30 s
// behind) no reminder falls due before the fire phase moves event time 2 h ahead.
//
// Usage: bench_scale [--bootstrap ADDR | --kafka-dir DIR] [--customers N] [--skus N]
//                    [--touch N] [--partitions P] [--guarantee G] [--herald BIN] [--out DIR]

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "harness.hpp"
#include "herald/actors/config.hpp"
#include "herald/actors/demo.hpp"
#include "herald/streams/admin.hpp"
#include "herald/streams/partitioner.hpp"
#include "herald/streams/sink.hpp"

namespace {

namespace fs = std::filesystem;
using namespace herald::bench;

constexpr std::int64_t minute_ms = 60'000;

struct options {
  std::string bootstrap;
  std::string kafka_dir = HERALD_SOURCE_DIR "/build/kafka-scale";
  std::uint64_t customers = 10'000'000;
  std::uint64_t skus = 1'000'000;
  std::uint64_t touch = 1'000'000;
  int partitions = 4;
  std::string guarantee = "exactly_once_v2";
  std::string herald = HERALD_BIN;
  std::string out = HERALD_SOURCE_DIR "/build/bench";
};

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Bytes of the files under `dir`, and of those RocksDB's write-ahead logs (*.log).
std::pair<std::uint64_t, std::uint64_t> disk_bytes(const fs::path& dir) {
  std::uint64_t all = 0, wal = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const auto n = it->file_size(ec);
    if (ec) continue;
    all += n;
    if (it->path().extension() == ".log") wal += n;
  }
  return {all, wal};
}

/// One `herald run` and what is measured of it.
class instance {
 public:
  instance(const options& o, const std::string& name, const std::string& config_text,
           int metrics_port)
      : port_(metrics_port) {
    const fs::path config = fs::path(o.out) / ("scale-" + name + ".yaml");
    std::ofstream(config) << config_text;
    log_ = (fs::path(o.out) / ("scale-" + name + ".log")).string();
    std::error_code ec;
    fs::remove(log_, ec);
    started_ = clock_type::now();
    ok_ = proc_.start({o.herald, "run", "--config", config.string()}, log_);
  }
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] int pid() const { return proc_.pid(); }
  [[nodiscard]] const std::string& log() const { return log_; }
  [[nodiscard]] clock_type::time_point started() const { return started_; }
  /// Whether /readyz answers 200.
  [[nodiscard]] bool ready() const { return http_get(port_, "/readyz").first == 200; }
  /// The sum of a metric over its label sets (-1 when unreachable or absent).
  [[nodiscard]] double metric(std::string_view name) const {
    auto [code, body] = http_get(port_, "/metrics", 10'000);
    return code == 200 ? metric_sum(body, name) : -1;
  }
  /// Samples the resident set; keeps the largest.
  void sample() { rss_max_ = std::max(rss_max_, tree_rss_mib(proc_.pid())); }
  [[nodiscard]] double peak_rss_mib() const {
    return std::max(rss_max_, tree_peak_rss_mib(proc_.pid()));
  }
  [[nodiscard]] double cpu_s() const { return tree_cpu_seconds(proc_.pid()); }
  [[nodiscard]] bool exited(std::string& how) { return proc_.exited(how); }
  std::string stop() { return proc_.stop(std::chrono::seconds(120)); }

 private:
  child_process proc_;
  int port_;
  std::string log_;
  clock_type::time_point started_;
  bool ok_ = false;
  double rss_max_ = 0;
};

/// Waits until `done` (checked every 200 ms, the instance sampled meanwhile); false after
/// `timeout_s` or when the instance exits.
bool wait_for(instance& h, const std::function<bool()>& done, double timeout_s, const char* what) {
  const auto start = clock_type::now();
  while (!done()) {
    h.sample();
    std::string how;
    if (h.exited(how)) {
      fmt::print(stderr, "bench_scale: herald exited ({}) waiting for {}; see {}\n", how, what,
                 h.log());
      return false;
    }
    if (seconds_since(start) > timeout_s) {
      fmt::print(stderr, "bench_scale: timed out after {:.0f} s waiting for {}\n", timeout_s, what);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return true;
}

/// Events/s and CPU per event of a stretch of the input.
struct stretch {
  std::string name;
  std::int64_t events = 0;
  double seconds = 0;
  double cpu_s = 0;
  [[nodiscard]] double rate() const {
    return seconds > 0 ? static_cast<double>(events) / seconds : 0;
  }
  [[nodiscard]] double cpu_us() const {
    return events > 0 ? cpu_s * 1e6 / static_cast<double>(events) : 0;
  }
};

/// Follows the group's committed offsets of the input topics until they reach the ends; the
/// stretch from the first committed progress (`from_now`: from the call, every record counted)
/// to the end, and `parts` (0: none) equal stretches of it (by records committed), each with the
/// instance's CPU over it.
bool follow(instance& h, group_probe& probe, std::vector<topic_ends>& inputs, int parts,
            const std::string& name, stretch& whole, std::vector<stretch>& split, double timeout_s,
            bool from_now = false) {
  std::string error;
  group_probe::progress p;
  if (!probe.poll(inputs, inputs.size(), p, error)) {
    fmt::print(stderr, "bench_scale: {}\n", error);
    return false;
  }
  const std::int64_t base = p.committed;
  std::int64_t total = 0;
  for (const auto& t : inputs)
    for (const auto e : t.end) total += e;
  total -= base;
  auto t_prev = clock_type::now();
  double cpu_prev = h.cpu_s();
  // Until the first progress: the group join, a restore, the first fetch.
  if (!from_now) {
    if (!wait_for(
            h, [&] { return probe.poll(inputs, inputs.size(), p, error) && p.committed > base; },
            1800, "the first committed progress"))
      return false;
    t_prev = clock_type::now();
    cpu_prev = h.cpu_s();
  }
  std::int64_t done_prev = p.committed - base;
  const auto t_first = t_prev;
  const double cpu_first = cpu_prev;
  const std::int64_t first = done_prev;
  int next = 1;
  bool ok = wait_for(
      h,
      [&] {
        if (!probe.poll(inputs, inputs.size(), p, error)) return false;
        const std::int64_t done = p.committed - base;
        // One poll may pass several boundaries (a first commit covering much): one stretch.
        const int from = next;
        while (next <= parts && done >= first + (total - first) * next / parts) ++next;
        if (next > from) {
          const double cpu = h.cpu_s();
          const std::string which =
              next - 1 > from ? fmt::format("{}-{}", from, next - 1) : std::to_string(from);
          split.push_back({fmt::format("{} {}/{}", name, which, parts), done - done_prev,
                           seconds_since(t_prev), cpu - cpu_prev});
          t_prev = clock_type::now();
          cpu_prev = cpu;
          done_prev = done;
        }
        return p.complete;
      },
      timeout_s, "the input to be committed");
  whole = {name, total - first, seconds_since(t_first), h.cpu_s() - cpu_first};
  return ok;
}

class feeder {
 public:
  explicit feeder(const std::string& bootstrap) {
    herald::streams::sink_config sc;
    sc.properties["bootstrap.servers"] = bootstrap;
    sc.properties["linger.ms"] = "20";
    sc.properties["batch.size"] = "1000000";
    sc.properties["compression.type"] = "lz4";
    sc.properties["partitioner"] = "murmur2_random";  // Kafka's default, as Herald expects
    sink_ = herald::streams::sink::create(sc, error_);
  }
  [[nodiscard]] bool ok() const { return sink_ != nullptr; }
  [[nodiscard]] const std::string& error() const { return error_; }
  void send(const std::string& topic, const std::string& key, const std::string& value) {
    (void)sink_->produce(topic, key, value);
    ++sent_;
    bytes_ += value.size();
  }
  bool flush() { return sink_->flush(600'000); }
  [[nodiscard]] std::uint64_t sent() const { return sent_; }
  [[nodiscard]] std::uint64_t bytes() const { return bytes_; }

 private:
  std::string error_;
  std::unique_ptr<herald::streams::sink> sink_;
  std::uint64_t sent_ = 0, bytes_ = 0;
};

std::string cart_add(const std::string& event_id, std::int64_t ts, std::uint64_t customer,
                     std::uint64_t sku) {
  return fmt::format(
      R"({{"type":"cart_item_added","event_id":"{}","ts":{},"customer_id":"c{}","cart_id":"k{}","sku":"s{}","quantity":1,"unit_price":10,"currency":"EUR"}})",
      event_id, ts, customer, customer, sku);
}

std::string stock_level(const std::string& event_id, std::int64_t ts, std::uint64_t sku) {
  return fmt::format(
      R"({{"type":"stock_level","event_id":"{}","ts":{},"sku":"s{}","location":"wh","available":100}})",
      event_id, ts, sku);
}

/// A key Kafka's default partitioner puts on `partition` of `partitions`.
std::string key_on(int partition, int partitions) {
  for (int n = 0;; ++n) {
    std::string key = fmt::format("heartbeat-{}-{}", partition, n);
    if (herald::streams::default_partition(key, partitions) == partition) return key;
  }
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || i + 1 >= argc) {
      fmt::print(stderr,
                 "usage: bench_scale [--bootstrap ADDR | --kafka-dir DIR] [--customers N] "
                 "[--skus N] [--touch N] [--partitions P] [--guarantee G] [--herald BIN] "
                 "[--out DIR]\n");
      return 2;
    }
    const std::string v = argv[++i];
    if (a == "--bootstrap")
      o.bootstrap = v;
    else if (a == "--kafka-dir")
      o.kafka_dir = v;
    else if (a == "--customers")
      o.customers = std::stoull(v);
    else if (a == "--skus")
      o.skus = std::stoull(v);
    else if (a == "--touch")
      o.touch = std::stoull(v);
    else if (a == "--partitions")
      o.partitions = std::stoi(v);
    else if (a == "--guarantee")
      o.guarantee = v;
    else if (a == "--herald")
      o.herald = v;
    else if (a == "--out")
      o.out = v;
    else {
      fmt::print(stderr, "bench_scale: unknown option {}\n", a);
      return 2;
    }
  }
  const auto t_begin = clock_type::now();
  fs::create_directories(o.out);
  std::optional<kafka_cluster> cluster;
  std::string error;
  std::string bootstrap = o.bootstrap;
  if (bootstrap.empty()) {
    cluster.emplace(o.kafka_dir, o.partitions);
    bootstrap = cluster->bootstrap(error);
    if (bootstrap.empty()) {
      fmt::print(stderr, "bench_scale: {}\n", error);
      return 1;
    }
  }
  const kafka_properties props{{"bootstrap.servers", bootstrap}};
  const std::string tag = fmt::format("scale-{}", ::getpid());
  herald::actors::topics_config t;
  for (auto* name : {&t.clickstream, &t.carts, &t.inventory, &t.sku_signals, &t.cart_reminders,
                     &t.restock_alerts, &t.shipments, &t.lane_stats, &t.tracking_notifications,
                     &t.anomalies, &t.dlq})
    *name = tag + "." + *name;
  const auto specs = herald::actors::herald_topics(t, o.partitions, tag);
  std::vector<std::string> topics;
  for (const auto& s : specs) topics.push_back(s.name);
  if (!herald::streams::create_topics(props, specs, false, error)) {
    fmt::print(stderr, "bench_scale: creating topics: {}\n", error);
    return 1;
  }
  say(fmt::format("Kafka at {}; {} customers, {} SKUs, {} touches, {} partitions, {}", bootstrap,
                  o.customers, o.skus, o.touch, o.partitions, o.guarantee));

  feeder feed(bootstrap);
  if (!feed.ok()) {
    fmt::print(stderr, "bench_scale: {}\n", feed.error());
    return 1;
  }
  // Event time: the build spans [t0, t0 + 5 min], ending about when the run starts.
  const std::int64_t t0 = wall_ms() - 5 * minute_ms;
  const std::int64_t span = 5 * minute_ms;
  auto build_ts = [&](std::uint64_t i, std::uint64_t n) {
    return t0 + static_cast<std::int64_t>(static_cast<double>(i) / static_cast<double>(n) *
                                          static_cast<double>(span));
  };
  // One record at `ts` on every partition of the three inputs (not customers with carts): each
  // input's event time reaches `ts`, so the watermark releases what a phase's last records
  // left waiting at once, not after the idle timeout (30 s) of a quiet input.
  auto mark = [&](std::int64_t ts) {
    for (int p = 0; p < o.partitions; ++p) {
      const std::string who = key_on(p, o.partitions);
      feed.send(
          t.clickstream, who,
          fmt::format(
              R"({{"type":"page_view","event_id":"hb-{}-{}","ts":{},"customer_id":"{}","session_id":"hb"}})",
              p, ts, ts, who));
      feed.send(
          t.carts, who,
          fmt::format(
              R"({{"type":"checkout_started","event_id":"hbc-{}-{}","ts":{},"customer_id":"{}","cart_id":"none"}})",
              p, ts, ts, who));
      feed.send(
          t.inventory, who,
          fmt::format(
              R"({{"type":"stock_level","event_id":"hbs-{}-{}","ts":{},"sku":"{}","location":"wh","available":1}})",
              p, ts, ts, who));
    }
  };
  say("producing the build input");
  const auto t_feed = clock_type::now();
  for (std::uint64_t j = 0; j < o.skus; ++j)
    feed.send(
        t.inventory, fmt::format("s{}", j),
        fmt::format(
            R"({{"type":"stock_level","event_id":"st{}","ts":{},"sku":"s{}","location":"wh","available":100}})",
            j, build_ts(j, o.skus), j));
  for (std::uint64_t i = 0; i < o.customers; ++i) {
    const std::int64_t ts = build_ts(i, o.customers);
    if (i % 10 == 0)
      feed.send(
          t.clickstream, fmt::format("c{}", i),
          fmt::format(
              R"({{"type":"product_view","event_id":"v{}","ts":{},"customer_id":"c{}","session_id":"s{}","sku":"s{}","price":10,"currency":"EUR"}})",
              i, ts, i, i, i % o.skus));
    feed.send(t.carts, fmt::format("c{}", i), cart_add(fmt::format("a{}", i), ts, i, i % o.skus));
  }
  mark(t0 + span + 1000);
  if (!feed.flush()) {
    fmt::print(stderr, "bench_scale: the build input was not all delivered\n");
    return 1;
  }
  const std::uint64_t build_events = feed.sent();
  say(fmt::format("{} events ({:.0f} MB) in {:.1f} s", build_events,
                  static_cast<double>(feed.bytes()) / 1e6, seconds_since(t_feed)));

  auto probe = group_probe::create(bootstrap, tag, error);
  if (!probe) {
    fmt::print(stderr, "bench_scale: {}\n", error);
    return 1;
  }
  std::vector<topic_ends> inputs;
  for (const auto* name : {&t.clickstream, &t.carts, &t.inventory})
    inputs.push_back(
        {*name, std::vector<std::int64_t>(static_cast<std::size_t>(o.partitions)), false});
  auto refresh = [&] {
    for (auto& in : inputs)
      if (!probe->refresh_ends(in, error)) return false;
    return true;
  };
  const fs::path state_a = fs::temp_directory_path() / (tag + "-a");
  const fs::path state_b = fs::temp_directory_path() / (tag + "-b");
  fs::remove_all(state_a);
  fs::remove_all(state_b);
  auto config = [&](const fs::path& state, int port) {
    return herald_config(bootstrap, tag, o.guarantee, state.string(), t,
                         fmt::format("127.0.0.1:{}", port));
  };
  int rc = 0;
  std::vector<stretch> rows;
  std::vector<std::pair<std::string, std::string>> facts;  // label, value
  auto fact = [&](const std::string& label, const std::string& value) {
    facts.emplace_back(label, value);
    say(label + ": " + value);
  };
  double peak_a = 0, peak_b = 0;
  std::uint64_t touched = 0;
  do {
    // ---- build ----
    if (!refresh()) break;
    const int port_a = free_port();
    auto a = std::make_unique<instance>(o, "a", config(state_a, port_a), port_a);
    if (!a->ok()) break;
    say("build: herald run on an empty disk");
    stretch whole;
    std::vector<stretch> tenths;
    if (!follow(*a, *probe, inputs, 10, "build", whole, tenths, 3600)) break;
    rows.insert(rows.end(), tenths.begin(), tenths.end());
    rows.push_back(whole);
    // The state as the instance holds it once its writes settled.
    std::this_thread::sleep_for(std::chrono::seconds(2));
    a->sample();
    fact("build: pending timers (herald_timers_pending)",
         fmt::format("{:.0f}", a->metric("herald_timers_pending")));
    fact("build: live state bytes (herald_state_bytes)",
         fmt::format("{:.0f} MiB", a->metric("herald_state_bytes") / 1048576.0));
    {
      const auto [all, wal] = disk_bytes(state_a);
      fact("build: state on disk",
           fmt::format("{:.0f} MiB (write-ahead log {:.0f} MiB)",
                       static_cast<double>(all) / 1048576.0, static_cast<double>(wal) / 1048576.0));
    }
    fact("build: resident set now", fmt::format("{:.0f} MiB", tree_rss_mib(a->pid())));

    // ---- restart on its own disk ----
    say("restart: herald stops and starts again on its disk");
    peak_a = a->peak_rss_mib();
    const std::string how = a->stop();
    {
      const auto [all, wal] = disk_bytes(state_a);
      fact("restart: state on disk after a clean stop",
           fmt::format("{:.0f} MiB (write-ahead log {:.0f} MiB)",
                       static_cast<double>(all) / 1048576.0, static_cast<double>(wal) / 1048576.0));
    }
    // The touch input goes in while no instance runs.
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<std::uint64_t> pick(0, o.customers - 1);
    const std::uint64_t before = feed.sent();
    // Event time from now on (ahead of where an idle input's watermark follows the wall clock),
    // over one minute; a stock level of a SKU with every tenth, so the availability table's
    // watermark, which caps the customer tasks' (a reminder reads the stock at its due time),
    // moves with the carts.
    const std::int64_t touch_t0 = wall_ms();
    for (std::uint64_t k = 0; k < o.touch; ++k) {
      const std::uint64_t c = pick(rng);
      const std::int64_t ts =
          touch_t0 + static_cast<std::int64_t>(static_cast<double>(k) /
                                               static_cast<double>(o.touch) * minute_ms);
      if (k % 10 == 0) {
        feed.send(
            t.clickstream, fmt::format("c{}", c),
            fmt::format(
                R"({{"type":"product_view","event_id":"tv{}","ts":{},"customer_id":"c{}","session_id":"s{}","sku":"s{}","price":10,"currency":"EUR"}})",
                k, ts, c, c, (c + 7) % o.skus));
        feed.send(t.inventory, fmt::format("s{}", c % o.skus),
                  stock_level(fmt::format("tst{}", k), ts, c % o.skus));
      }
      feed.send(t.carts, fmt::format("c{}", c),
                cart_add(fmt::format("t{}", k), ts, c, (c + 7) % o.skus));
    }
    mark(touch_t0 + minute_ms + 1000);
    touched = o.touch;
    if (!feed.flush() || !refresh()) break;
    const std::uint64_t touch_events = feed.sent() - before;
    a = std::make_unique<instance>(o, "a2", config(state_a, port_a), port_a);
    if (!a->ok()) break;
    if (!wait_for(
            *a, [&] { return a->ready(); }, 1800, "the restarted instance to be ready"))
      break;
    fact("restart: ready on its own disk after",
         fmt::format("{:.1f} s (stopped: {})", seconds_since(a->started()), how));

    // ---- touch ----
    say(fmt::format("touch: {} events for customers at random", touch_events));
    std::vector<stretch> none;  // the touch as one stretch
    if (!follow(*a, *probe, inputs, 0, "touch", whole, none, 3600, true)) break;
    rows.push_back(whole);
    peak_a = std::max(peak_a, a->peak_rss_mib());
    (void)a->stop();

    // ---- restore on an empty disk ----
    say("restore: a fresh instance on an empty disk");
    const int port_b = free_port();
    auto b = std::make_unique<instance>(o, "b", config(state_b, port_b), port_b);
    if (!b->ok()) break;
    const double cpu_b0 = b->cpu_s();
    if (!wait_for(
            *b, [&] { return b->ready(); }, 3600, "the restore"))
      break;
    const double restore_s = seconds_since(b->started());
    const double restored = b->metric("herald_restored_records_total");
    fact("restore: ready after", fmt::format("{:.1f} s (group join included)", restore_s));
    fact("restore: changelog records restored",
         fmt::format("{:.0f} ({:.0f} records/s; {:.2f} µs of the instance's CPU per record)",
                     restored, restored / restore_s,
                     restored > 0 ? (b->cpu_s() - cpu_b0) * 1e6 / restored : 0.0));
    fact("restore: timers pending afterwards",
         fmt::format("{:.0f}", b->metric("herald_timers_pending")));

    // ---- fire ----
    say("fire: event time 2 h ahead on every input partition");
    const std::int64_t ahead = t0 + 2 * 60 * minute_ms;
    mark(ahead);
    if (!feed.flush()) break;
    const auto t_fire = clock_type::now();
    const double cpu_fire = b->cpu_s();
    const auto want = static_cast<double>(o.customers);
    double reminders = 0;
    if (!wait_for(
            *b,
            [&] {
              reminders = b->metric("herald_cart_reminders_total");
              return reminders >= want;
            },
            3600, "the reminders"))
      break;
    const double fire_s = seconds_since(t_fire);
    rows.push_back(
        {"fire (reminders)", static_cast<std::int64_t>(reminders), fire_s, b->cpu_s() - cpu_fire});
    // Any reminder sent twice shows up in the count a little later.
    std::this_thread::sleep_for(std::chrono::seconds(3));
    reminders = b->metric("herald_cart_reminders_total");
    fact("fire: reminders", fmt::format("{:.0f} for {} open carts: {}", reminders, o.customers,
                                        reminders == want ? "none lost, none twice" : "MISMATCH"));
    if (reminders != want) rc = 1;
    peak_b = b->peak_rss_mib();
    (void)b->stop();
  } while (false);
  if (rows.empty() || facts.empty()) rc = 1;

  fmt::print(
      "\nbench_scale: {} customers with an open cart, {} SKUs, {} touches, {} partitions, "
      "{}, Kafka at {}\n",
      o.customers, o.skus, touched, o.partitions, o.guarantee, bootstrap);
  fmt::print("{:<18} {:>12} {:>10} {:>12} {:>14}\n", "stretch", "events", "seconds", "events/s",
             "µs CPU/event");
  for (const auto& r : rows)
    fmt::print("{:<18} {:>12} {:>10.1f} {:>12.0f} {:>14.2f}\n", r.name, r.events, r.seconds,
               r.rate(), r.cpu_us());
  for (const auto& [label, value] : facts) fmt::print("  {}: {}\n", label, value);
  fmt::print("  peak resident set: {:.0f} MiB (building instance), {:.0f} MiB (restored one)\n",
             peak_a, peak_b);
  const auto first = std::find_if(rows.begin(), rows.end(),
                                  [](const stretch& r) { return r.name == "build 1/10"; });
  if (first != rows.end() && first->rate() > 0)
    for (const auto& r : rows)
      if (r.name == "build 10/10" || r.name == "touch")
        fmt::print("  {} against build 1/10: {:.2f}x the events/s\n", r.name,
                   r.rate() / first->rate());
  {
    std::ofstream csv(fs::path(o.out) / "scale.csv");
    csv << "stretch,events,seconds,events_per_s,cpu_us_per_event\n";
    for (const auto& r : rows)
      csv << fmt::format("{},{},{:.3f},{:.0f},{:.3f}\n", r.name, r.events, r.seconds, r.rate(),
                         r.cpu_us());
  }
  fs::remove_all(state_a);
  fs::remove_all(state_b);
  (void)herald::streams::delete_topics(props, topics, error);
  cluster.reset();
  say(fmt::format("total {:.0f} s", seconds_since(t_begin)));
  return rc;
}

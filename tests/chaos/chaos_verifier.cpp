// The chaos verifier: Herald under kill -9, instances coming and going and a broker SIGKILLed,
// on a real 3-node Kafka cluster, checked against an oracle.
//
// One run, per guarantee mode:
// 1. Fresh topics (a prefix of their own) and a fresh consumer group.
// 2. 3 `herald run` processes, each with its own state directory.
// 3. A generator feeds carts in event-time steps, with heartbeats on every partition. Some of
//    the carts:
//    - are ordered (no reminder);
//    - get a second item (the reminders name the last event);
//    - have records sent twice (applied once);
//    - are malformed (dead-lettered).
// 4. On a schedule, meanwhile:
//    - kill -9 of an instance, three times (restarted on its disk, then on an empty one, then
//      on its disk);
//    - a fourth instance added, later removed (SIGTERM);
//    - one broker SIGKILLed and restarted.
// 5. Once the input is done and the outputs settle, every instance stops.
// 6. The output topics are read read_committed and compared with the oracle: the reminder ids
//    the rule gives the generated carts (schemas::make_id over cart, last event, number).
//
// Printed per run: inputs, expected, delivered, missing, duplicated, unexpected, per-key order
// violations. The dead letters are checked the same way (by source partition and offset).
// Passing:
// - exactly-once: missing = duplicated = unexpected = 0;
// - at-least-once: missing = unexpected = 0; a duplicate carries the same id by construction.
// Order violations must be 0 in both modes. Exit code 0 only when every run passes.
//
// Usage:
//   chaos_verifier [--kafka-dir DIR] [--herald BIN] [--modes exactly_once_v2,at_least_once]
//                  [--runs N] [--customers N] [--partitions N] [--short]
// With no running cluster in --kafka-dir, the verifier starts one (scripts/kafka start --nodes
// 3) and stops it at the end.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "herald/actors/config.hpp"
#include "herald/actors/demo.hpp"
#include "herald/schemas/codec.hpp"
#include "herald/streams/admin.hpp"
#include "herald/streams/sink.hpp"
#include "herald/streams/topic_reader.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
namespace fs = std::filesystem;

struct options {
  std::string kafka_dir;
  std::string herald = HERALD_BIN;
  std::vector<std::string> modes = {"exactly_once_v2", "at_least_once"};
  int runs = 1;
  int customers = 3000;
  int partitions = 6;
  bool short_form = false;
};

constexpr std::int64_t base_ts = 1'700'000'000'000;
constexpr std::int64_t minute = 60'000, hour = 60 * minute;

std::pair<int, std::string> shell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  char buf[4096];
  while (std::fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

void say(const std::string& what) {
  static const auto start = clock_type::now();
  const double s = std::chrono::duration<double>(clock_type::now() - start).count();
  fmt::print("[{:7.1f} s] {}\n", s, what);
  std::fflush(stdout);
}

/// One `herald run` process, its output in a log file.
class instance {
 public:
  instance(std::string bin, std::string config, std::string log)
      : bin_(std::move(bin)), config_(std::move(config)), log_(std::move(log)) {}
  ~instance() { stop(SIGKILL); }
  void start() {
    pid_ = ::fork();
    if (pid_ == 0) {
      FILE* f = std::fopen(log_.c_str(), "a");
      if (f != nullptr) {
        ::dup2(::fileno(f), 1);
        ::dup2(::fileno(f), 2);
      }
      ::execl(bin_.c_str(), bin_.c_str(), "run", "--config", config_.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  /// Sends `sig` and waits for the process; returns its exit status (-1: killed by a signal).
  int stop(int sig) {
    if (pid_ <= 0) return 0;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    leaving_ = false;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  /// Asks the process to stop (SIGTERM) without waiting: the input goes on meanwhile.
  void terminate() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    leaving_ = true;
  }
  /// Whether the process exited on its own (a fatal error); restarts it as Kubernetes would.
  bool restart_if_exited() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    if (leaving_) {  // it was told to stop
      leaving_ = false;
      pid_ = -1;
      return false;
    }
    say(fmt::format("instance {} exited on its own (status {}); restarted", config_,
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1));
    pid_ = -1;
    start();
    return true;
  }
  [[nodiscard]] bool running() const { return pid_ > 0; }

 private:
  std::string bin_, config_, log_;
  pid_t pid_ = -1;
  bool leaving_ = false;
};

struct expected_output {
  std::string customer;
  int number = 0;
};

/// The generated input and what the rules must make of it.
struct workload {
  std::vector<std::function<void(herald::streams::sink&)>> steps;  // one per event-time step
  std::map<std::string, expected_output> reminders;                // notification id -> what
  std::size_t inputs = 0;
  std::size_t dead_letters = 0;  // malformed records produced (each once)
};

std::string cart_add(const std::string& who, const std::string& event_id, std::int64_t ts,
                     const std::string& sku) {
  return fmt::format(
      R"({{"type":"cart_item_added","event_id":"{}","ts":{},"customer_id":"{}","cart_id":"cart-{}","sku":"{}","quantity":1,"unit_price":10,"currency":"EUR"}})",
      event_id, ts, who, who, sku);
}

/// Customers spread over 6 h of event time, then heartbeats until every cart's second reminder
/// (24 h) is due; `step_ms` of event time per step.
workload generate(const std::string& prefix, int customers, int partitions) {
  workload w;
  constexpr std::int64_t step_ms = 10 * minute;
  const std::int64_t spread = 6 * hour;
  const std::int64_t end = base_ts + spread + 26 * hour;
  const int steps = static_cast<int>((end - base_ts) / step_ms) + 1;
  std::vector<std::vector<std::tuple<std::string, std::string, std::string>>> at(
      static_cast<std::size_t>(steps));  // (topic, key, value) per step
  auto put = [&](std::int64_t ts, const std::string& topic, const std::string& key,
                 const std::string& value, int copies = 1) {
    auto& slot = at[static_cast<std::size_t>((ts - base_ts) / step_ms)];
    for (int i = 0; i < copies; ++i) slot.emplace_back(topic, key, value);
    w.inputs += static_cast<std::size_t>(copies);
  };
  const std::string carts = prefix + "shop.carts";
  const std::string clicks = prefix + "shop.clickstream";
  for (int i = 0; i < customers; ++i) {
    const std::string who = fmt::format("cust-{}", i);
    const std::int64_t t = base_ts + spread * i / customers;
    const int copies = i % 10 == 7 ? 2 : 1;  // delivered twice by the producer: applied once
    std::string last = fmt::format("add-{}", i);
    put(t, carts, who, cart_add(who, last, t, "sku-a"), copies);
    if (i % 3 == 0) {
      // Ordered half an hour later: no reminder.
      put(t + 30 * minute, carts, who,
          fmt::format(
              R"({{"type":"order_placed","event_id":"order-{}","ts":{},"customer_id":"{}","cart_id":"cart-{}","order_id":"o-{}","total":10,"currency":"EUR","lines":[{{"sku":"sku-a","quantity":1,"unit_price":10}}]}})",
              i, t + 30 * minute, who, who, i));
      continue;
    }
    if (i % 3 == 1) {
      last = fmt::format("add2-{}", i);
      put(t + 5 * minute, carts, who, cart_add(who, last, t + 5 * minute, "sku-b"), copies);
    }
    if (i % 50 == 13) {
      put(t, carts, who, R"({"type":"cart_item_added","event_id":)");  // malformed
      ++w.dead_letters;
    }
    for (int n = 1; n <= 2; ++n)
      w.reminders[herald::schemas::make_id("abandoned_cart", who,
                                           fmt::format("cart-{}/{}/{}", who, last, n))] = {who, n};
  }
  // Heartbeats: every partition of both customer topics moves on each step.
  for (int s = 0; s < steps; ++s) {
    const std::int64_t ts = base_ts + s * step_ms;
    auto& slot = at[static_cast<std::size_t>(s)];
    for (int p = 0; p < partitions; ++p) {
      const std::string who = fmt::format("heartbeat-{}", p);
      slot.emplace_back(
          clicks + "#" + std::to_string(p), who,
          fmt::format(
              R"({{"type":"page_view","event_id":"hb-{}","ts":{},"customer_id":"{}","session_id":"hb"}})",
              ts, ts, who));
      slot.emplace_back(
          carts + "#" + std::to_string(p), who,
          fmt::format(
              R"({{"type":"checkout_started","event_id":"hbc-{}","ts":{},"customer_id":"{}","cart_id":"none"}})",
              ts, ts, who));
      w.inputs += 2;
    }
  }
  for (auto& slot : at)
    w.steps.push_back([records = std::move(slot)](herald::streams::sink& out) {
      for (const auto& [topic, key, value] : records) {
        const auto hash = topic.find('#');
        if (hash == std::string::npos)
          (void)out.produce(topic, key, value);
        else
          (void)out.produce_to(topic.substr(0, hash), std::stoi(topic.substr(hash + 1)), key,
                               value);
      }
    });
  return w;
}

struct result {
  std::size_t expected = 0, delivered = 0, missing = 0, duplicated = 0, unexpected = 0,
              order_violations = 0;
  std::size_t dlq_expected = 0, dlq_delivered = 0, dlq_missing = 0, dlq_duplicated = 0;
  std::uint64_t transactions_aborted = 0;
};

// `report`: print the first missing and unexpected reminders (to look for in the logs).
result verify(const workload& w, const herald::streams::kafka_properties& props,
              const std::string& prefix, bool report = false) {
  result r;
  r.expected = w.reminders.size();
  std::vector<herald::streams::consumed_record> out;
  std::string error;
  if (!herald::streams::read_topic(props, prefix + "herald.cart-reminders", out, error, 60'000))
    say("reading the reminders failed: " + error);
  std::map<std::string, int> seen;
  std::map<std::string, int> last;  // customer -> the highest reminder number read so far
  std::string unexpected;           // the first unexpected ones
  for (const auto& rec : out) {
    ++r.delivered;
    const auto j = nlohmann::json::parse(rec.value, nullptr, false);
    if (j.is_discarded()) {
      ++r.unexpected;
      continue;
    }
    const std::string id = j.value("notification_id", "");
    const std::string who = j.value("customer_id", "");
    const int number = j.value("reminder_number", 0);
    if (++seen[id] > 1) ++r.duplicated;
    auto it = w.reminders.find(id);
    if (it == w.reminders.end() || it->second.customer != who || it->second.number != number) {
      if (++r.unexpected <= 10) unexpected += fmt::format(" {} #{}", who, number);
    }
    // Per key: reminder numbers in the order they were sent (a repeat may follow its
    // original, never precede it; #2 never before #1).
    int& prev = last[who];
    if (number < prev) ++r.order_violations;
    prev = std::max(prev, number);
  }
  std::string examples;  // the first missing ones, to look for in the instances' logs
  for (const auto& [id, what] : w.reminders) {
    if (seen.find(id) != seen.end()) continue;
    if (++r.missing <= 10) examples += fmt::format(" {} #{}", what.customer, what.number);
  }
  if (report && r.missing > 0)
    say(fmt::format("missing:{}{}", examples, r.missing > 10 ? " ..." : ""));
  if (report && r.unexpected > 0)
    say(fmt::format("unexpected:{}{}", unexpected, r.unexpected > 10 ? " ..." : ""));
  out.clear();
  if (!herald::streams::read_topic(props, prefix + "herald.dlq", out, error, 60'000))
    say("reading the dead letters failed: " + error);
  r.dlq_expected = w.dead_letters;
  std::map<std::string, int> letters;
  for (const auto& rec : out) {
    ++r.dlq_delivered;
    const std::string where =
        rec.header("herald.source.partition") + "/" + rec.header("herald.source.offset");
    if (++letters[where] > 1) ++r.dlq_duplicated;
  }
  r.dlq_missing = letters.size() < w.dead_letters ? w.dead_letters - letters.size() : 0;
  return r;
}

struct cluster {
  std::string dir;
  std::string scripts;
  bool started_here = false;
  [[nodiscard]] std::string env() const { return "HERALD_KAFKA_DIR='" + dir + "' "; }
  std::string run(const std::string& args) const {
    auto [code, out] = shell(env() + scripts + "/kafka " + args);
    if (code != 0) say(fmt::format("scripts/kafka {} failed ({}): {}", args, code, out));
    return out;
  }
};

bool one_run(const options& o, const cluster& kafka, const std::string& mode, int run,
             const herald::streams::kafka_properties& props) {
  const std::string tag =
      fmt::format("chaos-{}-{}-{}", ::getpid(), mode == "at_least_once" ? "alos" : "eos", run);
  const std::string prefix = tag + ".";
  const fs::path dir = fs::temp_directory_path() / tag;
  fs::remove_all(dir);
  fs::create_directories(dir);
  herald::actors::topics_config t;
  for (auto* name : {&t.clickstream, &t.carts, &t.inventory, &t.sku_signals, &t.cart_reminders,
                     &t.restock_alerts, &t.shipments, &t.lane_stats, &t.tracking_notifications,
                     &t.anomalies, &t.dlq})
    *name = prefix + *name;
  std::string error;
  if (!herald::streams::create_topics(props, herald::actors::herald_topics(t, o.partitions, tag),
                                      true, error)) {
    say("creating the topics failed: " + error);
    return false;
  }
  // The configuration: production defaults but for the session timeout (10 s rather than
  // 45 s, so that the group notices a killed instance sooner and the run stays short).
  auto config_for = [&](const std::string& state) {
    const std::string path = (dir / (state + ".yaml")).string();
    std::ofstream f(path);
    f << fmt::format("kafka:\n  group_id: '{}'\n  session_timeout_ms: 10000\n", tag)
      << fmt::format("  properties: {{bootstrap.servers: '{}'}}\n", props.at("bootstrap.servers"))
      << fmt::format("processing: {{guarantee: {}}}\n", mode)
      << fmt::format("state: {{dir: '{}'}}\n", (dir / state).string()) << "metrics: {listen: ''}\n"
      << herald::actors::topics_yaml(t);
    return path;
  };
  auto log_of = [&](const std::string& name) { return (dir / (name + ".log")).string(); };
  std::vector<std::unique_ptr<instance>> herald;
  for (int i = 0; i < 4; ++i) {
    const std::string name = fmt::format("i{}", i);
    herald.push_back(std::make_unique<instance>(o.herald, config_for(name), log_of(name)));
  }
  for (int i = 0; i < 3; ++i) herald[static_cast<std::size_t>(i)]->start();

  const workload w = generate(prefix, o.customers, o.partitions);
  herald::streams::sink_config sc;
  sc.properties = props;
  sc.properties["partitioner"] = "murmur2_random";
  auto producer = herald::streams::sink::create(sc, error);
  if (!producer) {
    say("producer: " + error);
    return false;
  }
  // The chaos schedule, by step.
  const int n = static_cast<int>(w.steps.size());
  std::map<int, std::function<void()>> chaos;
  auto fresh_disk = [&](const std::string& name) { fs::remove_all(dir / name); };
  chaos[n * 10 / 100] = [&] {
    say("kill -9 instance 0 (restarted on its disk)");
    herald[0]->stop(SIGKILL);
    herald[0]->start();
  };
  chaos[n * 25 / 100] = [&] {
    say("instance 3 added");
    herald[3]->start();
  };
  chaos[n * 40 / 100] = [&] {
    say("kill -9 instance 1 (restarted on an empty disk)");
    herald[1]->stop(SIGKILL);
    fresh_disk("i1");
    herald[1]->start();
  };
  chaos[n * 55 / 100] = [&] {
    say("SIGKILL broker 2");
    kafka.run("kill 2");
  };
  chaos[n * 65 / 100] = [&] {
    say("broker 2 restarted");
    kafka.run("start-node 2");
  };
  chaos[n * 75 / 100] = [&] {
    say("instance 3 removed (SIGTERM)");
    herald[3]->terminate();
  };
  chaos[n * 85 / 100] = [&] {
    say("kill -9 instance 2 (restarted on its disk)");
    herald[2]->stop(SIGKILL);
    herald[2]->start();
  };
  say(
      fmt::format("run {} ({}): {} customers, {} input records, {} expected reminders, {} "
                  "partitions, {} steps",
                  run, mode, o.customers, w.inputs, w.reminders.size(), o.partitions, n));
  // Wall-clock time per step: the run takes about 100 s (50 s in the short form) of input.
  const auto step_wall = std::chrono::milliseconds((o.short_form ? 50'000 : 100'000) / n);
  for (int s = 0; s < n; ++s) {
    const auto next = clock_type::now() + step_wall;
    w.steps[static_cast<std::size_t>(s)](*producer);
    if (auto c = chaos.find(s); c != chaos.end()) c->second();
    for (auto& h : herald) h->restart_if_exited();
    std::this_thread::sleep_until(next);
  }
  if (!producer->flush(60'000)) say("the generator's producer did not deliver everything");
  say("input done; waiting for the outputs to settle");
  // Settled: every expected reminder is there, or nothing new came for 60 s (a loss), at most
  // 5 minutes.
  const auto deadline = clock_type::now() + std::chrono::minutes(5);
  std::size_t last_count = 0;
  auto last_change = clock_type::now();
  for (;;) {
    for (auto& h : herald) h->restart_if_exited();
    const result r = verify(w, props, prefix);
    if (r.missing == 0 && r.dlq_missing == 0) break;
    if (r.delivered != last_count) {
      last_count = r.delivered;
      last_change = clock_type::now();
    }
    if (clock_type::now() - last_change > std::chrono::seconds(60) || clock_type::now() > deadline)
      break;
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  // Every output out: the instances stop (what they still owe would show as missing).
  for (auto& h : herald) h->stop(SIGTERM);
  const result r = verify(w, props, prefix, /*report=*/true);
  const bool exactly_once = mode == "exactly_once_v2";
  const bool pass = r.missing == 0 && r.unexpected == 0 && r.order_violations == 0 &&
                    r.dlq_missing == 0 &&
                    (!exactly_once || (r.duplicated == 0 && r.dlq_duplicated == 0));
  fmt::print(
      "\n| run | mode | inputs | expected | delivered | missing | duplicated | unexpected | order "
      "violations | dead letters expected / delivered / missing / duplicated | result |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|\n"
      "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} / {} / {} | {} |\n\n",
      run, mode, w.inputs, r.expected, r.delivered, r.missing, r.duplicated, r.unexpected,
      r.order_violations, r.dlq_expected, r.dlq_delivered, r.dlq_missing, r.dlq_duplicated,
      pass ? "PASS" : "FAIL");
  std::fflush(stdout);
  if (!pass) {
    say("logs kept in " + dir.string());
    return false;
  }
  std::vector<std::string> names;
  for (const auto& spec : herald::actors::herald_topics(t, o.partitions, tag))
    names.push_back(spec.name);
  (void)herald::streams::delete_topics(props, names, error);
  fs::remove_all(dir);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  o.kafka_dir = (fs::path(HERALD_BUILD_DIR) / "kafka-chaos").string();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "{} needs a value\n", a);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--kafka-dir") {
      o.kafka_dir = next();
    } else if (a == "--herald") {
      o.herald = next();
    } else if (a == "--runs") {
      o.runs = std::stoi(next());
    } else if (a == "--customers") {
      o.customers = std::stoi(next());
    } else if (a == "--partitions") {
      o.partitions = std::stoi(next());
    } else if (a == "--short") {
      o.short_form = true;
      o.customers = 600;
      o.partitions = 3;
    } else if (a == "--modes") {
      o.modes.clear();
      std::string list = next();
      for (std::size_t p = 0; p <= list.size();) {
        const std::size_t c = std::min(list.find(',', p), list.size());
        if (c > p) o.modes.push_back(list.substr(p, c - p));
        p = c + 1;
      }
    } else {
      fmt::print(
          stderr,
          "usage: chaos_verifier [--kafka-dir DIR] [--herald BIN] [--modes M1,M2] [--runs N] "
          "[--customers N] [--partitions N] [--short]\n");
      return 2;
    }
  }
  cluster kafka{o.kafka_dir, HERALD_SOURCE_DIR "/scripts"};
  if (shell(kafka.env() + kafka.scripts + "/kafka status").first != 0) {
    say("starting a 3-node Kafka cluster in " + o.kafka_dir);
    if (auto [code, out] = shell(kafka.env() + kafka.scripts + "/kafka start --nodes 3");
        code != 0) {
      fmt::print(stderr, "cannot start Kafka: {}\n", out);
      return 1;
    }
    kafka.started_here = true;
  }
  auto [code, bootstrap] = shell(kafka.env() + kafka.scripts + "/kafka bootstrap");
  while (!bootstrap.empty() && (bootstrap.back() == '\n' || bootstrap.back() == '\r'))
    bootstrap.pop_back();
  if (code != 0 || bootstrap.empty()) {
    fmt::print(stderr, "no bootstrap address: {}\n", bootstrap);
    return 1;
  }
  const herald::streams::kafka_properties props{{"bootstrap.servers", bootstrap}};
  int failed = 0;
  for (const auto& mode : o.modes)
    for (int run = 1; run <= o.runs; ++run)
      if (!one_run(o, kafka, mode, run, props)) ++failed;
  if (kafka.started_here) kafka.run("stop");
  say(failed == 0 ? "every run passed" : fmt::format("{} runs failed", failed));
  return failed == 0 ? 0 : 1;
}

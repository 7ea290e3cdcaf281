// Scale-out with state: one instance builds the state of `--keys` customers (an open cart
// each, so a pending reminder each), then `--instances - 1` more join its group. Their tasks
// move to the new instances, which restore them from the changelog topics before processing.
// Prints, per new instance, the records it restored, how long until it was ready and the
// rate; then moves event time past the reminders' delay and checks that every cart got its
// reminder exactly once from whichever instance owns it now (nothing lost in the move).
//
// On a real broker with `--bootstrap ADDR` (`scripts/kafka start`), else on a mock cluster.
// Every instance runs in this process, so they share its two cores with the broker.
//
// Usage: bench_restore [--keys N] [--partitions P] [--instances I] [--bootstrap ADDR]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "herald/actors/app.hpp"
#include "herald/actors/changelog.hpp"
#include "herald/actors/demo.hpp"
#include "herald/streams/admin.hpp"
#include "herald/streams/mock_cluster.hpp"
#include "herald/streams/sink.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
constexpr std::int64_t t0 = 1'760'000'000'000;
constexpr std::int64_t hour_ms = 3'600'000;

double since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

void wait(const std::function<bool()>& done, double timeout_s, const char* what) {
  const auto start = clock_type::now();
  while (!done()) {
    if (since(start) > timeout_s) {
      fmt::print(stderr, "bench_restore: timed out waiting for {}\n", what);
      std::exit(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  std::size_t keys = 1'000'000;
  int partitions = 6, instances = 3;
  std::string bootstrap;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--keys") keys = std::strtoull(argv[i + 1], nullptr, 10);
    if (a == "--partitions") partitions = std::atoi(argv[i + 1]);
    if (a == "--instances") instances = std::atoi(argv[i + 1]);
    if (a == "--bootstrap") bootstrap = argv[i + 1];
  }
  const std::string app_id = fmt::format("bench-restore-{}", ::getpid());
  herald::actors::topics_config topics;
  std::string error;
  std::unique_ptr<herald::streams::mock_cluster> mc;
  if (bootstrap.empty()) {
    mc = herald::streams::mock_cluster::start(1, error);
    if (!mc) {
      fmt::print(stderr, "bench_restore: {}\n", error);
      return 1;
    }
    herald::actors::create_topics(*mc, topics, partitions, app_id);
    bootstrap = mc->bootstrap_servers();
  } else {
    const auto specs = herald::actors::herald_topics(topics, partitions);
    std::vector<std::string> names;
    for (const auto& s : specs) names.push_back(s.name);
    const herald::streams::kafka_properties props{{"bootstrap.servers", bootstrap}};
    if (!herald::streams::delete_topics(props, names, error) ||
        !herald::streams::create_topics(props, specs, false, error)) {
      fmt::print(stderr, "bench_restore: {}: {}\n", bootstrap, error);
      return 1;
    }
  }

  herald::streams::sink_config sc;
  sc.properties["bootstrap.servers"] = bootstrap;
  sc.properties["linger.ms"] = "20";
  sc.properties["partitioner"] = "murmur2_random";  // Kafka's default: keys where Herald expects
  auto producer = herald::streams::sink::create(sc, error);
  auto config = [&](int n) {
    herald::actors::app_config c;
    c.kafka.properties["bootstrap.servers"] = bootstrap;
    c.kafka.group_id = app_id;
    c.kafka.session_timeout_ms = 6000;
    c.metrics.listen = "";
    c.task.watermark.idle_timeout_ms = 0;  // event time only: reminders when we say so
    c.state.dir =
        (std::filesystem::temp_directory_path() / fmt::format("{}-{}", app_id, n)).string();
    std::filesystem::remove_all(c.state.dir);
    return c;
  };
  auto heartbeat = [&](std::int64_t ts) {
    for (int p = 0; p < partitions; ++p) {
      const std::string who = fmt::format("heartbeat-{}", p);
      (void)producer->produce_to(
          topics.clickstream, p, who,
          fmt::format(
              R"({{"type":"page_view","event_id":"hb-{}","ts":{},"customer_id":"{}","session_id":"hb"}})",
              ts, ts, who));
      (void)producer->produce_to(
          topics.carts, p, who,
          fmt::format(
              R"({{"type":"checkout_started","event_id":"hbc-{}","ts":{},"customer_id":"{}","cart_id":"none"}})",
              ts, ts, who));
    }
  };

  std::vector<std::unique_ptr<herald::actors::app>> apps;
  apps.push_back(std::make_unique<herald::actors::app>(config(0)));
  if (auto e = apps[0]->start(); !e.empty()) {
    fmt::print(stderr, "bench_restore: {}\n", e);
    return 1;
  }
  auto built = clock_type::now();
  for (std::size_t i = 0; i < keys; ++i) {
    const std::string who = fmt::format("c{}", i);
    (void)producer->produce(
        topics.carts, who,
        fmt::format(
            R"({{"type":"cart_item_added","event_id":"a{}","ts":{},"customer_id":"{}","cart_id":"k{}","sku":"sku-{}","quantity":1,"unit_price":10,"currency":"EUR"}})",
            i, t0 + static_cast<std::int64_t>(i % 1000), who, i, i % 5000));
  }
  heartbeat(t0 + 10 * 60'000);
  producer->flush(120'000);
  const std::uint64_t inputs = keys + 2 * static_cast<std::uint64_t>(partitions);
  wait([&] { return apps[0]->probe().input_events_total() >= inputs; }, 1800, "the state");
  fmt::print("state: {} carts built by one instance in {:.1f} s\n", keys, since(built));

  std::vector<clock_type::time_point> joined;
  for (int n = 1; n < instances; ++n) {
    apps.push_back(std::make_unique<herald::actors::app>(config(n)));
    joined.push_back(clock_type::now());
    if (auto e = apps.back()->start(); !e.empty()) {
      fmt::print(stderr, "bench_restore: {}\n", e);
      return 1;
    }
  }
  std::vector<double> ready_s(apps.size(), 0);
  wait(
      [&] {
        std::size_t tasks = 0;
        bool all = true;
        for (std::size_t n = 0; n < apps.size(); ++n) {
          tasks += apps[n]->assigned_tasks();
          const bool r = apps[n]->assigned_tasks() > 0 && apps[n]->restoring_tasks() == 0;
          if (n > 0 && r && ready_s[n] == 0) ready_s[n] = since(joined[n - 1]);
          all = all && r;
        }
        return all && tasks == 3 * static_cast<std::size_t>(partitions);
      },
      1800, "the new instances to restore");
  // Ready after: from its start (group join and rebalance included) until every task of it
  // runs. Restoring: the restore thread's own time; the rate is records over that.
  // CPU: the restore thread's own (not the broker's, which shares these cores here); its
  // inverse is the rate one core sustains when the broker runs elsewhere.
  fmt::print("{:>10} {:>6} {:>16} {:>10} {:>12} {:>12} {:>16} {:>12} {:>14} {:>18}\n", "instance",
             "tasks", "records restored", "MiB", "restoring", "ready after", "restore rate",
             "s per GiB", "CPU/record", "rate per CPU core");
  for (std::size_t n = 1; n < apps.size(); ++n) {
    const auto restored = apps[n]->probe().restored_records_total();
    const double secs = apps[n]->probe().restore_seconds_total();
    const double cpu = apps[n]->probe().restore_cpu_seconds_total();
    // Bytes: the changelog records' keys and values (the state's logical size).
    const double mib = static_cast<double>(apps[n]->probe().restored_bytes_total()) / 1048576.0;
    fmt::print(
        "{:>10} {:>6} {:>16} {:>10.1f} {:>10.2f} s {:>10.2f} s {:>11.0f} rec/s {:>10.0f} s "
        "{:>11.2f} µs {:>12.0f} rec/s\n",
        n, apps[n]->assigned_tasks(), restored, mib, secs, ready_s[n],
        secs > 0 ? static_cast<double>(restored) / secs : 0.0, mib > 0 ? secs * 1024.0 / mib : 0.0,
        restored > 0 ? cpu * 1e6 / static_cast<double>(restored) : 0.0,
        cpu > 0 ? static_cast<double>(restored) / cpu : 0.0);
  }

  heartbeat(t0 + 2 * hour_ms);
  producer->flush(60'000);
  auto reminders = [&] {
    std::uint64_t r = 0;
    for (const auto& a : apps) r += a->probe().reminders_total();
    return r;
  };
  wait([&] { return reminders() >= keys; }, 1800, "the reminders");
  std::this_thread::sleep_for(std::chrono::seconds(1));  // any extra one shows up too
  fmt::print("reminders after the move: {} for {} carts ({})\n", reminders(), keys,
             reminders() == keys ? "none lost, none twice" : "MISMATCH");
  const bool ok = reminders() == keys;
  for (auto& a : apps) a->stop();
  for (int n = 0; n < instances; ++n) std::filesystem::remove_all(config(n).state.dir);
  if (!mc) {
    std::vector<std::string> names;
    for (const auto& s :
         herald::actors::changelog_topics(app_id, {0, partitions, partitions, partitions}))
      names.push_back(s.name);
    (void)herald::streams::delete_topics({{"bootstrap.servers", bootstrap}}, names, error);
  }
  return ok ? 0 : 1;
}

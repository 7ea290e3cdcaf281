// Restock fan-out: one SKU with N customers waiting (notify_me re-keyed by SKU), then a
// restock large enough for all of them. Measures, on a SKU task with real RocksDB state and a
// producer into the mock cluster, the time from the restock record to every back_in_stock
// notification acknowledged by Kafka, split into processing, commit and delivery.
//
// Usage: bench_restock [--waiters N]

#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "herald/actors/task.hpp"
#include "herald/state/db.hpp"
#include "herald/streams/mock_cluster.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using namespace herald;

double since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  std::int64_t waiters = 100'000;
  for (int i = 1; i + 1 < argc; i += 2)
    if (std::string(argv[i]) == "--waiters") waiters = std::atoll(argv[i + 1]);

  std::string error;
  auto mc = streams::mock_cluster::start(1, error);
  if (!mc) return 1;
  actors::app_config cfg;
  for (const auto* t : {&cfg.topics.inventory, &cfg.topics.sku_signals, &cfg.topics.restock_alerts,
                        &cfg.topics.dlq})
    mc->create_topic(*t, 1);
  cfg.kafka.properties["bootstrap.servers"] = mc->bootstrap_servers();
  cfg.task.commit_interval_ms = 1'000'000'000;  // commit only when measured
  cfg.task.watermark.idle_timeout_ms = 0;
  streams::sink_config sc;
  sc.properties = cfg.kafka.properties;
  auto sink = streams::sink::create(sc, error);
  const auto dir =
      std::filesystem::temp_directory_path() / fmt::format("herald-restock-{}", ::getpid());
  std::filesystem::remove_all(dir);
  std::unique_ptr<state::db> db;
  state::db_options dbo;
  dbo.path = dir.string();
  if (!state::db::open(dbo, db).ok()) return 1;
  actors::metrics probe({cfg.topics.inventory, cfg.topics.sku_signals}, 2, {false, true});
  actors::task_env env;
  env.db = db.get();
  env.sink = sink.get();
  env.probe = &probe;
  env.config = &cfg;
  env.topics = {{cfg.topics.inventory, schemas::topic_kind::inventory, state::family::sku},
                {cfg.topics.sku_signals, schemas::topic_kind::inventory, state::family::sku, true}};
  actors::task task(env, {state::family::sku, 0});
  task.start();

  constexpr std::int64_t t0 = 1'700'000'000'000;
  // Event times are checked against the wall clock (task.max_future_ms).
  const std::int64_t wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  auto stock = [&](std::int64_t available, std::int64_t ts, std::int64_t offset) {
    streams::record_batch b;
    b.records.push_back(
        {"sku-hot",
         fmt::format(
             R"({{"type":"stock_level","event_id":"st-{}","ts":{},"sku":"sku-hot","location":"wh","available":{}}})",
             ts, ts, available),
         offset, 0, 0});
    return b;
  };
  auto b0 = stock(0, t0, 0);
  task.process(b0, wall);
  const auto fill = clock_type::now();
  std::int64_t offset = 0;
  for (std::int64_t i = 0; i < waiters;) {
    streams::record_batch b;
    for (int k = 0; k < 2000 && i < waiters; ++k, ++i) {
      rules::sku_signal s;
      s.type = rules::sku_signal::kind::notify_me;
      s.sku = "sku-hot";
      s.customer_id = fmt::format("cust-{}", i);
      s.ts_ms = t0 + 1 + i;
      s.event_id = fmt::format("nm-{}", i);
      std::string v;
      s.encode(v);
      b.records.push_back({"sku-hot", std::move(v), offset++, 0, 1});
    }
    task.process(b, wall);
  }
  // The SKU task applies its inputs in event-time order: a stock level after the requests
  // (still 0) moves its watermark past them, so the waitlist is built before the restock.
  auto settle = stock(0, t0 + 2 + waiters, 1);
  task.process(settle, wall);
  task.commit(0);
  const double fill_s = since(fill);

  // The restock: enough units for everyone at the default ratio of 2 notifications per unit.
  const auto start = clock_type::now();
  auto restock = stock((waiters + 1) / 2, t0 + 86'400'000, 2);
  task.process(restock, wall);
  const double process_s = since(start);
  const auto c0 = clock_type::now();
  task.commit(0);
  const double commit_s = since(c0);
  const auto d0 = clock_type::now();
  task.shutdown(0);  // waits until Kafka acknowledged every notification
  const double deliver_s = since(d0);
  const double total_s = since(start);
  const auto sent = probe.restock_alerts_total(actors::metrics::restock_type::back_in_stock);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);

  fmt::print("bench_restock: {} waiters for one SKU (waitlist built in {:.2f} s)\n", waiters,
             fill_s);
  fmt::print("  back_in_stock emitted        {}\n", sent);
  fmt::print("  rule + outbox (process)      {:>8.3f} s\n", process_s);
  fmt::print("  state commit (one batch)     {:>8.3f} s\n", commit_s);
  fmt::print("  produce until all acked      {:>8.3f} s\n", deliver_s);
  fmt::print("  restock -> all acknowledged  {:>8.3f} s  ({:.0f} notifications/s)\n", total_s,
             static_cast<double>(sent) / total_s);
  fmt::print("  max RSS                      {:>8.0f} MB\n",
             static_cast<double>(ru.ru_maxrss) / 1024);
  std::filesystem::remove_all(dir);
  return sent == static_cast<std::uint64_t>(waiters) ? 0 : 1;
}

// Herald's work per event, without a consumer in the way: generated shop traffic is handed to a
// customer task and a SKU task directly, in fetch-sized batches, as the source would hand it,
// with real RocksDB state, the changelog (at-least-once path), the outbox and a producer into an
// embedded mock cluster. The wall clock is simulated (a commit every `--commit-every` batches),
// so the same input always takes the same path: run it under
//   valgrind --tool=callgrind --separate-threads=yes build/dev/bench/bench_task --events 50000
// and the instruction counts of the main thread (the tasks' work) are repeatable, before and
// after a change to the per-record path. Natively it prints the CPU time per event of the
// calling thread (the tasks) and of the whole process (with the producer's and the mock
// broker's threads).
//
// Phase 1: the customer task takes the clickstream and cart records (it emits reminders, DLQ
// records and the SKU signals of the repartition topic). Phase 2: the SKU task takes the
// inventory records and those signals, merged by event time as the source would deliver them.
//
// Usage: bench_task [--events N] [--batch B] [--commit-every C] [--phases all|customer]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "herald/actors/changelog.hpp"
#include "herald/actors/config.hpp"
#include "herald/actors/metrics.hpp"
#include "herald/actors/task.hpp"
#include "herald/actors/traffic.hpp"
#include "herald/state/db.hpp"
#include "herald/streams/mock_cluster.hpp"
#include "herald/streams/sink.hpp"
#include "herald/streams/topic_reader.hpp"

namespace {

using namespace herald;

struct options {
  std::size_t events = 200'000;
  std::size_t batch = 500;
  int commit_every = 20;  // batches per commit: 10k records, about what 100 ms holds at full speed
  bool sku_phase = true;  // --phases customer: the customer task only
};

double cpu_seconds(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

/// Feeds `records` to `t` in batches; commits every `commit_every` batches, on a wall clock
/// that moves 5 ms per batch (the task commits when the commit interval has passed).
void drive(actors::task& t, std::vector<streams::record>& records, const options& o,
           std::int64_t& wall) {
  const std::int64_t step = std::max<std::int64_t>(1, 100 / o.commit_every);
  for (std::size_t i = 0; i < records.size(); i += o.batch) {
    streams::record_batch b;
    b.task = t.id();
    const std::size_t end = std::min(records.size(), i + o.batch);
    b.records.assign(std::make_move_iterator(records.begin() + static_cast<std::ptrdiff_t>(i)),
                     std::make_move_iterator(records.begin() + static_cast<std::ptrdiff_t>(end)));
    wall += step;
    t.process(b, wall);
    t.tick(wall);
  }
  wall += 100;
  t.commit(wall);
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--phases") o.sku_phase = std::string(argv[i + 1]) != "customer";
    const long long v = std::atoll(argv[i + 1]);
    if (k == "--events") o.events = static_cast<std::size_t>(v);
    if (k == "--batch") o.batch = static_cast<std::size_t>(std::max(1LL, v));
    if (k == "--commit-every") o.commit_every = static_cast<int>(std::max(1LL, v));
  }

  std::string error;
  auto cluster = streams::mock_cluster::start(1, error);
  if (!cluster) {
    fmt::print(stderr, "bench_task: {}\n", error);
    return 1;
  }
  actors::app_config cfg;
  cfg.kafka.group_id = "bench-task";
  cfg.kafka.properties["bootstrap.servers"] = cluster->bootstrap_servers();
  for (const auto& t :
       {cfg.topics.clickstream, cfg.topics.carts, cfg.topics.inventory, cfg.topics.sku_signals,
        cfg.topics.cart_reminders, cfg.topics.restock_alerts, cfg.topics.dlq, cfg.topics.anomalies})
    cluster->create_topic(t, 1);
  for (const auto& spec : actors::changelog_topics(cfg.kafka.group_id, {1, 1, 1, 1}))
    cluster->create_topic(spec.name, 1);

  streams::sink_config sc;
  sc.properties = cfg.kafka.properties;
  sc.queue_full_wait_ms = 0;
  auto sink = streams::sink::create(sc, error);
  if (!sink) {
    fmt::print(stderr, "bench_task: {}\n", error);
    return 1;
  }
  const auto dir = std::filesystem::temp_directory_path() /
                   fmt::format("herald-bench-task-{}-{}", ::getpid(), std::random_device{}());
  std::unique_ptr<state::db> db;
  state::db_options dbo;
  dbo.path = dir.string();
  if (auto st = state::db::open(dbo, db); !st.ok()) {
    fmt::print(stderr, "bench_task: {}\n", st.message);
    return 1;
  }
  const std::vector<streams::topic_binding> topics = {
      {cfg.topics.clickstream, schemas::topic_kind::clickstream, state::family::customer},
      {cfg.topics.carts, schemas::topic_kind::carts, state::family::customer},
      {cfg.topics.inventory, schemas::topic_kind::inventory, state::family::sku},
      {cfg.topics.sku_signals, schemas::topic_kind::inventory, state::family::sku, true}};
  std::vector<std::string> names;
  std::vector<bool> internal;
  for (const auto& t : topics) {
    names.push_back(t.name);
    internal.push_back(t.internal);
  }
  actors::metrics probe(names, cfg.abandoned_cart.steps.size(), internal);
  actors::task_env env;
  env.db = db.get();
  env.sink = sink.get();
  env.probe = &probe;
  env.config = &cfg;
  env.topics = topics;
  env.changelog = true;
  env.repartition_partitions = 1;
  env.upstream_tasks = 1;
  env.family_partitions = {1, 1, 1, 1};

  // The input: 1 simulated hour per wall second of a 5.5k records/s shop, as bench_e2e's.
  actors::traffic_generator gen{actors::traffic_config{}};
  std::vector<streams::record> customer, sku;
  std::int64_t offsets[3] = {0, 0, 0};
  const std::int64_t sim_start = 1'760'000'000'000;
  for (std::size_t i = 0; i < o.events; ++i) {
    auto r = gen.next(sim_start + static_cast<std::int64_t>(i) * 180);
    const auto idx = static_cast<std::uint16_t>(r.topic == schemas::topic_kind::clickstream ? 0
                                                : r.topic == schemas::topic_kind::carts     ? 1
                                                                                            : 2);
    streams::record rec{std::move(r.key), std::move(r.value), offsets[idx]++, 0, idx};
    (idx == 2 ? sku : customer).push_back(std::move(rec));
  }

  std::int64_t wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const double thread0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
  const double process0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
  const auto wall0 = std::chrono::steady_clock::now();
  const std::size_t customer_events = customer.size();
  {
    actors::task t(env, state::task_id{state::family::customer, 0});
    t.start();
    drive(t, customer, o, wall);
    t.shutdown(wall);
  }
  const double thread1 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);

  // Phase 2: the signals the customer task produced, in event-time order with the inventory.
  std::vector<streams::consumed_record> signals;
  if (!o.sku_phase) sku.clear();
  if (o.sku_phase &&
      !streams::read_topic(cfg.kafka.properties, cfg.topics.sku_signals, signals, error)) {
    fmt::print(stderr, "bench_task: {}\n", error);
    return 1;
  }
  const double thread_read = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
  std::vector<streams::record> merged;
  merged.reserve(sku.size() + signals.size());
  std::size_t s = 0;
  auto take_signal = [&](streams::consumed_record& c) {
    merged.push_back(
        {std::move(c.key), std::move(c.value), c.offset, 0, 3, c.key_null, c.value_null});
  };
  // Inventory records carry their time in the JSON; signals in the internal encoding. The
  // generator's inventory is in time order and so are one task's signals: interleave them by
  // share, which keeps both in order (the SKU task's watermark sorts the rest).
  for (std::size_t i = 0; i < sku.size(); ++i) {
    const std::size_t upto = signals.size() * (i + 1) / std::max<std::size_t>(1, sku.size());
    for (; s < upto; ++s) take_signal(signals[s]);
    merged.push_back(std::move(sku[i]));
  }
  for (; s < signals.size(); ++s) take_signal(signals[s]);
  const std::size_t sku_records = merged.size();
  {
    actors::task t(env, state::task_id{state::family::sku, 0});
    t.start();
    drive(t, merged, o, wall);
    t.shutdown(wall);
  }
  const double thread2 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
  const double process2 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();

  const double input = static_cast<double>(customer_events + sku.size());
  const double task_cpu = (thread1 - thread0) + (thread2 - thread_read);
  fmt::print(
      "bench_task: {} input events ({} customer, {} inventory) + {} SKU signals, batch {}, a "
      "commit every {} batches\n",
      customer_events + sku.size(), customer_events, sku.size(), signals.size(), o.batch,
      o.commit_every);
  fmt::print("customer task: {:.2f} us CPU per record\n",
             (thread1 - thread0) * 1e6 / static_cast<double>(customer_events));
  fmt::print(
      "sku task:      {:.2f} us CPU per record (inventory + signals)\n",
      (thread2 - thread_read) * 1e6 / static_cast<double>(std::max<std::size_t>(1, sku_records)));
  fmt::print("tasks:         {:.2f} us CPU per input event\n", task_cpu * 1e6 / input);
  fmt::print(
      "process:       {:.2f} us CPU per input event (with producer and mock broker), {:.1f} s\n",
      (process2 - process0) * 1e6 / input, secs);
  db.reset();
  std::filesystem::remove_all(dir);
  return 0;
}

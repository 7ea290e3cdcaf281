#include "herald/actors/app.hpp"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <caf/all.hpp>

#include "herald/actors/alignment.hpp"
#include "herald/actors/availability.hpp"
#include "herald/actors/changelog.hpp"
#include "herald/actors/http_server.hpp"
#include "herald/actors/lane_table.hpp"
#include "herald/actors/task.hpp"
#include "herald/actors/transactions.hpp"
#include "herald/state/db.hpp"
#include "herald/state/task_state.hpp"
#include "herald/streams/admin.hpp"
#include "herald/streams/sink.hpp"
#include "herald/streams/source.hpp"
#include "herald/streams/topic_follower.hpp"
#include "herald/streams/topic_reader.hpp"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(herald::streams::record_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<std::promise<void>>)

namespace herald::actors {
namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using wake_atom = caf::atom_constant<caf::atom("wake")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;

// A poll loop that has not come round for this long is wedged: /healthz fails, the pod restarts.
constexpr std::int64_t poll_stall_s = 120;

// CPU time of the calling thread (its own work, not the broker's or other threads').
double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

using restored_atom = caf::atom_constant<caf::atom("restored")>;

struct task_actor_state {
  std::shared_ptr<actors::task> task;
  std::shared_ptr<std::promise<void>> stopped;  // set once revoked: batches and ticks ignored
  std::vector<streams::record_batch> stash;     // received while the state is restored
  static inline const char* name = "herald.task";
};

// Builds a task once its state is ready (at once, or when its restore is done).
using task_factory = std::function<std::shared_ptr<actors::task>()>;

// While a revoked task waits for the broker's acknowledgements, it looks every this often
// (a message to itself: its worker thread is never blocked).
constexpr auto shutdown_poll = std::chrono::milliseconds(10);

// Runs `step` on the actor's task; an exception (a defect, or a library failing) fails the
// task instead of killing its actor: it is restarted from committed state.
template <class Step>
void guarded(const std::shared_ptr<actors::task>& t, Step&& step) {
  try {
    step();
  } catch (const std::exception& e) {
    t->fail(std::string("failed: ") + e.what());
  } catch (...) {
    t->fail("failed");
  }
}

/// The thin CAF shell around a task: batches in, periodic ticks, stop on revoke. A task whose
/// state is being restored exists only once `restored` arrives; batches wait until then.
caf::behavior task_actor(caf::stateful_actor<task_actor_state>* self, task_factory make,
                         bool restore, std::int64_t tick_ms, std::atomic<int>* restoring) {
  auto begin = [self, make, tick_ms, restoring] {
    self->state.task = make();
    auto& t = self->state.task;
    // State loaded at construction; re-produces a crash's outbox. Woken (out of its tick
    // rhythm) when the task's alignment cap moves or its changelog records are back.
    guarded(t, [&] {
      t->start([h = caf::actor_cast<caf::actor>(self)] { caf::anon_send(h, wake_atom::value); });
    });
    restoring->fetch_sub(1);
    self->delayed_send(self, std::chrono::milliseconds(tick_ms), tick_atom::value);
    for (auto& batch : self->state.stash) guarded(t, [&] { t->process(batch, wall_ms()); });
    self->state.stash.clear();
  };
  if (!restore) begin();
  auto finish = [self] {
    self->state.task.reset();
    self->state.stopped->set_value();
    self->quit();
  };
  return {
      // A batch after the final commit is not applied: its offsets stay uncommitted, and the
      // partition's next owner reads it again.
      [=](streams::record_batch& batch) {
        if (self->state.stopped) return;
        if (auto& t = self->state.task)
          guarded(t, [&] { t->process(batch, wall_ms()); });
        else
          self->state.stash.push_back(std::move(batch));
      },
      [=](restored_atom) {
        if (!self->state.stopped && !self->state.task) begin();
      },
      [=](wake_atom) {
        if (auto& t = self->state.task; !self->state.stopped && t)
          guarded(t, [&] { t->tick(wall_ms()); });
      },
      [=](tick_atom) {
        if (self->state.stopped || !self->state.task) return;
        guarded(self->state.task, [&] { self->state.task->tick(wall_ms()); });
        self->delayed_send(self, std::chrono::milliseconds(tick_ms), tick_atom::value);
      },
      [=](stop_atom, std::shared_ptr<std::promise<void>>& done) {
        self->state.stopped = done;
        // Revoked before its restore was done: nothing was processed, nothing to commit.
        if (!self->state.task) {
          restoring->fetch_sub(1);
          self->state.stash.clear();
          self->state.stopped->set_value();
          self->quit();
          return;
        }
        bool over = true;
        guarded(self->state.task, [&] { over = self->state.task->shutdown_begin(wall_ms()); });
        if (over)
          finish();
        else
          self->delayed_send(self, shutdown_poll, drain_atom::value);
      },
      [=](drain_atom) {
        bool done = true;
        guarded(self->state.task, [&] { done = self->state.task->shutdown_step(); });
        if (done)
          finish();
        else
          self->delayed_send(self, shutdown_poll, drain_atom::value);
      },
  };
}

// What Herald depends on the broker's topic configuration for, checked at start-up: a dead
// letter the DLQ topic refuses would be lost (refused: error), an output larger than its
// topic's limit is dropped (warned), the lane table needs compaction, and input retention
// bounds how long Herald may be down without losing records. Brokers that do not answer
// DescribeConfigs (the mock cluster) are not checked.
std::string check_broker_limits(const app_config& c, std::size_t producer_max,
                                const std::vector<std::string>& changelogs) {
  const auto& t = c.topics;
  const std::vector<std::string> inputs = {t.clickstream, t.carts, t.inventory, t.shipments};
  const std::vector<std::string> outputs = {t.cart_reminders, t.restock_alerts,
                                            t.tracking_notifications, t.anomalies, t.sku_signals};
  std::vector<std::string> all = inputs;
  all.insert(all.end(), outputs.begin(), outputs.end());
  all.push_back(t.dlq);
  all.push_back(t.lane_stats);
  all.insert(all.end(), changelogs.begin(), changelogs.end());
  std::map<std::string, std::map<std::string, std::string>> configs;
  std::string error;
  if (!streams::describe_topics(c.kafka.properties, all, configs, error, 5000)) {
    spdlog::debug("topic configurations not checked: {}", error);
    return {};
  }
  auto value = [&](const std::string& topic, const char* key) -> std::optional<std::int64_t> {
    auto it = configs.find(topic);
    if (it == configs.end()) return std::nullopt;
    auto v = it->second.find(key);
    if (v == it->second.end()) return std::nullopt;
    try {
      return std::stoll(v->second);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  };
  // A record batch carries about 100 bytes beyond its record's key, value and headers.
  const auto dlq_max = value(t.dlq, "max.message.bytes");
  const std::size_t dlq_needed = c.task.dlq_max_bytes + 1024 + 100;
  if (dlq_max && *dlq_max < static_cast<std::int64_t>(dlq_needed))
    return fmt::format(
        "topic '{}' takes records of at most {} bytes (max.message.bytes), but a dead letter may "
        "take {} (task.dlq_max_bytes {} plus headers): raise the topic's max.message.bytes or "
        "lower task.dlq_max_bytes",
        t.dlq, *dlq_max, dlq_needed, c.task.dlq_max_bytes);
  for (const auto& o : outputs)
    if (auto m = value(o, "max.message.bytes"); m && *m < static_cast<std::int64_t>(producer_max))
      spdlog::warn(
          "topic '{}' takes records of at most {} bytes (max.message.bytes), less than the "
          "producer's message.max.bytes ({}): a larger output would be refused, dropped and "
          "counted in herald_outputs_dropped_total",
          o, *m, producer_max);
  // Compaction is what keeps a changelog the size of the state; deletion by time would lose
  // the state its old records hold.
  for (const auto& name : changelogs)
    if (auto it = configs.find(name); it != configs.end())
      if (auto policy = it->second.find("cleanup.policy");
          policy != it->second.end() && policy->second != "compact")
        return fmt::format(
            "changelog topic '{}' has cleanup.policy={}: it must be compact (deleting old "
            "records would lose the state they hold)",
            name, policy->second);
  if (auto it = configs.find(t.lane_stats); it != configs.end()) {
    auto policy = it->second.find("cleanup.policy");
    if (policy != it->second.end() && policy->second.find("compact") == std::string::npos)
      spdlog::warn(
          "topic '{}' has cleanup.policy={}: shipment lanes older than its retention are lost "
          "to a restarted instance; make it compact",
          t.lane_stats, policy->second);
  }
  constexpr std::int64_t day_ms = 24 * 3'600'000LL;
  for (const auto& in : inputs)
    if (auto r = value(in, "retention.ms"); r && *r >= 0 && *r < day_ms)
      spdlog::warn(
          "topic '{}' keeps records for {} ms (retention.ms): a Herald down or behind for longer "
          "loses what it had not read (counted in herald_input_lost_records_total)",
          in, *r);
  return {};
}

}  // namespace

/// A task's restore, run by the app's restorer thread.
struct restore_job {
  restore_plan plan;
  caf::actor actor;
  std::atomic<bool> cancel{false};
  std::promise<void> done;
  std::shared_future<void> finished = done.get_future().share();
};

struct app::impl final : streams::source_listener {
  app_config config;
  std::unique_ptr<metrics> probe;
  std::unique_ptr<state::db> database;
  std::unique_ptr<streams::sink> sink;
  std::unique_ptr<transactions> txn;  // exactly-once only
  availability_table availability;
  std::unique_ptr<streams::topic_follower> availability_feed;
  lane_table lanes;
  std::unique_ptr<streams::topic_follower> lanes_feed;
  std::unique_ptr<alignment> shipment_alignment;
  std::unique_ptr<streams::source> source;
  std::unique_ptr<caf::actor_system_config> actor_config;
  std::unique_ptr<caf::actor_system> system;
  task_env env;
  mutable std::mutex tasks_mutex;
  std::map<state::task_id, caf::actor> tasks;
  // Offsets read when a task was created, answered to the source before the task runs.
  std::map<state::task_id, std::map<std::string, std::optional<std::int64_t>>> resume;
  std::thread gauges;
  std::mutex gauges_mutex;
  std::condition_variable gauges_cv;
  bool stopping = false;
  bool started = false;
  std::unique_ptr<http_server> http;
  std::atomic<bool> running{false};  // between a successful start and stop
  std::atomic<int> restoring{0};     // tasks assigned and not yet started
  std::atomic<bool> input_ended{false};
  std::atomic<bool> rewind_pending{false};  // a failed task's restart is under way
  mutable std::mutex fatal_mutex;
  std::string fatal;  // the first fatal Kafka error, guarded by fatal_mutex
  int fatal_handler = -1;
  // Changelogs: the restore consumer (ends and ranges), used by the restorer thread only.
  std::unique_ptr<streams::log_reader> restore_reader;
  std::thread restorer;
  std::mutex restore_mutex;
  std::condition_variable restore_cv;
  std::deque<std::shared_ptr<restore_job>> restore_queue;           // restore_mutex
  std::map<state::task_id, std::shared_ptr<restore_job>> restores;  // tasks_mutex
  std::atomic<std::int64_t> restore_remaining{0};
  bool restore_stop = false;  // restore_mutex

  explicit impl(app_config c) : config(std::move(c)) {}

  // The restorer thread: one task at a time, so a restore never takes a worker thread from
  // the tasks already running; a restore that fails (the broker down) is tried again.
  void run_restorer() {
    ::pthread_setname_np(::pthread_self(), "herald.restore");
    for (;;) {
      std::shared_ptr<restore_job> job;
      {
        std::unique_lock<std::mutex> lock(restore_mutex);
        restore_cv.wait(lock, [&] { return restore_stop || !restore_queue.empty(); });
        if (restore_stop && restore_queue.empty()) return;
        job = restore_queue.front();
        restore_queue.pop_front();
      }
      const state::task_id id = job->plan.task;
      const std::string name = fmt::format("{}/{}", state::to_string(id.fam), id.partition);
      // The plan needs the changelog ends: asked for until the broker answers.
      for (bool warned = false; !job->cancel.load();) {
        std::string error;
        if (plan_restore(*database, *restore_reader, config.kafka.group_id, id, job->plan, error))
          break;
        if (!warned)
          spdlog::warn("task {}: changelog ends unknown ({}); asking again every second", name,
                       error);
        warned = true;
        std::unique_lock<std::mutex> lock(restore_mutex);
        restore_cv.wait_for(lock, std::chrono::seconds(1), [&] { return restore_stop; });
        if (restore_stop) job->cancel = true;
      }
      const auto& plan = job->plan;
      if (!job->cancel.load() && plan.what == restore_plan::kind::none) {
        // Current: the checkpoints are the ends (a store this task never wrote included, so
        // that another owner's first records of it are caught up, not restored whole).
        std::map<state::store, std::int64_t> ends;
        for (std::size_t i = 0; i < plan.stores.size(); ++i)
          ends[plan.stores[i]] = plan.ranges[i].to;
        auto batch = database->batch();
        state::task_state::set_checkpoints(batch, id, ends);
        if (auto st = database->write(batch); !st.ok())
          spdlog::warn("task {}: checkpoints not written: {}", name, st.message);
        caf::anon_send(job->actor, restored_atom::value);
        finish_job(job);
        continue;
      }
      if (job->cancel.load()) {
        finish_job(job);
        continue;
      }
      restore_remaining.fetch_add(plan.records());
      const bool full = plan.what == restore_plan::kind::full;
      const auto t0 = std::chrono::steady_clock::now();
      const double cpu0 = thread_cpu_seconds();
      std::uint64_t applied = 0, reported = 0, bytes = 0;
      const std::int64_t total = plan.records();
      spdlog::info("task {}: restoring {} ({}): up to {} changelog records", name,
                   full ? "from the beginning" : "from its checkpoint", plan.why, total);
      bool ok = false;
      for (int attempt = 0; !ok && !job->cancel.load(); ++attempt) {
        std::string error;
        ok = run_restore(
            *database, *restore_reader, plan, &job->cancel,
            [&](std::uint64_t n) {
              probe->add_restored_records(n - reported);
              restore_remaining.fetch_sub(static_cast<std::int64_t>(n - reported));
              reported = n;
            },
            applied, error, &bytes);
        if (!ok && !job->cancel.load()) {
          spdlog::error("task {}: restore failed ({}); trying again in 1 s", name, error);
          std::unique_lock<std::mutex> lock(restore_mutex);
          restore_cv.wait_for(lock, std::chrono::seconds(1), [&] { return restore_stop; });
          if (restore_stop) break;
          // A full restore starts over; a catch-up may go on where it stopped.
          probe->add_restored_records(0);
        }
      }
      restore_remaining.fetch_sub(total - static_cast<std::int64_t>(reported));
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (ok) {
        const double cpu = thread_cpu_seconds() - cpu0;
        probe->add_restore(full, seconds, cpu, bytes);
        spdlog::info(
            "task {}: restored {} records in {:.2f} s ({:.0f} records/s, {:.2f} µs of the restore "
            "thread's CPU each)",
            name, applied, seconds, seconds > 0 ? static_cast<double>(applied) / seconds : 0.0,
            applied > 0 ? cpu * 1e6 / static_cast<double>(applied) : 0.0);
        caf::anon_send(job->actor, restored_atom::value);
      }
      finish_job(job);
    }
  }

  void finish_job(const std::shared_ptr<restore_job>& job) {
    {
      std::lock_guard<std::mutex> lock(tasks_mutex);
      if (auto it = restores.find(job->plan.task); it != restores.end() && it->second == job)
        restores.erase(it);
    }
    job->done.set_value();
  }

  // ---- source_listener (called on the source thread) ---------------------------------

  void on_assigned(const std::vector<state::task_id>& assigned) override {
    std::lock_guard<std::mutex> lock(tasks_mutex);
    for (const auto& id : assigned) {
      restoring.fetch_add(1);
      auto& offsets = resume[id];
      if (!env.changelog) {
        auto task = std::make_shared<actors::task>(env, id);
        for (const auto& t : env.topics)
          if (t.fam == id.fam) offsets[t.name] = task->resume_offset(t.name);
        tasks[id] = system->spawn(task_actor, task_factory([task] { return task; }), false,
                                  config.task.tick_interval_ms, &restoring);
        continue;
      }
      // Only local reads here, on the poll thread: the changelog ends are asked for on the
      // restorer thread, so a broker that does not answer never stalls the poll loop. A task
      // that stopped cleanly resumes where its local state ends (a catch-up then skips what
      // another owner applied since); after a crash it resumes from the group's offsets, which
      // never pass what the changelog holds, and skips what its restored state has applied.
      state::log_position local;
      const bool readable = state::task_state::read_log_position(*database, id, local).ok();
      std::map<std::string, std::int64_t> stored;
      if (readable && !local.unclean) (void)state::task_state::read_offsets(*database, id, stored);
      for (const auto& t : env.topics) {
        if (t.fam != id.fam) continue;
        auto it = stored.find(t.name);
        offsets[t.name] =
            it == stored.end() ? std::nullopt : std::optional<std::int64_t>(it->second);
      }
      const task_env* e = &env;
      auto job = std::make_shared<restore_job>();
      job->plan.task = id;
      job->actor = system->spawn(
          task_actor, task_factory([e, id] { return std::make_shared<actors::task>(*e, id); }),
          true, config.task.tick_interval_ms, &restoring);
      tasks[id] = job->actor;
      restores[id] = job;
      std::lock_guard<std::mutex> rlock(restore_mutex);
      restore_queue.push_back(job);
      restore_cv.notify_all();
    }
  }

  std::optional<std::int64_t> resume_offset(state::task_id id, const std::string& topic) override {
    std::lock_guard<std::mutex> lock(tasks_mutex);
    auto it = resume.find(id);
    if (it == resume.end()) return std::nullopt;
    auto off = it->second.find(topic);
    return off == it->second.end() ? std::nullopt : off->second;
  }

  void on_revoked(const std::vector<state::task_id>& revoked) override {
    std::vector<std::future<void>> done;
    std::vector<std::shared_ptr<restore_job>> cancelled;
    {
      std::lock_guard<std::mutex> lock(tasks_mutex);
      for (const auto& id : revoked) {
        resume.erase(id);
        if (auto r = restores.find(id); r != restores.end()) {
          // A restore under way stops; its partial state has no checkpoint past what it had.
          r->second->cancel = true;
          cancelled.push_back(r->second);
          restores.erase(r);
        }
        auto it = tasks.find(id);
        if (it == tasks.end()) continue;
        auto promise = std::make_shared<std::promise<void>>();
        done.push_back(promise->get_future());
        caf::anon_send(it->second, stop_atom::value, promise);
        tasks.erase(it);
      }
    }
    {
      // Queued ones never start.
      std::lock_guard<std::mutex> rlock(restore_mutex);
      for (const auto& job : cancelled) {
        auto q = std::find(restore_queue.begin(), restore_queue.end(), job);
        if (q == restore_queue.end()) continue;
        restore_queue.erase(q);
        job->done.set_value();
      }
    }
    for (const auto& job : cancelled) job->finished.wait();
    for (auto& f : done) f.wait();
  }

  void on_lost(state::task_id, std::uint16_t topic, std::int64_t from, std::int64_t to) override {
    probe->add_input_lost(topic, static_cast<std::uint64_t>(to - from));
  }

  void on_batch(streams::record_batch&& batch) override {
    caf::actor target;
    {
      std::lock_guard<std::mutex> lock(tasks_mutex);
      if (auto it = tasks.find(batch.task); it != tasks.end()) target = it->second;
    }
    if (target) caf::anon_send(target, std::move(batch));
  }

  /// /healthz: the process answers and, once started, its poll loop comes round.
  http_response health() const {
    {
      std::lock_guard<std::mutex> lock(fatal_mutex);
      if (!fatal.empty())
        return {503, "text/plain", "fatal Kafka error (restart): " + fatal + "\n"};
    }
    if (!running || !source) return {200, "text/plain", "starting\n"};
    const auto age_s = (streams::steady_now_ns() - source->last_poll_ns()) / 1'000'000'000;
    if (source->last_poll_ns() != 0 && age_s > poll_stall_s)
      return {503, "text/plain", fmt::format("poll loop stalled for {} s\n", age_s)};
    return {200, "text/plain", "ok\n"};
  }

  /// /readyz: started, holding a group assignment (possibly empty; not while rebalancing) and
  /// every assigned task has loaded its state and re-sent its outbox.
  http_response readiness() const {
    if (!running || !source) return {503, "text/plain", "not started\n"};
    if (!source->assigned()) return {503, "text/plain", "waiting for a group assignment\n"};
    if (const int n = restoring.load(); n > 0)
      return {503, "text/plain", fmt::format("{} tasks restoring\n", n)};
    std::lock_guard<std::mutex> lock(tasks_mutex);
    return {200, "text/plain", fmt::format("ready: {} tasks\n", tasks.size())};
  }

  void refresh_gauges() {
    std::uint64_t last_rebalances = 0;
    std::unique_lock<std::mutex> lock(gauges_mutex);
    while (!stopping) {
      gauges_cv.wait_for(lock, std::chrono::seconds(1));
      if (!source) continue;
      probe->set_in_flight(source->in_flight());
      probe->set_paused_tasks(static_cast<std::int64_t>(source->paused_tasks()));
      if (const std::int64_t lag = source->lag(); lag >= 0) probe->set_consumer_lag(lag);
      probe->set_availability_skus(static_cast<std::int64_t>(availability.size()));
      const auto r = source->rebalances();
      probe->add_rebalances(r - last_rebalances);
      probe->set_restoring(restoring.load(), std::max<std::int64_t>(restore_remaining.load(), 0));
      last_rebalances = r;
      for (std::size_t s = 0; s < state::store_count; ++s)
        probe->set_state_bytes(
            s, static_cast<double>(database->approximate_bytes(static_cast<state::store>(s))));
    }
  }
};

app::app(app_config config) : impl_(std::make_unique<impl>(std::move(config))) {}

app::~app() {
  stop();
}

std::string app::start(std::function<void()> on_fatal) {
  auto& s = *impl_;
  s.fatal_handler = streams::add_fatal_handler([&s, on_fatal](const std::string& reason) {
    {
      std::lock_guard<std::mutex> lock(s.fatal_mutex);
      if (!s.fatal.empty()) return;
      s.fatal = reason;
    }
    spdlog::critical(
        "stopping: a fatal Kafka error ({}) leaves Herald unable to guarantee its outputs; it "
        "restarts from its committed state",
        reason);
    if (on_fatal) on_fatal();
  });
  try {
    validate(s.config);
  } catch (const config_error& e) {
    return e.what();
  }
  std::vector<streams::topic_binding> topics = {
      {s.config.topics.clickstream, schemas::topic_kind::clickstream, state::family::customer},
      {s.config.topics.carts, schemas::topic_kind::carts, state::family::customer},
      {s.config.topics.inventory, schemas::topic_kind::inventory, state::family::sku},
      {s.config.topics.sku_signals, schemas::topic_kind::inventory, state::family::sku, true},
      {s.config.topics.shipments, schemas::topic_kind::shipments, state::family::shipment},
  };
  std::vector<std::string> names;
  std::vector<bool> internal;
  for (const auto& t : topics) {
    names.push_back(t.name);
    internal.push_back(t.internal);
  }
  s.probe = std::make_unique<metrics>(names, s.config.abandoned_cart.steps.size(), internal);
  std::string error;
  if (!s.config.metrics.listen.empty()) {
    metrics* probe = s.probe.get();
    s.http = http_server::start(
        s.config.metrics.listen,
        {{"/metrics",
          [probe] {
            return http_response{200, "text/plain; version=0.0.4; charset=utf-8", probe->scrape()};
          }},
         {"/healthz", [&s] { return s.health(); }},
         {"/readyz", [&s] { return s.readiness(); }}},
        error);
    if (!s.http) return error;
  }

  state::db_options db_opts;
  db_opts.path = s.config.state.dir;
  db_opts.sync = s.config.state.sync;
  if (auto st = state::db::open(db_opts, s.database); !st.ok())
    return "state: cannot open '" + s.config.state.dir + "': " + st.message;

  // Tasks join a family's topics by partition number: they must have equal partition counts
  // (a repartition topic with fewer partitions would silently split keys between tasks).
  std::map<state::family, std::pair<std::string, int>> family_partitions;
  std::map<std::string, int> counts;  // one metadata request for all of them
  std::string cluster;
  if (!streams::partition_counts(s.config.kafka.properties, counts, error, 10'000, &cluster))
    return error;
  // The mock cluster's read_committed consumers see aborted records: no exactly-once there.
  const bool exactly_once =
      s.config.processing.exactly_once() && !streams::is_mock_cluster(cluster);
  if (s.config.processing.exactly_once() && !exactly_once)
    spdlog::info(
        "processing.guarantee: at_least_once on librdkafka's mock cluster (it has no "
        "transactions for read_committed consumers); exactly_once_v2 on a real broker");

  streams::sink_config sink_cfg;
  sink_cfg.properties = s.config.kafka.properties;
  sink_cfg.queue_full_wait_ms = 0;  // a task never waits on an actor thread: it pauses
  if (exactly_once) {
    sink_cfg.transactional_id = s.config.processing.transactional_id;
    if (sink_cfg.transactional_id.empty()) {
      // Stable across restarts and unique per instance: a pod's name, and its state directory
      // for instances that share a host (each has its own: RocksDB locks it).
      char host[256] = {};
      if (::gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "herald");
      std::error_code ec;
      const std::string dir = std::filesystem::absolute(s.config.state.dir, ec).lexically_normal();
      std::uint32_t h = 2166136261u;  // FNV-1a
      for (const char ch : dir) h = (h ^ static_cast<unsigned char>(ch)) * 16777619u;
      sink_cfg.transactional_id = fmt::format("{}-{}-{:08x}", s.config.kafka.group_id, host, h);
    }
  }
  s.sink = streams::sink::create(sink_cfg, error);
  if (!s.sink) return error;
  if (exactly_once) {
    transactions::options o;
    o.sink = s.sink.get();
    o.interval_ms = s.config.task.commit_interval_ms;
    o.probe = s.probe.get();
    o.rewind = [&s](std::function<void()> done) { s.source->rewind(std::move(done)); };
    s.txn = std::make_unique<transactions>(std::move(o));
    s.env.txn = s.txn.get();
    spdlog::info("processing.guarantee: exactly_once_v2 (transactional.id '{}')",
                 sink_cfg.transactional_id);
  }
  // A dead letter the producer refuses would stay in the outbox for ever.
  if (s.config.task.dlq_max_bytes + 1024 > s.sink->max_message_bytes())
    return fmt::format(
        "task.dlq_max_bytes ({}) does not fit the producer's message.max.bytes ({}): lower it, "
        "or raise kafka.properties.message.max.bytes (and the DLQ topic's max.message.bytes)",
        s.config.task.dlq_max_bytes, s.sink->max_message_bytes());

  for (const auto& t : topics) {
    auto known = counts.find(t.name);
    const int n = known != counts.end()
                      ? known->second
                      : streams::partition_count(s.config.kafka.properties, t.name, error);
    if (n < 0) return error;
    auto [it, first] = family_partitions.try_emplace(t.fam, t.name, n);
    if (!first && it->second.second != n)
      return fmt::format(
          "topics '{}' ({} partitions) and '{}' ({} partitions) feed the same {} "
          "tasks and must have the same partition count",
          it->second.first, it->second.second, t.name, n, state::to_string(t.fam));
  }

  std::array<std::int32_t, 4> partitions{};
  for (const auto& [fam, named] : family_partitions)
    partitions[static_cast<std::size_t>(fam)] = named.second;
  std::vector<std::string> changelogs;
  if (s.config.state.changelog) {
    if (auto err =
            ensure_changelogs(s.config.kafka.properties, s.config.kafka.group_id, partitions);
        !err.empty())
      return err;
    for (const auto& spec : changelog_topics(s.config.kafka.group_id, partitions))
      changelogs.push_back(spec.name);
  }

  if (auto err = check_broker_limits(s.config, s.sink->max_message_bytes(), changelogs);
      !err.empty())
    return err;

  if (s.config.state.changelog) {
    s.restore_reader = streams::log_reader::create(s.config.kafka.properties, error);
    if (!s.restore_reader) return error;
    s.env.changelog = true;
    s.restorer = std::thread([&s] { s.run_restorer(); });
  }

  // Customer tasks publish their watermarks to every partition of the repartition topic; a
  // SKU task's watermark waits for every customer task it has heard from.
  s.env.repartition_partitions = family_partitions[state::family::sku].second;
  s.env.upstream_tasks = family_partitions[state::family::customer].second;
  for (const auto& [fam, named] : family_partitions)
    s.env.family_partitions[static_cast<std::size_t>(fam)] = named.second;

  s.actor_config = std::make_unique<caf::actor_system_config>();
  s.actor_config->set("scheduler.max-threads", s.config.worker_threads);
  s.actor_config->set("logger.verbosity", caf::atom("quiet"));
  // A worker with an empty queue spins briefly, then waits on its condition variable (woken by
  // the next message). CAF's default first polls 500 times 50 us apart, 25 ms after every
  // message: with ticks and commits every 100 ms that kept an idle instance at 12 % of a core.
  s.actor_config->set("work-stealing.moderate-poll-attempts", std::size_t{10});
  s.system = std::make_unique<caf::actor_system>(*s.actor_config);

  s.env.db = s.database.get();
  s.env.sink = s.sink.get();
  s.env.probe = s.probe.get();
  s.env.config = &s.config;
  s.env.topics = topics;
  s.env.stock = &s.availability;
  s.env.input_ended = &s.input_ended;

  // The global tables are read to their end (both at once) before the tasks start. The
  // availability table reads all of shop.inventory, so a restarted instance never reminds of
  // sold-out items from a stale (empty) table.
  s.availability.reset(s.config.task.watermark, family_partitions[state::family::sku].second,
                       s.config.availability_history_ms);
  s.availability_feed = streams::topic_follower::start(
      s.config.kafka.properties, s.config.topics.inventory,
      [&s](std::int32_t partition, std::string_view key, std::string_view value) {
        s.availability.apply(partition, key, value, wall_ms());
      },
      error);
  if (!s.availability_feed) return error;

  // The lane table: the lanes every shipment partition learned. Without its topic the local
  // tasks still share lanes.
  s.env.lanes = &s.lanes;
  // Shipment tasks read ahead of each other by at most lane_drift_ms, so each learns the
  // others' deliveries up to that long before its decisions.
  if (s.config.shipments.lane_drift_ms > 0) {
    s.shipment_alignment = std::make_unique<alignment>(s.config.shipments.lane_drift_ms);
    s.env.align[static_cast<std::size_t>(state::family::shipment)] = s.shipment_alignment.get();
  }
  std::string lanes_error;
  if (streams::partition_count(s.config.kafka.properties, s.config.topics.lane_stats,
                               lanes_error) <= 0) {
    spdlog::warn(
        "{}: shipment lanes are shared by the tasks of this instance only, and learned again "
        "after a restart; create topic '{}' (1 partition, cleanup.policy=compact) to share them "
        "between instances and keep them",
        lanes_error, s.config.topics.lane_stats);
  } else {
    s.lanes_feed = streams::topic_follower::start(
        s.config.kafka.properties, s.config.topics.lane_stats,
        [&s](std::int32_t, std::string_view key, std::string_view value) {
          if (!s.lanes.apply(key, value))
            spdlog::warn("{}: a record that is not a lane's transit times ignored",
                         s.config.topics.lane_stats);
        },
        error);
    if (!s.lanes_feed) return error;
    s.env.lane_topic = true;
  }
  const auto timeout = static_cast<int>(s.config.availability_bootstrap_timeout_ms);
  for (auto [feed, table] : {std::pair{s.availability_feed.get(), "availability"},
                             std::pair{s.lanes_feed.get(), "lane"}})
    if (feed != nullptr && !feed->wait_caught_up(timeout))
      spdlog::warn("{} table not caught up after {} ms; starting anyway", table, timeout);

  streams::source_config src_cfg;
  src_cfg.properties = s.config.kafka.properties;
  src_cfg.properties["group.id"] = s.config.kafka.group_id;
  src_cfg.properties["session.timeout.ms"] = std::to_string(s.config.kafka.session_timeout_ms);
  src_cfg.topics = topics;
  src_cfg.max_poll_records = s.config.kafka.max_poll_records;
  src_cfg.max_in_flight = s.config.kafka.max_in_flight;
  src_cfg.resume_in_flight = s.config.kafka.resume_in_flight;
  src_cfg.commit_offsets = s.txn == nullptr;  // committed in the transactions otherwise
  s.source = streams::source::create(src_cfg, s, error);
  if (!s.source) return error;
  if (s.txn) s.txn->start(*s.source);
  streams::source* src = s.source.get();
  s.env.release = [src](state::task_id t, std::uint16_t topic, std::int64_t n) {
    src->release(t, topic, n);
  };
  s.env.offsets = [src](std::uint16_t topic, std::int32_t partition, std::int64_t& lo,
                        std::int64_t& hi) { return src->offsets(topic, partition, lo, hi); };
  s.env.committed = [src](state::task_id t, std::uint16_t topic, std::int64_t off) {
    src->committed(t, topic, off);
  };
  // A failed task is restarted from committed state: every task of the instance is revoked
  // and assigned again locally (the others resume from their checkpoints at once), the failed
  // one restored from its changelogs.
  s.env.failed = [&s, src](state::task_id t, const std::string&) {
    s.probe->add_state_error("task");
    (void)t;
    if (!s.rewind_pending.exchange(true)) src->rewind([&s] { s.rewind_pending = false; });
  };
  s.source->start();
  s.gauges = std::thread([&s] { s.refresh_gauges(); });
  s.started = true;
  s.running = true;
  spdlog::info("herald started: group '{}', state '{}', metrics port {}", s.config.kafka.group_id,
               s.config.state.dir, metrics_port());
  return {};
}

void app::finish_input() {
  impl_->availability.finish();
  impl_->input_ended = true;
}

void app::stop() {
  auto& s = *impl_;
  if (s.fatal_handler >= 0) streams::remove_fatal_handler(s.fatal_handler);
  s.fatal_handler = -1;
  if (!s.started) return;
  s.started = false;
  s.running = false;  // not ready from here on
  s.source->stop();   // revokes every task: each commits and flushes its outputs
  {
    std::lock_guard<std::mutex> lock(s.gauges_mutex);
    s.stopping = true;
  }
  s.gauges_cv.notify_all();
  if (s.gauges.joinable()) s.gauges.join();
  if (s.restorer.joinable()) {
    {
      std::lock_guard<std::mutex> lock(s.restore_mutex);
      s.restore_stop = true;
    }
    s.restore_cv.notify_all();
    s.restorer.join();
  }
  s.system->await_all_actors_done();
  if (s.txn) s.txn->stop();
  s.sink->flush();
  if (auto st = s.database->flush(); !st.ok()) spdlog::warn("state flush: {}", st.message);
  s.source.reset();
  s.restore_reader.reset();
  s.availability_feed.reset();
  s.lanes_feed.reset();
  s.system.reset();
  s.txn.reset();
  s.sink.reset();
  s.database.reset();
  s.http.reset();
  spdlog::info("herald stopped");
}

std::string app::fatal_error() const {
  std::lock_guard<std::mutex> lock(impl_->fatal_mutex);
  return impl_->fatal;
}

metrics& app::probe() {
  return *impl_->probe;
}
int app::metrics_port() const {
  return impl_->http ? impl_->http->port() : 0;
}
std::size_t app::assigned_tasks() const {
  std::lock_guard<std::mutex> lock(impl_->tasks_mutex);
  return impl_->tasks.size();
}
int app::restoring_tasks() const {
  return impl_->restoring.load();
}
std::int64_t app::consumer_lag() const {
  return impl_->source ? impl_->source->lag() : 0;
}
const app_config& app::config() const {
  return impl_->config;
}

}  // namespace herald::actors

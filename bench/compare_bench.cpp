// bench_compare: three stream processors, each in its own process, on the same real Kafka
// broker and the same generated input, in both guarantee modes:
//   passthrough    a raw librdkafka consume -> produce copy (this binary, re-executed with
//                  the hidden --child-passthrough), committing the group's offsets
//   herald         `herald run --config FILE`
//   kafka-streams  the Kafka Streams twin (bench/peers/kafka-streams/run)
//
// The input: Herald's traffic generator (the one bench_e2e uses) into fresh input topics, all
// produced before any system starts, then one end-of-input record per input partition (not
// counted; it lets Herald release records that wait for its watermark, see produce_input).
// Each (system, mode) then gets output topics, a consumer group and a state directory of its
// own, and runs until it is done:
// - its group's committed offsets are at the end of the generated input (polled every 100 ms
//   from a handle of its own that only queries them);
// - its repartition topics (Herald's sku-signals, Kafka Streams' `<app id>-...-repartition`)
//   are consumed up to what they held 300 ms after that;
// - no output topic has grown for --quiet-ms (3 s); the end is the last growth.
// Then it gets SIGTERM (to its process group) and is waited for. A system whose committed
// offsets do not move for --stall-timeout (180 s), or that is not done after --max-wall
// (1800 s), is given up and reported as such; so is one that exits on its own.
//
// Measured from /proc of the system's process tree (every thread; a wrapper script's children
// too): CPU seconds (utime + stime) over the whole run and over the steady window, which starts
// at the group's first committed progress (so JVM start and group join are not charged per
// event); peak RSS (VmHWM, read just before stopping). Events/s and CPU per event in the
// steady window count the events committed inside it (the input less what the first commit
// already covered). The end is known to within a commit interval plus a poll.
//
// The outputs are read read_committed and counted by type; Herald's and the twin's cart
// reminders and restock alerts of the same mode are compared as multisets of (type, entity,
// reminder number / SKU / kind).
//
// Writes <out>/compare.csv and, with gnuplot, <out>/compare.png (events/s and CPU per event,
// grouped by mode, one bar per system).
//
// Usage: bench_compare [--bootstrap ADDR | --kafka-dir DIR] [--events N] [--partitions P]
//                      [--modes exactly_once_v2,at_least_once]
//                      [--systems passthrough,herald,kafka-streams] [--herald BIN]
//                      [--twin PATH] [--threads N] [--out DIR] [--stall-timeout S]
//                      [--linger S] [--quiet-ms MS] [--max-wall S]
// Without --bootstrap it uses the cluster running in --kafka-dir, or starts a 1-node one there
// (scripts/kafka) and stops it at the end.

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <librdkafka/rdkafka.h>
#include <nlohmann/json.hpp>

#include "herald/actors/config.hpp"
#include "herald/actors/demo.hpp"
#include "herald/actors/traffic.hpp"
#include "herald/streams/admin.hpp"
#include "herald/streams/partitioner.hpp"
#include "herald/streams/sink.hpp"
#include "herald/streams/topic_reader.hpp"

#include "harness.hpp"

namespace {

namespace fs = std::filesystem;
using namespace herald::bench;

constexpr const char* passthrough_name = "passthrough";
constexpr const char* herald_name = "herald";
constexpr const char* twin_name = "kafka-streams";

struct options {
  std::string bootstrap;  ///< empty: the cluster of kafka_dir
  std::string kafka_dir = HERALD_SOURCE_DIR "/build/kafka-compare";
  std::size_t events = 2'000'000;
  int partitions = 4;
  std::vector<std::string> modes = {"exactly_once_v2", "at_least_once"};
  std::vector<std::string> systems = {passthrough_name, herald_name, twin_name};
  std::string herald = HERALD_BIN;
  std::string twin = HERALD_SOURCE_DIR "/bench/peers/kafka-streams/run";
  std::string out = HERALD_SOURCE_DIR "/build/bench";
  int threads = 2;  ///< the twin's stream threads (Herald's worker_threads default is 2 too)
  /// A system whose committed offsets do not move for this long is given up.
  int stall_timeout_s = 180;
  /// Seconds a system keeps running after completion, before SIGTERM (not measured): shows
  /// whether outputs still come after the input offsets were committed. Default: 0.
  int linger_s = 0;
  /// After its offsets are at the end, a system is done once no output topic has grown for
  /// this long; the run's end is the last growth. Default: 3000 ms.
  int quiet_ms = 3000;
  /// A system not done this long after its start is given up. Default: 1800 s.
  int max_wall_s = 1800;
};

/// Every system commits (and the twin is told to commit) at Herald's default interval.
constexpr int commit_interval_ms = 100;
constexpr auto poll_interval = std::chrono::milliseconds(100);
/// Once the input topics are committed to their ends, what the repartition topics hold this
/// much later must be consumed too (under at-least-once a record may reach a repartition
/// topic just after the offsets of its input were committed). Herald writes watermark markers
/// there all the time, so their end itself is never reached for long.
constexpr auto repartition_settle = std::chrono::milliseconds(300);

std::string short_mode(const std::string& mode) {
  return mode == "exactly_once_v2" ? "eos" : "alos";
}

// ---- the pass-through child -------------------------------------------------------------------

std::atomic<bool> child_stop{false};

/// Consumed positions (next offset) per input partition.
struct position {
  rd_kafka_topic_t* rkt;
  std::int32_t partition;
  std::int64_t next;
};

list_ptr positions_list(const std::vector<position>& at) {
  list_ptr l(rd_kafka_topic_partition_list_new(static_cast<int>(at.size()) + 1));
  for (const auto& p : at)
    rd_kafka_topic_partition_list_add(l.get(), rd_kafka_topic_name(p.rkt), p.partition)->offset =
        p.next;
  return l;
}

/// Delivery low watermark: every record with a sequence number below base() is delivered.
struct delivery_tracker {
  std::deque<char> done;
  std::uint64_t base_seq = 0;
  bool failed = false;
  std::string failure;
  std::uint64_t next_seq() const { return base_seq + done.size(); }
  void produced() { done.push_back(0); }
  void delivered(std::uint64_t seq) {
    done[seq - base_seq] = 1;
    while (!done.empty() && done.front() != 0) {
      done.pop_front();
      ++base_seq;
    }
  }
};

/// The pass-through: consume the inputs, produce each record unchanged to one output topic,
/// commit the group's offsets every commit interval. at_least_once: idempotent producer, the
/// offsets of what was delivered committed; exactly_once_v2: one transaction per interval
/// holding the records and the consumed offsets (read_committed consumer). Runs until SIGTERM.
int passthrough_child(const std::map<std::string, std::string>& a) {
  const bool eos = a.at("mode") == "exactly_once_v2";
  std::string error;
  std::signal(SIGTERM, [](int) { child_stop.store(true); });
  std::signal(SIGINT, [](int) { child_stop.store(true); });
  auto consumer = make_client(RD_KAFKA_CONSUMER,
                              {{"bootstrap.servers", a.at("bootstrap")},
                               {"group.id", a.at("group")},
                               {"auto.offset.reset", "earliest"},
                               {"enable.auto.commit", "false"},
                               {"enable.auto.offset.store", "false"},
                               {"isolation.level", "read_committed"}},
                              error);
  if (!consumer) {
    fmt::print(stderr, "passthrough: consumer: {}\n", error);
    return 1;
  }
  rd_kafka_poll_set_consumer(consumer.get());
  // The producer settings of Herald's sink (streams/src/sink.cpp).
  kafka_properties pp = {{"bootstrap.servers", a.at("bootstrap")},
                         {"enable.idempotence", "true"},
                         {"linger.ms", "5"},
                         {"partitioner", "murmur2_random"},
                         {"batch.num.messages", "10000"},
                         {"compression.type", "lz4"}};
  if (eos) pp["transactional.id"] = a.at("group") + "-txn";
  delivery_tracker tracker;
  char err[512];
  rd_kafka_conf_t* pconf = rd_kafka_conf_new();
  for (const auto& [k, v] : pp)
    if (rd_kafka_conf_set(pconf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      fmt::print(stderr, "passthrough: producer property {}: {}\n", k, err);
      return 1;
    }
  rd_kafka_conf_set_opaque(pconf, &tracker);
  rd_kafka_conf_set_dr_msg_cb(pconf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* t = static_cast<delivery_tracker*>(opaque);
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && !t->failed) {
      t->failed = true;
      t->failure = rd_kafka_err2str(m->err);
    }
    t->delivered(reinterpret_cast<std::uintptr_t>(m->_private));
  });
  rk_ptr producer(rd_kafka_new(RD_KAFKA_PRODUCER, pconf, err, sizeof(err)));
  if (!producer) {
    fmt::print(stderr, "passthrough: producer: {}\n", err);
    return 1;
  }
  auto txn_ok = [&](rd_kafka_error_t* e, const char* what) {
    if (e == nullptr) return true;
    fmt::print(stderr, "passthrough: {}: {}\n", what, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return false;
  };
  if (eos && (!txn_ok(rd_kafka_init_transactions(producer.get(), 60'000), "init_transactions") ||
              !txn_ok(rd_kafka_begin_transaction(producer.get()), "begin_transaction")))
    return 1;

  list_ptr subs(rd_kafka_topic_partition_list_new(3));
  for (const auto& t : split_list(a.at("inputs")))
    rd_kafka_topic_partition_list_add(subs.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  if (const auto e = rd_kafka_subscribe(consumer.get(), subs.get()); e) {
    fmt::print(stderr, "passthrough: subscribe: {}\n", rd_kafka_err2str(e));
    return 1;
  }
  rd_kafka_topic_t* out = rd_kafka_topic_new(producer.get(), a.at("output").c_str(), nullptr);
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(consumer.get());
  std::vector<rd_kafka_message_t*> msgs(2000);
  std::vector<position> at;
  // at_least_once: (sequence number of the next record, positions) at each interval, committed
  // once every record before it is delivered.
  std::deque<std::pair<std::uint64_t, std::vector<position>>> pending;
  bool dirty = false;  // consumed since the last commit
  auto next_commit = clock_type::now() + std::chrono::milliseconds(commit_interval_ms);
  int rc = 0;
  // `reopen`: under exactly-once, begin the next transaction after committing this one.
  auto commit = [&](bool reopen) -> bool {
    if (eos) {
      if (!dirty) return true;  // the open transaction holds nothing yet: it stays open
      list_ptr l = positions_list(at);
      rd_kafka_consumer_group_metadata_t* md = rd_kafka_consumer_group_metadata(consumer.get());
      const bool ok = txn_ok(rd_kafka_send_offsets_to_transaction(producer.get(), l.get(), md, -1),
                             "send_offsets_to_transaction") &&
                      txn_ok(rd_kafka_commit_transaction(producer.get(), -1), "commit_transaction");
      rd_kafka_consumer_group_metadata_destroy(md);
      dirty = false;
      return ok &&
             (!reopen || txn_ok(rd_kafka_begin_transaction(producer.get()), "begin_transaction"));
    }
    if (dirty) pending.emplace_back(tracker.next_seq(), at);
    dirty = false;
    std::optional<std::vector<position>> best;
    while (!pending.empty() && pending.front().first <= tracker.base_seq) {
      best = std::move(pending.front().second);
      pending.pop_front();
    }
    if (best) {
      list_ptr l = positions_list(*best);
      rd_kafka_commit(consumer.get(), l.get(), 1);
    }
    return !tracker.failed;
  };
  while (!child_stop.load()) {
    const ssize_t n = rd_kafka_consume_batch_queue(queue, 50, msgs.data(), msgs.size());
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* m = msgs[static_cast<std::size_t>(i)];
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const auto seq = tracker.next_seq();
        for (;;) {
          const int r =
              rd_kafka_produce(out, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, m->payload, m->len,
                               m->key, m->key_len, reinterpret_cast<void*>(seq));
          if (r == 0) break;
          if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fmt::print(stderr, "passthrough: produce: {}\n",
                       rd_kafka_err2str(rd_kafka_last_error()));
            child_stop.store(true);
            rc = 1;
            break;
          }
          rd_kafka_poll(producer.get(), 5);
        }
        tracker.produced();
        auto it = std::find_if(at.begin(), at.end(), [&](const position& p) {
          return p.rkt == m->rkt && p.partition == m->partition;
        });
        if (it == at.end())
          at.push_back({m->rkt, m->partition, m->offset + 1});
        else
          it->next = m->offset + 1;
        dirty = true;
      } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        fmt::print(stderr, "passthrough: consume: {}\n", rd_kafka_message_errstr(m));
      }
      rd_kafka_message_destroy(m);
    }
    rd_kafka_poll(producer.get(), 0);
    if (clock_type::now() >= next_commit) {
      if (!commit(true)) {
        fmt::print(stderr, "passthrough: stopping: {}\n",
                   tracker.failed ? tracker.failure : "transaction failed");
        rc = 1;
        break;
      }
      next_commit = clock_type::now() + std::chrono::milliseconds(commit_interval_ms);
    }
  }
  if (rc == 0) {
    if (!eos) {
      rd_kafka_flush(producer.get(), 30'000);
      rd_kafka_poll(producer.get(), 0);
    }
    (void)commit(false);
  }
  rd_kafka_queue_destroy(queue);
  rd_kafka_topic_destroy(out);
  rd_kafka_consumer_close(consumer.get());
  return rc;
}

// ---- a run ------------------------------------------------------------------------------------

/// Output counts per type and the (type, entity, detail) multiset of the rule outputs.
struct outputs {
  std::map<std::string, std::uint64_t> by_type;
  std::map<std::string, int> keys;  ///< "type|entity|detail" -> count
};

struct run_result {
  std::string system, mode;
  bool ran = false;        ///< started
  bool completed = false;  ///< reached the end of its input
  std::string note;        ///< why not, or how it stopped
  double steady_rate = 0, cpu_us_steady = 0, cpu_us_total = 0, cpu_s_steady = 0, cpu_s_total = 0,
         rss_mib = 0, wall_steady = 0, wall_total = 0;
  std::int64_t steady_events = 0;
  outputs out;
};

/// The input, produced once per invocation.
struct input_set {
  std::string clickstream, carts, inventory;
  std::vector<topic_ends> ends;  ///< of the three topics
  std::size_t events = 0, bytes = 0;
  double sim_hours = 0;
};

/// Counts the records of the rule output topics by type and collects their keys.
void collect_rule_outputs(const std::string& bootstrap, const std::string& topic, outputs& o,
                          std::string& error) {
  (void)scan_topic(
      bootstrap, topic,
      [&](std::string_view v) {
        const auto j = nlohmann::json::parse(v, nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
          ++o.by_type["unparsable"];
          return;
        }
        const std::string type = j.value("type", "");
        ++o.by_type[type.empty() ? "untyped" : type];
        std::string key;
        if (type == "cart_reminder")
          key = fmt::format("{}|{}|{}", type, j.value("customer_id", ""),
                            j.value("reminder_number", 0));
        else if (type == "back_in_stock")
          key = fmt::format("{}|{}|{}", type, j.value("customer_id", ""), j.value("sku", ""));
        else if (type == "low_stock" || type == "out_of_stock")
          key = fmt::format("{}|{}|{}", type, j.value("sku", ""), type);
        if (!key.empty()) ++o.keys[key];
      },
      error);
}

void count_records(const std::string& bootstrap, const std::string& topic, const std::string& as,
                   outputs& o, std::string& error) {
  std::uint64_t n = 0;
  (void)scan_topic(
      bootstrap, topic, [&](std::string_view) { ++n; }, error);
  o.by_type[as] += n;
}

/// What a system needs to be started and watched.
struct system_setup {
  std::vector<std::string> argv;
  std::string group;
  std::vector<std::string> repartition;  ///< known up front (Herald's sku-signals)
  std::string repartition_prefix;        ///< discovered while it runs (Kafka Streams')
  std::vector<std::string> outputs;      ///< its output topics, watched for quiet
  bool transactional = false;
};

/// Runs one system to completion and measures it. Fills everything but the outputs.
void measure(const options& o, const std::string& bootstrap, const input_set& in,
             const system_setup& s, const std::string& log, run_result& r) {
  std::string error;
  auto probe = group_probe::create(bootstrap, s.group, error);
  if (!probe) {
    r.note = "probe: " + error;
    return;
  }
  std::vector<topic_ends> topics = in.ends;
  auto add_repartition = [&](const std::string& name) {
    for (const auto& t : topics)
      if (t.topic == name) return;
    const int n = herald::streams::partition_count({{"bootstrap.servers", bootstrap}}, name, error);
    if (n <= 0) return;
    topics.push_back(
        {name, std::vector<std::int64_t>(static_cast<std::size_t>(n), 0), s.transactional});
  };
  for (const auto& t : s.repartition) add_repartition(t);
  std::vector<topic_ends> outs;
  for (const auto& name : s.outputs) {
    const int n = herald::streams::partition_count({{"bootstrap.servers", bootstrap}}, name, error);
    if (n > 0) outs.push_back({name, std::vector<std::int64_t>(static_cast<std::size_t>(n), 0)});
  }

  std::size_t input_partitions = 0;
  for (const auto& t : in.ends) input_partitions += t.end.size();

  child_process proc;
  const auto t_start = clock_type::now();
  if (!proc.start(s.argv, log)) {
    r.note = "cannot fork";
    return;
  }
  r.ran = true;
  clock_type::time_point t_first{}, t_inputs{}, t_done{};
  bool have_first = false, have_inputs = false, have_snapshot = false, have_offsets = false;
  // When an output topic last grew, and the CPU then.
  clock_type::time_point t_output{};
  double cpu_output = 0;
  std::vector<std::int64_t> output_ends;
  const auto quiet = std::chrono::milliseconds(o.quiet_ms);
  double cpu_first = 0, cpu_done = 0;
  std::int64_t committed_first = 0, last_committed = -1;
  auto last_change = clock_type::now();
  auto last_discovery = clock_type::time_point{};
  auto last_report = clock_type::now();
  // Since the inputs were complete: each poll's time, CPU and committed offsets; and the
  // repartition topics' ends `repartition_settle` after that.
  struct sample {
    clock_type::time_point at;
    double cpu;
    std::vector<std::int64_t> offsets;
  };
  std::vector<sample> since_inputs;
  std::vector<std::int64_t> snapshot;  // per partition of every topic, as in progress::offsets
  // Committed input records over the last minute, for a system given up.
  std::deque<std::pair<clock_type::time_point, std::int64_t>> history;
  auto recent_rate = [&](clock_type::time_point now, std::int64_t committed) {
    history.emplace_back(now, committed);
    while (history.size() > 2 && now - history.front().first > std::chrono::seconds(60))
      history.pop_front();
    const double secs = std::chrono::duration<double>(now - history.front().first).count();
    return secs > 0 ? static_cast<double>(committed - history.front().second) / secs : 0.0;
  };
  std::string status;
  for (;;) {
    std::this_thread::sleep_for(poll_interval);
    const auto now = clock_type::now();
    if (proc.exited(status)) {
      r.note = "exited on its own (" + status + "); see " + log;
      return;
    }
    if (!have_inputs && !s.repartition_prefix.empty() &&
        now - last_discovery > std::chrono::seconds(1)) {
      last_discovery = now;
      for (const auto& t : topics_named(bootstrap, s.repartition_prefix, "-repartition"))
        add_repartition(t);
    }
    group_probe::progress p;
    bool ok = probe->poll(topics, in.ends.size(), p, error);
    // After the committed offsets: an end read now is at least what those offsets covered.
    for (std::size_t i = in.ends.size(); i < topics.size() && ok; ++i)
      ok = probe->refresh_ends(topics[i], error);
    bool outputs_changed = false;
    if (ok) {
      std::vector<std::int64_t> ends;
      for (auto& t : outs) {
        if (!(ok = probe->refresh_ends(t, error))) break;
        ends.insert(ends.end(), t.end.begin(), t.end.end());
      }
      outputs_changed = ok && ends != output_ends;
      if (ok) output_ends = std::move(ends);
    }
    if (!ok) {
      say(fmt::format("  {} ({}): {}", r.system, r.mode, error));
      continue;
    }
    const double cpu = tree_cpu_seconds(proc.pid());
    (void)recent_rate(now, p.committed);
    if (now - last_report > std::chrono::seconds(10)) {
      last_report = now;
      say(fmt::format("  {} ({}): {} of {} input records committed{}{}", r.system, r.mode,
                      p.committed, in.events, p.behind.empty() ? "" : "; behind:", p.behind));
    }
    if (p.committed != last_committed) {
      last_committed = p.committed;
      last_change = now;
    }
    if (!have_first && p.committed > 0) {
      have_first = true;
      t_first = now;
      cpu_first = cpu;
      committed_first = p.committed;
    }
    if (p.complete && !have_inputs) {
      have_inputs = true;
      t_inputs = now;
    }
    if (have_inputs && !have_offsets) {
      since_inputs.push_back({now, cpu, p.offsets});
      if (!have_snapshot && now - t_inputs >= repartition_settle) {
        have_snapshot = true;
        for (const auto& t : topics)
          for (std::size_t i = 0; i < t.end.size(); ++i)
            // A transactional partition may end with a commit marker no position passes.
            snapshot.push_back(t.transactional ? t.end[i] - 1 : t.end[i]);
      }
      if (have_snapshot) {
        // The first poll since the inputs were complete at which the repartition topics were
        // consumed up to the snapshot.
        const sample* done = nullptr;
        for (const auto& x : since_inputs) {
          bool caught_up = true;
          for (std::size_t k = input_partitions; k < snapshot.size(); ++k)
            if (x.offsets[k] < snapshot[k]) caught_up = false;
          if (caught_up) {
            done = &x;
            break;
          }
        }
        if (done != nullptr) {
          have_offsets = true;
          t_done = done->at;
          cpu_done = done->cpu;
        }
      }
    }
    if (outputs_changed) {
      t_output = now;
      cpu_output = cpu;
    }
    // Done: the offsets are, and no output has been added for `quiet` (an output may follow
    // its input's commit, as Herald's outbox does under at-least-once).
    if (have_offsets && now - std::max(t_done, t_output) >= quiet) {
      if (t_output > t_done) {
        t_done = t_output;
        cpu_done = cpu_output;
      }
      break;
    }
    if (now - t_start > std::chrono::seconds(o.max_wall_s)) {
      r.rss_mib = tree_peak_rss_mib(proc.pid());
      r.note = fmt::format(
          "not done after {} s ({} of {} input records committed, {:.0f} events/s over the last "
          "minute); given up, see {}",
          o.max_wall_s, std::max<std::int64_t>(0, p.committed), in.events,
          recent_rate(now, p.committed), log);
      r.cpu_s_total = cpu;
      r.wall_total = std::chrono::duration<double>(now - t_start).count();
      (void)proc.stop();
      return;
    }
    if (now - last_change > std::chrono::seconds(o.stall_timeout_s) &&
        (!have_inputs || now - t_inputs > std::chrono::seconds(o.stall_timeout_s))) {
      r.rss_mib = tree_peak_rss_mib(proc.pid());
      r.note = fmt::format(
          "no committed progress for {} s ({} of {} input records committed{}); "
          "given up, see {}",
          o.stall_timeout_s, std::max<std::int64_t>(0, p.committed), in.events,
          have_inputs ? "; its repartition topics not consumed, or its outputs still growing" : "",
          log);
      r.cpu_s_total = cpu;
      r.wall_total = std::chrono::duration<double>(now - t_start).count();
      (void)proc.stop();
      return;
    }
  }
  // Read before stopping: shutting down must not count toward the peak.
  r.rss_mib = tree_peak_rss_mib(proc.pid());
  if (o.linger_s > 0) std::this_thread::sleep_for(std::chrono::seconds(o.linger_s));
  r.completed = true;
  r.wall_total = std::chrono::duration<double>(t_done - t_start).count();
  r.wall_steady = std::chrono::duration<double>(t_done - t_first).count();
  r.cpu_s_total = cpu_done;
  r.cpu_s_steady = cpu_done - cpu_first;
  r.steady_events = static_cast<std::int64_t>(in.events) - committed_first;
  if (r.steady_events <= 0 || r.wall_steady <= 0) {
    // Everything in the first commit: no steady window to speak of; use the whole run.
    r.steady_events = static_cast<std::int64_t>(in.events);
    r.wall_steady = r.wall_total;
    r.cpu_s_steady = r.cpu_s_total;
    r.note = "one commit held the whole input: the steady figures are the whole run's";
  } else if (r.wall_steady < 2.0 || r.steady_events * 2 < static_cast<std::int64_t>(in.events))
    r.note = fmt::format("short steady window ({:.1f} s, {} events): its figures are rough",
                         r.wall_steady, r.steady_events);
  const auto n = static_cast<double>(in.events);
  r.steady_rate = static_cast<double>(r.steady_events) / r.wall_steady;
  r.cpu_us_steady = r.cpu_s_steady * 1e6 / static_cast<double>(r.steady_events);
  r.cpu_us_total = r.cpu_s_total * 1e6 / n;
  const std::string how = proc.stop();
  r.note = "stopped: " + how + (r.note.empty() ? "" : "; " + r.note);
}

/// Sets up, runs, measures and reads the outputs of one (system, mode); removes its topics
/// and state afterwards.
run_result run_one(const options& o, const std::string& bootstrap, const input_set& in,
                   const std::string& run_tag, const std::string& system, const std::string& mode,
                   bool twin_ready, const std::string& twin_missing) {
  run_result r;
  r.system = system;
  r.mode = mode;
  const std::string tag = fmt::format("{}-{}-{}", run_tag, system, short_mode(mode));
  const std::string prefix = tag + ".";
  const fs::path state = fs::temp_directory_path() / tag;
  const std::string log = (fs::path(o.out) / (tag + ".log")).string();
  fs::remove_all(state);
  fs::create_directories(state);
  std::error_code ec;
  fs::remove(log, ec);
  const kafka_properties props{{"bootstrap.servers", bootstrap}};
  std::string error;
  system_setup s;
  s.group = tag;
  s.transactional = mode == "exactly_once_v2";
  std::vector<std::string> cleanup;  // topics to delete afterwards
  const std::string inputs = fmt::format("{},{},{}", in.clickstream, in.carts, in.inventory);

  if (system == passthrough_name) {
    const std::string output = prefix + "passthrough.out";
    if (!herald::streams::create_topics(props, {{output, o.partitions, -1, {}}}, true, error)) {
      r.note = "creating topics: " + error;
      return r;
    }
    cleanup.push_back(output);
    s.outputs = {output};
    s.argv = {"/proc/self/exe", "--child-passthrough", "bootstrap=" + bootstrap, "group=" + s.group,
              "mode=" + mode,   "inputs=" + inputs,    "output=" + output};
    // /proc/self/exe names the child itself after fork; resolve it here.
    s.argv[0] = fs::read_symlink("/proc/self/exe").string();
  } else if (system == herald_name) {
    herald::actors::topics_config t;
    for (auto* name : {&t.sku_signals, &t.cart_reminders, &t.restock_alerts, &t.shipments,
                       &t.lane_stats, &t.tracking_notifications, &t.anomalies, &t.dlq})
      *name = prefix + *name;
    t.clickstream = in.clickstream;
    t.carts = in.carts;
    t.inventory = in.inventory;
    auto specs = herald::actors::herald_topics(t, o.partitions, s.group);
    // The shared input topics exist already and stay.
    std::erase_if(specs, [&](const herald::streams::topic_spec& spec) {
      return spec.name == in.clickstream || spec.name == in.carts || spec.name == in.inventory;
    });
    for (const auto& spec : specs) cleanup.push_back(spec.name);
    if (!herald::streams::delete_topics(props, cleanup, error) ||
        !herald::streams::create_topics(props, specs, false, error)) {
      r.note = "creating topics: " + error;
      return r;
    }
    const std::string config = (state / "herald.yaml").string();
    std::ofstream(config) << herald_config(bootstrap, s.group, mode, (state / "db").string(), t);
    s.argv = {o.herald, "run", "--config", config};
    s.repartition = {t.sku_signals};
    s.outputs = {t.cart_reminders, t.restock_alerts, t.dlq, t.anomalies, t.tracking_notifications};
  } else if (system == twin_name) {
    if (!twin_ready) {
      r.note = twin_missing;
      return r;
    }
    const std::string reminders = prefix + "cart-reminders", restock = prefix + "restock-alerts",
                      dlq = prefix + "dlq";
    cleanup = {reminders, restock, dlq};
    std::vector<herald::streams::topic_spec> specs;
    for (const auto& t : cleanup) specs.push_back({t, o.partitions, -1, {}});
    if (!herald::streams::delete_topics(props, cleanup, error) ||
        !herald::streams::create_topics(props, specs, false, error)) {
      r.note = "creating topics: " + error;
      return r;
    }
    s.argv = {o.twin,
              "--bootstrap",
              bootstrap,
              "--guarantee",
              mode,
              "--application-id",
              s.group,
              "--state-dir",
              (state / "streams").string(),
              "--threads",
              std::to_string(o.threads),
              "--commit-interval-ms",
              std::to_string(commit_interval_ms),
              "--clickstream",
              in.clickstream,
              "--carts",
              in.carts,
              "--inventory",
              in.inventory,
              "--reminders",
              reminders,
              "--restock",
              restock,
              "--dlq",
              dlq};
    s.repartition_prefix = s.group + "-";
    s.outputs = {reminders, restock, dlq};
  } else {
    r.note = "unknown system";
    return r;
  }

  say(fmt::format("{} ({}): starting; log {}", system, mode, log));
  measure(o, bootstrap, in, s, log, r);
  if (r.completed)
    say(fmt::format("{} ({}): done: {:.0f} events/s, {:.2f} us CPU/event, {:.0f} MiB, {}", system,
                    mode, r.steady_rate, r.cpu_us_steady, r.rss_mib, r.note));
  else
    say(fmt::format("{} ({}): NOT COMPLETED: {}", system, mode, r.note));

  // The outputs, read_committed (what the system left, complete or not).
  if (r.ran) {
    if (system == passthrough_name) {
      count_records(bootstrap, cleanup[0], "records", r.out, error);
    } else if (system == herald_name) {
      collect_rule_outputs(bootstrap, prefix + "herald.cart-reminders", r.out, error);
      collect_rule_outputs(bootstrap, prefix + "herald.restock-alerts", r.out, error);
      count_records(bootstrap, prefix + "herald.dlq", "dlq", r.out, error);
      count_records(bootstrap, prefix + "herald.anomalies", "anomaly", r.out, error);
    } else {
      collect_rule_outputs(bootstrap, cleanup[0], r.out, error);
      collect_rule_outputs(bootstrap, cleanup[1], r.out, error);
      count_records(bootstrap, cleanup[2], "dlq", r.out, error);
    }
    if (!error.empty()) say(fmt::format("{} ({}): reading the outputs: {}", system, mode, error));
  }
  // Kafka Streams' internal topics (repartition, changelogs) go too.
  if (system == twin_name)
    for (const auto& t : topics_named(bootstrap, s.group + "-")) cleanup.push_back(t);
  if (!herald::streams::delete_topics(props, cleanup, error))
    say("deleting the run's topics: " + error);
  fs::remove_all(state, ec);
  return r;
}

// ---- report -----------------------------------------------------------------------------------

std::string outputs_text(const outputs& o) {
  std::string s;
  for (const auto& [type, n] : o.by_type)
    s += fmt::format("{}{} {}", s.empty() ? "" : ", ", type, n);
  return s.empty() ? "-" : s;
}

void print_table(const std::string& mode, const std::vector<run_result>& runs) {
  fmt::print("\n{} (steady window: from the first committed progress to completion)\n\n", mode);
  fmt::print("| {:<13} | {:>10} | {:>10} | {:>10} | {:>9} | {:>7} | {:>7} | {} |\n", "system",
             "events/s", "us CPU/ev", "us CPU/ev", "peak RSS", "wall s", "wall s", "outputs");
  fmt::print("| {:<13} | {:>10} | {:>10} | {:>10} | {:>9} | {:>7} | {:>7} | {} |\n", "", "(steady)",
             "(steady)", "(total)", "MiB", "steady", "total", "");
  fmt::print("|{:-<15}|{:->12}|{:->12}|{:->12}|{:->11}|{:->9}|{:->9}|{:-<9}|\n", "", "", "", "", "",
             "", "", "");
  const run_result* herald = nullptr;
  const run_result* twin = nullptr;
  const run_result* pt = nullptr;
  for (const auto& r : runs) {
    if (r.mode != mode) continue;
    if (!r.completed) {
      fmt::print("| {:<13} | {} |\n", r.system, r.ran ? "not completed: " + r.note : r.note);
      continue;
    }
    fmt::print(
        "| {:<13} | {:>10.0f} | {:>10.2f} | {:>10.2f} | {:>9.0f} | {:>7.1f} | {:>7.1f} | {} |\n",
        r.system, r.steady_rate, r.cpu_us_steady, r.cpu_us_total, r.rss_mib, r.wall_steady,
        r.wall_total, outputs_text(r.out));
    if (r.system == herald_name) herald = &r;
    if (r.system == twin_name) twin = &r;
    if (r.system == passthrough_name) pt = &r;
  }
  for (const auto& r : runs)
    if (r.mode == mode && r.completed) fmt::print("  {}: {}\n", r.system, r.note);
  fmt::print("\n");
  if (herald != nullptr && twin != nullptr)
    fmt::print(
        "herald / kafka-streams: events/s {:.2f}x, CPU per event (steady) {:.2f}x, "
        "(total) {:.2f}x, peak RSS {:.2f}x\n",
        herald->steady_rate / twin->steady_rate, herald->cpu_us_steady / twin->cpu_us_steady,
        herald->cpu_us_total / twin->cpu_us_total, herald->rss_mib / twin->rss_mib);
  if (herald != nullptr && pt != nullptr)
    fmt::print("herald / passthrough:   events/s {:.2f}x, CPU per event (steady) {:.2f}x\n",
               herald->steady_rate / pt->steady_rate, herald->cpu_us_steady / pt->cpu_us_steady);
  if (twin != nullptr && pt != nullptr)
    fmt::print("kafka-streams / passthrough: events/s {:.2f}x, CPU per event (steady) {:.2f}x\n",
               twin->steady_rate / pt->steady_rate, twin->cpu_us_steady / pt->cpu_us_steady);
}

/// Herald's and the twin's rule outputs of one mode, as multisets.
void print_equivalence(const std::string& mode, const std::vector<run_result>& runs) {
  const run_result* h = nullptr;
  const run_result* t = nullptr;
  for (const auto& r : runs)
    if (r.mode == mode && r.ran) {
      if (r.system == herald_name) h = &r;
      if (r.system == twin_name) t = &r;
    }
  if (h == nullptr || t == nullptr) {
    fmt::print("equivalence ({}): not checked (needs both herald and kafka-streams)\n", mode);
    return;
  }
  std::map<std::string, int> only_h, only_t;
  std::uint64_t n_h = 0, n_t = 0;
  for (const auto& [k, n] : h->out.keys) {
    n_h += static_cast<std::uint64_t>(n);
    const auto it = t->out.keys.find(k);
    const int other = it == t->out.keys.end() ? 0 : it->second;
    if (n > other) only_h[k] = n - other;
  }
  for (const auto& [k, n] : t->out.keys) {
    n_t += static_cast<std::uint64_t>(n);
    const auto it = h->out.keys.find(k);
    const int other = it == h->out.keys.end() ? 0 : it->second;
    if (n > other) only_t[k] = n - other;
  }
  if (only_h.empty() && only_t.empty()) {
    fmt::print(
        "equivalence ({}): EQUAL: {} rule outputs (cart reminders, back-in-stock, stock "
        "alerts) on each side{}\n",
        mode, n_h, h->completed && t->completed ? "" : " (a run did not complete)");
    return;
  }
  auto count = [](const std::map<std::string, int>& m) {
    std::map<std::string, std::uint64_t> by_type;
    std::uint64_t total = 0;
    for (const auto& [k, n] : m) {
      by_type[k.substr(0, k.find('|'))] += static_cast<std::uint64_t>(n);
      total += static_cast<std::uint64_t>(n);
    }
    std::string s = std::to_string(total);
    for (const auto& [type, n] : by_type) s += fmt::format(" ({} {})", type, n);
    return s;
  };
  auto examples = [](const std::map<std::string, int>& m) {
    std::string s;
    int i = 0;
    for (const auto& [k, n] : m) {
      if (i++ == 5) break;
      s += fmt::format("  {}{}\n", k, n > 1 ? fmt::format(" x{}", n) : "");
    }
    return s;
  };
  fmt::print(
      "equivalence ({}): DIFFERENT: herald {} rule outputs, kafka-streams {}{}\n", mode, n_h, n_t,
      h->completed && t->completed ? "" : " (a run did not complete: its outputs are partial)");
  fmt::print(" herald only: {}\n{}", count(only_h), examples(only_h));
  fmt::print(" kafka-streams only: {}\n{}", count(only_t), examples(only_t));
}

void write_csv(const std::string& path, const input_set& in, const std::vector<run_result>& runs) {
  std::ofstream f(path);
  f << "mode,system,completed,input_events,steady_events,events_per_s,cpu_us_per_event_steady,"
       "cpu_us_per_event_total,cpu_s_steady,cpu_s_total,peak_rss_mib,wall_s_steady,wall_s_total,"
       "records,cart_reminder,back_in_stock,low_stock,out_of_stock,dlq,anomaly,note\n";
  for (const auto& r : runs) {
    auto out = [&](const char* type) {
      const auto it = r.out.by_type.find(type);
      return it == r.out.by_type.end() ? std::uint64_t{0} : it->second;
    };
    std::string note = r.note;
    std::replace(note.begin(), note.end(), '"', '\'');
    f << fmt::format(
        "{},{},{},{},{},{:.1f},{:.3f},{:.3f},{:.2f},{:.2f},{:.1f},{:.2f},{:.2f},{},{},{},{},{},{},{"
        "},"
        "\"{}\"\n",
        r.mode, r.system, r.completed ? 1 : 0, in.events, r.steady_events, r.steady_rate,
        r.cpu_us_steady, r.cpu_us_total, r.cpu_s_steady, r.cpu_s_total, r.rss_mib, r.wall_steady,
        r.wall_total, out("records"), out("cart_reminder"), out("back_in_stock"), out("low_stock"),
        out("out_of_stock"), out("dlq"), out("anomaly"), note);
  }
}

/// The chart: two panels (events/s, us CPU per event), grouped by mode, one bar per system.
void write_chart(const options& o, const input_set& in, const std::vector<run_result>& runs) {
  const fs::path dir(o.out);
  if (shell("command -v gnuplot").first != 0) {
    say("gnuplot not found (Debian package gnuplot-nox): no chart, the CSV has the figures");
    return;
  }
  for (const auto& [file, field] : std::vector<std::pair<std::string, double run_result::*>>{
           {"compare-rate.dat", &run_result::steady_rate},
           {"compare-cpu.dat", &run_result::cpu_us_steady}}) {
    std::ofstream f(dir / file);
    f << "mode";
    for (const auto& s : o.systems) f << ' ' << s;
    f << '\n';
    for (const auto& m : o.modes) {
      f << m;
      for (const auto& s : o.systems) {
        double v = NAN;
        for (const auto& r : runs)
          if (r.mode == m && r.system == s && r.completed) v = r.*field;
        f << ' ' << (std::isnan(v) ? std::string("NaN") : fmt::format("{:.3f}", v));
      }
      f << '\n';
    }
  }
  const std::string columns = std::to_string(o.systems.size() + 1);
  const std::size_t n = o.systems.size();
  // A bar's centre in a clustered histogram (gap 1): row + (column - (n - 1) / 2) / (n + 1).
  const std::string label_x = fmt::format("($0 + (i - 2 - {:.1f}) / {}.0)", (n - 1) / 2.0, n + 1);
  std::ofstream g(dir / "compare.gp");
  g << "set terminal pngcairo noenhanced size 1400,600 font 'Sans,11'\n"
    << "set output '" << (dir / "compare.png").string() << "'\n"
    << "set datafile missing 'NaN'\n"
    << "set key autotitle columnheader\n"
    << "set style data histograms\n"
    << "set style histogram clustered gap 1\n"
    << "set style fill solid 0.85 border -1\n"
    << "set boxwidth 0.9\n"
    << "set key outside bottom center horizontal\n"
    << "set grid ytics mytics\n"
    << "set logscale y\n"
    << "set format y '%g'\n"
    << "set offsets 0, 0, graph 0.08, 0\n"
    << "set multiplot layout 1,2 title '"
    << fmt::format(
           "bench_compare: {} events, {} partitions, 1 broker, steady window "
           "(log scale)",
           in.events, o.partitions)
    << "'\n";
  for (const auto& [title, file, fmt_spec] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"throughput, events/s (higher is better)", "compare-rate.dat", "%.0f"},
           {"CPU per event, us (lower is better)", "compare-cpu.dat", "%.2f"}}) {
    const std::string data = (dir / file).string();
    g << "set title '" << title << "'\n"
      << "plot for [i=2:" << columns << "] '" << data << "' using i:xtic(1), \\\n"
      << "     for [i=2:" << columns << "] '" << data << "' using " << label_x
      << ":(column(i)):(sprintf('" << fmt_spec
      << "', column(i))) with labels offset 0,0.7 font 'Sans,9' notitle\n";
  }
  g << "unset multiplot\n";
  g.close();
  auto [code, out] = shell("gnuplot " + shell_quote((dir / "compare.gp").string()));
  if (code != 0 && out.find("pngcairo") != std::string::npos) {
    // A gnuplot without cairo: the plain png terminal.
    shell("sed -i 's/^set terminal pngcairo/set terminal png/' " +
          shell_quote((dir / "compare.gp").string()));
    std::tie(code, out) = shell("gnuplot " + shell_quote((dir / "compare.gp").string()));
  }
  if (code != 0)
    say("gnuplot failed: " + out);
  else
    say("chart: " + (dir / "compare.png").string());
}

// ---- main -------------------------------------------------------------------------------------

[[noreturn]] void usage(int code) {
  fmt::print(code == 0 ? stdout : stderr,
             "usage: bench_compare [--bootstrap ADDR | --kafka-dir DIR] [--events N] "
             "[--partitions P]\n"
             "                     [--modes exactly_once_v2,at_least_once]\n"
             "                     [--systems passthrough,herald,kafka-streams] [--herald BIN]\n"
             "                     [--twin PATH] [--threads N] [--out DIR] [--stall-timeout S]\n"
             "                     [--linger S] [--quiet-ms MS] [--max-wall S]\n");
  std::exit(code);
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") usage(0);
    if (i + 1 >= argc) {
      fmt::print(stderr, "{} needs a value\n", a);
      usage(2);
    }
    const std::string v = argv[++i];
    auto number = [&](long long lo) {
      char* end = nullptr;
      const long long n = std::strtoll(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || n < lo) {
        fmt::print(stderr, "{}: '{}' is not a number >= {}\n", a, v, lo);
        std::exit(2);
      }
      return n;
    };
    if (a == "--bootstrap")
      o.bootstrap = v;
    else if (a == "--kafka-dir")
      o.kafka_dir = v;
    else if (a == "--events")
      o.events = static_cast<std::size_t>(number(1));
    else if (a == "--partitions")
      o.partitions = static_cast<int>(number(1));
    else if (a == "--modes")
      o.modes = split_list(v);
    else if (a == "--systems")
      o.systems = split_list(v);
    else if (a == "--herald")
      o.herald = v;
    else if (a == "--twin")
      o.twin = v;
    else if (a == "--threads")
      o.threads = static_cast<int>(number(1));
    else if (a == "--out")
      o.out = v;
    else if (a == "--stall-timeout")
      o.stall_timeout_s = static_cast<int>(number(1));
    else if (a == "--linger")
      o.linger_s = static_cast<int>(number(0));
    else if (a == "--quiet-ms")
      o.quiet_ms = static_cast<int>(number(0));
    else if (a == "--max-wall")
      o.max_wall_s = static_cast<int>(number(1));
    else {
      fmt::print(stderr, "unknown option {}\n", a);
      usage(2);
    }
  }
  for (const auto& m : o.modes)
    if (m != "exactly_once_v2" && m != "at_least_once") {
      fmt::print(stderr, "--modes: '{}' is neither exactly_once_v2 nor at_least_once\n", m);
      std::exit(2);
    }
  for (const auto& s : o.systems)
    if (s != passthrough_name && s != herald_name && s != twin_name) {
      fmt::print(stderr, "--systems: unknown system '{}' (passthrough, herald, kafka-streams)\n",
                 s);
      std::exit(2);
    }
  return o;
}

/// Generates the input into fresh topics and produces all of it.
bool produce_input(const options& o, const std::string& bootstrap, const std::string& run_tag,
                   input_set& in) {
  const kafka_properties props{{"bootstrap.servers", bootstrap}};
  in.clickstream = run_tag + ".shop.clickstream";
  in.carts = run_tag + ".shop.carts";
  in.inventory = run_tag + ".shop.inventory";
  std::string error;
  std::vector<herald::streams::topic_spec> specs;
  for (const auto* t : {&in.clickstream, &in.carts, &in.inventory})
    specs.push_back({*t, o.partitions, -1, {}});
  if (!herald::streams::delete_topics(props, {in.clickstream, in.carts, in.inventory}, error) ||
      !herald::streams::create_topics(props, specs, false, error)) {
    say("creating the input topics: " + error);
    return false;
  }
  herald::streams::sink_config sc;
  sc.properties = props;  // Herald's producer defaults: murmur2 partitioner, as Java clients
  auto producer = herald::streams::sink::create(sc, error);
  if (!producer) {
    say("producer: " + error);
    return false;
  }
  herald::actors::traffic_generator gen{herald::actors::traffic_config{}};
  constexpr std::int64_t step_ms = 180;  // as bench_e2e: 5.5k events per simulated second
  // Event time ends 45 min after the wall clock at the start. Herald's idle inputs follow the
  // wall clock 30 s behind: input from the past would, in a run long enough for that, fire
  // the timers of event time it never reached (every pending reminder at once, the sooner the
  // slower the system). Not further ahead: brokers refuse records more than an hour in the
  // future (log.message.timestamp.after.max.ms), and Kafka Streams writes its changelogs with
  // the event time. So runs that end within 45 min of the generation see no such timers.
  const std::int64_t wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
  const std::int64_t sim_start =
      wall_ms + 45 * 60'000 - static_cast<std::int64_t>(o.events) * step_ms;
  const auto t0 = clock_type::now();
  for (std::size_t i = 0; i < o.events; ++i) {
    const auto r = gen.next(sim_start + static_cast<std::int64_t>(i) * step_ms);
    const std::string& topic = r.topic == herald::schemas::topic_kind::clickstream ? in.clickstream
                               : r.topic == herald::schemas::topic_kind::inventory ? in.inventory
                                                                                   : in.carts;
    for (;;) {
      const auto res = producer->produce(topic, r.key, r.value);
      if (res) break;
      if (!res.full) {
        say(fmt::format("producing the input: {}", res.failure.reason));
        return false;
      }
    }
    in.bytes += r.key.size() + r.value.size();
  }
  if (!producer->flush(120'000) || producer->failed() > 0) {
    say(fmt::format("the input was not all delivered ({} failed)", producer->failed()));
    return false;
  }
  in.events = o.events;
  in.sim_hours = static_cast<double>(o.events) * step_ms / 3'600'000.0;
  auto probe = group_probe::create(bootstrap, run_tag + "-input", error);
  if (!probe) {
    say("probe: " + error);
    return false;
  }
  std::int64_t total = 0;
  for (const auto* t : {&in.clickstream, &in.carts, &in.inventory}) {
    topic_ends e{*t, std::vector<std::int64_t>(static_cast<std::size_t>(o.partitions), 0), false};
    if (!probe->refresh_ends(e, error)) {
      say(error);
      return false;
    }
    for (const auto x : e.end) total += x;
    in.ends.push_back(std::move(e));
  }
  if (total != static_cast<std::int64_t>(o.events)) {
    say(fmt::format("the input topics hold {} records, not {}", total, o.events));
    return false;
  }
  // The end of the input: one record per partition of each input topic, all at the same event
  // time after every generated event. Herald holds a record ahead of its task's watermark (the
  // least event time its inputs reached) until the other inputs catch up or go idle (30 s of
  // wall clock); with these, every generated record is released at once. They are the same
  // for every system and are not counted: completion is the generated records' end.
  const std::int64_t end_ts = sim_start + static_cast<std::int64_t>(o.events) * step_ms;
  for (int part = 0; part < o.partitions; ++part) {
    auto key_for = [&](const char* stem) {
      for (int k = 0;; ++k) {
        std::string key = fmt::format("{}-{}", stem, k);
        if (herald::streams::default_partition(key, o.partitions) == part) return key;
      }
    };
    const std::string who = key_for("end-of-input-customer"), sku = key_for("end-of-input-sku");
    const std::vector<std::tuple<std::string, std::string, std::string>> tail = {
        {in.clickstream, who,
         fmt::format(R"({{"type":"page_view","event_id":"end-view-{}","ts":{},"customer_id":"{}",)"
                     R"("session_id":"end-of-input"}})",
                     part, end_ts, who)},
        {in.carts, who,
         fmt::format(R"({{"type":"checkout_started","event_id":"end-checkout-{}","ts":{},)"
                     R"("customer_id":"{}","cart_id":"none"}})",
                     part, end_ts, who)},
        {in.inventory, sku,
         fmt::format(R"({{"type":"stock_level","event_id":"end-stock-{}","ts":{},"sku":"{}",)"
                     R"("location":"wh-1","available":1000}})",
                     part, end_ts, sku)}};
    for (const auto& [topic, key, value] : tail)
      if (!producer->produce(topic, key, value)) {
        say("producing the end of the input failed");
        return false;
      }
  }
  if (!producer->flush(60'000) || producer->failed() > 0) {
    say("the end of the input was not delivered");
    return false;
  }
  say(
      fmt::format("input: {} events, {:.1f} MB (keys + values), {:.1f} simulated hours, "
                  "produced in {:.1f} s (and {} end-of-input records, not counted)",
                  in.events, static_cast<double>(in.bytes) / 1e6, in.sim_hours,
                  std::chrono::duration<double>(clock_type::now() - t0).count(), 3 * o.partitions));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--child-passthrough") {
    std::map<std::string, std::string> a;
    for (int i = 2; i < argc; ++i) {
      const std::string kv = argv[i];
      const auto eq = kv.find('=');
      if (eq != std::string::npos) a[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const char* k : {"bootstrap", "group", "mode", "inputs", "output"})
      if (a.find(k) == a.end()) {
        fmt::print(stderr, "--child-passthrough: {}= missing\n", k);
        return 2;
      }
    return passthrough_child(a);
  }
  const options o = parse(argc, argv);
  const auto t_begin = clock_type::now();
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) {
    fmt::print(stderr, "--out {}: {}\n", o.out, ec.message());
    return 1;
  }
  auto wants = [&](const char* s) {
    return std::find(o.systems.begin(), o.systems.end(), s) != o.systems.end();
  };
  if (wants(herald_name) && ::access(o.herald.c_str(), X_OK) != 0) {
    fmt::print(stderr,
               "herald binary {} not found (build the release tree's herald target, or "
               "pass --herald BIN)\n",
               o.herald);
    return 1;
  }
  // The twin: built (Maven) before anything is timed. Missing or failing is a skip, not an error.
  bool twin_ready = false;
  std::string twin_missing;
  if (wants(twin_name)) {
    if (::access(o.twin.c_str(), X_OK) != 0) {
      twin_missing = fmt::format(
          "skipped: the Kafka Streams twin is not there ({} is not an "
          "executable file)",
          o.twin);
    } else {
      say("building the Kafka Streams twin (" + o.twin + " --build-only)");
      const std::string log = (fs::path(o.out) / "compare-twin-build.log").string();
      auto [code, out] = shell(shell_quote(o.twin) + " --build-only > " + shell_quote(log));
      if (code != 0)
        twin_missing =
            fmt::format("skipped: building the twin failed (exit {}); see {}", code, log);
      else
        twin_ready = true;
    }
    if (!twin_ready) say("kafka-streams: " + twin_missing);
  }

  // The broker.
  std::string bootstrap = o.bootstrap;
  std::optional<kafka_cluster> cluster;
  if (bootstrap.empty()) {
    cluster.emplace(o.kafka_dir, o.partitions);
    std::string error;
    bootstrap = cluster->bootstrap(error);
    if (bootstrap.empty()) {
      fmt::print(stderr, "{}\n", error);
      return 1;
    }
  }
  say(fmt::format("Kafka at {}; {} events, {} partitions, modes {}, systems {}", bootstrap,
                  o.events, o.partitions, fmt::join(o.modes, ","), fmt::join(o.systems, ",")));

  const std::string run_tag = fmt::format("cmp-{}", ::getpid());
  input_set in;
  int rc = 0;
  std::vector<run_result> runs;
  if (!produce_input(o, bootstrap, run_tag, in)) {
    rc = 1;
  } else {
    for (const auto& mode : o.modes)
      for (const auto& system : o.systems)
        runs.push_back(run_one(o, bootstrap, in, run_tag, system, mode, twin_ready, twin_missing));
    fmt::print(
        "\nbench_compare: {} events ({:.1f} MB, {:.1f} simulated hours), {} partitions, "
        "Kafka at {}, commit interval {} ms\n",
        in.events, static_cast<double>(in.bytes) / 1e6, in.sim_hours, o.partitions, bootstrap,
        commit_interval_ms);
    for (const auto& mode : o.modes) {
      print_table(mode, runs);
      print_equivalence(mode, runs);
    }
    const std::string csv = (fs::path(o.out) / "compare.csv").string();
    write_csv(csv, in, runs);
    fmt::print("\n");
    say("csv: " + csv);
    write_chart(o, in, runs);
    for (const auto& r : runs)
      if (r.ran && !r.completed) rc = 1;
    std::string error;
    (void)herald::streams::delete_topics({{"bootstrap.servers", bootstrap}},
                                         {in.clickstream, in.carts, in.inventory}, error);
  }
  cluster.reset();
  say(fmt::format("total {:.0f} s",
                  std::chrono::duration<double>(clock_type::now() - t_begin).count()));
  return rc;
}

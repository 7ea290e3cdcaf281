// Pieces the process-level benchmarks share (bench_compare, bench_scale): child processes and
// their CPU and memory from /proc, a consumer group watched from outside, a topic read to its
// end, the broker of scripts/kafka, a Herald configuration file and its HTTP endpoints.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

#include "herald/actors/config.hpp"
#include "herald/streams/kafka_config.hpp"

namespace herald::bench {

using clock_type = std::chrono::steady_clock;
using herald::streams::kafka_properties;

/// Prints `what` with the seconds since the first call.
void say(const std::string& what);

/// Runs `cmd` with sh; its exit code and its output (stdout and stderr).
std::pair<int, std::string> shell(const std::string& cmd);

/// `s` quoted for sh.
std::string shell_quote(const std::string& s);

/// The non-empty items of a comma-separated list.
std::vector<std::string> split_list(const std::string& list);

// ---- /proc ------------------------------------------------------------------------------------

/// Fields of /proc/PID/stat after the command (which may hold spaces), numbered as in proc(5).
std::vector<std::string> stat_fields(int pid);

/// `root` and every process below it.
std::vector<int> process_tree(int root);

/// CPU seconds (user + system, every thread, dead ones included) of `root`'s process tree,
/// plus what its reaped children used.
double tree_cpu_seconds(int root);

/// Peak resident set (VmHWM) of `root`'s process tree in MiB: the sum over its processes.
double tree_peak_rss_mib(int root);

/// Resident set (VmRSS) of `root`'s process tree in MiB now.
double tree_rss_mib(int root);

// ---- child processes --------------------------------------------------------------------------

/// A system under test: one process (and its children) in a process group of its own, output
/// in a log file. Stopped (SIGTERM to the group, SIGKILL after 60 s) when destroyed.
class child_process {
 public:
  child_process() = default;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() { (void)stop(); }

  /// Starts `argv` (argv[0] is the executable path); false when fork fails.
  [[nodiscard]] bool start(const std::vector<std::string>& argv, const std::string& log) {
    pid_ = ::fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      ::setpgid(0, 0);
      FILE* f = std::fopen(log.c_str(), "a");
      if (f != nullptr) {
        ::dup2(::fileno(f), 1);
        ::dup2(::fileno(f), 2);
      }
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      std::fprintf(stderr, "cannot execute %s: %s\n", args[0], std::strerror(errno));
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);  // also here: no race with the first kill
    return true;
  }
  [[nodiscard]] int pid() const noexcept { return pid_; }
  /// Whether the process ended on its own; `status` says how.
  [[nodiscard]] bool exited(std::string& status) {
    if (pid_ <= 0) return false;
    int s = 0;
    if (::waitpid(pid_, &s, WNOHANG) != pid_) return false;
    pid_ = -1;
    status = describe(s);
    return true;
  }
  /// SIGTERM to the group, then waits (SIGKILL after `grace`); returns how it ended.
  std::string stop(std::chrono::seconds grace = std::chrono::seconds(60)) {
    if (pid_ <= 0) return "not running";
    ::kill(-pid_, SIGTERM);
    const auto deadline = clock_type::now() + grace;
    int s = 0;
    std::string how;
    for (;;) {
      if (::waitpid(pid_, &s, WNOHANG) == pid_) {
        how = describe(s);
        break;
      }
      if (clock_type::now() > deadline) {
        ::kill(-pid_, SIGKILL);
        ::waitpid(pid_, &s, 0);
        how = "killed after not stopping on SIGTERM within " + std::to_string(grace.count()) + " s";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(-pid_, SIGKILL);  // whatever of the group is left (a wrapper's children)
    pid_ = -1;
    return how;
  }

 private:
  static std::string describe(int s) {
    if (WIFEXITED(s)) return fmt::format("exit status {}", WEXITSTATUS(s));
    if (WIFSIGNALED(s)) return fmt::format("signal {}", WTERMSIG(s));
    return "unknown status";
  }
  pid_t pid_ = -1;
};

// ---- Kafka ------------------------------------------------------------------------------------

struct rk_deleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using rk_ptr = std::unique_ptr<rd_kafka_t, rk_deleter>;
struct list_deleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using list_ptr = std::unique_ptr<rd_kafka_topic_partition_list_t, list_deleter>;

rk_ptr make_client(rd_kafka_type_t type, const kafka_properties& props, std::string& error);

/// A topic's partitions and where each ends.
struct topic_ends {
  std::string topic;
  std::vector<std::int64_t> end;  ///< per partition
  /// Written in transactions: a partition may end with a commit marker that no consumer
  /// position passes, so a committed offset one short of the end is at the end.
  bool transactional = false;
};

/// Watches a consumer group from outside: its committed offsets (OffsetFetch, never joining)
/// and the ends of the topics it reads. Single-threaded.
class group_probe {
 public:
  static std::unique_ptr<group_probe> create(const std::string& bootstrap, const std::string& group,
                                             std::string& error) {
    auto p = std::unique_ptr<group_probe>(new group_probe());
    // read_uncommitted: OffsetFetch without require_stable, so offsets pending in an open
    // transaction neither block the query nor count until their transaction commits.
    p->offsets_ = make_client(RD_KAFKA_CONSUMER,
                              {{"bootstrap.servers", bootstrap},
                               {"group.id", group},
                               {"enable.auto.commit", "false"},
                               {"isolation.level", "read_uncommitted"}},
                              error);
    // read_committed: the end of a partition is its last stable offset.
    if (p->offsets_)
      p->ends_ = make_client(RD_KAFKA_CONSUMER,
                             {{"bootstrap.servers", bootstrap},
                              {"group.id", group + "-probe-ends"},
                              {"isolation.level", "read_committed"}},
                             error);
    return p->offsets_ && p->ends_ ? std::move(p) : nullptr;
  }

  /// The current end of every partition of `t` (t.end sized by the caller).
  bool refresh_ends(topic_ends& t, std::string& error) {
    for (std::size_t i = 0; i < t.end.size(); ++i) {
      std::int64_t lo = 0, hi = 0;
      const auto err = rd_kafka_query_watermark_offsets(
          ends_.get(), t.topic.c_str(), static_cast<std::int32_t>(i), &lo, &hi, 5000);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        error = fmt::format("end offsets of {}: {}", t.topic, rd_kafka_err2str(err));
        return false;
      }
      t.end[i] = hi;
    }
    return true;
  }

  struct progress {
    std::int64_t committed = 0;  ///< records committed over every partition of `counted`
    bool complete = false;       ///< every partition of the first `counted` topics at its end
    std::vector<std::int64_t> offsets;  ///< committed, per partition of every topic in order
    std::string behind;  ///< the partitions of the counted topics behind: "topic/p at/end"
  };
  /// The group's committed offsets for `topics`; only the first `counted` topics (the input
  /// topics, not the repartition ones) add to `committed` and decide `complete`.
  bool poll(const std::vector<topic_ends>& topics, std::size_t counted, progress& out,
            std::string& error) {
    list_ptr list(rd_kafka_topic_partition_list_new(8));
    for (const auto& t : topics)
      for (std::size_t i = 0; i < t.end.size(); ++i)
        rd_kafka_topic_partition_list_add(list.get(), t.topic.c_str(),
                                          static_cast<std::int32_t>(i));
    const auto err = rd_kafka_committed(offsets_.get(), list.get(), 5000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      error = std::string("committed offsets: ") + rd_kafka_err2str(err);
      return false;
    }
    out = {};
    out.complete = true;
    int k = 0;
    for (std::size_t ti = 0; ti < topics.size(); ++ti) {
      const auto& t = topics[ti];
      for (std::size_t i = 0; i < t.end.size(); ++i, ++k) {
        const std::int64_t c = std::max<std::int64_t>(0, list->elems[k].offset);
        out.offsets.push_back(c);
        if (ti >= counted) continue;
        out.committed += c;
        if (c < t.end[i]) {
          out.complete = false;
          if (out.behind.size() < 300)
            out.behind += fmt::format(" {}/{} {}/{}", t.topic, i, list->elems[k].offset, t.end[i]);
        }
      }
    }
    return true;
  }

 private:
  group_probe() = default;
  rk_ptr offsets_, ends_;
};

/// Calls `fn(value)` for every record of `topic` (read_committed, from the beginning to the
/// end at the time of the call). False with `error` on failure or after `timeout_ms`.
bool scan_topic(const std::string& bootstrap, const std::string& topic,
                const std::function<void(std::string_view)>& fn, std::string& error,
                int timeout_ms = 300'000);

/// Topic names of the cluster starting with `prefix` (and ending with `suffix`).
std::vector<std::string> topics_named(const std::string& bootstrap, const std::string& prefix,
                                      const std::string& suffix = {});
/// A Kafka cluster of scripts/kafka in `dir`: the running one, or a 1-node one it starts (and
/// stops when destroyed).
class kafka_cluster {
 public:
  kafka_cluster(std::string dir, int partitions) : dir_(std::move(dir)), partitions_(partitions) {}
  kafka_cluster(const kafka_cluster&) = delete;
  kafka_cluster& operator=(const kafka_cluster&) = delete;
  ~kafka_cluster();
  /// Starts the cluster unless it runs; its bootstrap address, or empty with `error`.
  std::string bootstrap(std::string& error);

 private:
  std::string command() const;
  std::string dir_;
  int partitions_;
  bool started_ = false;
};

/// A `herald run` configuration: the broker, group, guarantee, state directory, topics and
/// the metrics endpoint (default: a free port of 127.0.0.1).
std::string herald_config(const std::string& bootstrap, const std::string& group,
                          const std::string& mode, const std::string& state,
                          const herald::actors::topics_config& t,
                          const std::string& metrics_listen = "127.0.0.1:0");

/// A TCP port of 127.0.0.1 free at the time of the call.
int free_port();

/// GET `path` from 127.0.0.1:`port`: the status code (-1 when unreachable) and the body.
std::pair<int, std::string> http_get(int port, const std::string& path, int timeout_ms = 2000);

/// Sum of the samples of the Prometheus metric `name` (every label set) in a scrape; -1 when
/// absent.
double metric_sum(std::string_view scrape, std::string_view name);

}  // namespace herald::bench

#pragma once
/// The Kafka source: one consumer per process subscribed to every input topic in the group.
///
/// It polls in batches on its own thread (never a CAF worker), groups records by task
/// (family, partition) and hands each group to the `source_listener`. Backpressure: every
/// dispatched record counts as in flight until the task calls `release`; a partition above
/// `max_in_flight` is paused until it drops below `resume_in_flight`. Per partition, not per
/// task: a task that takes its partitions' records head-timestamp first must be able to
/// fetch the partition it waits for while another one, ahead in event time, is paused.
///
/// Assignment: tasks need all topics of their family co-partitioned on one instance, so the
/// default assignor is `range` (which guarantees that for topics with equal partition
/// counts). The rebalance callback handles both the eager and the cooperative protocol.
///
/// Offsets: the source of truth is each task's state (committed with its state in one
/// RocksDB batch). On assignment the source asks the listener where each partition resumes
/// and seeks there; offsets are also committed to Kafka asynchronously, for lag monitoring.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "herald/streams/kafka_config.hpp"
#include "herald/streams/record.hpp"

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_topic_partition_list_s rd_kafka_topic_partition_list_t;
typedef struct rd_kafka_consumer_group_metadata_s rd_kafka_consumer_group_metadata_t;

namespace herald::streams {

struct source_config {
  /// librdkafka properties; bootstrap.servers and group.id are required. Defaults set here
  /// unless given: partition.assignment.strategy=range, enable.auto.commit=false,
  /// auto.offset.reset=earliest, isolation.level=read_committed.
  kafka_properties properties;
  /// Input topics and their families.
  std::vector<topic_binding> topics;
  /// Most records taken per poll. Default: 2000.
  std::size_t max_poll_records = 2000;
  /// Poll timeout. Default: 100 ms.
  int poll_timeout_ms = 100;
  /// Pause a partition above this many in-flight records. Default: 50 000.
  std::int64_t max_in_flight = 50'000;
  /// Resume them at or below this many. Default: 10 000.
  std::int64_t resume_in_flight = 10'000;
  /// How often processed offsets are committed to Kafka (for lag only). Default: 1000 ms.
  int kafka_commit_interval_ms = 1000;
  /// Whether the source commits the offsets tasks report (`committed`) to the group itself.
  /// Off under exactly-once: the offsets are committed in the producer's transactions, with
  /// the outputs they caused. Default: true.
  bool commit_offsets = true;
};

/// Implemented by the task supervisor. Called on the source thread.
class source_listener {
 public:
  virtual ~source_listener() = default;
  /// Tasks newly assigned: create them. Returns, per task and topic, the offset to resume
  /// from (nullopt = none stored: use auto.offset.reset).
  virtual void on_assigned(const std::vector<state::task_id>& tasks) = 0;
  [[nodiscard]] virtual std::optional<std::int64_t> resume_offset(state::task_id task,
                                                                  const std::string& topic) = 0;
  /// Tasks revoked: flush, commit and stop them; must return only once they have.
  virtual void on_revoked(const std::vector<state::task_id>& tasks) = 0;
  /// Records for one task. Ownership moves to the listener.
  virtual void on_batch(record_batch&& batch) = 0;
  /// Records [from, to) of `topic`'s partition of `task` were deleted by the topic's retention
  /// before they were read: the partition resumed at `from`, its log now starts at `to`.
  virtual void on_lost(state::task_id /*task*/, std::uint16_t /*topic*/, std::int64_t /*from*/,
                       std::int64_t /*to*/) {}
};

class source {
 public:
  [[nodiscard]] static std::unique_ptr<source> create(const source_config& config,
                                                      source_listener& listener,
                                                      std::string& error);
  /// Stops polling (revoking every task through the listener) and closes the consumer.
  ~source();
  source(const source&) = delete;
  source& operator=(const source&) = delete;

  /// Starts the poll thread.
  void start();
  /// Stops the poll thread, revokes all tasks via the listener, closes the consumer. Idempotent.
  void stop();

  /// Called by tasks (any thread) when they finished `count` records of topic index `topic`.
  void release(state::task_id task, std::uint16_t topic, std::int64_t count);
  /// The low and high offsets of a partition as last fetched (no broker round trip); false
  /// when not known yet. Thread-safe.
  bool offsets(std::uint16_t topic, std::int32_t partition, std::int64_t& lo,
               std::int64_t& hi) const;
  /// Called by tasks (any thread) after a commit: next offset to read per topic index.
  void committed(state::task_id task, std::uint16_t topic, std::int64_t next_offset);
  /// The consumer's group metadata (member and generation), for offsets committed in a
  /// transaction; the caller destroys it (rd_kafka_consumer_group_metadata_destroy). Any thread.
  [[nodiscard]] rd_kafka_consumer_group_metadata_t* group_metadata() const;
  /// Rewinds every assigned task (any thread): on the poll thread, the listener revokes them
  /// all and has them assigned again, each partition resuming where the listener says (the
  /// group's committed offset when it says nothing). For a transaction that was aborted:
  /// what its tasks applied since their last committed state is applied again. `done` is
  /// called on the poll thread once the tasks are assigned again.
  void rewind(std::function<void()> done);

  [[nodiscard]] const std::vector<topic_binding>& topics() const noexcept { return topics_; }
  /// Records handed to tasks and not yet released, over all tasks.
  [[nodiscard]] std::int64_t in_flight() const noexcept { return total_in_flight_.load(); }
  [[nodiscard]] std::size_t paused_tasks() const;
  [[nodiscard]] std::uint64_t rebalances() const noexcept { return rebalances_.load(); }
  /// Whether the consumer holds an assignment (possibly empty) whose tasks exist: false
  /// before the first one and from the start of a revoke until the next assignment is done.
  [[nodiscard]] bool assigned() const noexcept { return assigned_.load(); }
  /// Steady-clock time (ns) when the poll loop last came round; 0 before it started. A loop
  /// that stops coming round is wedged (liveness).
  [[nodiscard]] std::int64_t last_poll_ns() const noexcept { return last_poll_ns_.load(); }
  /// Sum over assigned partitions of (high watermark - position), refreshed each commit tick;
  /// a partition not fetched from yet counts from where it resumed. -1 until every assigned
  /// partition's high watermark is known.
  [[nodiscard]] std::int64_t lag() const noexcept { return lag_.load(); }
  [[nodiscard]] std::size_t assigned_tasks() const;

 private:
  source() = default;
  struct task_flow {
    explicit task_flow(std::size_t topics)
        : in_flight(new std::atomic<std::int64_t>[topics]), paused(topics, false) {
      for (std::size_t i = 0; i < topics; ++i) in_flight[i] = 0;
    }
    std::unique_ptr<std::atomic<std::int64_t>[]> in_flight;  // per topic index
    std::vector<bool> paused;                                // poll thread only
  };
  void handle_rebalance(int err, rd_kafka_topic_partition_list_t* parts);
  void run();
  void apply_backpressure();
  void commit_to_kafka(bool sync = false);
  [[nodiscard]] std::vector<state::task_id> tasks_of(
      const rd_kafka_topic_partition_list_t* parts) const;
  [[nodiscard]] rd_kafka_topic_partition_list_t* partitions_of(state::task_id task) const;
  [[nodiscard]] std::int64_t in_flight_of(const task_flow& flow) const;
  [[nodiscard]] int topic_index(const char* name) const;
  // The first record of a partition after its assignment is at `offset`, where `expected`
  // was stored: reports records lost to retention (or a re-created topic).
  void check_first(state::task_id task, int idx, std::int64_t offset, std::int64_t expected);

  source_config config_;
  source_listener* listener_ = nullptr;
  rd_kafka_t* rk_ = nullptr;
  std::vector<topic_binding> topics_;
  std::map<state::task_id, std::unique_ptr<task_flow>> flows_;  // guarded by flows_mutex_
  mutable std::mutex flows_mutex_;
  std::mutex commit_mutex_;
  std::map<std::pair<std::uint16_t, std::int32_t>, std::int64_t> to_commit_;  // commit_mutex_
  std::atomic<std::int64_t> total_in_flight_{0};
  std::atomic<std::uint64_t> rebalances_{0};
  std::atomic<bool> assigned_{false};
  std::atomic<std::int64_t> last_poll_ns_{0};
  std::atomic<std::int64_t> lag_{-1};
  // Per (topic index, partition): the offset the partition resumed from at its assignment
  // (negative: librdkafka's logical start). Guarded by commit_mutex_.
  std::map<std::pair<int, std::int32_t>, std::int64_t> start_offsets_;
  // Per (topic index, partition): the offset of its latest end event since its assignment
  // (past transaction markers, which a position before the first record fetched is not).
  // Poll thread only.
  std::map<std::pair<int, std::int32_t>, std::int64_t> ends_;
  // Per (topic index, partition) assigned with a stored offset and not fetched from since:
  // where its first record must be. Poll thread only.
  std::map<std::pair<int, std::int32_t>, std::int64_t> expect_first_;
  std::atomic<bool> stop_{false};
  std::mutex rewind_mutex_;
  std::vector<std::function<void()>> rewinds_;  // guarded by rewind_mutex_
  std::atomic<bool> rewind_requested_{false};
  // Revokes every assigned task and assigns them again (poll thread).
  void run_rewind();
  bool closed_ = false;
  std::thread thread_;
};

}  // namespace herald::streams

#pragma once
/// Exactly-once v2 (`processing.guarantee: exactly_once_v2`): one Kafka transaction per commit
/// interval over every task of the instance, on the instance's one transactional producer.
///
/// The coordinator's thread (`herald.txn`) opens a transaction and asks every task to commit
/// for it. Each task writes its state to RocksDB with a pending mark and produces the
/// commit's outputs and changelog records into the open transaction, then reports its consumed
/// offsets. Once every task has, the coordinator adds the offsets (with the consumer's group
/// metadata) and commits the transaction, and tells each task the outcome:
/// - committed: the task deletes its pending mark and writes its changelog checkpoints;
/// - aborted (a record not delivered, the producer's epoch bumped): every task is rewound.
///   It is revoked locally without a commit, restored from its changelogs (which hold only
///   committed state; the pending mark makes the restore a full one) and assigned again at
///   the group's committed offsets, so what it applied since is applied again.
/// A fenced producer (another instance took this transactional.id) is fatal: the process
/// stops and restarts from committed state.
///
/// Thread-safety: every member function may be called from any thread.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "herald/streams/sink.hpp"

namespace herald::streams {
class source;
}

namespace herald::actors {

class metrics;

class transactions {
 public:
  struct options {
    streams::sink* sink = nullptr;
    /// Commit interval. Default: 100 ms.
    std::int64_t interval_ms = 100;
    /// How long one send-offsets, commit or abort call may wait for the broker; a retriable
    /// failure is retried (the broker aborts a transaction older than its timeout itself).
    /// Once the instance stops with no task left, retries end after `transaction_timeout_ms`.
    int call_timeout_ms = 10'000;
    std::int64_t transaction_timeout_ms = 60'000;
    metrics* probe = nullptr;
    /// Rewinds every task (after an abort); calls its argument once they are assigned again.
    std::function<void(std::function<void()>)> rewind;
  };
  /// A task's part in the transactions.
  class member;
  /// What a task is to do, from `poll`.
  struct order {
    /// Non-zero: commit for this transaction now, then call `prepared`.
    std::uint64_t commit_for = 0;
    /// Non-zero: the outcome of the transaction this task last prepared for is known.
    std::uint64_t settled = 0;
    bool committed = false;  ///< of `settled`
    /// The task's state may hold changes of an aborted transaction: it commits nothing more,
    /// and stops without a final commit; its next owner restores it from the changelogs.
    bool corrupt = false;
  };

  explicit transactions(options o);
  ~transactions();
  transactions(const transactions&) = delete;
  transactions& operator=(const transactions&) = delete;

  /// The consumer whose group metadata goes with the offsets; starts the thread.
  void start(const streams::source& consumer);
  /// Stops the thread once no task is left (the source revoked them all).
  void stop();

  /// A task starts taking part; `wake` (any thread) makes it `poll` soon. `name` (e.g.
  /// "customer/3") names it in the log line of a transaction it made abort.
  std::shared_ptr<member> join(std::function<void()> wake, std::string name = {});
  /// The task is gone (stopped, committed or not). `clean`: it handed the producer nothing
  /// since its last `prepared` (it stopped right after its final transaction settled): a
  /// transaction under way that asked it too need not abort for it.
  void leave(const std::shared_ptr<member>& m, bool clean = false);
  [[nodiscard]] order poll(member& m);
  /// The task committed for `epoch` (its records are with the producer): `offsets` are the
  /// positions its state now holds.
  /// `complete`: false when some record could not be handed to the producer (the
  /// transaction must then abort, as it would for a record Kafka did not take).
  void prepared(member& m, std::uint64_t epoch, std::vector<streams::txn_offset>&& offsets,
                bool complete = true);
  /// A task is stopping: run the next transaction now rather than at the interval.
  void hurry();

  [[nodiscard]] std::uint64_t committed_total() const;
  [[nodiscard]] std::uint64_t aborted_total() const;

 private:
  void run();
  void cycle();
  // Retries `call` while it says retry (past `deadline` only while tasks are left).
  streams::txn_result retrying(const std::function<streams::txn_result()>& call,
                               std::chrono::steady_clock::time_point deadline);
  // Every task is corrupt: rewind them (or, when fatal, nothing more is committed).
  void fail_all(bool fatal);

  options opts_;
  const streams::source* consumer_ = nullptr;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<member>> members_;  // guarded by mutex_
  std::uint64_t epoch_ = 0;
  std::uint64_t committed_ = 0, aborted_ = 0;
  bool hurry_ = false, stop_ = false;
  bool rewinding_ = false;  // an abort's rewind is under way: new members are corrupt
  bool fatal_ = false;
  std::thread thread_;
};

class transactions::member {
  friend class transactions;
  std::uint64_t asked = 0;     // the epoch the task is asked to commit for
  std::uint64_t prepared = 0;  // the epoch it committed for
  std::uint64_t settled = 0;   // the epoch whose outcome it is told
  bool committed = false;
  bool complete = true;  // of its commit for `prepared`
  bool corrupt = false;
  bool left = false;
  bool left_clean = false;  // nothing of it in a transaction it did not prepare for
  std::vector<streams::txn_offset> offsets;
  std::function<void()> wake;
  std::string name;
};

}  // namespace herald::actors

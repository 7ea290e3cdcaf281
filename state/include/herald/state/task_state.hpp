#pragma once
/// Everything one task persists: keyed values, timers, input offsets, watermark and the
/// outbox of emitted records, all written in ONE WriteBatch per commit so that state,
/// offsets and outputs never disagree after a crash.
///
/// Lifecycle and threading: created by a task actor when its partition is assigned, used only
/// from that actor (single-threaded), destroyed on revoke or shutdown. Outbox
/// acknowledgements (`ack_outbox`) may come from the producer's delivery thread: they go
/// straight to the thread-safe `db`.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "herald/state/db.hpp"
#include "herald/state/keys.hpp"

namespace herald::state {

/// A due timer handed back by `pop_due`.
struct timer {
  std::int64_t fire_ms = 0;
  std::string key;      ///< entity key (e.g. customer id), without the task prefix
  std::string payload;  ///< operator-defined
};

/// An output record kept until the broker acknowledged it.
/// Kafka record headers (name, value), in order.
using record_headers = std::vector<std::pair<std::string, std::string>>;

struct outbox_record {
  std::uint64_t seq = 0;
  std::string topic;
  std::string key;
  std::string value;
  record_headers headers;   ///< e.g. the DLQ reason and source position
  bool key_null = false;    ///< produced without a key (a dead letter of a record without one)
  bool value_null = false;  ///< produced without a value (a dead-lettered tombstone)
};

/// One change to a store as its changelog topic carries it: the key without the task prefix,
/// a delete as a tombstone.
struct log_record {
  store s = store::meta;
  std::string key;
  std::string value;
  bool del = false;
};

/// The order in which a commit's changelog records reach Kafka, each stage only once the one
/// before it is acknowledged: a restore that sees a stage of a commit sees every stage
/// before it. Effects come before what marks their cause as done: entity state (0), then
/// timers (1), then the ids of applied events and the offsets (2). -1: not logged (the
/// outbox, and the local bookkeeping of the changelog itself).
[[nodiscard]] int log_stage(store s) noexcept;
inline constexpr int log_stages = 3;

/// Where a task's local state stands against its changelog topics, read before the task is
/// created to decide whether it must be restored.
struct log_position {
  /// Per store: the changelog offset up to which the local state is known to match the topic
  /// (the next offset after the last record it includes). Absent: never checkpointed.
  std::map<store, std::int64_t> checkpoints;
  /// Some local commit's changelog records were not all acknowledged: the local state may
  /// hold changes the changelog lacks, so it cannot be compared with it.
  bool unclean = false;
};

class task_state {
 public:
  /// Loads the task's offsets, watermark, outbox sequence and earliest timer from `db`.
  /// Counts the task's committed timers with one scan of its range (startup cost only).
  /// A read failure is reported by `read_error`. With `changelog`, each commit also yields
  /// its changes as `log_record`s (`take_log`) and marks itself pending until `complete_log`.
  task_state(db& database, task_id task, bool changelog = false);
  task_state(const task_state&) = delete;
  task_state& operator=(const task_state&) = delete;

  [[nodiscard]] task_id id() const noexcept { return task_; }
  [[nodiscard]] db& database() noexcept { return db_; }

  // ---- keyed values: raw bytes; a typed write-back cache sits above (cache.hpp) ----------

  /// Reads the committed value of `key` (pending writes are NOT visible: the cache above
  /// owns dirty values until it flushes them into this batch at commit).
  [[nodiscard]] status get(store s, std::string_view key, std::string& value) const;
  /// Adds a put / delete of `key` to the pending batch.
  void put(store s, std::string_view key, std::string_view value);
  void del(store s, std::string_view key);

  // ---- timers ---------------------------------------------------------------------------

  /// Schedules a timer at (fire_ms, key). Scheduling the same (fire_ms, key) twice keeps one.
  void schedule(std::int64_t fire_ms, std::string_view key, std::string_view payload = {});
  /// Like `schedule`, for a (fire_ms, key) the caller knows is not committed already (e.g. an
  /// event deferred to its event time under its own id): skips the lookup that `schedule`
  /// makes, so it costs no database read. A pending duplicate keeps one.
  void schedule_new(std::int64_t fire_ms, std::string_view key, std::string_view payload);
  /// Cancels the timer at (fire_ms, key), committed or pending; no-op when absent.
  void cancel(std::int64_t fire_ms, std::string_view key);
  /// Removes and returns, in (fire_ms, key) order, the first `limit` timers with fire_ms <=
  /// up_to_ms, committed or pending (all of them by default). Cost is proportional to the
  /// number returned (plus one seek).
  void pop_due(std::int64_t up_to_ms, std::vector<timer>& out,
               std::size_t limit = static_cast<std::size_t>(-1));
  /// Earliest pending fire time, if any.
  [[nodiscard]] std::optional<std::int64_t> next_fire_ms() const;
  /// Number of scheduled timers of this task (committed + pending − cancelled). Exact.
  [[nodiscard]] std::int64_t timer_count() const noexcept { return timer_count_; }

  // ---- input offsets and watermark ------------------------------------------------------

  /// Records that every record of `topic` before `next_offset` has been processed.
  void set_offset(std::string_view topic, std::int64_t next_offset);
  /// The next offset to read from `topic` (as last committed or set), if any.
  [[nodiscard]] std::optional<std::int64_t> offset(std::string_view topic) const;
  void set_watermark(std::int64_t watermark_ms);
  /// Last committed/set watermark; nullopt before the first event.
  [[nodiscard]] std::optional<std::int64_t> watermark() const noexcept { return watermark_; }

  // ---- outbox ---------------------------------------------------------------------------

  /// Adds an output record to the pending batch and returns its sequence number.
  /// `key_null` / `value_null`: produced without a key / value (not empty ones).
  std::uint64_t add_output(std::string_view topic, std::string_view key, std::string_view value,
                           const record_headers& headers = {}, bool key_null = false,
                           bool value_null = false);
  /// Off: outputs are not written to the outbox (they are still numbered and handed out by
  /// `commit`), for a task whose outputs are committed in a Kafka transaction with its
  /// changelog records, so that a crash cannot leave them half sent. Default: on.
  void keep_outbox(bool on) noexcept { outbox_ = on; }
  /// Deletes acknowledged outbox records in the pending batch (so acknowledgements cost no
  /// write of their own; the task's next commit carries them).
  void ack_outputs(const std::vector<std::uint64_t>& seqs);
  /// Records added since the last commit (to be produced once `commit` succeeded).
  [[nodiscard]] const std::vector<outbox_record>& pending_outputs() const noexcept {
    return pending_outputs_;
  }
  /// Every committed, unacknowledged outbox record of this task, in sequence order (used on
  /// start to re-produce what a crash may have left unsent).
  [[nodiscard]] status load_outbox(std::vector<outbox_record>& out) const;
  /// Deletes acknowledged outbox records. Thread-safe (goes straight to `database`).
  [[nodiscard]] static status ack_outbox(db& database, task_id task,
                                         const std::vector<std::uint64_t>& seqs);

  // ---- changelog ------------------------------------------------------------------------

  /// The changes of the latest successful commit, for its changelog topics (moved out), and
  /// that commit's log number; 0 when it changed nothing logged.
  std::uint64_t take_log(std::vector<log_record>& out);
  /// Every record of log numbers `numbers` is acknowledged by Kafka, and `next_offsets` (per
  /// store, the offset after the last of them) are now the checkpoints: written, and the
  /// numbers' pending marks deleted, with the next commit.
  void complete_log(const std::vector<std::uint64_t>& numbers,
                    const std::map<store, std::int64_t>& next_offsets);
  /// Local changelog bookkeeping of `task` (see log_position).
  [[nodiscard]] static status read_log_position(const db& database, task_id task,
                                                log_position& out);
  /// The input offsets `task` stored (topic -> next offset), without creating the task.
  [[nodiscard]] static status read_offsets(const db& database, task_id task,
                                           std::map<std::string, std::int64_t>& out);
  /// Deletes everything `task` has stored, in every store (before a restore from scratch).
  [[nodiscard]] static status wipe(db& database, task_id task);
  /// Adds the checkpoints of `task` to `batch` (after a restore, or when found current).
  static void set_checkpoints(write_batch& batch, task_id task,
                              const std::map<store, std::int64_t>& next_offsets);
  /// Adds the local copy of a changelog record of `task` to `batch`.
  static void apply_log(write_batch& batch, task_id task, store s, std::string_view key,
                        const std::string_view* value);

  // ---- commit ---------------------------------------------------------------------------

  /// Writes every pending put/delete, timer change, offset, the watermark and the outbox
  /// records in one atomic WriteBatch. On success `pending_outputs` is moved into
  /// `committed_outputs` (which the caller then produces). On failure nothing is written and
  /// the pending state is kept, so the caller may retry.
  [[nodiscard]] status commit(std::vector<outbox_record>& committed_outputs);
  /// Operations waiting for the next commit.
  [[nodiscard]] std::size_t pending_ops() const noexcept;
  /// Number of successful commits since construction (lets a cache tell whether what it
  /// flushed has reached the database).
  [[nodiscard]] std::uint64_t commits() const noexcept { return commits_; }
  /// The first read failure of a call that cannot return a status (the constructor,
  /// `schedule`, `cancel`, `pop_due`, `next_fire_ms`); ok when there was none. A task should
  /// stop and restart from its last commit when this is not ok: timer results may be partial.
  [[nodiscard]] const status& read_error() const noexcept { return read_error_; }

  /// A stored value of store `s` could not be read (`kind` "read") or decoded ("decode"): the
  /// local state can no longer be trusted. Collected for the task, which takes them with
  /// `take_errors`.
  struct state_error {
    store s;
    const char* kind;
  };
  void report_error(store s, const char* kind) { errors_.push_back({s, kind}); }
  [[nodiscard]] bool has_errors() const noexcept { return !errors_.empty(); }
  std::vector<state_error> take_errors() { return std::exchange(errors_, {}); }
  /// Marks `task`'s local state untrustworthy (a pending mark no commit completes): whoever is
  /// assigned the task next restores it from its changelogs from the beginning.
  [[nodiscard]] static status mark_unclean(db& database, task_id task);

 private:
  db& db_;
  task_id task_;
  std::string prefix_;
  write_batch batch_;
  // Pending timers, not yet committed: (fire, key) -> payload.
  std::map<std::pair<std::int64_t, std::string>, std::string> timer_adds_;
  // Committed timers cancelled or popped since the last commit.
  std::set<std::pair<std::int64_t, std::string>> timer_dels_;
  std::int64_t timer_count_ = 0;
  std::unordered_map<std::string, std::int64_t> offsets_;
  bool offsets_dirty_ = false;
  std::optional<std::int64_t> watermark_;
  bool watermark_dirty_ = false;
  std::uint64_t next_seq_ = 1;
  std::vector<outbox_record> pending_outputs_;
  bool outbox_ = true;
  std::uint64_t commits_ = 0;
  bool changelog_ = false;
  std::uint64_t next_log_ = 1;  // log number of the next commit that changes logged state
  std::uint64_t last_log_ = 0;  // of the latest commit (0: it logged nothing)
  std::vector<log_record> log_;
  // No committed timer outside timer_dels_ fires before this: seeks start here, skipping the
  // tombstones that earlier pops left at the front of the time-ordered range.
  mutable std::int64_t committed_floor_ = 0;
  // Earliest committed timer outside timer_dels_ (nullopt: none), valid when the flag is set;
  // recomputed lazily by next_fire_ms with one seek.
  mutable std::optional<std::int64_t> committed_next_;
  mutable bool committed_next_valid_ = false;
  mutable status read_error_;
  std::vector<state_error> errors_;

  // Whether (fire_ms, key) is a committed timer not already cancelled or popped.
  bool committed_live(std::int64_t fire_ms, std::string_view key);
  void note_error(const status& st) const;
};

}  // namespace herald::state

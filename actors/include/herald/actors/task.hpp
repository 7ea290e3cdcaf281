#pragma once
/// A task: everything one partition of one family does, as plain C++. The CAF task actor is a
/// thin shell that feeds it batches and ticks; tests drive it directly.
///
/// The task is generic; a family's rules live in its `task_processor` (customer: abandoned
/// carts and the signals re-keyed by SKU; sku: inventory). Per record: decode (bad input,
/// absurd timestamps included -> DLQ record with reason headers, via the outbox), advance the
/// watermark, fire due timers (before applying the record, so a reminder due before an order
/// is sent), apply. Per commit interval: one RocksDB WriteBatch with dirty state, timers,
/// input offsets, watermark and the outbox; the outbox is produced after the commit and
/// deleted as Kafka acknowledges it.
///
/// Event time (streams/watermark.hpp): the watermark is the minimum over the task's inputs,
/// each input partition one input and, for a task fed by a repartition topic, each upstream
/// task one (from the watermark markers it publishes), capped by the processor's `time_cap`.
/// From the start every input is awaited until heard from (at most the idle timeout), an input
/// partition only while it may hold records: not once it is known read to its end.
/// Records and timers are applied in event-time order whatever each input's speed:
/// - a family with several contract topics (customer: clickstream + carts) queues each
///   partition's records in memory and applies the lowest head timestamp first (Kafka
///   Streams' PartitionGroup), once the watermark has reached it, firing the timers due before
///   it first; it also waits up to task.max_wait_ms for an empty partition that still has
///   records in Kafka. A waiting record is not committed: a restart reads it again.
/// - a task fed by a repartition topic (SKU) defers each record ahead of the watermark to its
///   event time in the timer store (its upstreams interleave on one partition in no useful
///   order) and applies it when the watermark passes it, in (event time, id) order.
/// A task whose family feeds a repartition topic publishes its watermark (no further than a
/// record still waiting) to every partition of it after each commit.
///
/// Lifecycle: created on assignment (loads offsets and watermark), `start`ed on the actor
/// (re-produces a crash's unacknowledged outbox), `shutdown` on revoke (commit, flush, ack).
/// Single-threaded: used only by its actor, except the delivery callbacks, which only touch
/// the mutex-guarded ack queue.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "herald/actors/config.hpp"
#include "herald/actors/metrics.hpp"
#include "herald/actors/rules/context.hpp"
#include "herald/actors/transactions.hpp"
#include "herald/schemas/codec.hpp"
#include "herald/state/seen_ids.hpp"
#include "herald/state/task_state.hpp"
#include "herald/streams/record.hpp"
#include "herald/streams/sink.hpp"
#include "herald/streams/watermark.hpp"

namespace herald::actors {

class alignment;
class availability_table;
class lane_table;

/// What every task shares; owned by the app and outliving all tasks.
struct task_env {
  state::db* db = nullptr;
  streams::sink* sink = nullptr;
  metrics* probe = nullptr;
  const app_config* config = nullptr;
  /// Availability per SKU in event time (the global table); everything available when null.
  availability_table* stock = nullptr;
  /// Every shipment partition's lanes (the global table); each task learns its own only when
  /// null.
  lane_table* lanes = nullptr;
  /// Whether `topics.lane_stats` exists: shipment tasks publish their lanes to it too.
  bool lane_topic = false;
  /// Per family: the event-time alignment of its tasks on this instance (null: none). An
  /// aligned task queues its records and applies none past its cap.
  std::array<alignment*, 4> align{};
  std::vector<streams::topic_binding> topics;
  /// Returns processed records' in-flight credit to the source, per topic index.
  std::function<void(state::task_id, std::uint16_t, std::int64_t)> release;
  /// The low and high offsets of `topic`'s partition as the consumer last saw them; false
  /// when unknown. Null: unknown.
  std::function<bool(std::uint16_t topic, std::int32_t partition, std::int64_t& lo,
                     std::int64_t& hi)>
      offsets;
  /// Partitions of the repartition topic (`topics.sku_signals`) the customer tasks publish
  /// their watermark markers to; 0 = none.
  std::int32_t repartition_partitions = 0;
  /// Upstream tasks (customer partitions) whose markers a SKU task's watermark waits for.
  std::int32_t upstream_tasks = 0;
  /// Partitions of each family's topics (index: the family's value); 0 = unknown. A record
  /// whose key Kafka's default partitioner puts on another partition is counted misrouted.
  std::array<std::int32_t, 4> family_partitions{};
  /// Set once the input is complete (a bounded replay read to its end): each task's contract
  /// inputs end, so nothing waits for them any more. Null: never.
  const std::atomic<bool>* input_ended = nullptr;
  /// Reports a committed next offset per topic index (committed to the consumer group: for
  /// lag, and where a restored task resumes).
  std::function<void(state::task_id, std::uint16_t, std::int64_t)> committed;
  /// Every store is backed by its changelog topic (actors/changelog.hpp): each commit's
  /// changes are produced to it, stage by stage once the commit's outputs are acknowledged,
  /// and the commit's offsets are reported to `committed` only once all of it is.
  bool changelog = false;
  /// Exactly-once (actors/transactions.hpp): the task commits when the instance's transaction
  /// asks it to, produces into that transaction and keeps no outbox. Null: at-least-once.
  transactions* txn = nullptr;
  /// A task can no longer trust its state (a stored value unreadable or undecodable, its
  /// outbox unreadable) or its actor failed: it has marked its local state for a full restore
  /// and processes nothing more; the app restarts it from committed state (any thread).
  std::function<void(state::task_id, const std::string& why)> failed;
};

class task;

/// A family's rules as hosted by a task. Implementations keep their state in caches over the
/// task's `task_state` and write them into the pending batch in `flush`.
class task_processor {
 public:
  virtual ~task_processor() = default;
  /// A decoded contract event of one of the family's topics, and its record.
  virtual void apply(const schemas::event& ev, const streams::record& rec) = 0;
  /// What a record of an internal topic is: data (applied by `apply_internal`) or a
  /// watermark marker of upstream task `upstream` (handled by the task).
  struct internal_record {
    bool marker = false;
    std::int64_t ts_ms = 0;  ///< event time, or the marker's watermark
    std::int32_t upstream = 0;
    std::string_view event_id;  ///< orders records of one instant (valid until apply_internal)
    /// What kind of record it is (e.g. the signal type): with the key and the event id, what
    /// makes it a repeat. Records of different kinds may share an event id (a view and a cart
    /// add from different topics).
    std::uint8_t kind = 0;
  };
  /// Decodes a record of an internal topic; false (with a reason naming what is wrong) for bad
  /// input. On success `apply_internal` then applies it (data records only).
  virtual bool decode_internal(const streams::record& rec, internal_record& out,
                               std::string& reason) = 0;
  virtual void apply_internal(const streams::record& rec) = 0;
  /// A timer scheduled through `task::timers(tag)` fired.
  virtual void on_timer(char tag, std::string_view key, std::int64_t fire_ms,
                        std::string_view payload) = 0;
  /// Writes dirty cached state into the task's pending batch (right before a commit).
  virtual void flush() = 0;
  /// Event time the task must not pass yet (`streams::watermark::none`: no limit), e.g.
  /// until a global table its timers read has caught up. Asked per batch and tick; never
  /// goes back.
  [[nodiscard]] virtual std::int64_t time_cap(std::int64_t /*wall_ms*/) {
    return streams::watermark::none;
  }
};

class task {
 public:
  /// Creates the task and the processor of `id`'s family.
  task(const task_env& env, state::task_id id);
  ~task();
  task(const task&) = delete;
  task& operator=(const task&) = delete;

  [[nodiscard]] state::task_id id() const noexcept { return id_; }
  /// Where `topic` resumes (nullopt = nothing committed yet).
  [[nodiscard]] std::optional<std::int64_t> resume_offset(const std::string& topic) const;

  /// Re-produces the outbox left by a crash. `wake` (callable from any thread) makes the
  /// task look again (a `tick`) when its alignment cap has moved.
  void start(std::function<void()> wake = {});
  /// Processes one batch; commits when the commit interval has passed.
  void process(streams::record_batch& batch, std::int64_t wall_ms);
  /// Housekeeping: idle watermark advance, re-produce failed deliveries, due commits.
  void tick(std::int64_t wall_ms);
  /// Commits now (state, timers, offsets, outbox) and produces the committed outputs.
  void commit(std::int64_t wall_ms);
  /// Final commit, waits for every output's acknowledgement, deletes the acknowledged outbox.
  /// Blocks; tests use it. The task actor uses the two steps below instead.
  void shutdown(std::int64_t wall_ms);
  /// The final commit; true when nothing is left to wait for (the shutdown is done).
  bool shutdown_begin(std::int64_t wall_ms);
  /// Takes the acknowledgements in; true once every output is acknowledged, the producer
  /// failed fatally or 30 s passed (the rest is re-sent on restart): the shutdown is done.
  bool shutdown_step();

  /// The task's event time: the watermark over its inputs, capped by its processor's
  /// `time_cap`. Timers fire and waiting records are applied up to it.
  [[nodiscard]] std::int64_t watermark() const noexcept;
  [[nodiscard]] const streams::watermark& event_time() const noexcept { return watermark_; }
  /// The newest event time of the contract records applied so far (Kafka Streams' stream
  /// time): unlike the watermark, it depends only on the records, which are applied in
  /// event-time order, never on how far each input has been read.
  [[nodiscard]] std::int64_t stream_time() const noexcept { return stream_time_; }
  /// The wall clock of the batch or tick being processed.
  [[nodiscard]] std::int64_t wall_ms() const noexcept { return wall_ms_; }
  /// Records received and not yet applied (waiting for the head-timestamp choice or for
  /// the watermark to reach them).
  [[nodiscard]] std::size_t queued() const noexcept;

  // ---- for processors ------------------------------------------------------------------

  [[nodiscard]] const task_env& env() const noexcept { return env_; }
  [[nodiscard]] state::task_state& state() noexcept { return state_; }
  /// Timers whose keys carry `tag`, so each operator only ever sees its own. Timers of a tag
  /// that `speaks` (their firing may emit a message) fire task.timer_grace_ms after they are
  /// due; operators still see, and cancel by, the due time. Tag 'd' is the task's own
  /// (deferred records).
  [[nodiscard]] rules::timer_service& timers(char tag, bool speaks = false);
  /// Adds an output record to the outbox (produced after the next commit).
  void emit(const std::string& topic, std::string_view key, std::string_view value,
            const streams::header_list& headers = {});
  /// The task stops processing and committing: its local state is marked for a full restore
  /// and `task_env::failed` is told (once). For state it cannot trust, and for a failure of
  /// its actor.
  void fail(const std::string& why);
  [[nodiscard]] bool failed() const noexcept { return failed_; }

  /// Like `emit`, but kept in memory rather than the outbox: produced after the next commit,
  /// not re-sent after a crash between that commit and Kafka's acknowledgement. For the
  /// high-volume inputs of statistical detectors (views, cart adds re-keyed by SKU), where an
  /// RocksDB write per record would cost more than an occasional lost sample.
  void emit_transient(const std::string& topic, std::string_view key, std::string_view value);

 private:
  class tagged_timers;
  struct acks {
    std::mutex mutex;
    std::vector<std::uint64_t> ok;
    std::vector<std::pair<std::uint64_t, streams::delivery_report>> failed;
  };

  /// A contract record waiting for the head-timestamp choice.
  struct queued_record {
    streams::record rec;
    std::unique_ptr<schemas::event> ev;
    schemas::decode_code code = schemas::decode_code::ok;
    std::string reason;
    std::int64_t ts_ms = 0;  ///< event time; watermark::none for bad input (taken at once)
  };
  // Decodes `rec` into `ev`, the bounds on event time included; ok or the DLQ code.
  schemas::decode_code decode(const streams::record& rec, std::int64_t wall_ms, schemas::event& ev,
                              std::string& reason);
  // A record of a sorting task (fed by a repartition topic) ahead of the watermark: stored in
  // the timer store at its event time, applied when the watermark passes it.
  void defer(char kind, const streams::record& rec, std::int64_t ts_ms, std::string_view event_id);
  void apply_deferred(std::string_view key, std::string_view payload);
  // Reads a deferred record of `kind` (contract or internal) into `rec` (its topic, key and
  // value), in any format it was written in; false when its input is no longer consumed or
  // the payload is unreadable.
  bool read_deferred(char kind, std::string_view payload, streams::record& rec) const;
  static constexpr std::uint8_t deferred_format_v2 = 0xff;  // never a topic name's length byte
  static constexpr std::uint8_t internal_input = 0xfe;
  int internal_topic_ = -1;                            // topic index of the family's internal topic
  std::array<int, 4> contract_topic_{-1, -1, -1, -1};  // per topic_kind: the family's topic
  streams::record deferred_record_;                    // reused between deferred records
  // Whether `rec` (of event `event_id` at `ts_ms`) repeats a record its task applied already
  // (task.dedup_window_ms); counts it when it does.
  // `kind`: of an internal record, its internal_record::kind (contract records: their topic's).
  bool repeat(const streams::record& rec, std::string_view event_id, std::int64_t ts_ms,
              std::uint8_t kind = 0);
  // Counts `rec` as misrouted when its key belongs on another partition of its topic.
  void check_route(const streams::record& rec);
  // Counts a decoded contract event's lateness and moves its input's watermark.
  void admit(std::uint16_t topic, std::int64_t ts_ms, std::int64_t wall_ms);
  // `rec` is done with: its offset may be committed and its in-flight credit returned.
  void consumed(const streams::record& rec);
  // Applies one contract record (or dead-letters it) and advances its offset.
  void apply_contract(const streams::record& rec, const schemas::event& ev,
                      schemas::decode_code code, const std::string& reason);
  // The event time everything before which is applied: the watermark, or just before a
  // record still waiting for a partition with lag. Persisted and published.
  [[nodiscard]] std::int64_t settled() const noexcept;
  void update_cap(std::int64_t wall_ms);
  void apply_internal_record(const streams::record& rec, std::int64_t wall_ms);
  // Applies queued records head-timestamp first while that is safe (or waited long enough).
  void drain(std::int64_t wall_ms);
  // Whether the empty partition of topic `t` may still hold records in Kafka.
  [[nodiscard]] bool may_have_more(std::uint16_t t) const;
  // After something other than a record (a tick, a partition's end) may have moved the
  // watermark or let queued records go, from `before` queued and watermark `was`: applies what
  // may go, fires what fell due, marks the task dirty when either changed.
  void settle(std::size_t before, std::int64_t was, std::int64_t wall_ms);
  // Inputs still awaited since the start whose partitions turned out read to their end stop
  // holding the watermark back.
  void release_read_inputs();
  // Counts `ts_ms` as late (metrics) when it is older than the watermark.
  void note_if_late(std::uint16_t topic, std::int64_t ts_ms);
  // Applies a batch's records (`process`, once nothing holds it back).
  void apply_batch(streams::record_batch& batch, std::int64_t wall_ms);
  void report(std::int64_t polled_at_ns);
  // Tells the family's alignment where this task stands.
  void report_position();
  void publish_watermark();
  // Produces the committed transient records in order; false while the producer's queue is full.
  bool send_transient();
  // Fires the timers due up to `up_to_ms`, at most the room task.max_uncommitted_records
  // leaves in this commit unless `bounded` is false; false while some stay due (fire_behind_).
  bool fire_timers(std::int64_t up_to_ms, bool bounded = true);
  // Goes on firing what a commit's room left due, then with the records it held back.
  void fire_behind(std::int64_t wall_ms);
  void dead_letter(const streams::record& rec, schemas::decode_code code,
                   const std::string& reason);
  // Hands an outbox record to the producer, in sequence order behind any still waiting.
  void produce(state::outbox_record&& rec);
  // Hands `rec` to the producer; false (rec untouched) when its local queue is full.
  bool hand(state::outbox_record& rec);
  // Hands the waiting records over, oldest first, while the producer takes them.
  void send_waiting();
  // Outputs wait for the producer (its queue full, or a failed delivery being re-sent):
  // the task takes no new records meanwhile, so its partitions pause.
  [[nodiscard]] bool backlogged() const noexcept {
    return resend_wait_ || !waiting_outputs_.empty() || !waiting_transient_.empty() ||
           commit_failed_ || corrupt_ || failed_ || (env_.txn != nullptr && full_until_commit());
  }
  // How many more records this commit takes before task.max_uncommitted_records (0 is no
  // bound: unbounded).
  [[nodiscard]] std::size_t commit_room() const noexcept {
    const std::size_t cap = env_.config->task.max_uncommitted_records;
    if (cap == 0) return static_cast<std::size_t>(-1);
    return uncommitted_ < cap ? cap - uncommitted_ : 0;
  }
  // Took task.max_uncommitted_records since its last commit.
  [[nodiscard]] bool full_until_commit() const noexcept { return commit_room() == 0; }
  // Applies the held batches while the task is not backlogged.
  void apply_held(std::int64_t wall_ms);
  void drain_acks();
  // Changelog: the commits whose records are not all acknowledged yet, oldest first. A
  // commit's records go stage by stage (state::log_stage), each once the one before is
  // acknowledged, and the first once the commit's outputs are; then its offsets are reported.
  struct log_entry {
    std::vector<std::uint64_t> numbers;  // task_state log numbers (several once merged)
    std::uint64_t after_seq = 0;         // outputs up to this sequence go first
    std::array<std::vector<state::log_record>, state::log_stages> stages;
    std::vector<std::pair<std::uint16_t, std::int64_t>> offsets;  // (topic index, next offset)
    int stage = -1;            // the stage being produced; -1 = none yet
    std::size_t produced = 0;  // records of that stage handed to the producer
  };
  struct log_acks {
    std::mutex mutex;
    std::size_t done = 0;  // records with their fate
    bool failed = false;   // one of them failed: the stage goes again
    std::array<std::int64_t, state::store_count> next{};  // per store: after the newest acked
    std::size_t expected = 0;                             // records of the stage in flight
    std::function<void()> wake;                           // the stage is all back: look again
    std::string id;               // "family/partition", for the log line of a failed delivery
    bool logged_failure = false;  // the task's first failed delivery was logged
  };
  // Hands changelog record `r` to the producer; its delivery moves the store's acked offset.
  streams::produce_result produce_log_record(const state::log_record& r);
  // Exactly-once: follows the instance's transactions (commits when asked, hands the commit's
  // records over, reports the offsets, completes the changelog once committed).
  void txn_step(std::int64_t wall_ms);
  // The changelog records of the commit for the transaction, all handed over (true) or some
  // waiting for room in the producer's queue.
  bool hand_txn_log();
  // Commits `numbers` are all in the changelog: their marks go, and the checkpoints (per logged
  // store, the offset after its newest acknowledged record) move, with the next commit.
  void complete_logged(const std::vector<std::uint64_t>& numbers);
  // Whether changelog record `r` goes to a changelog topic (logs a defect when its store has
  // none).
  [[nodiscard]] bool loggable(const state::log_record& r) const;
  // Queues a commit's changelog records (merged into the last entry while it has not started).
  void log_commit(std::vector<state::log_record>&& records, std::uint64_t number,
                  std::uint64_t after_seq,
                  std::vector<std::pair<std::uint16_t, std::int64_t>>&& offsets);
  // Produces what may go, takes acknowledgements in, completes entries.
  void advance_log();
  // Hands the current stage's records from `e.produced` on; false when the queue was full.
  bool produce_stage(log_entry& e);
  [[nodiscard]] bool log_idle() const noexcept { return log_queue_.empty(); }

  task_env env_;
  state::task_id id_;
  state::task_state state_;
  state::seen_ids seen_;  // event ids applied recently: a repeat is counted, not applied
  std::size_t reported_seen_ = 0;
  std::uint64_t reported_evicted_ = 0;
  bool logged_repeat_ = false;
  schemas::decoder decoder_;
  schemas::event event_;
  schemas::event deferred_event_;  // a deferred record's, applied between records
  std::string deferred_key_, deferred_payload_;
  streams::watermark watermark_;
  std::map<char, std::unique_ptr<tagged_timers>> timers_;
  std::array<bool, 256> speaks_{};  // per timer tag
  std::vector<int> input_of_;       // per topic index: watermark input, -1 = not ours
  std::size_t upstream_base_ = 0;   // watermark input of upstream task 0
  bool merge_ = false;              // several contract topics: head-timestamp choice
  bool sort_ = false;  // fed by a repartition topic: records ahead of the watermark deferred
  std::vector<std::deque<queued_record>> queues_;  // per topic index (contract topics, when merge_)
  std::vector<std::int64_t> queued_next_;          // per topic: offset after the last received
  std::vector<std::int64_t> read_end_;  // per topic: the partition's end when last read to it
  // Per topic: a fetch of this assignment delivered a record or the partition's end. Until
  // then librdkafka's cached high watermark may be one of an earlier assignment's.
  std::vector<bool> fetched_;
  std::size_t awaited_ = 0;      // contract inputs not heard from since the start
  std::size_t uncommitted_ = 0;  // input records taken since the last commit
  std::vector<std::unique_ptr<schemas::event>> event_pool_;
  std::int64_t waiting_since_ms_ = streams::watermark::none;
  alignment* align_ = nullptr;
  std::int64_t stopped_at_ = streams::watermark::none;  // head held by the alignment cap
  // Timers due up to fire_behind_ that a commit's room left unfired, the earliest at
  // behind_next_: records at or after it wait, and the task is settled only before it.
  std::int64_t fire_behind_ = streams::watermark::none;
  std::int64_t behind_next_ = streams::watermark::none;
  static constexpr std::int64_t no_cap = std::numeric_limits<std::int64_t>::max();
  std::int64_t cap_ = no_cap;  // processor_->time_cap, once it gave one
  std::int64_t published_watermark_ = streams::watermark::none;
  // Per topic, since the last report: read ok (applied, deferred or a repeat), dead-lettered,
  // late, repeats, misrouted.
  std::vector<std::array<std::uint64_t, 5>> counts_;
  std::vector<std::int64_t> released_;
  std::vector<std::int64_t> reported_waiting_;  // per topic: queued, as last reported
  std::uint64_t markers_received_ = 0;
  std::unique_ptr<task_processor> processor_;
  std::shared_ptr<acks> acks_ = std::make_shared<acks>();
  std::map<std::uint64_t, state::outbox_record> unacked_;  // with the producer, by seq
  // Not handed to the producer yet (its queue was full, or a delivery failed and waits to be
  // re-sent), by seq: handed over in that order, before anything newer.
  std::map<std::uint64_t, state::outbox_record> waiting_outputs_;
  // A delivery failed: nothing is handed over until every record with the producer has its
  // fate, then the failed ones go again in sequence order (per-key order is kept).
  bool resend_wait_ = false;
  std::deque<streams::record_batch> held_batches_;  // received while backlogged
  bool logged_backlog_ = false;
  // The last commit failed (a full disk, an I/O error): the task takes no new records until a
  // retry (every tick) succeeds, so its pending batch stops growing and its partitions pause.
  bool commit_failed_ = false;
  std::chrono::steady_clock::time_point shutdown_deadline_{};
  struct transient_record {
    const std::string* topic;
    std::string key;
    std::string value;
  };
  std::vector<transient_record> transient_;  // emitted since the last commit
  // Committed, not yet taken by the producer (its queue was full): in order, before the marker.
  std::deque<transient_record> waiting_transient_;
  // A watermark marker to publish once the outputs before it are with the producer.
  bool marker_due_ = false;
  std::vector<state::timer> due_;
  std::vector<std::int64_t> next_offsets_;   // per topic index, -1 = untouched since commit
  std::vector<std::int64_t> applied_below_;  // per topic index: the stored offset at creation
  std::array<std::string, state::store_count> log_topics_;  // per store: its changelog topic
  std::deque<log_entry> log_queue_;
  std::shared_ptr<log_acks> log_acks_ = std::make_shared<log_acks>();
  std::size_t log_in_flight_ = 0;  // records of the current stage with the producer
  std::array<std::int64_t, state::store_count> log_next_{};  // per store: next offset acked
  bool logged_log_failure_ = false;
  // Exactly-once.
  std::shared_ptr<transactions::member> txn_member_;
  std::uint64_t txn_epoch_ = 0;     // the transaction committed for (being handed over)
  bool txn_handing_ = false;        // its records are not all with the producer yet
  std::uint64_t txn_prepared_ = 0;  // the transaction whose outcome is awaited (0: none)
  std::uint64_t txn_final_ = 0;     // shutting down: the transaction of the final commit
  bool txn_stopping_ = false;
  std::vector<std::uint64_t> txn_numbers_;  // log numbers of the prepared commit
  std::vector<state::log_record> txn_log_;  // its changelog records
  std::size_t txn_log_handed_ = 0;
  bool txn_complete_ = true;  // every record of the commit went into the transaction
  std::vector<streams::txn_offset> txn_offsets_;
  std::vector<state::outbox_record> txn_carry_;  // an at-least-once run's outbox, sent once
  // A transaction this task took part in was aborted: its local state may hold uncommitted
  // changes. It takes nothing more and stops without a commit (the instance rewinds it).
  bool corrupt_ = false;
  bool failed_ = false;  // see `fail`
  // Stored values that could not be read or decoded: counted, and the task fails (true).
  bool check_state();
  std::int64_t last_commit_wall_ms_ = 0;
  std::int64_t wall_ms_ = 0;
  std::int64_t stream_time_ = streams::watermark::none;
  std::int64_t reported_timers_ = 0;
  bool dirty_ = false;  // processed or fired something since the last commit
  bool ended_ = false;  // env_.input_ended seen
};

/// The processor of a family (defined beside each family's processor).
[[nodiscard]] std::unique_ptr<task_processor> make_customer_processor(task& host);
[[nodiscard]] std::unique_ptr<task_processor> make_sku_processor(task& host);
[[nodiscard]] std::unique_ptr<task_processor> make_shipment_processor(task& host);

}  // namespace herald::actors

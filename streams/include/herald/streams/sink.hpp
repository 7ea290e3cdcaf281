#pragma once
/// The Kafka sink: one idempotent producer per process, shared by every task; transactional
/// when `sink_config::transactional_id` is set (exactly-once: outputs, changelog records and
/// consumed offsets committed together, see `begin_transaction`).
///
/// Thread-safety: `produce` may be called from any thread (librdkafka is thread-safe).
/// Delivery reports are served on the sink's own thread, which calls each record's
/// `on_delivered` callback. Lifecycle: started by the app before tasks, `flush`ed and destroyed
/// after every task stopped.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "herald/streams/kafka_config.hpp"

typedef struct rd_kafka_s rd_kafka_t;

namespace herald::streams {

class source;

struct sink_config {
  /// librdkafka properties; bootstrap.servers is required. `enable.idempotence` is forced on.
  /// `message.max.bytes` defaults to 1 048 576 (1 MiB, within a broker's default topic
  /// limit of 1 048 588).
  kafka_properties properties;
  /// How long `flush` waits for outstanding deliveries. Default: 30 s.
  int flush_timeout_ms = 30'000;
  /// How long `produce` waits for room when librdkafka's local queue is full (0: it returns
  /// at once, `produce_result::full`). Tools and tests wait; the app's tasks never do (they
  /// keep the record and pause their intake). Default: 30 s.
  int queue_full_wait_ms = 30'000;
  /// Non-empty: a transactional producer with this `transactional.id` (stable per instance:
  /// a restarted instance fences its previous incarnation's open transaction). `create`
  /// initialises it (`init_transactions`). Default: none (idempotent only).
  std::string transactional_id;
  /// How long `create` keeps trying to initialise transactions while the broker does not
  /// answer. Default: 60 s.
  int init_timeout_ms = 60'000;
};

/// A consumed position committed with a transaction: the next offset to read.
struct txn_offset {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
};

/// What a transactional call came to. `retry`: call it again (a timeout, a coordinator
/// moving); `abort`: the transaction must be aborted (a record failed, the producer's epoch
/// bumped); `fatal`: the producer is fenced (another instance took its transactional.id) or
/// broken, and can do nothing more.
enum class txn_status { ok, retry, abort, fatal };
struct txn_result {
  txn_status status = txn_status::ok;
  std::string error;
  explicit operator bool() const noexcept { return status == txn_status::ok; }
};

using header_list = std::vector<std::pair<std::string, std::string>>;

/// The fate of one record. `permanent`: rejected for good (too large, invalid, not
/// authorised), so sending it again cannot help; otherwise (a timeout, a broker down) it may.
struct delivery_report {
  bool ok = false;
  bool permanent = false;
  const char* reason = "";   ///< librdkafka's error text (static storage)
  std::int64_t offset = -1;  ///< where the record landed, when delivered
};
/// Whether a record that failed with librdkafka error `err` can never succeed as it is.
[[nodiscard]] bool is_permanent_error(int err) noexcept;

/// Called once per record on the delivery thread.
using delivery_fn = std::function<void(const delivery_report&)>;

/// What `produce` did: queued, or refused at once (with the report of why). Converts to
/// true when queued.
struct produce_result {
  bool queued = false;
  bool full = false;        ///< not queued because the local queue is full: try again later
  delivery_report failure;  ///< when not queued
  explicit operator bool() const noexcept { return queued; }
};

class sink {
 public:
  /// Creates the producer; on a bad property returns nullptr and sets `error`.
  [[nodiscard]] static std::unique_ptr<sink> create(const sink_config& config, std::string& error);
  ~sink();
  sink(const sink&) = delete;
  sink& operator=(const sink&) = delete;

  /// Queues one record; `on_delivered` (optional) reports its fate. A `key` or `value` whose
  /// data() is null (a default-constructed view) is produced as null, not as empty. Returns false
  /// (and calls nothing) only when the local queue is full (after `queue_full_wait_ms`) or the
  /// topic is unknown locally; delivery failures are reported through the callback.
  produce_result produce(std::string_view topic, std::string_view key, std::string_view value,
                         const header_list& headers = {}, delivery_fn on_delivered = {});

  /// Like `produce`, to one partition (chosen by the caller, e.g. a watermark marker sent to
  /// every partition of a repartition topic) instead of the key's.
  produce_result produce_to(std::string_view topic, std::int32_t partition, std::string_view key,
                            std::string_view value, const header_list& headers = {},
                            delivery_fn on_delivered = {});
  /// The producer's `message.max.bytes`: the largest record it sends.
  [[nodiscard]] std::size_t max_message_bytes() const noexcept { return max_message_bytes_; }

  /// Waits until every queued record is delivered or the timeout passes; true when all were.
  bool flush(int timeout_ms = -1);

  [[nodiscard]] std::uint64_t delivered() const noexcept { return delivered_.load(); }
  [[nodiscard]] std::uint64_t failed() const noexcept { return failed_.load(); }
  [[nodiscard]] std::int64_t outstanding() const;
  /// Whether the producer hit a fatal error: it delivers nothing more.
  [[nodiscard]] bool fatal() const;

  // ---- transactions (only with a transactional_id) ----------------------------------------
  [[nodiscard]] bool transactional() const noexcept { return transactional_; }
  /// Opens a transaction: what is produced from here until `commit_transaction` or
  /// `abort_transaction` is committed or aborted as one. Local (no broker round trip).
  txn_result begin_transaction();
  /// Adds the consumed positions to the open transaction, with `consumer`'s group metadata
  /// (its generation: a consumer that lost its partitions cannot commit for them).
  txn_result send_offsets(const std::vector<txn_offset>& offsets, const source& consumer,
                          int timeout_ms);
  /// Flushes and commits the open transaction.
  txn_result commit_transaction(int timeout_ms);
  /// Aborts the open transaction: its records are never read by a read_committed consumer.
  txn_result abort_transaction(int timeout_ms);

 private:
  sink() = default;
  static void on_delivery(rd_kafka_t*, const void* msg, void* opaque);
  void run_poller();

  rd_kafka_t* rk_ = nullptr;
  int flush_timeout_ms_ = 30'000;
  int queue_full_wait_ms_ = 30'000;
  std::size_t max_message_bytes_ = 1'048'576;
  bool transactional_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::thread poller_;
};

}  // namespace herald::streams

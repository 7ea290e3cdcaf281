#pragma once
/// Reads ranges of partitions by offset, without a consumer group: the restore consumer of
/// the changelog topics (Kafka Streams' restore consumer). Records are read `read_committed`,
/// so a restore never sees an aborted transaction's changes.
///
/// Thread-safety: one thread at a time (the restorer's); `end_offset` may be called from any.
/// Lifecycle: created by the app at start-up, destroyed after the tasks stopped.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "herald/streams/kafka_config.hpp"

typedef struct rd_kafka_s rd_kafka_t;

namespace herald::streams {

class log_reader {
 public:
  /// `props` needs bootstrap.servers; false (nullptr) with `error` on a bad property.
  [[nodiscard]] static std::unique_ptr<log_reader> create(const kafka_properties& props,
                                                          std::string& error);
  ~log_reader();
  log_reader(const log_reader&) = delete;
  log_reader& operator=(const log_reader&) = delete;

  /// The end offset of a partition (one broker round trip: the high watermark, or under
  /// read_committed the last stable offset); false with `error` when no broker answered.
  [[nodiscard]] bool end_offset(const std::string& topic, std::int32_t partition, std::int64_t& end,
                                std::string& error, int timeout_ms = 10'000);

  /// One partition's records [from, to).
  struct range {
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t from = 0;
    std::int64_t to = 0;
  };
  /// Per record: its range (index into the ranges), offset, key and value (null: a tombstone).
  using record_fn = std::function<void(std::size_t range, std::int64_t offset, std::string_view key,
                                       const std::string_view* value)>;
  /// Reads every range to its end, all at once. False with `error` when a broker error stops
  /// it, `cancel` is set, or no record arrives for `idle_timeout_ms`.
  [[nodiscard]] bool read(const std::vector<range>& ranges, const record_fn& fn,
                          const std::atomic<bool>* cancel, std::string& error,
                          int idle_timeout_ms = 30'000);

 private:
  log_reader() = default;
  rd_kafka_t* rk_ = nullptr;
};

}  // namespace herald::streams

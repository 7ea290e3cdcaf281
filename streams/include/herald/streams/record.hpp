#pragma once
/// Records as they travel from the Kafka source to a task, and the task identity they are
/// routed by.

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "herald/schemas/events.hpp"
#include "herald/state/keys.hpp"

namespace herald::streams {

/// One input topic and what it feeds.
struct topic_binding {
  std::string name;          ///< Kafka topic name
  schemas::topic_kind kind;  ///< which contract events it carries (unused when internal)
  state::family fam;         ///< the task family it belongs to
  /// Herald's own topic (e.g. a repartition topic) in an internal format, not CONTRACT.md JSON.
  bool internal = false;
};

/// One consumed record (key and value copied out of librdkafka's buffers).
struct record {
  std::string key;
  std::string value;
  std::int64_t offset = 0;
  std::int64_t timestamp_ms = 0;  ///< Kafka record timestamp (event time comes from the body)
  std::uint16_t topic = 0;        ///< index into the source's topic bindings
  bool key_null = false;          ///< no key at all (not an empty one)
  bool value_null = false;        ///< no value at all: a tombstone
};

/// Steady-clock nanoseconds: the clock of `record_batch::polled_at_ns`.
[[nodiscard]] inline std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// Records of one task, in per-topic offset order, handed over as one message.
struct record_batch {
  state::task_id task;
  std::vector<record> records;
  /// Partitions read to their end, after the records above: (topic index, the end's offset).
  /// Everything before it was delivered; it is past transaction markers, which a record's
  /// offset + 1 never is.
  std::vector<std::pair<std::uint16_t, std::int64_t>> ends;
  std::int64_t polled_at_ns = 0;  ///< steady clock when polled, for latency metrics
};

}  // namespace herald::streams

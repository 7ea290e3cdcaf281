#pragma once
/// Reads a whole topic once (every partition from the beginning to its current end), without
/// a consumer group. For tools (`herald demo`'s summary), tests and benchmarks, not the
/// pipeline.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "herald/streams/kafka_config.hpp"
#include "herald/streams/sink.hpp"

struct rd_kafka_message_s;

namespace herald::streams {

struct consumed_record {
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::int64_t timestamp_ms = -1;  ///< the record's timestamp (CreateTime or LogAppendTime)
  std::string key;
  std::string value;
  header_list headers;
  bool key_null = false;    ///< no key at all (not an empty one)
  bool value_null = false;  ///< no value at all: a tombstone

  /// The value of header `name`, or empty.
  [[nodiscard]] std::string header(const std::string& name) const;
};

/// A consumed message's headers, in order.
[[nodiscard]] header_list headers_of(const rd_kafka_message_s* m);

/// The partition count of `topic`, or -1 with `error` saying why: no broker answered, or the
/// cluster has no such topic.
[[nodiscard]] int partition_count(const kafka_properties& props, const std::string& topic,
                                  std::string& error, int timeout_ms = 10'000);

/// The partition count of every topic of the cluster (one metadata request for all, and no
/// topic created by asking, as the mock cluster does for a topic named in a request). False
/// with `error` when no broker answered. `cluster_id` (optional): the cluster's id.
[[nodiscard]] bool partition_counts(const kafka_properties& props, std::map<std::string, int>& out,
                                    std::string& error, int timeout_ms = 10'000,
                                    std::string* cluster_id = nullptr);
/// Whether a cluster id is that of librdkafka's mock cluster.
[[nodiscard]] inline bool is_mock_cluster(const std::string& cluster_id) {
  return cluster_id.rfind("mockCluster", 0) == 0;
}

/// Every record of `topic` at the time of the call, ordered by (partition, offset). `props`
/// needs bootstrap.servers. Returns false and sets `error` on failure or timeout.
[[nodiscard]] bool read_topic(const kafka_properties& props, const std::string& topic,
                              std::vector<consumed_record>& out, std::string& error,
                              int timeout_ms = 15'000);

}  // namespace herald::streams

#pragma once
/// Kafka's Admin API for topics, through librdkafka: create, delete, read their configuration,
/// delete records. Real brokers only (librdkafka's mock cluster answers none of these). For
/// start-up checks, tests and tools; each call opens and closes its own client.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "herald/streams/kafka_config.hpp"

namespace herald::streams {

struct topic_spec {
  std::string name;
  int partitions = 1;
  int replication = -1;                        ///< -1: the broker's default.replication.factor
  std::map<std::string, std::string> configs;  ///< e.g. cleanup.policy=compact
};

/// Creates `topics` and waits until every partition has a leader. A topic that exists already
/// is an error unless `exist_ok`. False with `error` naming the topic and the broker's reason.
[[nodiscard]] bool create_topics(const kafka_properties& props,
                                 const std::vector<topic_spec>& topics, bool exist_ok,
                                 std::string& error, int timeout_ms = 30'000);

/// Deletes `topics` (missing ones are fine) and waits until the cluster no longer lists them.
[[nodiscard]] bool delete_topics(const kafka_properties& props,
                                 const std::vector<std::string>& topics, std::string& error,
                                 int timeout_ms = 30'000);

/// The configuration of each of `topics` (every entry the broker reports, defaults included).
[[nodiscard]] bool describe_topics(const kafka_properties& props,
                                   const std::vector<std::string>& topics,
                                   std::map<std::string, std::map<std::string, std::string>>& out,
                                   std::string& error, int timeout_ms = 10'000);

/// Sets `topic`'s configuration to `configs` (AlterConfigs: a key not named returns to the
/// broker's default).
[[nodiscard]] bool alter_topic(const kafka_properties& props, const std::string& topic,
                               const std::map<std::string, std::string>& configs,
                               std::string& error, int timeout_ms = 10'000);

/// Deletes the records of `topic`'s `partition` before `offset` (what retention does).
[[nodiscard]] bool delete_records(const kafka_properties& props, const std::string& topic,
                                  std::int32_t partition, std::int64_t offset, std::string& error,
                                  int timeout_ms = 10'000);

}  // namespace herald::streams

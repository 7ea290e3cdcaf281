#pragma once
/// librdkafka's built-in mock Kafka cluster, for `herald demo`, `herald dev-kafka` and tests.
///
/// Lives as long as this object; other clients (kcat, other processes) can connect to
/// `bootstrap_servers()` meanwhile. Caveats (DEPENDENCIES.md): transactions are not enforced,
/// each partition keeps only its last ~5 MiB, Admin CreateTopics is unsupported (use
/// `create_topic`).

#include <memory>
#include <string>

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_mock_cluster_s rd_kafka_mock_cluster_t;

namespace herald::streams {

class mock_cluster {
 public:
  /// Starts `brokers` mock brokers; nullptr and `error` set on failure.
  [[nodiscard]] static std::unique_ptr<mock_cluster> start(int brokers, std::string& error);
  ~mock_cluster();
  mock_cluster(const mock_cluster&) = delete;
  mock_cluster& operator=(const mock_cluster&) = delete;

  /// "127.0.0.1:port,..." — the bootstrap.servers to give clients.
  [[nodiscard]] const std::string& bootstrap_servers() const noexcept { return bootstraps_; }
  /// Creates a topic; false when the mock refused.
  bool create_topic(const std::string& name, int partitions, int replication = 1);
  /// The raw handle, for fault injection in tests (rd_kafka_mock_* functions).
  [[nodiscard]] rd_kafka_mock_cluster_t* handle() const noexcept { return mcluster_; }

 private:
  mock_cluster() = default;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* mcluster_ = nullptr;
  std::string bootstraps_;
};

}  // namespace herald::streams

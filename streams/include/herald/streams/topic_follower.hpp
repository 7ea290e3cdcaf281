#pragma once
/// Follows every partition of one topic from the beginning, without a consumer group, calling
/// a function per record on its own thread: how each instance keeps a global table (e.g. all of
/// shop.inventory) while the group splits the topic's partitions between tasks.
///
/// Lifecycle: `start` reads the partitions' end offsets, then follows until destroyed.
/// `wait_caught_up` tells when everything present at start has been applied.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "herald/streams/kafka_config.hpp"

typedef struct rd_kafka_s rd_kafka_t;

namespace herald::streams {

class topic_follower {
 public:
  /// Called on the follower's thread for every record, in per-partition order.
  using record_fn =
      std::function<void(std::int32_t partition, std::string_view key, std::string_view value)>;

  /// `props` needs bootstrap.servers. nullptr and `error` set when the topic has no metadata.
  [[nodiscard]] static std::unique_ptr<topic_follower> start(const kafka_properties& props,
                                                             const std::string& topic,
                                                             record_fn on_record,
                                                             std::string& error);
  ~topic_follower();
  topic_follower(const topic_follower&) = delete;
  topic_follower& operator=(const topic_follower&) = delete;

  /// Blocks until every record present at `start` was applied, or `timeout_ms` passed.
  bool wait_caught_up(int timeout_ms);
  [[nodiscard]] std::uint64_t records() const noexcept { return records_.load(); }

 private:
  topic_follower() = default;
  void run();

  rd_kafka_t* rk_ = nullptr;
  record_fn on_record_;
  std::vector<std::int64_t> end_at_start_;  // per partition
  std::vector<std::int64_t> next_;          // per partition, follower thread only
  std::atomic<bool> caught_up_{false};
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> records_{0};
  std::thread thread_;
};

}  // namespace herald::streams

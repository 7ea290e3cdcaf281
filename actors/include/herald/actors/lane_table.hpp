#pragma once
/// The global lane table: what every shipment partition has learned of each lane's transit
/// times, so a lane's stuck threshold and estimated transit reflect all its deliveries, not
/// the fraction one shipment task sees.
///
/// Each shipment task publishes its own histogram of a lane (`rules::lane_stats`) after every
/// delivery it learns, with the delivery's event time: to this instance's table at once, and
/// to the compacted topic `topics.lane_stats` (key: lane, '\x1f', partition), which every
/// instance follows from the beginning, so instances share lanes and a restarted one reads
/// them back. A task asks for the other partitions' histograms as of an event time: per
/// partition, the newest one published for a delivery before it, so a partition that reads
/// ahead does not lend the future to a decision about the past. Each partition's last
/// `versions_kept` versions of a lane are kept, thinned as they age (every other one of the
/// older half goes when they fill; the first stays), so a question about any time since the
/// first delivery has an answer, exact for recent times. A restarted instance reads back
/// only the latest version of each (the topic is compacted): until then, questions about
/// earlier times (records read again after the restart) get nothing from that partition.
/// Its own deliveries come from the task's own state.
///
/// Thread-safety: a mutex guards everything (writes: one per delivery; reads: one per
/// shipment decision).

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "herald/actors/rules/shipments.hpp"

namespace herald::actors {

class lane_table {
 public:
  /// Versions of one partition's histogram of a lane kept for questions about the past.
  static constexpr std::size_t versions_kept = 32;

  /// `partition`'s histogram of `lane` after a delivery it learned at `ts_ms`. Publishing the
  /// same version again (read back from the topic) changes nothing.
  void publish(std::int32_t partition, std::string_view lane, std::int64_t ts_ms,
               const rules::lane_stats& stats);
  /// Adds to `out` the histograms of `lane` of every partition but `partition`, each as it
  /// was published for the newest delivery before `before_ms`.
  void add_others(std::string_view lane, std::int32_t partition, std::int64_t before_ms,
                  rules::lane_stats& out) const;

  /// A record of `topics.lane_stats`; false (nothing applied) when it is not one.
  bool apply(std::string_view key, std::string_view value);
  /// The record `publish` puts on the topic.
  static void encode(std::int32_t partition, std::string_view lane, std::int64_t ts_ms,
                     const rules::lane_stats& stats, std::string& key, std::string& value);

  /// Lanes known.
  [[nodiscard]] std::size_t size() const;

 private:
  struct version {
    std::int64_t ts_ms = 0;
    std::string stats;  // lane_stats::encode (sparse: a few dozen bytes)
  };
  struct partition_versions {
    std::int32_t partition = 0;
    std::vector<version> versions;  // by time, at most versions_kept
  };
  struct hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  void insert(std::int32_t partition, std::string_view lane, std::int64_t ts_ms,
              std::string&& stats);

  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::vector<partition_versions>, hash, std::equal_to<>> lanes_;
};

/// The table as one shipment partition sees it: the other partitions' lanes.
class lane_table_view final : public rules::lane_view {
 public:
  lane_table_view(const lane_table& table, std::int32_t partition)
      : table_(table), partition_(partition) {}
  void add_shared(std::string_view lane, std::int64_t before_ms,
                  rules::lane_stats& out) const override {
    table_.add_others(lane, partition_, before_ms, out);
  }

 private:
  const lane_table& table_;
  std::int32_t partition_;
};

}  // namespace herald::actors

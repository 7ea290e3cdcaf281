#pragma once
/// The global availability table: every instance follows all partitions of shop.inventory
/// and keeps each SKU's available quantity (sum over locations of the latest stock_level), so
/// customer tasks can leave out-of-stock items out of cart reminders whichever instance owns
/// the SKU.
///
/// In event time: each location keeps its recent readings, so a reminder due at T sees the
/// stock as of T however far the feed has read since, and the table has a watermark (the
/// minimum over shop.inventory's partitions of the newest level read, idle partitions left
/// out as for a task) up to which its answers are final. Customer tasks hold their reminders
/// until it has passed their due time (task_processor::time_cap), so how fast the feed runs
/// against the customer topics changes no reminder. Readings older than `history_ms` behind
/// the watermark are folded into the latest one before them.
///
/// Thread-safety: `apply` is called by the follower thread, the rest by any task; a mutex
/// guards the map and the watermark (reads are rare: once per reminder line, once per task
/// tick).

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "herald/actors/rules/context.hpp"
#include "herald/schemas/codec.hpp"
#include "herald/streams/watermark.hpp"

namespace herald::actors {

class availability_table final : public rules::stock_view {
 public:
  /// Sizes the watermark for `partitions` partitions of shop.inventory; call before `apply`.
  void reset(const streams::watermark_config& config, int partitions, std::int64_t history_ms);

  /// Applies one shop.inventory record of `partition`, read at wall-clock `wall_ms`; bad
  /// records are skipped here (the SKU task that owns the partition dead-letters them).
  /// Called from one thread.
  void apply(std::int32_t partition, std::string_view key, std::string_view value,
             std::int64_t wall_ms);

  [[nodiscard]] std::optional<std::int64_t> available(std::string_view sku,
                                                      std::int64_t as_of_ms) const override;
  /// Event time up to which every level has been read (`streams::watermark::none` before any;
  /// the maximum once the feed ended).
  [[nodiscard]] std::int64_t watermark(std::int64_t wall_ms) const;
  /// The feed has ended (a bounded replay read to its end): every answer is final.
  void finish();
  [[nodiscard]] std::size_t size() const;

 private:
  struct reading {
    std::int64_t ts_ms = 0;
    std::int64_t available = 0;
  };
  struct location {
    std::string name;
    std::vector<reading> readings;  // by time
  };
  struct hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  schemas::decoder decoder_;  // follower thread only
  schemas::event event_;      // follower thread only
  mutable std::mutex mutex_;
  mutable streams::watermark watermark_;
  std::int64_t history_ms_ = 0;
  bool finished_ = false;
  std::unordered_map<std::string, std::vector<location>, hash, std::equal_to<>> skus_;
};

}  // namespace herald::actors

#pragma once
/// Event-time alignment of one family's tasks on this instance (Flink's watermark alignment):
/// no task applies a record more than `max_drift_ms` ahead of the others' next records, so
/// a global table the tasks feed and read (the lane table) is complete up to that long before
/// any decision, however differently the partitions' backlogs are read.
///
/// Each task reports its position: the event time of its next record to apply (its first
/// queued one or, with none queued but more in Kafka, its read watermark), or `none` when it
/// has caught up (then it holds nobody back: live traffic is never held). A task's cap is the
/// least position of the others plus `max_drift_ms`; the task with the least position is
/// never capped, so the group always moves. A task that stops at its cap says so and is
/// woken when its cap passes the record it stopped at.
///
/// Thread-safety: a mutex guards everything; wake functions are called outside it.

#include <cstdint>
#include <functional>
#include <limits>
#include <mutex>
#include <vector>

namespace herald::actors {

class alignment {
 public:
  static constexpr std::int64_t none = std::numeric_limits<std::int64_t>::min();
  static constexpr std::int64_t no_cap = std::numeric_limits<std::int64_t>::max();
  /// The position of a task that has records to read and has read none yet: it holds every
  /// other task back until it has.
  static constexpr std::int64_t first = none + 1;

  explicit alignment(std::int64_t max_drift_ms) : max_drift_ms_(max_drift_ms) {}

  /// `partition`'s task takes part (at `first` until it reports); `wake` (called from any
  /// thread) makes it look again.
  void join(std::int32_t partition, std::function<void()> wake);
  /// `partition`'s task is gone: it holds nobody back any more.
  void leave(std::int32_t partition);
  /// Where `partition` stands (`none`: caught up); `stopped_at`: the event time of the record
  /// it stopped at for its cap, `none` when it did not stop.
  void report(std::int32_t partition, std::int64_t position_ms, std::int64_t stopped_at);
  /// The latest event time `partition` may apply (`no_cap`: no limit).
  [[nodiscard]] std::int64_t cap(std::int32_t partition) const;

 private:
  struct member {
    std::int32_t partition = 0;
    std::int64_t position = none;
    std::int64_t stopped_at = none;
    std::function<void()> wake;
  };
  [[nodiscard]] std::int64_t cap_locked(std::int32_t partition) const;
  // Collects the wake functions of members whose cap now passes where they stopped.
  void due_wakes(std::vector<std::function<void()>>& out);

  std::int64_t max_drift_ms_;
  mutable std::mutex mutex_;
  std::vector<member> members_;
};

}  // namespace herald::actors

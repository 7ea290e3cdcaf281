#pragma once
/// A task's event-time watermark: max event time seen − allowed lateness.
///
/// Timers fire when the watermark passes them, so replays are deterministic. A quiet
/// partition must still fire its timers in production: after `idle_timeout_ms` of wall-clock
/// time without events, the watermark also advances with wall-clock time (0 disables that,
/// as deterministic tests want). Single-threaded, owned by a task.

#include <algorithm>
#include <cstdint>
#include <limits>

namespace herald::streams {

struct watermark_config {
  /// Events up to this much older than the newest seen are not late. Default: 0 ms.
  std::int64_t allowed_lateness_ms = 0;
  /// Wall-clock idle time after which the watermark advances with the clock; 0 = never.
  /// Default: 0 (the app config turns it on for production).
  std::int64_t idle_timeout_ms = 0;
};

class watermark {
 public:
  static constexpr std::int64_t none = std::numeric_limits<std::int64_t>::min();

  explicit watermark(watermark_config config = {}) : config_(config) {}

  /// Restores a persisted watermark (e.g. after restart).
  void restore(std::int64_t watermark_ms) {
    current_ = watermark_ms;
    max_event_ = watermark_ms + config_.allowed_lateness_ms;
  }

  /// Observes an event's time at wall-clock `wall_ms`; returns true when it is late (older
  /// than the current watermark). Late events still count as activity.
  bool observe(std::int64_t event_ms, std::int64_t wall_ms) {
    last_event_wall_ms_ = wall_ms;
    last_tick_wall_ms_ = wall_ms;
    const bool late = current_ != none && event_ms < current_;
    if (event_ms > max_event_) {
      max_event_ = event_ms;
      current_ = std::max(current_, max_event_ - config_.allowed_lateness_ms);
    }
    return late;
  }

  /// Called periodically; advances the watermark by the wall-clock time elapsed since the
  /// last tick once the partition has been idle for `idle_timeout_ms`. Returns true when it
  /// moved.
  bool tick(std::int64_t wall_ms) {
    if (config_.idle_timeout_ms <= 0 || current_ == none) {
      last_tick_wall_ms_ = wall_ms;
      return false;
    }
    const std::int64_t since_tick = wall_ms - last_tick_wall_ms_;
    last_tick_wall_ms_ = wall_ms;
    if (wall_ms - last_event_wall_ms_ < config_.idle_timeout_ms || since_tick <= 0) return false;
    current_ += since_tick;
    max_event_ = std::max(max_event_, current_ + config_.allowed_lateness_ms);
    return true;
  }

  /// The watermark, or `none` before the first event.
  [[nodiscard]] std::int64_t current() const noexcept { return current_; }

 private:
  watermark_config config_;
  std::int64_t current_ = none;
  std::int64_t max_event_ = none;
  std::int64_t last_event_wall_ms_ = 0;
  std::int64_t last_tick_wall_ms_ = 0;
};

}  // namespace herald::streams

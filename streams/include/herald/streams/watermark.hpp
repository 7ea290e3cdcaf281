#pragma once
/// A task's event-time watermark over its inputs.
///
/// Every input (an input partition of the task, or an upstream task publishing watermark
/// markers through a repartition topic) has its own watermark: the newest event time seen on
/// it minus `allowed_lateness_ms`, or the value of its latest marker. The task's watermark is
/// the minimum over the inputs it has heard from, an idle input (nothing received for
/// `idle_timeout_ms` of wall-clock time this process observed) left out, as Flink does. It
/// never goes back: an input that resumes behind it delivers late events.
///
/// Quiet tasks still fire their timers: when every input is idle, nothing is left to wait
/// for: the watermark is the newest of the inputs' watermarks (everything read goes) and
/// follows the wall clock, `idle_timeout_ms` behind it (a live partition quiet for that long
/// has no earlier events left to deliver, bar late ones). Only wall time observed by this process
/// counts: a restored watermark waits for `idle_timeout_ms` after the start like any other,
/// so a restart never turns the time the process was down into one jump. `idle_timeout_ms`
/// = 0 turns idleness and the wall clock off (deterministic replays and tests).
///
/// Single-threaded, owned by a task.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace herald::streams {

struct watermark_config {
  /// An input's watermark trails its newest event by this much. Timers that speak have their
  /// own grace (task.timer_grace_ms). Default: 0 ms.
  std::int64_t allowed_lateness_ms = 0;
  /// Wall-clock time without a record after which an input is idle (left out of the minimum;
  /// when every input is idle the watermark follows the clock this far behind). 0 = never.
  /// Default: 0 here; the app's default is 30 000 ms.
  std::int64_t idle_timeout_ms = 0;
};

class watermark {
 public:
  static constexpr std::int64_t none = std::numeric_limits<std::int64_t>::min();

  /// A watermark over `inputs` inputs, numbered 0 .. inputs - 1.
  explicit watermark(watermark_config config = {}, std::size_t inputs = 1);

  /// Restores a persisted watermark: the floor it never goes below. Inputs start unheard.
  void restore(std::int64_t watermark_ms);

  /// An event of `input` at `event_ms`, received at wall-clock `wall_ms`. Returns true when
  /// it is late: older than the watermark before it was observed.
  bool observe(std::size_t input, std::int64_t event_ms, std::int64_t wall_ms);

  /// Marks `input` as expected (an upstream task known to exist, or an input partition that
  /// may still hold records when the task starts): until it is heard from (or released) it
  /// holds the watermark back, for at most `idle_timeout_ms` after the start (with idleness
  /// off it is simply left out until heard from). Other inputs count once heard from.
  void expect(std::size_t input) { inputs_[input].expected = true; }

  /// `input`, expected, is known to have nothing to deliver (its partition read to its end):
  /// it stops holding the watermark back, and counts once heard from like any other.
  void release(std::size_t input);

  /// Whether `input` is expected and not heard from yet.
  [[nodiscard]] bool awaited(std::size_t i) const noexcept {
    return inputs_[i].expected && !inputs_[i].heard && !inputs_[i].finished;
  }

  /// `input` has ended (a bounded replay read to its end): it no longer holds the watermark
  /// back; once every input has ended or is idle, the watermark is the newest of the ended
  /// inputs' watermarks (Flink's end-of-input watermark, bounded by what was read).
  void finish(std::size_t input);

  /// A marker: `input` (an upstream task) has reached `input_watermark_ms`.
  void advance(std::size_t input, std::int64_t input_watermark_ms, std::int64_t wall_ms);

  /// Re-evaluates idleness and the wall-clock advance at `wall_ms`. Returns true when the
  /// watermark moved.
  bool tick(std::int64_t wall_ms);

  /// The watermark, or `none` before anything was observed or restored.
  [[nodiscard]] std::int64_t current() const noexcept { return current_; }
  /// The watermark of `input` (`none` until it was heard from).
  [[nodiscard]] std::int64_t input(std::size_t i) const noexcept { return inputs_[i].mark; }
  /// Whether `input` is left out of the minimum at `wall_ms`: never heard from, or idle.
  [[nodiscard]] bool idle(std::size_t i, std::int64_t wall_ms) const noexcept;
  [[nodiscard]] std::size_t inputs() const noexcept { return inputs_.size(); }
  [[nodiscard]] const watermark_config& config() const noexcept { return config_; }

 private:
  struct input_state {
    std::int64_t mark = none;       // this input's watermark
    std::int64_t last_wall_ms = 0;  // when it last delivered something
    bool heard = false;
    bool expected = false;
    bool finished = false;
  };
  void note_wall(std::int64_t wall_ms) noexcept;
  bool recompute(std::int64_t wall_ms) noexcept;

  watermark_config config_;
  std::vector<input_state> inputs_;
  std::int64_t current_ = none;
  std::int64_t start_wall_ms_ = none;  // first wall-clock time observed by this process
  std::int64_t last_any_wall_ms_ = none;
  std::int64_t wall_ms_ = none;  // latest wall-clock time observed
};

}  // namespace herald::streams

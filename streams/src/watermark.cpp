#include "herald/streams/watermark.hpp"

#include <algorithm>

namespace herald::streams {

watermark::watermark(watermark_config config, std::size_t inputs)
    : config_(config), inputs_(std::max<std::size_t>(inputs, 1)) {}

void watermark::restore(std::int64_t watermark_ms) {
  current_ = std::max(current_, watermark_ms);
}

void watermark::note_wall(std::int64_t wall_ms) noexcept {
  if (start_wall_ms_ == none) start_wall_ms_ = wall_ms;
  wall_ms_ = wall_ms;
}

bool watermark::idle(std::size_t i, std::int64_t wall_ms) const noexcept {
  const input_state& in = inputs_[i];
  if (!in.heard) return true;
  return config_.idle_timeout_ms > 0 && wall_ms - in.last_wall_ms >= config_.idle_timeout_ms;
}

bool watermark::observe(std::size_t input, std::int64_t event_ms, std::int64_t wall_ms) {
  const bool late = current_ != none && event_ms < current_;
  advance(input, event_ms - config_.allowed_lateness_ms, wall_ms);
  return late;
}

void watermark::advance(std::size_t input, std::int64_t input_watermark_ms, std::int64_t wall_ms) {
  note_wall(wall_ms);
  input_state& in = inputs_[input];
  if (!in.heard || input_watermark_ms > in.mark) in.mark = input_watermark_ms;
  in.heard = true;
  in.last_wall_ms = wall_ms;
  last_any_wall_ms_ = wall_ms;
  recompute(wall_ms);
}

void watermark::release(std::size_t input) {
  if (!inputs_[input].expected) return;
  inputs_[input].expected = false;
  if (start_wall_ms_ != none) recompute(wall_ms_);
}

void watermark::finish(std::size_t input) {
  inputs_[input].finished = true;
  if (start_wall_ms_ != none) recompute(wall_ms_);
}

bool watermark::tick(std::int64_t wall_ms) {
  note_wall(wall_ms);
  return recompute(wall_ms);
}

bool watermark::recompute(std::int64_t wall_ms) noexcept {
  std::int64_t candidate = none;
  std::int64_t newest = none;  // the newest watermark of the inputs left out (ended or idle)
  bool any_active = false;
  const bool starting =
      config_.idle_timeout_ms > 0 && wall_ms - start_wall_ms_ < config_.idle_timeout_ms;
  for (std::size_t i = 0; i < inputs_.size(); ++i) {
    const input_state& in = inputs_[i];
    if (!in.finished && starting && in.expected && !in.heard) return false;
    if (in.finished || idle(i, wall_ms)) {
      if (in.heard) newest = std::max(newest, in.mark);
      continue;
    }
    candidate = any_active ? std::min(candidate, in.mark) : in.mark;
    any_active = true;
  }
  if (!any_active) {
    // Nothing left to wait for: every input ended or is quiet. Everything read goes (the
    // newest of their watermarks), and a live task follows the wall clock, counting only
    // time this process observed (since its start, or since the last record of any input).
    candidate = newest;
    if (config_.idle_timeout_ms > 0 && current_ != none) {
      const std::int64_t quiet_since =
          last_any_wall_ms_ == none ? start_wall_ms_ : std::max(start_wall_ms_, last_any_wall_ms_);
      if (wall_ms - quiet_since >= config_.idle_timeout_ms)
        candidate =
            std::max(candidate, wall_ms - config_.idle_timeout_ms - config_.allowed_lateness_ms);
    }
  }
  if (candidate == none || candidate <= current_) return false;
  current_ = candidate;
  return true;
}

}  // namespace herald::streams

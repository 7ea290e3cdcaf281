#include "herald/actors/alignment.hpp"

#include <algorithm>

namespace herald::actors {

void alignment::join(std::int32_t partition, std::function<void()> wake) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = std::find_if(members_.begin(), members_.end(),
                         [&](const member& m) { return m.partition == partition; });
  if (it == members_.end()) {
    // Before everything until it reports: it may have records to read.
    members_.push_back({partition, first, none, std::move(wake)});
  } else {
    it->wake = std::move(wake);
  }
}

void alignment::leave(std::int32_t partition) {
  std::vector<std::function<void()>> wakes;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::erase_if(members_, [&](const member& m) { return m.partition == partition; });
    due_wakes(wakes);
  }
  for (auto& w : wakes) w();
}

void alignment::report(std::int32_t partition, std::int64_t position_ms, std::int64_t stopped_at) {
  std::vector<std::function<void()>> wakes;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = std::find_if(members_.begin(), members_.end(),
                           [&](const member& m) { return m.partition == partition; });
    if (it == members_.end()) return;
    it->position = position_ms;
    it->stopped_at = stopped_at;
    // Its own cap included: the others may have moved since it read it.
    due_wakes(wakes);
  }
  for (auto& w : wakes) w();
}

std::int64_t alignment::cap(std::int32_t partition) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cap_locked(partition);
}

std::int64_t alignment::cap_locked(std::int32_t partition) const {
  std::int64_t least = no_cap;
  for (const auto& m : members_)
    if (m.partition != partition && m.position != none) least = std::min(least, m.position);
  if (least == no_cap || least > no_cap - max_drift_ms_) return no_cap;
  if (least == first) return first;
  return least + max_drift_ms_;
}

void alignment::due_wakes(std::vector<std::function<void()>>& out) {
  for (auto& m : members_) {
    if (m.stopped_at == none || cap_locked(m.partition) < m.stopped_at) continue;
    m.stopped_at = none;
    if (m.wake) out.push_back(m.wake);
  }
}

}  // namespace herald::actors

#include "herald/actors/availability.hpp"

#include <algorithm>
#include <limits>

namespace herald::actors {

void availability_table::reset(const streams::watermark_config& config, int partitions,
                               std::int64_t history_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  watermark_ = streams::watermark(config, static_cast<std::size_t>(std::max(partitions, 1)));
  history_ms_ = history_ms;
  skus_.clear();
}

void availability_table::apply(std::int32_t partition, std::string_view key, std::string_view value,
                               std::int64_t wall_ms) {
  if (decoder_.decode(schemas::topic_kind::inventory, key, value, event_)) return;
  if (event_.type != schemas::event_type::stock_level) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (partition >= 0 && static_cast<std::size_t>(partition) < watermark_.inputs())
    watermark_.observe(static_cast<std::size_t>(partition), event_.ts_ms, wall_ms);
  auto it = skus_.find(std::string_view(event_.sku));
  if (it == skus_.end()) it = skus_.emplace(event_.sku, std::vector<location>{}).first;
  auto loc = std::find_if(it->second.begin(), it->second.end(),
                          [&](const location& l) { return l.name == event_.location; });
  if (loc == it->second.end()) {
    it->second.push_back({event_.location, {}});
    loc = std::prev(it->second.end());
  }
  auto& r = loc->readings;
  // The latest level of a location at one instant wins (CONTRACT.md: equal times, the later
  // record), as rules::apply_stock_level does.
  auto at = std::upper_bound(r.begin(), r.end(), event_.ts_ms,
                             [](std::int64_t ts, const reading& x) { return ts < x.ts_ms; });
  if (at != r.begin() && std::prev(at)->ts_ms == event_.ts_ms)
    std::prev(at)->available = event_.available;
  else
    r.insert(at, {event_.ts_ms, event_.available});
  // Fold what no reminder will ask about any more into the latest reading before it.
  const std::int64_t wm = watermark_.current();
  if (wm != streams::watermark::none && r.size() > 1) {
    const std::int64_t horizon = wm - history_ms_;
    auto keep = std::upper_bound(r.begin(), r.end(), horizon,
                                 [](std::int64_t ts, const reading& x) { return ts < x.ts_ms; });
    if (keep != r.begin()) r.erase(r.begin(), std::prev(keep));
  }
}

std::optional<std::int64_t> availability_table::available(std::string_view sku,
                                                          std::int64_t as_of_ms) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = skus_.find(sku);
  if (it == skus_.end()) return std::nullopt;
  std::int64_t total = 0;
  bool known = false;
  for (const auto& loc : it->second) {
    auto at = std::upper_bound(loc.readings.begin(), loc.readings.end(), as_of_ms,
                               [](std::int64_t ts, const reading& x) { return ts < x.ts_ms; });
    if (at == loc.readings.begin()) continue;  // no level of this location by then
    total += std::prev(at)->available;
    known = true;
  }
  return known ? std::optional<std::int64_t>(total) : std::nullopt;
}

void availability_table::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  finished_ = true;
}

std::int64_t availability_table::watermark(std::int64_t wall_ms) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return std::numeric_limits<std::int64_t>::max();
  watermark_.tick(wall_ms);
  return watermark_.current();
}

std::size_t availability_table::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return skus_.size();
}

}  // namespace herald::actors

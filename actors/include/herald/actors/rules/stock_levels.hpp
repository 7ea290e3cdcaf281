#pragma once
/// A SKU's available quantity is the sum over its locations of the latest stock_level
/// (CONTRACT.md). Shared by the SKU tasks' inventory rule and the global availability table so
/// both agree on every SKU.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace herald::rules {

/// Applies one stock_level to `levels` (each element has `location`, `available`, `ts_ms`).
/// An event older than the location's latest is ignored (returns false). On success `total` is
/// the new sum over locations.
template <class Level>
bool apply_stock_level(std::vector<Level>& levels, std::string_view location,
                       std::int64_t available, std::int64_t ts_ms, std::int64_t& total) {
  Level* level = nullptr;
  for (auto& l : levels)
    if (l.location == location) level = &l;
  if (level == nullptr) {
    levels.emplace_back();
    level = &levels.back();
    level->location = std::string(location);
  } else if (ts_ms < level->ts_ms) {
    return false;
  }
  level->available = available;
  level->ts_ms = ts_ms;
  total = 0;
  for (const auto& l : levels) total += l.available;
  return true;
}

}  // namespace herald::rules

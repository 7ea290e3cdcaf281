#include "herald/actors/availability.hpp"

#include <mutex>

#include "herald/actors/rules/stock_levels.hpp"

namespace herald::actors {

void availability_table::apply(std::string_view key, std::string_view value) {
  if (decoder_.decode(schemas::topic_kind::inventory, key, value, event_)) return;
  if (event_.type != schemas::event_type::stock_level) return;
  std::unique_lock<std::shared_mutex> lock(mutex_);
  auto it = skus_.find(std::string_view(event_.sku));
  if (it == skus_.end()) it = skus_.emplace(event_.sku, sku_levels{}).first;
  std::int64_t total = 0;
  if (rules::apply_stock_level(it->second.levels, event_.location, event_.available, event_.ts_ms,
                               total))
    it->second.total = total;
}

std::optional<std::int64_t> availability_table::available(std::string_view sku) const {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  auto it = skus_.find(sku);
  if (it == skus_.end()) return std::nullopt;
  return it->second.total;
}

std::size_t availability_table::size() const {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  return skus_.size();
}

}  // namespace herald::actors

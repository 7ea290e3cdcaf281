#pragma once
/// The global availability table: every instance follows all partitions of shop.inventory
/// and keeps each SKU's available quantity (sum over locations of the latest stock_level), so
/// customer tasks can leave out-of-stock items out of cart reminders whichever instance owns
/// the SKU.
///
/// Thread-safety: `apply` is called by the follower thread, `available` by any task; a
/// shared mutex guards the map (reads are rare: once per reminder line).

#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "herald/actors/rules/context.hpp"
#include "herald/schemas/codec.hpp"

namespace herald::actors {

class availability_table final : public rules::stock_view {
 public:
  /// Applies one shop.inventory record; bad records are skipped here (the SKU task that owns
  /// the partition dead-letters them). Called from one thread.
  void apply(std::string_view key, std::string_view value);

  [[nodiscard]] std::optional<std::int64_t> available(std::string_view sku) const override;
  [[nodiscard]] std::size_t size() const;

 private:
  struct level {
    std::string location;
    std::int64_t available = 0;
    std::int64_t ts_ms = 0;
  };
  struct sku_levels {
    std::vector<level> levels;
    std::int64_t total = 0;
  };
  struct hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  schemas::decoder decoder_;  // follower thread only
  schemas::event event_;      // follower thread only
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, sku_levels, hash, std::equal_to<>> skus_;
};

}  // namespace herald::actors

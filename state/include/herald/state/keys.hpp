#pragma once
/// Key layout shared by every store: [family u8][partition u32 big-endian][rest].
/// A task's state is therefore one contiguous key range per store: cheap to scan,
/// checkpoint, restore or drop.

#include <cstdint>
#include <string>
#include <string_view>

namespace herald::state {

/// A task family: topics keyed by the same entity with the same partition count.
enum class family : std::uint8_t { customer = 1, sku = 2, shipment = 3 };

/// "customer", "sku", "shipment".
[[nodiscard]] std::string_view to_string(family f) noexcept;

/// task = (family, partition).
struct task_id {
  family fam = family::customer;
  std::int32_t partition = 0;

  friend bool operator==(const task_id&, const task_id&) = default;
  friend auto operator<=>(const task_id&, const task_id&) = default;
};

/// Appends `v` big-endian.
void append_be32(std::string& out, std::uint32_t v);
void append_be64(std::string& out, std::uint64_t v);
[[nodiscard]] std::uint32_t read_be32(std::string_view in) noexcept;  ///< first 4 bytes
[[nodiscard]] std::uint64_t read_be64(std::string_view in) noexcept;  ///< first 8 bytes

/// Event times may be negative in principle; flipping the sign bit makes the big-endian
/// encoding sort in numeric order.
[[nodiscard]] constexpr std::uint64_t order_preserving(std::int64_t v) noexcept {
  return static_cast<std::uint64_t>(v) ^ (std::uint64_t{1} << 63);
}
[[nodiscard]] constexpr std::int64_t from_order_preserving(std::uint64_t v) noexcept {
  return static_cast<std::int64_t>(v ^ (std::uint64_t{1} << 63));
}

/// A 64-bit hash of `in` that never changes between builds (for fingerprints that are
/// persisted).
[[nodiscard]] std::uint64_t hash64(std::string_view in) noexcept;

/// The 5-byte prefix of every key of `task`.
[[nodiscard]] std::string task_prefix(task_id task);
/// First key after every key of `task` (exclusive end of its range).
[[nodiscard]] std::string task_prefix_end(task_id task);
/// task_prefix(task) + key.
[[nodiscard]] std::string entity_key(task_id task, std::string_view key);
/// task_prefix(task) + order_preserving(fire_ms) big-endian + key.
[[nodiscard]] std::string timer_key(task_id task, std::int64_t fire_ms, std::string_view key);

}  // namespace herald::state

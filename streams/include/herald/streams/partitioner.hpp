#pragma once
/// Kafka's default partitioner (Java's DefaultPartitioner for keyed records, librdkafka's
/// `murmur2_random`): murmur2 of the key bytes, made positive, modulo the partition count.
/// Herald produces its repartition topic with it, so a shop's topic co-partitioned with one
/// (shop.inventory with herald.sku-signals) must be produced with it too.

#include <cstdint>
#include <string_view>

namespace herald::streams {

/// Kafka's murmur2 (seed 0x9747b28c), as a signed 32-bit value like Java's `Utils.murmur2`.
[[nodiscard]] std::int32_t murmur2(std::string_view key) noexcept;

/// The partition Kafka's default partitioner picks for `key` among `partitions` (> 0).
[[nodiscard]] std::int32_t default_partition(std::string_view key,
                                             std::int32_t partitions) noexcept;

}  // namespace herald::streams

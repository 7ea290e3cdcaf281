#pragma once
/// Dead-letter records (CONTRACT.md "Dead-letter topic"): the bad record byte for byte, with
/// headers naming the reason and the source topic/partition/offset.

#include <cstdint>
#include <string_view>

#include "herald/streams/sink.hpp"

namespace herald::streams {

inline constexpr std::string_view dlq_error_header = "herald.error";
inline constexpr std::string_view dlq_topic_header = "herald.source.topic";
inline constexpr std::string_view dlq_partition_header = "herald.source.partition";
inline constexpr std::string_view dlq_offset_header = "herald.source.offset";

/// The four DLQ headers for a record.
[[nodiscard]] header_list dlq_headers(std::string_view reason, std::string_view source_topic,
                                      std::int32_t partition, std::int64_t offset);

}  // namespace herald::streams

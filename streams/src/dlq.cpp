#include "herald/streams/dlq.hpp"

#include <string>

namespace herald::streams {

header_list dlq_headers(std::string_view reason, std::string_view source_topic,
                        std::int32_t partition, std::int64_t offset) {
  header_list h;
  h.reserve(4);
  h.emplace_back(std::string(dlq_error_header), std::string(reason));
  h.emplace_back(std::string(dlq_topic_header), std::string(source_topic));
  h.emplace_back(std::string(dlq_partition_header), std::to_string(partition));
  h.emplace_back(std::string(dlq_offset_header), std::to_string(offset));
  return h;
}

}  // namespace herald::streams

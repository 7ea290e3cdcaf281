#pragma once
/// librdkafka configuration helpers shared by source, sink and the mock cluster.

#include <map>
#include <string>

typedef struct rd_kafka_conf_s rd_kafka_conf_t;

namespace herald::streams {

/// librdkafka properties, passed through verbatim (e.g. "security.protocol").
using kafka_properties = std::map<std::string, std::string>;

/// Builds an rd_kafka_conf_t from `props`; on the first bad property returns nullptr and sets
/// `error` to a message naming the property and librdkafka's reason.
[[nodiscard]] rd_kafka_conf_t* make_conf(const kafka_properties& props, std::string& error);

}  // namespace herald::streams

#pragma once
/// librdkafka configuration helpers shared by source, sink and the mock cluster.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

typedef struct rd_kafka_conf_s rd_kafka_conf_t;
typedef struct rd_kafka_s rd_kafka_t;

namespace herald::streams {

/// librdkafka properties, passed through verbatim (e.g. "security.protocol").
using kafka_properties = std::map<std::string, std::string>;

/// Builds an rd_kafka_conf_t from `props`; on the first bad property returns nullptr and sets
/// `error` to a message naming the property and librdkafka's reason. Every client built from
/// it logs through the process's logger and reports its errors: transient ones (a broker
/// unreachable) as warnings, at most one a minute per client and kind; a fatal one (e.g. the
/// idempotent producer lost its guarantee) to the fatal handler.
[[nodiscard]] rd_kafka_conf_t* make_conf(const kafka_properties& props, std::string& error);

/// Milliseconds left until `deadline` (0 once past): the budget for a librdkafka call that
/// shares one deadline with the calls before it.
[[nodiscard]] int remaining_ms(std::chrono::steady_clock::time_point deadline);

/// The end offset of `topic`/`partition` as `rk` reads it (the high watermark, or the last
/// stable offset under read_committed), within `timeout_ms`: 0 with `end` set, or librdkafka's
/// last error code. Each try looks the partition's leader up first. (librdkafka 2.0's
/// rd_kafka_query_watermark_offsets asks the last known leader and, while that broker is down,
/// ignores its timeout: it can block until the broker is back. This asks with ListOffsets
/// through rd_kafka_offsets_for_times, which keeps it.)
[[nodiscard]] int query_end_offset(rd_kafka_t* rk, const std::string& topic, std::int32_t partition,
                                   std::int64_t& end, int timeout_ms);

/// Called (on a librdkafka thread) when a client of the process hits a fatal error: that
/// client can do nothing more, and the process should stop cleanly and restart from its
/// committed state.
using fatal_handler = std::function<void(const std::string& reason)>;
/// Registers a handler (every one is called); returns its id for `remove_fatal_handler`.
int add_fatal_handler(fatal_handler handler);
void remove_fatal_handler(int id);
/// Calls every fatal handler with `reason` (a client that can do nothing more without
/// librdkafka saying so, e.g. a transaction that can be neither committed nor aborted).
void raise_fatal(const std::string& reason);

}  // namespace herald::streams

#pragma once
/// Process-wide logging: level and format (human text, or one JSON object per line for log
/// collectors: {"ts","level","logger","thread","msg"}), on stderr.

#include <string>

#include "herald/actors/config.hpp"

namespace herald::actors {

/// Applies `config` to the default logger (call once, early, before threads log).
void setup_logging(const log_config& config);

/// One log line as JSON (what the json format writes, without the newline). For tests.
[[nodiscard]] std::string json_log_line(std::string_view ts, std::string_view level,
                                        std::string_view logger, std::uint64_t thread,
                                        std::string_view message);

}  // namespace herald::actors

#include "herald/actors/logging.hpp"

#include <chrono>
#include <ctime>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "herald/schemas/codec.hpp"

namespace herald::actors {
namespace {

class json_formatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since = msg.time.time_since_epoch();
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since - secs).count();
    const std::time_t t = secs.count();
    std::tm utc{};
    gmtime_r(&t, &utc);
    const std::string ts = fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", utc, ms);
    const auto level = spdlog::level::to_string_view(msg.level);
    const std::string line =
        json_log_line(ts, std::string_view(level.data(), level.size()),
                      std::string_view(msg.logger_name.data(), msg.logger_name.size()),
                      msg.thread_id, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(line.data(), line.data() + line.size());
    dest.push_back('\n');
  }
  [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<json_formatter>();
  }
};

}  // namespace

std::string json_log_line(std::string_view ts, std::string_view level, std::string_view logger,
                          std::uint64_t thread, std::string_view message) {
  std::string out = R"({"ts":)";
  schemas::append_json_string(out, ts);
  out += R"(,"level":)";
  schemas::append_json_string(out, level);
  out += R"(,"logger":)";
  schemas::append_json_string(out, logger.empty() ? "herald" : logger);
  out += R"(,"thread":)";
  out += std::to_string(thread);
  out += R"(,"msg":)";
  schemas::append_json_string(out, message);
  out += '}';
  return out;
}

void setup_logging(const log_config& config) {
  spdlog::drop("herald");
  auto logger = spdlog::stderr_logger_mt("herald");
  if (config.format == "json") logger->set_formatter(std::make_unique<json_formatter>());
  logger->set_level(spdlog::level::from_str(config.level));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

}  // namespace herald::actors

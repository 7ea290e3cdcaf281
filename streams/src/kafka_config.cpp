#include "herald/streams/kafka_config.hpp"

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

namespace herald::streams {
namespace {

std::mutex fatal_mutex;
std::map<int, fatal_handler> fatal_handlers;  // guarded by fatal_mutex
int next_fatal_handler = 0;

// Transient errors repeat while a broker is away: one line a minute per client and error.
bool first_in_a_while(const rd_kafka_t* rk, int err) {
  static std::mutex m;
  static std::map<std::pair<const void*, int>, std::chrono::steady_clock::time_point> last;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(m);
  auto [it, fresh] = last.try_emplace({rk, err}, now);
  if (!fresh && now - it->second < std::chrono::minutes(1)) return false;
  it->second = now;
  return true;
}

void on_error(rd_kafka_t* rk, int err, const char* reason, void*) {
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char why[512];
    const rd_kafka_resp_err_t code = rd_kafka_fatal_error(rk, why, sizeof(why));
    const std::string text = std::string(rd_kafka_err2name(code)) + ": " + why;
    spdlog::critical("kafka {}: fatal error, this client can do nothing more: {}",
                     rd_kafka_name(rk), text);
    raise_fatal(text);
    return;
  }
  if (first_in_a_while(rk, err))
    spdlog::warn("kafka {}: {} ({}; repeats are not logged for a minute)", rd_kafka_name(rk),
                 reason, rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)));
}

// librdkafka's own messages go through the process's logger (text or JSON), not raw stderr.
void log_to_spdlog(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  const auto lvl = level <= 3   ? spdlog::level::err
                   : level == 4 ? spdlog::level::warn
                   : level <= 6 ? spdlog::level::info
                                : spdlog::level::debug;
  spdlog::log(lvl, "kafka {} {}: {}", rd_kafka_name(rk), facility, message);
}

}  // namespace

rd_kafka_conf_t* make_conf(const kafka_properties& props, std::string& error) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, log_to_spdlog);
  rd_kafka_conf_set_error_cb(conf, on_error);
  char err[512];
  for (const auto& [name, value] : props) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
      error = "kafka property '" + name + "': " + err;
      rd_kafka_conf_destroy(conf);
      return nullptr;
    }
  }
  return conf;
}

int add_fatal_handler(fatal_handler handler) {
  std::lock_guard<std::mutex> lock(fatal_mutex);
  fatal_handlers.emplace(next_fatal_handler, std::move(handler));
  return next_fatal_handler++;
}

void remove_fatal_handler(int id) {
  std::lock_guard<std::mutex> lock(fatal_mutex);
  fatal_handlers.erase(id);
}

void raise_fatal(const std::string& reason) {
  std::vector<fatal_handler> handlers;
  {
    std::lock_guard<std::mutex> lock(fatal_mutex);
    for (const auto& [id, h] : fatal_handlers) handlers.push_back(h);
  }
  for (const auto& h : handlers) h(reason);
}

}  // namespace herald::streams

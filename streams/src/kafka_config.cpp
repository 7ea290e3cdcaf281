#include "herald/streams/kafka_config.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
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

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  return static_cast<int>(std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                               std::chrono::steady_clock::now())
             .count()));
}

int query_end_offset(rd_kafka_t* rk, const std::string& topic, std::int32_t partition,
                     std::int64_t& end, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto remaining = [&] { return remaining_ms(deadline); };
  rd_kafka_resp_err_t rc = RD_KAFKA_RESP_ERR__TIMED_OUT;
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  while (remaining() > 0) {
    // The topic's metadata first: the leader librdkafka last knew may be gone (a broker down,
    // a leader moved), and nothing else refreshes it for a client that only asks this.
    const rd_kafka_metadata_t* md = nullptr;
    if (t != nullptr &&
        rd_kafka_metadata(rk, 0, t, &md, std::min(remaining(), 2000)) == RD_KAFKA_RESP_ERR_NO_ERROR)
      rd_kafka_metadata_destroy(md);
    const int budget = std::min(remaining(), 3000);
    if (budget <= 0) break;
    auto* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset =
        RD_KAFKA_OFFSET_END;  // as a timestamp: the latest offset
    rc = rd_kafka_offsets_for_times(rk, list, budget);
    if (rc == RD_KAFKA_RESP_ERR_NO_ERROR) rc = list->elems[0].err;
    if (rc == RD_KAFKA_RESP_ERR_NO_ERROR) end = list->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(list);
    if (rc == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (end >= 0) break;
      rc = RD_KAFKA_RESP_ERR__BAD_MSG;  // no offset in the answer
    }
    if (rc == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) break;  // asking again will not help
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(remaining(), 100)));
  }
  if (t != nullptr) rd_kafka_topic_destroy(t);
  return rc;
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

#include "herald/streams/kafka_config.hpp"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

namespace herald::streams {
namespace {

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

}  // namespace herald::streams

#include "herald/streams/kafka_config.hpp"

#include <librdkafka/rdkafka.h>

namespace herald::streams {

rd_kafka_conf_t* make_conf(const kafka_properties& props, std::string& error) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
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

#include "herald/streams/mock_cluster.hpp"

// rdkafka.h must come before rdkafka_mock.h.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace herald::streams {

std::unique_ptr<mock_cluster> mock_cluster::start(int brokers, std::string& error) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The handle only hosts the mock brokers; it never connects anywhere itself.
  rd_kafka_conf_set(conf, "log_level", "3", nullptr, 0);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) {
    error = std::string("cannot create the mock cluster's client: ") + err;
    return nullptr;
  }
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (mc == nullptr) {
    error = "cannot start the mock cluster";
    rd_kafka_destroy(rk);
    return nullptr;
  }
  std::unique_ptr<mock_cluster> out(new mock_cluster());
  out->rk_ = rk;
  out->mcluster_ = mc;
  out->bootstraps_ = rd_kafka_mock_cluster_bootstraps(mc);
  return out;
}

mock_cluster::~mock_cluster() {
  if (mcluster_ != nullptr) rd_kafka_mock_cluster_destroy(mcluster_);
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

bool mock_cluster::create_topic(const std::string& name, int partitions, int replication) {
  return rd_kafka_mock_topic_create(mcluster_, name.c_str(), partitions, replication) ==
         RD_KAFKA_RESP_ERR_NO_ERROR;
}

}  // namespace herald::streams

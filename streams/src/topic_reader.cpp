#include "herald/streams/topic_reader.hpp"

#include <algorithm>
#include <chrono>

#include <librdkafka/rdkafka.h>

namespace herald::streams {

std::string consumed_record::header(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

namespace {

// No broker answered: a wrong address or a cluster that is down, not a missing topic.
std::string unreachable(const kafka_properties& props, rd_kafka_resp_err_t rc) {
  const auto servers = props.find("bootstrap.servers");
  return "cannot reach the Kafka cluster at '" +
         (servers == props.end() ? std::string("?") : servers->second) +
         "': " + rd_kafka_err2str(rc);
}

// A producer handle for metadata requests; null with `error` on a bad property.
rd_kafka_t* metadata_client(const kafka_properties& props, std::string& error) {
  rd_kafka_conf_t* conf = make_conf(props, error);
  if (conf == nullptr) return nullptr;
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) error = err;
  return rk;
}

}  // namespace

int partition_count(const kafka_properties& props, const std::string& topic, std::string& error,
                    int timeout_ms) {
  rd_kafka_t* rk = metadata_client(props, error);
  if (rk == nullptr) return -1;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  int count = -1;
  const rd_kafka_resp_err_t rc = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
  if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = unreachable(props, rc);
  } else if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = "no topic '" + topic + "' on the cluster" +
            (md->topic_cnt == 1 ? std::string(" (") + rd_kafka_err2str(md->topics[0].err) + ")"
                                : std::string()) +
            "; create it first";
  } else {
    count = md->topics[0].partition_cnt;
  }
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  return count;
}

bool partition_counts(const kafka_properties& props, std::map<std::string, int>& out,
                      std::string& error, int timeout_ms, std::string* cluster_id) {
  rd_kafka_t* rk = metadata_client(props, error);
  if (rk == nullptr) return false;
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t rc = rd_kafka_metadata(rk, 1, nullptr, &md, timeout_ms);
  if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = unreachable(props, rc);
  } else {
    out.clear();
    for (int i = 0; i < md->topic_cnt; ++i)
      if (md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
        out[md->topics[i].topic] = md->topics[i].partition_cnt;
    if (cluster_id != nullptr) {
      char* id = rd_kafka_clusterid(rk, 0);
      *cluster_id = id != nullptr ? id : "";
      if (id != nullptr) rd_kafka_mem_free(rk, id);
    }
  }
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  rd_kafka_destroy(rk);
  return rc == RD_KAFKA_RESP_ERR_NO_ERROR;
}

header_list headers_of(const rd_kafka_message_s* m) {
  header_list out;
  rd_kafka_headers_t* hdrs = nullptr;
  // librdkafka parses the headers lazily into the message, hence the const_cast.
  if (rd_kafka_message_headers(const_cast<rd_kafka_message_t*>(m), &hdrs) !=
      RD_KAFKA_RESP_ERR_NO_ERROR)
    return out;
  const char* name = nullptr;
  const void* val = nullptr;
  size_t size = 0;
  for (size_t i = 0;
       rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i)
    out.emplace_back(name, std::string(static_cast<const char*>(val), size));
  return out;
}

bool read_topic(const kafka_properties& props, const std::string& topic,
                std::vector<consumed_record>& out, std::string& error, int timeout_ms) {
  kafka_properties p = props;
  p["group.id"] = "herald-topic-reader";  // required by librdkafka; never joined (assign only)
  p["enable.auto.commit"] = "false";
  p["enable.partition.eof"] = "true";
  rd_kafka_conf_t* conf = make_conf(p, error);
  if (conf == nullptr) return false;
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (rk == nullptr) {
    error = err;
    return false;
  }
  rd_kafka_poll_set_consumer(rk);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto remaining = [&] { return remaining_ms(deadline); };
  bool ok = false;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk, 0, rkt, &md, remaining()) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = "no metadata for topic '" + topic + "'";
  } else {
    const int partitions = md->topics[0].partition_cnt;
    auto* list = rd_kafka_topic_partition_list_new(partitions);
    for (int i = 0; i < partitions; ++i)
      rd_kafka_topic_partition_list_add(list, topic.c_str(), md->topics[0].partitions[i].id)
          ->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    int at_eof = 0;
    while (at_eof < partitions && remaining() > 0) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, std::min(remaining(), 200));
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        ++at_eof;
      } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        consumed_record r;
        r.partition = m->partition;
        r.offset = m->offset;
        r.timestamp_ms = rd_kafka_message_timestamp(m, nullptr);
        if (m->key) r.key.assign(static_cast<const char*>(m->key), m->key_len);
        if (m->payload) r.value.assign(static_cast<const char*>(m->payload), m->len);
        r.key_null = m->key == nullptr;
        r.value_null = m->payload == nullptr;
        r.headers = headers_of(m);
        out.push_back(std::move(r));
      }
      rd_kafka_message_destroy(m);
    }
    ok = at_eof >= partitions;
    if (!ok) error = "timed out reading topic '" + topic + "'";
  }
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.partition != b.partition ? a.partition < b.partition : a.offset < b.offset;
  });
  return ok;
}

}  // namespace herald::streams

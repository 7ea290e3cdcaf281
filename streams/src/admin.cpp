#include "herald/streams/admin.hpp"

#include <chrono>
#include <memory>
#include <set>
#include <thread>

#include <librdkafka/rdkafka.h>

namespace herald::streams {
namespace {

struct client {
  rd_kafka_t* rk = nullptr;
  rd_kafka_queue_t* queue = nullptr;
  ~client() {
    if (queue != nullptr) rd_kafka_queue_destroy(queue);
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
};

bool open(const kafka_properties& props, client& c, std::string& error) {
  rd_kafka_conf_t* conf = make_conf(props, error);
  if (conf == nullptr) return false;
  char err[512];
  c.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (c.rk == nullptr) {
    error = err;
    return false;
  }
  c.queue = rd_kafka_queue_new(c.rk);
  return true;
}

// Waits for the result event of an admin request; nullptr (and `error`) on timeout or failure.
rd_kafka_event_t* await(client& c, int timeout_ms, std::string& error) {
  rd_kafka_event_t* ev = rd_kafka_queue_poll(c.queue, timeout_ms);
  if (ev == nullptr) {
    error = "no answer from the Kafka cluster within " + std::to_string(timeout_ms) + " ms";
    return nullptr;
  }
  if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = rd_kafka_event_error_string(ev);
    rd_kafka_event_destroy(ev);
    return nullptr;
  }
  return ev;
}

rd_kafka_AdminOptions_t* options(client& c, rd_kafka_admin_op_t op, int timeout_ms) {
  rd_kafka_AdminOptions_t* o = rd_kafka_AdminOptions_new(c.rk, op);
  char err[256];
  rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, err, sizeof(err));
  if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS)
    rd_kafka_AdminOptions_set_operation_timeout(o, timeout_ms, err, sizeof(err));
  return o;
}

// Topic name -> partitions with a leader (-1: not listed, or listed with an error).
std::map<std::string, int> led_partitions(client& c, std::string& error) {
  std::map<std::string, int> out;
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(c.rk, 1, nullptr, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = "cannot read the cluster's metadata";
    return out;
  }
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    int led = 0;
    for (int p = 0; p < t.partition_cnt; ++p)
      if (t.partitions[p].leader >= 0 && t.partitions[p].err == RD_KAFKA_RESP_ERR_NO_ERROR) ++led;
    out[t.topic] = led == t.partition_cnt ? led : -1;
  }
  rd_kafka_metadata_destroy(md);
  return out;
}

// False (and `error`) for the first of `n` topic results failing with an error other than
// `allowed`; `verb` says what was asked ("create").
bool results_ok(const rd_kafka_topic_result_t** res, size_t n, rd_kafka_resp_err_t allowed,
                const char* verb, std::string& error) {
  for (size_t i = 0; i < n; ++i) {
    const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == allowed) continue;
    const char* why = rd_kafka_topic_result_error_string(res[i]);
    error = std::string("cannot ") + verb + " topic '" + rd_kafka_topic_result_name(res[i]) +
            "': " + (why != nullptr ? why : rd_kafka_err2str(e));
    return false;
  }
  return true;
}

template <class Done>
bool poll_until(int timeout_ms, Done&& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

}  // namespace

bool create_topics(const kafka_properties& props, const std::vector<topic_spec>& topics,
                   bool exist_ok, std::string& error, int timeout_ms) {
  if (topics.empty()) return true;
  client c;
  if (!open(props, c, error)) return false;
  std::vector<rd_kafka_NewTopic_t*> nts;
  char err[512];
  for (const auto& t : topics) {
    rd_kafka_NewTopic_t* nt =
        rd_kafka_NewTopic_new(t.name.c_str(), t.partitions, t.replication, err, sizeof(err));
    if (nt == nullptr) {
      error = "topic '" + t.name + "': " + err;
      rd_kafka_NewTopic_destroy_array(nts.data(), nts.size());
      return false;
    }
    for (const auto& [k, v] : t.configs) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
    nts.push_back(nt);
  }
  rd_kafka_AdminOptions_t* o = options(c, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_ms);
  rd_kafka_CreateTopics(c.rk, nts.data(), nts.size(), o, c.queue);
  rd_kafka_AdminOptions_destroy(o);
  rd_kafka_NewTopic_destroy_array(nts.data(), nts.size());
  rd_kafka_event_t* ev = await(c, timeout_ms + 5000, error);
  if (ev == nullptr) return false;
  size_t n = 0;
  const rd_kafka_topic_result_t** res =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
  const bool ok = results_ok(
      res, n, exist_ok ? RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS : RD_KAFKA_RESP_ERR_NO_ERROR,
      "create", error);
  rd_kafka_event_destroy(ev);
  if (!ok) return false;
  // Created is not yet served: wait until every partition has a leader, in the answers of
  // several metadata requests in a row (each goes to any broker, and brokers learn of new
  // topics one after another).
  std::string md_error;
  int in_a_row = 0;
  if (!poll_until(timeout_ms, [&] {
        const auto led = led_partitions(c, md_error);
        bool all = true;
        for (const auto& t : topics) {
          auto it = led.find(t.name);
          if (it == led.end() || it->second <= 0) all = false;
        }
        in_a_row = all ? in_a_row + 1 : 0;
        return in_a_row >= 10;
      })) {
    error = "topics created but without leaders after " + std::to_string(timeout_ms) + " ms";
    return false;
  }
  return true;
}

bool delete_topics(const kafka_properties& props, const std::vector<std::string>& topics,
                   std::string& error, int timeout_ms) {
  client c;
  if (!open(props, c, error)) return false;
  std::string md_error;
  const auto present = led_partitions(c, md_error);
  std::vector<rd_kafka_DeleteTopic_t*> dts;
  for (const auto& t : topics)
    if (present.contains(t)) dts.push_back(rd_kafka_DeleteTopic_new(t.c_str()));
  if (dts.empty()) return true;
  rd_kafka_AdminOptions_t* o = options(c, RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout_ms);
  rd_kafka_DeleteTopics(c.rk, dts.data(), dts.size(), o, c.queue);
  rd_kafka_AdminOptions_destroy(o);
  rd_kafka_DeleteTopic_destroy_array(dts.data(), dts.size());
  rd_kafka_event_t* ev = await(c, timeout_ms + 5000, error);
  if (ev == nullptr) return false;
  size_t n = 0;
  const rd_kafka_topic_result_t** res =
      rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
  const bool ok = results_ok(res, n, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "delete", error);
  rd_kafka_event_destroy(ev);
  if (!ok) return false;
  const std::set<std::string> gone(topics.begin(), topics.end());
  if (!poll_until(timeout_ms, [&] {
        for (const auto& [name, led] : led_partitions(c, md_error))
          if (gone.contains(name)) return false;
        return true;
      })) {
    error = "topics still listed " + std::to_string(timeout_ms) + " ms after their deletion";
    return false;
  }
  return true;
}

bool describe_topics(const kafka_properties& props, const std::vector<std::string>& topics,
                     std::map<std::string, std::map<std::string, std::string>>& out,
                     std::string& error, int timeout_ms) {
  client c;
  if (!open(props, c, error)) return false;
  std::vector<rd_kafka_ConfigResource_t*> rs;
  for (const auto& t : topics)
    rs.push_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, t.c_str()));
  rd_kafka_AdminOptions_t* o = options(c, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout_ms);
  rd_kafka_DescribeConfigs(c.rk, rs.data(), rs.size(), o, c.queue);
  rd_kafka_AdminOptions_destroy(o);
  rd_kafka_ConfigResource_destroy_array(rs.data(), rs.size());
  rd_kafka_event_t* ev = await(c, timeout_ms + 5000, error);
  if (ev == nullptr) return false;
  size_t n = 0;
  const rd_kafka_ConfigResource_t** res =
      rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
  bool ok = true;
  for (size_t i = 0; i < n && ok; ++i) {
    const char* name = rd_kafka_ConfigResource_name(res[i]);
    if (rd_kafka_ConfigResource_error(res[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* why = rd_kafka_ConfigResource_error_string(res[i]);
      error = std::string("cannot read the configuration of topic '") + name +
              "': " + (why != nullptr ? why : "?");
      ok = false;
      break;
    }
    auto& entries = out[name];
    size_t m = 0;
    const rd_kafka_ConfigEntry_t** es = rd_kafka_ConfigResource_configs(res[i], &m);
    for (size_t j = 0; j < m; ++j) {
      const char* v = rd_kafka_ConfigEntry_value(es[j]);
      entries[rd_kafka_ConfigEntry_name(es[j])] = v != nullptr ? v : "";
    }
  }
  rd_kafka_event_destroy(ev);
  return ok;
}

bool alter_topic(const kafka_properties& props, const std::string& topic,
                 const std::map<std::string, std::string>& configs, std::string& error,
                 int timeout_ms) {
  client c;
  if (!open(props, c, error)) return false;
  rd_kafka_ConfigResource_t* r =
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  for (const auto& [k, v] : configs) rd_kafka_ConfigResource_set_config(r, k.c_str(), v.c_str());
  rd_kafka_AdminOptions_t* o = options(c, RD_KAFKA_ADMIN_OP_ALTERCONFIGS, timeout_ms);
  rd_kafka_AlterConfigs(c.rk, &r, 1, o, c.queue);
  rd_kafka_AdminOptions_destroy(o);
  rd_kafka_ConfigResource_destroy(r);
  rd_kafka_event_t* ev = await(c, timeout_ms + 5000, error);
  if (ev == nullptr) return false;
  size_t n = 0;
  const rd_kafka_ConfigResource_t** res =
      rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &n);
  bool ok = true;
  for (size_t i = 0; i < n; ++i)
    if (rd_kafka_ConfigResource_error(res[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* why = rd_kafka_ConfigResource_error_string(res[i]);
      error = "cannot alter the configuration of topic '" + topic + "': " + (why ? why : "?");
      ok = false;
    }
  rd_kafka_event_destroy(ev);
  return ok;
}

bool delete_records(const kafka_properties& props, const std::string& topic, std::int32_t partition,
                    std::int64_t offset, std::string& error, int timeout_ms) {
  client c;
  if (!open(props, c, error)) return false;
  rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(offsets, topic.c_str(), partition)->offset = offset;
  rd_kafka_DeleteRecords_t* del = rd_kafka_DeleteRecords_new(offsets);
  rd_kafka_topic_partition_list_destroy(offsets);
  rd_kafka_AdminOptions_t* o = options(c, RD_KAFKA_ADMIN_OP_DELETERECORDS, timeout_ms);
  rd_kafka_DeleteRecords(c.rk, &del, 1, o, c.queue);
  rd_kafka_AdminOptions_destroy(o);
  rd_kafka_DeleteRecords_destroy(del);
  rd_kafka_event_t* ev = await(c, timeout_ms + 5000, error);
  if (ev == nullptr) return false;
  const rd_kafka_topic_partition_list_t* res =
      rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev));
  bool ok = true;
  for (int i = 0; res != nullptr && i < res->cnt; ++i)
    if (res->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      error = "cannot delete records of " + topic + " [" + std::to_string(partition) +
              "]: " + rd_kafka_err2str(res->elems[i].err);
      ok = false;
    }
  rd_kafka_event_destroy(ev);
  return ok;
}

}  // namespace herald::streams

#include "herald/streams/topic_follower.hpp"

#include <chrono>

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

namespace herald::streams {

std::unique_ptr<topic_follower> topic_follower::start(const kafka_properties& props,
                                                      const std::string& topic, record_fn on_record,
                                                      std::string& error) {
  kafka_properties p = props;
  p["group.id"] = "herald-global-table";  // required by librdkafka; never joined (assign only)
  p["enable.auto.commit"] = "false";
  p.try_emplace("isolation.level", "read_committed");
  rd_kafka_conf_t* conf = make_conf(p, error);
  if (conf == nullptr) return nullptr;
  char err[512];
  std::unique_ptr<topic_follower> out(new topic_follower());
  out->on_record_ = std::move(on_record);
  out->rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (out->rk_ == nullptr) {
    error = std::string("global table consumer: ") + err;
    return nullptr;
  }
  rd_kafka_poll_set_consumer(out->rk_);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(out->rk_, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  const bool ok = rd_kafka_metadata(out->rk_, 0, rkt, &md, 10'000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                  md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR;
  if (!ok) {
    error = "global table: no metadata for topic '" + topic + "'";
  } else {
    const int partitions = md->topics[0].partition_cnt;
    auto* list = rd_kafka_topic_partition_list_new(partitions);
    for (int i = 0; i < partitions; ++i) {
      const std::int32_t id = md->topics[0].partitions[i].id;
      std::int64_t hi = 0;
      if (const int rc = query_end_offset(out->rk_, topic, id, hi, 10'000); rc != 0) {
        // Followed from the beginning all the same; only "caught up" is not waited for.
        spdlog::warn("global table {}/{}: end offset unknown ({}); not waiting to catch up", topic,
                     id, rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(rc)));
        hi = 0;
      }
      if (static_cast<std::size_t>(id) >= out->end_at_start_.size()) {
        out->end_at_start_.resize(static_cast<std::size_t>(id) + 1, 0);
        out->next_.resize(static_cast<std::size_t>(id) + 1, 0);
      }
      out->end_at_start_[static_cast<std::size_t>(id)] = hi;
      rd_kafka_topic_partition_list_add(list, topic.c_str(), id)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(out->rk_, list);
    rd_kafka_topic_partition_list_destroy(list);
  }
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  if (!ok) return nullptr;
  out->thread_ = std::thread([f = out.get()] { f->run(); });
  return out;
}

topic_follower::~topic_follower() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (rk_ != nullptr) {
    rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
  }
}

void topic_follower::run() {
  auto check_caught_up = [this] {
    for (std::size_t p = 0; p < end_at_start_.size(); ++p)
      if (next_[p] < end_at_start_[p]) return;
    caught_up_ = true;
  };
  check_caught_up();
  while (!stop_.load(std::memory_order_relaxed)) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      on_record_(
          m->partition,
          std::string_view(static_cast<const char*>(m->key), m->key != nullptr ? m->key_len : 0),
          std::string_view(static_cast<const char*>(m->payload),
                           m->payload != nullptr ? m->len : 0));
      records_.fetch_add(1, std::memory_order_relaxed);
      if (static_cast<std::size_t>(m->partition) < next_.size())
        next_[static_cast<std::size_t>(m->partition)] = m->offset + 1;
      if (!caught_up_) check_caught_up();
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      spdlog::warn("global table consumer: {}", rd_kafka_message_errstr(m));
    }
    rd_kafka_message_destroy(m);
  }
}

bool topic_follower::wait_caught_up(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!caught_up_.load()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace herald::streams

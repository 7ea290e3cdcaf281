#include "herald/streams/log_reader.hpp"

#include <chrono>

#include <librdkafka/rdkafka.h>

namespace herald::streams {

std::unique_ptr<log_reader> log_reader::create(const kafka_properties& props, std::string& error) {
  kafka_properties p = props;
  // No group: ranges are read with the simple (legacy) consumer, started per partition.
  // (A group consumer's assignment is served by its group's timer, about a second later.)
  p.erase("group.id");
  p["enable.auto.commit"] = "false";
  p["enable.partition.eof"] = "true";
  p["isolation.level"] = "read_committed";
  // A range that starts before the log's start (retention deleted it) starts at the start.
  p["auto.offset.reset"] = "earliest";
  // Restoring reads as fast as the broker sends: large fetches, no waiting for more.
  p.try_emplace("fetch.max.bytes", "104857600");
  p.try_emplace("max.partition.fetch.bytes", "16777216");
  p.try_emplace("queued.max.messages.kbytes", "262144");
  p.try_emplace("fetch.wait.max.ms", "10");
  rd_kafka_conf_t* conf = make_conf(p, error);
  if (conf == nullptr) return nullptr;
  char err[512];
  std::unique_ptr<log_reader> out(new log_reader());
  out->rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (out->rk_ == nullptr) {
    error = std::string("restore consumer: ") + err;
    return nullptr;
  }
  return out;
}

log_reader::~log_reader() {
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

bool log_reader::end_offset(const std::string& topic, std::int32_t partition, std::int64_t& end,
                            std::string& error, int timeout_ms) {
  if (const int rc = query_end_offset(rk_, topic, partition, end, timeout_ms); rc != 0) {
    error = "end offset of " + topic + "/" + std::to_string(partition) + ": " +
            rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(rc));
    return false;
  }
  return true;
}

bool log_reader::read(const std::vector<range>& ranges, const record_fn& fn,
                      const std::atomic<bool>* cancel, std::string& error, int idle_timeout_ms) {
  std::vector<bool> done(ranges.size(), false);
  std::vector<rd_kafka_topic_t*> handles(ranges.size(), nullptr);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk_);
  std::size_t open = 0;
  bool ok = true;
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    done[i] = ranges[i].from >= ranges[i].to;
    if (done[i]) continue;
    handles[i] = rd_kafka_topic_new(rk_, ranges[i].topic.c_str(), nullptr);
    if (rd_kafka_consume_start_queue(handles[i], ranges[i].partition, ranges[i].from, queue) != 0) {
      error = ranges[i].topic + ": " + rd_kafka_err2str(rd_kafka_last_error());
      ok = false;
      done[i] = true;
      continue;
    }
    ++open;
  }
  auto index_of = [&](const rd_kafka_topic_t* rkt, std::int32_t partition) -> std::size_t {
    for (std::size_t i = 0; i < ranges.size(); ++i)
      if (!done[i] && handles[i] == rkt && ranges[i].partition == partition) return i;
    return ranges.size();
  };
  auto last = std::chrono::steady_clock::now();
  std::vector<rd_kafka_message_t*> batch(1000);
  while (ok && open > 0) {
    if (cancel != nullptr && cancel->load()) {
      error = "cancelled";
      ok = false;
      break;
    }
    const ssize_t n = rd_kafka_consume_batch_queue(queue, 10, batch.data(), batch.size());
    if (n <= 0) {
      if (std::chrono::steady_clock::now() - last > std::chrono::milliseconds(idle_timeout_ms)) {
        error = "no record for " + std::to_string(idle_timeout_ms) + " ms";
        ok = false;
      }
      continue;
    }
    for (ssize_t k = 0; k < n; ++k) {
      rd_kafka_message_t* m = batch[static_cast<std::size_t>(k)];
      const std::size_t i = index_of(m->rkt, m->partition);
      // Only progress on a range counts: client-wide errors repeat while a broker is away,
      // and must not keep a read that gets nothing waiting for ever.
      if (i != ranges.size()) last = std::chrono::steady_clock::now();
      if (!ok || i == ranges.size()) {
        // Client-wide errors (a broker connection lost) are retried by librdkafka itself.
      } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        // The end: compaction may have removed the record just before `to`, so the
        // partition's end, not the last record, says the range is done.
        if (m->offset >= ranges[i].to) {
          done[i] = true;
          --open;
        }
      } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        error = ranges[i].topic + "/" + std::to_string(m->partition) + ": " +
                rd_kafka_message_errstr(m);
        ok = false;
      } else if (m->offset < ranges[i].to) {
        const std::string_view key(static_cast<const char*>(m->key), m->key_len);
        const std::string_view value(static_cast<const char*>(m->payload), m->len);
        fn(i, m->offset, key, m->payload != nullptr ? &value : nullptr);
        if (m->offset + 1 >= ranges[i].to) {
          done[i] = true;
          --open;
        }
      }
      rd_kafka_message_destroy(m);
    }
  }
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    if (handles[i] == nullptr) continue;
    rd_kafka_consume_stop(handles[i], ranges[i].partition);
    rd_kafka_topic_destroy(handles[i]);
  }
  rd_kafka_queue_destroy(queue);
  return ok;
}

}  // namespace herald::streams

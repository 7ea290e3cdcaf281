#include "herald/streams/sink.hpp"

#include <chrono>
#include <stdexcept>
#include <string>

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include "herald/streams/source.hpp"

namespace herald::streams {

std::unique_ptr<sink> sink::create(const sink_config& config, std::string& error) {
  kafka_properties props = config.properties;
  props["enable.idempotence"] = "true";
  props.try_emplace("linger.ms", "5");
  // The Java client's partitioner: re-keyed records land in the partition number that
  // Java/Kafka Streams producers of the input topics use for the same key (co-partitioning).
  props.try_emplace("partitioner", "murmur2_random");
  props.try_emplace("batch.num.messages", "10000");
  props.try_emplace("compression.type", "lz4");
  props.try_emplace("message.max.bytes", "1048576");
  if (!config.transactional_id.empty()) props["transactional.id"] = config.transactional_id;
  rd_kafka_conf_t* conf = make_conf(props, error);
  if (conf == nullptr) return nullptr;
  std::unique_ptr<sink> out(new sink());
  out->flush_timeout_ms_ = config.flush_timeout_ms;
  out->queue_full_wait_ms_ = config.queue_full_wait_ms;
  try {
    out->max_message_bytes_ = std::stoul(props.at("message.max.bytes"));
  } catch (const std::exception&) {
    error = "kafka.properties: message.max.bytes is not a number";
    rd_kafka_conf_destroy(conf);
    return nullptr;
  }
  rd_kafka_conf_set_opaque(conf, out.get());
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t* rk, const rd_kafka_message_t* msg,
                                       void* opaque) { on_delivery(rk, msg, opaque); });
  char err[512];
  out->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (out->rk_ == nullptr) {
    error = std::string("cannot create the producer: ") + err;
    return nullptr;
  }
  out->poller_ = std::thread([s = out.get()] { s->run_poller(); });
  if (!config.transactional_id.empty()) {
    // Fences the previous incarnation of this transactional.id (its open transaction is
    // aborted) and takes a new producer epoch; a broker still starting is waited for.
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(config.init_timeout_ms);
    for (;;) {
      rd_kafka_error_t* e = rd_kafka_init_transactions(out->rk_, 10'000);
      if (e == nullptr) break;
      const bool retriable = rd_kafka_error_is_retriable(e);
      const std::string what = rd_kafka_error_string(e);
      rd_kafka_error_destroy(e);
      if (!retriable || std::chrono::steady_clock::now() >= deadline) {
        error = "cannot initialise transactions (transactional.id '" + config.transactional_id +
                "'): " + what;
        return nullptr;
      }
      spdlog::warn("initialising transactions: {}; trying again", what);
    }
    out->transactional_ = true;
  }
  return out;
}

namespace {

txn_result result_of(rd_kafka_error_t* e) {
  txn_result r;
  if (e == nullptr) return r;
  r.error = rd_kafka_error_string(e);
  r.status = rd_kafka_error_is_fatal(e)             ? txn_status::fatal
             : rd_kafka_error_txn_requires_abort(e) ? txn_status::abort
             : rd_kafka_error_is_retriable(e)       ? txn_status::retry
                                                    : txn_status::abort;
  rd_kafka_error_destroy(e);
  return r;
}

}  // namespace

txn_result sink::begin_transaction() {
  return result_of(rd_kafka_begin_transaction(rk_));
}

txn_result sink::send_offsets(const std::vector<txn_offset>& offsets, const source& consumer,
                              int timeout_ms) {
  if (offsets.empty()) return {};
  auto* list = rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const auto& o : offsets)
    rd_kafka_topic_partition_list_add(list, o.topic.c_str(), o.partition)->offset = o.offset;
  rd_kafka_consumer_group_metadata_t* group = consumer.group_metadata();
  if (group == nullptr) {
    rd_kafka_topic_partition_list_destroy(list);
    return {txn_status::abort, "the consumer has no group metadata"};
  }
  txn_result r = result_of(rd_kafka_send_offsets_to_transaction(rk_, list, group, timeout_ms));
  rd_kafka_consumer_group_metadata_destroy(group);
  rd_kafka_topic_partition_list_destroy(list);
  return r;
}

txn_result sink::commit_transaction(int timeout_ms) {
  return result_of(rd_kafka_commit_transaction(rk_, timeout_ms));
}

txn_result sink::abort_transaction(int timeout_ms) {
  return result_of(rd_kafka_abort_transaction(rk_, timeout_ms));
}

sink::~sink() {
  if (rk_ != nullptr) flush(flush_timeout_ms_);
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

void sink::run_poller() {
  while (!stop_.load(std::memory_order_relaxed)) rd_kafka_poll(rk_, 50);
}

bool is_permanent_error(int err) noexcept {
  switch (static_cast<rd_kafka_resp_err_t>(err)) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return true;
    default:
      return false;
  }
}

namespace {

delivery_report report_of(rd_kafka_resp_err_t err) {
  delivery_report r;
  r.ok = err == RD_KAFKA_RESP_ERR_NO_ERROR;
  r.permanent = !r.ok && is_permanent_error(err);
  r.reason = r.ok ? "" : rd_kafka_err2str(err);
  return r;
}

}  // namespace

void sink::on_delivery(rd_kafka_t*, const void* m, void* opaque) {
  const auto* msg = static_cast<const rd_kafka_message_t*>(m);
  auto* self = static_cast<sink*>(opaque);
  delivery_report r = report_of(msg->err);
  r.offset = msg->offset;
  (r.ok ? self->delivered_ : self->failed_).fetch_add(1, std::memory_order_relaxed);
  if (msg->_private != nullptr) {
    std::unique_ptr<delivery_fn> fn(static_cast<delivery_fn*>(msg->_private));
    (*fn)(r);
  }
}

produce_result sink::produce(std::string_view topic, std::string_view key, std::string_view value,
                             const header_list& headers, delivery_fn on_delivered) {
  return produce_to(topic, RD_KAFKA_PARTITION_UA, key, value, headers, std::move(on_delivered));
}

produce_result sink::produce_to(std::string_view topic, std::int32_t partition,
                                std::string_view key, std::string_view value,
                                const header_list& headers, delivery_fn on_delivered) {
  rd_kafka_headers_t* hdrs = nullptr;
  if (!headers.empty()) {
    hdrs = rd_kafka_headers_new(headers.size());
    for (const auto& [name, val] : headers)
      rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), val.data(),
                          static_cast<ssize_t>(val.size()));
  }
  auto* opaque = on_delivered ? new delivery_fn(std::move(on_delivered)) : nullptr;
  const std::string topic_name(topic);
  // A full local queue is transient (the poller drains it): wait, up to a bound, if told to.
  const int attempts = queue_full_wait_ms_ / 5;
  for (int attempt = 0;; ++attempt) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_, RD_KAFKA_V_TOPIC(topic_name.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs),
        RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return {true, false, {}};  // headers: librdkafka's
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && attempt < attempts) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    if (hdrs != nullptr) rd_kafka_headers_destroy(hdrs);
    delete opaque;
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) return {false, true, report_of(err)};
    failed_.fetch_add(1, std::memory_order_relaxed);
    return {false, false, report_of(err)};
  }
}

bool sink::flush(int timeout_ms) {
  return rd_kafka_flush(rk_, timeout_ms < 0 ? flush_timeout_ms_ : timeout_ms) ==
         RD_KAFKA_RESP_ERR_NO_ERROR;
}

std::int64_t sink::outstanding() const {
  return rd_kafka_outq_len(rk_);
}

bool sink::fatal() const {
  return rd_kafka_fatal_error(rk_, nullptr, 0) != RD_KAFKA_RESP_ERR_NO_ERROR;
}

}  // namespace herald::streams

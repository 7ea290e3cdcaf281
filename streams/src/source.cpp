#include "herald/streams/source.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <unordered_map>

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

namespace herald::streams {
std::unique_ptr<source> source::create(const source_config& config, source_listener& listener,
                                       std::string& error) {
  if (config.topics.empty()) {
    error = "source: no input topics configured";
    return nullptr;
  }
  if (config.resume_in_flight > config.max_in_flight) {
    error = "source: resume_in_flight must not exceed max_in_flight";
    return nullptr;
  }
  kafka_properties props = config.properties;
  if (props.find("group.id") == props.end()) {
    error = "kafka property 'group.id' is required";
    return nullptr;
  }
  props.try_emplace("partition.assignment.strategy", "range");
  // Sticky assignors balance partitions without keeping a family's topics together, so with
  // more than one instance a task could see only some of its inputs.
  if (props["partition.assignment.strategy"].find("range") == std::string::npos) {
    std::map<state::family, int> topics_per_family;
    for (const auto& t : config.topics) ++topics_per_family[t.fam];
    for (const auto& [fam, n] : topics_per_family)
      if (n > 1)
        spdlog::warn(
            "partition.assignment.strategy '{}' does not co-partition the {} topics of "
            "family '{}'; run one instance or use 'range'",
            props["partition.assignment.strategy"], n, state::to_string(fam));
  }
  props["enable.auto.commit"] = "false";
  props.try_emplace("enable.auto.offset.store", "false");
  props.try_emplace("auto.offset.reset", "earliest");
  props.try_emplace("isolation.level", "read_committed");
  // A task learns where a partition ends (transaction markers included) from these events.
  props["enable.partition.eof"] = "true";
  rd_kafka_conf_t* conf = make_conf(props, error);
  if (conf == nullptr) return nullptr;

  std::unique_ptr<source> out(new source());
  out->config_ = config;
  out->listener_ = &listener;
  out->topics_ = config.topics;
  rd_kafka_conf_set_opaque(conf, out.get());
  rd_kafka_conf_set_rebalance_cb(
      conf, [](rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
               void* opaque) { static_cast<source*>(opaque)->handle_rebalance(err, parts); });
  char err[512];
  out->rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (out->rk_ == nullptr) {
    error = std::string("cannot create the consumer: ") + err;
    return nullptr;
  }
  rd_kafka_poll_set_consumer(out->rk_);
  rd_kafka_topic_partition_list_t* subs =
      rd_kafka_topic_partition_list_new(static_cast<int>(config.topics.size()));
  for (const auto& t : config.topics)
    rd_kafka_topic_partition_list_add(subs, t.name.c_str(), RD_KAFKA_PARTITION_UA);
  const rd_kafka_resp_err_t sub_err = rd_kafka_subscribe(out->rk_, subs);
  rd_kafka_topic_partition_list_destroy(subs);
  if (sub_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = std::string("cannot subscribe: ") + rd_kafka_err2str(sub_err);
    return nullptr;
  }
  return out;
}

source::~source() {
  stop();
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

void source::start() {
  thread_ = std::thread([this] { run(); });
}

void source::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (closed_ || rk_ == nullptr) return;
  closed_ = true;
  // Revoke our tasks first so they commit while we still know them; closing the consumer then
  // leaves the group (its revoke callback finds no tasks left).
  std::vector<state::task_id> all;
  {
    std::lock_guard<std::mutex> lock(flows_mutex_);
    for (const auto& [task, flow] : flows_) all.push_back(task);
  }
  if (!all.empty()) listener_->on_revoked(all);
  {
    std::lock_guard<std::mutex> lock(flows_mutex_);
    flows_.clear();
  }
  commit_to_kafka(/*sync=*/true);
  rd_kafka_consumer_close(rk_);
}

void source::check_first(state::task_id task, int idx, std::int64_t offset, std::int64_t expected) {
  if (offset == expected) return;
  const std::string& topic = topics_[static_cast<std::size_t>(idx)].name;
  std::int64_t lo = -1, hi = -1;
  if (rd_kafka_get_watermark_offsets(rk_, topic.c_str(), task.partition, &lo, &hi) !=
      RD_KAFKA_RESP_ERR_NO_ERROR)
    lo = -1;
  if (offset > expected && lo > expected) {
    // The stored position fell off the log: librdkafka reset to its start.
    const std::int64_t to = std::min(offset, lo);
    spdlog::error(
        "{} [{}]: records {} to {} were deleted by the topic's retention before Herald read "
        "them ({} records lost; Herald was down or behind for longer than retention.ms). "
        "Processing goes on from offset {}",
        topic, task.partition, expected, to - 1, to - expected, offset);
    listener_->on_lost(task, static_cast<std::uint16_t>(idx), expected, to);
  } else if (offset < expected) {
    spdlog::error(
        "{} [{}]: resumed at offset {} but the partition's first record is at {}: the topic "
        "was re-created or truncated, records from {} on are read again",
        topic, task.partition, expected, offset, offset);
  }
}

int source::topic_index(const char* name) const {
  for (std::size_t i = 0; i < topics_.size(); ++i)
    if (topics_[i].name == name) return static_cast<int>(i);
  return -1;
}

std::vector<state::task_id> source::tasks_of(const rd_kafka_topic_partition_list_t* parts) const {
  std::vector<state::task_id> out;
  for (int i = 0; i < parts->cnt; ++i) {
    const int idx = topic_index(parts->elems[i].topic);
    if (idx < 0) continue;
    state::task_id t{topics_[idx].fam, parts->elems[i].partition};
    bool seen = false;
    for (const auto& o : out) seen = seen || o == t;
    if (!seen) out.push_back(t);
  }
  return out;
}

rd_kafka_topic_partition_list_t* source::partitions_of(state::task_id task) const {
  auto* list = rd_kafka_topic_partition_list_new(static_cast<int>(topics_.size()));
  for (const auto& t : topics_)
    if (t.fam == task.fam) rd_kafka_topic_partition_list_add(list, t.name.c_str(), task.partition);
  return list;
}

void source::handle_rebalance(int err, rd_kafka_topic_partition_list_t* parts) {
  rebalances_.fetch_add(1, std::memory_order_relaxed);
  assigned_ = false;
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk_), "COOPERATIVE") == 0;
  const std::vector<state::task_id> tasks = tasks_of(parts);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    std::vector<state::task_id> fresh;
    {
      std::lock_guard<std::mutex> lock(flows_mutex_);
      for (const auto& t : tasks)
        if (flows_.find(t) == flows_.end()) fresh.push_back(t);
    }
    if (!fresh.empty()) listener_->on_assigned(fresh);
    for (int i = 0; i < parts->cnt; ++i) {
      auto& p = parts->elems[i];
      const int idx = topic_index(p.topic);
      if (idx < 0) continue;
      if (auto off = listener_->resume_offset({topics_[idx].fam, p.partition}, p.topic))
        p.offset = *off;
      // Where the partition resumes: its lag until the first fetch moves the position, and
      // where its first record must be (records before it may have gone to retention).
      ends_.erase({idx, p.partition});
      if (p.offset >= 0)
        expect_first_[{idx, p.partition}] = p.offset;
      else
        expect_first_.erase({idx, p.partition});
      std::lock_guard<std::mutex> lock(commit_mutex_);
      start_offsets_[{idx, p.partition}] = p.offset;
    }
    {
      std::lock_guard<std::mutex> lock(flows_mutex_);
      for (const auto& t : fresh) flows_.emplace(t, std::make_unique<task_flow>(topics_.size()));
    }
    spdlog::info("assigned {} partitions ({} new tasks, {} protocol)", parts->cnt, fresh.size(),
                 cooperative ? "cooperative" : "eager");
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk_, parts)) {
        spdlog::error("incremental assign failed: {}", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
      }
    } else {
      rd_kafka_assign(rk_, parts);
    }
    assigned_ = true;
    return;
  }
  // Revoked (or lost): stop the tasks, then hand the partitions back.
  spdlog::info("revoking {} partitions ({} tasks)", parts->cnt, tasks.size());
  std::vector<state::task_id> known;
  {
    std::lock_guard<std::mutex> lock(flows_mutex_);
    for (const auto& t : tasks)
      if (flows_.find(t) != flows_.end()) known.push_back(t);
  }
  if (!known.empty()) listener_->on_revoked(known);
  {
    std::lock_guard<std::mutex> lock(flows_mutex_);
    for (const auto& t : known) {
      auto it = flows_.find(t);
      total_in_flight_.fetch_sub(in_flight_of(*it->second));
      flows_.erase(it);
    }
  }
  commit_to_kafka(/*sync=*/true);
  if (cooperative) {
    if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk_, parts)) rd_kafka_error_destroy(e);
    assigned_ = true;  // what was not revoked is still held
  } else {
    rd_kafka_assign(rk_, nullptr);  // nothing held until the next assignment
  }
}

void source::run() {
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(rk_);
  std::vector<rd_kafka_message_t*> msgs(config_.max_poll_records);
  std::map<state::task_id, record_batch> batches;
  std::unordered_map<const void*, int> topic_cache;  // rd_kafka_topic_t* -> binding index
  auto last_commit = std::chrono::steady_clock::now();
  while (!stop_.load(std::memory_order_relaxed)) {
    if (rewind_requested_.exchange(false)) {
      run_rewind();
      batches.clear();
    }
    const ssize_t n =
        rd_kafka_consume_batch_queue(queue, config_.poll_timeout_ms, msgs.data(), msgs.size());
    const std::int64_t now_ns = steady_now_ns();
    last_poll_ns_.store(now_ns, std::memory_order_relaxed);
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* m = msgs[i];
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        spdlog::warn("consumer error: {}", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        continue;
      }
      int idx = -1;
      if (m->rkt != nullptr) {
        auto [it, inserted] = topic_cache.try_emplace(m->rkt, -1);
        if (inserted) it->second = topic_index(rd_kafka_topic_name(m->rkt));
        idx = it->second;
      }
      if (idx >= 0) {
        const state::task_id task{topics_[idx].fam, m->partition};
        auto& batch = batches[task];
        batch.task = task;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          // The task learns that its partition holds nothing more for now (the offset is past
          // any transaction markers), so it does not wait for records that are not there.
          batch.ends.emplace_back(static_cast<std::uint16_t>(idx), m->offset);
          ends_[{idx, m->partition}] = m->offset;
        } else {
          if (auto e = expect_first_.find({idx, m->partition}); e != expect_first_.end()) {
            check_first(task, idx, m->offset, e->second);
            expect_first_.erase(e);
          }
          batch.polled_at_ns = now_ns;
          record r;
          if (m->key != nullptr) r.key.assign(static_cast<const char*>(m->key), m->key_len);
          if (m->payload != nullptr) r.value.assign(static_cast<const char*>(m->payload), m->len);
          r.key_null = m->key == nullptr;
          r.value_null = m->payload == nullptr;
          r.offset = m->offset;
          r.timestamp_ms = rd_kafka_message_timestamp(m, nullptr);
          r.topic = static_cast<std::uint16_t>(idx);
          batch.records.push_back(std::move(r));
        }
      }
      rd_kafka_message_destroy(m);
    }
    for (auto& [task, batch] : batches) {
      if (batch.records.empty() && batch.ends.empty()) continue;
      const auto count = static_cast<std::int64_t>(batch.records.size());
      {
        std::lock_guard<std::mutex> lock(flows_mutex_);
        auto f = flows_.find(task);
        if (f == flows_.end()) {  // revoked meanwhile: the next owner re-reads these
          batch.records.clear();
          batch.ends.clear();
          continue;
        }
        for (const auto& r : batch.records)
          f->second->in_flight[r.topic].fetch_add(1, std::memory_order_relaxed);
      }
      total_in_flight_.fetch_add(count, std::memory_order_relaxed);
      listener_->on_batch(std::move(batch));
      batch = record_batch{};
    }
    apply_backpressure();
    const auto now = std::chrono::steady_clock::now();
    if (now - last_commit >= std::chrono::milliseconds(config_.kafka_commit_interval_ms)) {
      last_commit = now;
      commit_to_kafka();
    }
  }
  rd_kafka_queue_destroy(queue);
}

void source::apply_backpressure() {
  struct change {
    std::string topic;
    std::int32_t partition;
    bool pause;
  };
  std::vector<change> changes;
  {
    std::lock_guard<std::mutex> lock(flows_mutex_);
    for (auto& [task, flow] : flows_) {
      for (std::size_t t = 0; t < topics_.size(); ++t) {
        if (topics_[t].fam != task.fam) continue;
        const std::int64_t n = flow->in_flight[t].load(std::memory_order_relaxed);
        if (!flow->paused[t] && n > config_.max_in_flight) {
          flow->paused[t] = true;
          changes.push_back({topics_[t].name, task.partition, true});
        } else if (flow->paused[t] && n <= config_.resume_in_flight) {
          flow->paused[t] = false;
          changes.push_back({topics_[t].name, task.partition, false});
        }
      }
    }
  }
  for (const auto& c : changes) {
    auto* parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, c.topic.c_str(), c.partition);
    if (c.pause)
      rd_kafka_pause_partitions(rk_, parts);
    else
      rd_kafka_resume_partitions(rk_, parts);
    rd_kafka_topic_partition_list_destroy(parts);
  }
}

std::int64_t source::in_flight_of(const task_flow& flow) const {
  std::int64_t n = 0;
  for (std::size_t t = 0; t < topics_.size(); ++t) n += flow.in_flight[t].load();
  return n;
}

void source::release(state::task_id task, std::uint16_t topic, std::int64_t count) {
  total_in_flight_.fetch_sub(count, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(flows_mutex_);
  if (auto f = flows_.find(task); f != flows_.end() && topic < topics_.size())
    f->second->in_flight[topic].fetch_sub(count, std::memory_order_relaxed);
}

bool source::offsets(std::uint16_t topic, std::int32_t partition, std::int64_t& lo,
                     std::int64_t& hi) const {
  if (topic >= topics_.size() || rk_ == nullptr) return false;
  return rd_kafka_get_watermark_offsets(rk_, topics_[topic].name.c_str(), partition, &lo, &hi) ==
             RD_KAFKA_RESP_ERR_NO_ERROR &&
         hi >= 0;
}

void source::committed(state::task_id task, std::uint16_t topic, std::int64_t next_offset) {
  if (!config_.commit_offsets) return;
  std::lock_guard<std::mutex> lock(commit_mutex_);
  to_commit_[{topic, task.partition}] = next_offset;
}

rd_kafka_consumer_group_metadata_t* source::group_metadata() const {
  return rk_ == nullptr ? nullptr : rd_kafka_consumer_group_metadata(rk_);
}

void source::rewind(std::function<void()> done) {
  {
    std::lock_guard<std::mutex> lock(rewind_mutex_);
    rewinds_.push_back(std::move(done));
  }
  rewind_requested_ = true;
}

void source::run_rewind() {
  std::vector<std::function<void()>> done;
  {
    std::lock_guard<std::mutex> lock(rewind_mutex_);
    done.swap(rewinds_);
  }
  rd_kafka_topic_partition_list_t* parts = nullptr;
  if (rd_kafka_assignment(rk_, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts != nullptr) {
    spdlog::info("rewinding {} partitions to their committed state", parts->cnt);
    // The assignment stays the consumer's: the revoke and the assignment below are local
    // (the eager protocol's revoke hands everything back, so it is re-assigned whole).
    for (int i = 0; i < parts->cnt; ++i) parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
    handle_rebalance(RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS, parts);
    handle_rebalance(RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, parts);
    rd_kafka_topic_partition_list_destroy(parts);
  }
  for (auto& d : done)
    if (d) d();
}

void source::commit_to_kafka(bool sync) {
  std::map<std::pair<std::uint16_t, std::int32_t>, std::int64_t> pending;
  {
    std::lock_guard<std::mutex> lock(commit_mutex_);
    pending.swap(to_commit_);
  }
  if (!pending.empty()) {
    auto* list = rd_kafka_topic_partition_list_new(static_cast<int>(pending.size()));
    for (const auto& [tp, off] : pending)
      rd_kafka_topic_partition_list_add(list, topics_[tp.first].name.c_str(), tp.second)->offset =
          off;
    // On revoke and close the commit must land before the partition's next owner reads the
    // group's offsets: it waits then.
    if (const auto err = rd_kafka_commit(rk_, list, sync ? 0 : 1);
        sync && err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
      spdlog::warn(
          "committing offsets to the group failed ({}): the next owner re-reads from the "
          "previous commit",
          rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(list);
  }
  // Lag from locally cached high watermarks: no broker round trip.
  rd_kafka_topic_partition_list_t* assigned = nullptr;
  if (rd_kafka_assignment(rk_, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR || assigned == nullptr)
    return;
  rd_kafka_position(rk_, assigned);
  std::int64_t lag = 0;
  bool known = true;
  for (int i = 0; i < assigned->cnt; ++i) {
    const auto& p = assigned->elems[i];
    std::int64_t lo = 0, hi = 0;
    if (rd_kafka_get_watermark_offsets(rk_, p.topic, p.partition, &lo, &hi) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        hi < 0) {
      known = false;  // no fetch answered yet
      continue;
    }
    // Before its first fetch a partition has no position: it is where it resumed (a restart
    // that finds nothing new is not behind), or its start when nothing was committed. Its end
    // event, once it came, is past any transaction markers; before it, a partition that
    // resumed below its end is not known yet (only markers may lie between).
    const std::pair<int, std::int32_t> tp{topic_index(p.topic), p.partition};
    const auto end = ends_.find(tp);
    std::int64_t pos = p.offset;
    if (pos < 0) {
      std::int64_t start = -1;
      {
        std::lock_guard<std::mutex> lock(commit_mutex_);
        auto it = start_offsets_.find(tp);
        if (it != start_offsets_.end()) start = it->second;
      }
      if (start >= 0 && start < hi && end == ends_.end()) {
        known = false;
        continue;
      }
      pos = start >= 0 ? start : lo;
    }
    if (end != ends_.end()) pos = std::max(pos, end->second);
    if (hi > pos) lag += hi - pos;
  }
  if (known) lag_.store(lag, std::memory_order_relaxed);
  rd_kafka_topic_partition_list_destroy(assigned);
}

std::size_t source::paused_tasks() const {
  std::lock_guard<std::mutex> lock(flows_mutex_);
  std::size_t n = 0;
  for (const auto& [task, flow] : flows_) {
    bool any = false;
    for (bool p : flow->paused) any = any || p;
    n += any ? 1 : 0;
  }
  return n;
}

std::size_t source::assigned_tasks() const {
  std::lock_guard<std::mutex> lock(flows_mutex_);
  return flows_.size();
}

}  // namespace herald::streams

#include "herald/actors/task.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

#include "herald/streams/dlq.hpp"

namespace herald::actors {
/// timer_service over the task's timer store, tagging keys with the operator's tag.
class task::tagged_timers final : public rules::timer_service {
 public:
  tagged_timers(state::task_state& st, char tag) : state_(st), tag_(tag) {}
  void schedule(std::int64_t fire_ms, std::string_view key, std::string_view payload) override {
    state_.schedule(fire_ms, tagged(key), payload);
  }
  void cancel(std::int64_t fire_ms, std::string_view key) override {
    state_.cancel(fire_ms, tagged(key));
  }

 private:
  const std::string& tagged(std::string_view key) {
    key_.assign(1, tag_);
    key_.append(key);
    return key_;
  }
  state::task_state& state_;
  char tag_;
  std::string key_;
};

task::task(const task_env& env, state::task_id id)
    : env_(env),
      id_(id),
      state_(*env.db, id),
      decoder_(env.config->task.max_record_bytes),
      watermark_(env.config->task.watermark),
      next_offsets_(env.topics.size(), -1) {
  switch (id.fam) {
    case state::family::sku:
      processor_ = make_sku_processor(*this);
      break;
    case state::family::shipment:
      processor_ = make_shipment_processor(*this);
      break;
    case state::family::customer:
      processor_ = make_customer_processor(*this);
      break;
  }
  if (auto wm = state_.watermark()) watermark_.restore(*wm);
  reported_timers_ = state_.timer_count();
  env_.probe->add_timers(reported_timers_);
  env_.probe->add_tasks(1);
}

task::~task() {
  env_.probe->add_timers(-reported_timers_);
  env_.probe->add_tasks(-1);
}

rules::timer_service& task::timers(char tag) {
  auto& t = timers_[tag];
  if (!t) t = std::make_unique<tagged_timers>(state_, tag);
  return *t;
}

std::optional<std::int64_t> task::resume_offset(const std::string& topic) const {
  return state_.offset(topic);
}

void task::start() {
  std::vector<state::outbox_record> pending;
  if (auto st = state_.load_outbox(pending); !st.ok()) {
    spdlog::error("task {}/{}: cannot read the outbox: {}", state::to_string(id_.fam),
                  id_.partition, st.message);
    return;
  }
  if (!pending.empty())
    spdlog::info("task {}/{}: re-producing {} unacknowledged output records",
                 state::to_string(id_.fam), id_.partition, pending.size());
  for (auto& rec : pending) produce(std::move(rec));
}

void task::process(streams::record_batch& batch, std::int64_t wall_ms) {
  std::vector<std::array<std::uint64_t, event_result_count>> counts(env_.topics.size());
  std::vector<std::uint64_t> late(env_.topics.size(), 0);
  std::string reason;
  for (const streams::record& rec : batch.records) {
    const auto& binding = env_.topics[rec.topic];
    bool ok = false;
    std::int64_t ts_ms = 0;
    if (binding.internal) {
      ok = processor_->decode_internal(rec, ts_ms, reason);
      if (!ok) dead_letter(rec, schemas::decode_code::invalid_value, reason);
    } else {
      const schemas::decode_error err = decoder_.decode(binding.kind, rec.key, rec.value, event_);
      ok = !err;
      ts_ms = event_.ts_ms;
      if (!ok) dead_letter(rec, err.code, err.message);
    }
    if (ok) {
      if (watermark_.observe(ts_ms, wall_ms)) ++late[rec.topic];
      fire_timers(watermark_.current());
      if (binding.internal)
        processor_->apply_internal();
      else
        processor_->apply(event_);
    }
    ++counts[rec.topic][static_cast<std::size_t>(ok ? event_result::ok : event_result::dlq)];
    next_offsets_[rec.topic] = rec.offset + 1;
  }
  for (std::size_t t = 0; t < counts.size(); ++t) {
    env_.probe->add_events(t, event_result::ok, counts[t][0]);
    env_.probe->add_events(t, event_result::dlq, counts[t][1]);
    env_.probe->add_late(t, late[t]);
  }
  const auto n = static_cast<std::int64_t>(batch.records.size());
  dirty_ = dirty_ || n > 0;
  env_.probe->observe_latency(
      static_cast<double>(streams::steady_now_ns() - batch.polled_at_ns) / 1e9,
      static_cast<std::uint64_t>(n));
  if (env_.release) env_.release(id_, n);
  if (wall_ms - last_commit_wall_ms_ >= env_.config->task.commit_interval_ms) commit(wall_ms);
}

void task::fire_timers(std::int64_t up_to_ms) {
  if (up_to_ms == streams::watermark::none) return;
  auto next = state_.next_fire_ms();
  while (next && *next <= up_to_ms) {
    due_.clear();
    state_.pop_due(up_to_ms, due_);
    for (const auto& t : due_) {
      if (t.key.empty()) continue;
      processor_->on_timer(t.key[0], std::string_view(t.key).substr(1), t.fire_ms, t.payload);
    }
    // A timer may schedule another that is already due (e.g. the next reminder step).
    next = state_.next_fire_ms();
  }
}

void task::tick(std::int64_t wall_ms) {
  if (watermark_.tick(wall_ms)) {
    fire_timers(watermark_.current());
    dirty_ = true;
  }
  drain_acks();
  if (wall_ms - last_commit_wall_ms_ >= env_.config->task.commit_interval_ms &&
      (dirty_ || state_.pending_ops() > 0))
    commit(wall_ms);
}

void task::dead_letter(const streams::record& rec, schemas::decode_code code,
                       const std::string& reason) {
  const auto& topic = env_.topics[rec.topic].name;
  emit(env_.config->topics.dlq, rec.key, rec.value,
       streams::dlq_headers(reason, topic, id_.partition, rec.offset));
  env_.probe->add_dlq(code, 1);
}

void task::emit(const std::string& topic, std::string_view key, std::string_view value,
                const streams::header_list& headers) {
  state_.add_output(topic, key, value, headers);
}

void task::emit_transient(const std::string& topic, std::string_view key, std::string_view value) {
  transient_.push_back({&topic, std::string(key), std::string(value)});
}

void task::commit(std::int64_t wall_ms) {
  last_commit_wall_ms_ = wall_ms;
  const std::int64_t t0 = streams::steady_now_ns();
  processor_->flush();
  for (std::size_t t = 0; t < next_offsets_.size(); ++t)
    if (next_offsets_[t] >= 0) state_.set_offset(env_.topics[t].name, next_offsets_[t]);
  if (watermark_.current() != streams::watermark::none) state_.set_watermark(watermark_.current());
  drain_acks();
  std::vector<state::outbox_record> committed;
  if (auto st = state_.commit(committed); !st.ok()) {
    // Pending state is kept: the next commit retries. Offsets did not move, so nothing is lost.
    spdlog::error("task {}/{}: commit failed: {}", state::to_string(id_.fam), id_.partition,
                  st.message);
    return;
  }
  dirty_ = false;
  env_.probe->add_commit(static_cast<double>(streams::steady_now_ns() - t0) / 1e9);
  for (auto& rec : committed) produce(std::move(rec));
  metrics* probe = env_.probe;
  for (const auto& rec : transient_)
    if (!env_.sink->produce(*rec.topic, rec.key, rec.value, {},
                            [probe](bool ok) { probe->add_produced(ok); }))
      probe->add_produced(false);
  transient_.clear();
  for (std::size_t t = 0; t < next_offsets_.size(); ++t) {
    if (next_offsets_[t] < 0) continue;
    if (env_.committed) env_.committed(id_, static_cast<std::uint16_t>(t), next_offsets_[t]);
    next_offsets_[t] = -1;
  }
  const std::int64_t timers = state_.timer_count();
  env_.probe->add_timers(timers - reported_timers_);
  reported_timers_ = timers;
}

void task::produce(state::outbox_record&& rec) {
  const std::uint64_t seq = rec.seq;
  std::weak_ptr<acks> weak = acks_;
  metrics* probe = env_.probe;
  const bool queued =
      env_.sink->produce(rec.topic, rec.key, rec.value, rec.headers, [weak, seq, probe](bool ok) {
        probe->add_produced(ok);
        if (auto a = weak.lock()) {
          std::lock_guard<std::mutex> lock(a->mutex);
          (ok ? a->ok : a->failed).push_back(seq);
        }
      });
  if (!queued) {
    std::lock_guard<std::mutex> lock(acks_->mutex);
    acks_->failed.push_back(seq);
  }
  unacked_.emplace(seq, std::move(rec));
}

void task::drain_acks() {
  std::vector<std::uint64_t> ok, failed;
  {
    std::lock_guard<std::mutex> lock(acks_->mutex);
    ok.swap(acks_->ok);
    failed.swap(acks_->failed);
  }
  if (!ok.empty()) {
    for (auto seq : ok) unacked_.erase(seq);
    state_.ack_outputs(ok);
  }
  // Kafka gave up on these (after librdkafka's own retries): try again; they are still in the
  // outbox, so a crash meanwhile loses nothing either.
  for (auto seq : failed) {
    auto it = unacked_.find(seq);
    if (it == unacked_.end()) continue;
    state::outbox_record rec = std::move(it->second);
    unacked_.erase(it);
    produce(std::move(rec));
  }
}

void task::shutdown(std::int64_t wall_ms) {
  commit(wall_ms);
  // Wait for the broker to acknowledge what this task emitted, so a clean stop leaves an
  // empty outbox and a restart re-sends nothing.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!unacked_.empty() && std::chrono::steady_clock::now() < deadline) {
    env_.sink->flush(100);
    drain_acks();
  }
  if (!unacked_.empty())
    spdlog::warn("task {}/{}: {} outputs unacknowledged at shutdown; re-sent on restart",
                 state::to_string(id_.fam), id_.partition, unacked_.size());
  std::vector<state::outbox_record> none;
  if (auto st = state_.commit(none); !st.ok())
    spdlog::error("task {}/{}: final commit failed: {}", state::to_string(id_.fam), id_.partition,
                  st.message);
}

}  // namespace herald::actors

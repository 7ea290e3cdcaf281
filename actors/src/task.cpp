#include "herald/actors/task.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include <spdlog/spdlog.h>

#include "herald/actors/alignment.hpp"
#include "herald/actors/changelog.hpp"
#include "herald/actors/rules/inventory.hpp"
#include "herald/state/bytes.hpp"
#include "herald/streams/dlq.hpp"
#include "herald/streams/partitioner.hpp"

namespace herald::actors {

namespace {
// A dead letter too large for Kafka keeps at most this much of its key.
constexpr std::size_t max_dlq_key_bytes = 1024;

// A detector sample (a view or cart add re-keyed by SKU, kept out of the outbox) Kafka did
// not take is gone: counted (produced_records_total{result="failed"}, by the caller or here)
// and logged, at most once a minute with the count since the last line.
std::atomic<std::uint64_t> lost_samples{0};
std::atomic<std::int64_t> lost_logged_ns{0};
void note_lost_sample(const char* reason) {
  lost_samples.fetch_add(1);
  const std::int64_t now = streams::steady_now_ns();
  std::int64_t last = lost_logged_ns.load();
  if (now - last < 60'000'000'000LL || !lost_logged_ns.compare_exchange_strong(last, now)) return;
  spdlog::warn(
      "{} detector samples (views and cart adds re-keyed by SKU) not delivered since the last "
      "report ({}): the SKU detectors miss them",
      lost_samples.exchange(0), reason);
}

// Deferred records: timer tag (reserved: no processor uses it), then the record's kind.
constexpr char deferred_tag = 'd';
constexpr char deferred_contract = 'k';
constexpr char deferred_internal = 's';

}  // namespace

/// timer_service over the task's timer store, tagging keys with the operator's tag and, for
/// timers that speak, adding the grace period to the fire time. A speaking timer's payload
/// starts with the grace it was scheduled with, so it fires with its own due time even after
/// task.timer_grace_ms changed (a cancel under the new grace then misses it, and the rule's
/// stale check ignores it when it fires).
class task::tagged_timers final : public rules::timer_service {
 public:
  tagged_timers(state::task_state& st, char tag, bool speaks, std::int64_t grace)
      : state_(st), tag_(tag), speaks_(speaks), grace_(grace) {}
  void schedule(std::int64_t fire_ms, std::string_view key, std::string_view payload) override {
    if (!speaks_) {
      state_.schedule(fire_ms, tagged(key), payload);
      return;
    }
    payload_.clear();
    state::byte_writer w(payload_);
    w.varint(static_cast<std::uint64_t>(grace_));
    payload_.append(payload);
    state_.schedule(fire_ms + grace_, tagged(key), payload_);
  }
  // The due time and payload of a fired timer of a speaking tag; false when unreadable.
  static bool unwrap(std::int64_t fire_ms, std::string_view stored, std::int64_t& due_ms,
                     std::string_view& payload) {
    state::byte_reader r(stored);
    std::uint64_t grace = 0;
    if (!r.varint(grace)) return false;
    due_ms = fire_ms - static_cast<std::int64_t>(grace);
    payload = r.rest();
    return true;
  }
  void cancel(std::int64_t fire_ms, std::string_view key) override {
    state_.cancel(fire_ms + grace_, tagged(key));
  }

 private:
  const std::string& tagged(std::string_view key) {
    key_.assign(1, tag_);
    key_.append(key);
    return key_;
  }
  state::task_state& state_;
  char tag_;
  bool speaks_;
  std::int64_t grace_;
  std::string key_;
  std::string payload_;
};

task::task(const task_env& env, state::task_id id)
    : env_(env),
      id_(id),
      state_(*env.db, id, env.changelog),
      seen_(state_, {env.config->task.dedup_window_ms, env.config->task.dedup_max_ids}),
      decoder_(env.config->task.max_record_bytes),
      input_of_(env.topics.size(), -1),
      queues_(env.topics.size()),
      queued_next_(env.topics.size(), -1),
      read_end_(env.topics.size(), -1),
      fetched_(env.topics.size(), false),
      counts_(env.topics.size(), std::array<std::uint64_t, 5>{}),
      released_(env.topics.size(), 0),
      reported_waiting_(env.topics.size(), 0),
      next_offsets_(env.topics.size(), -1),
      applied_below_(env.topics.size(), 0) {
  // Watermark inputs: one per contract topic of the family, then (for a family fed by a
  // repartition topic) one per upstream task.
  std::size_t contract = 0;
  bool internal = false;
  for (std::size_t t = 0; t < env.topics.size(); ++t) {
    const auto& b = env.topics[t];
    if (b.fam != id.fam) continue;
    if (b.internal) {
      internal = true;
      internal_topic_ = static_cast<int>(t);
    } else {
      input_of_[t] = static_cast<int>(contract++);
      contract_topic_[static_cast<std::size_t>(b.kind) & 3] = static_cast<int>(t);
    }
    if (auto off = state_.offset(b.name)) queued_next_[t] = applied_below_[t] = *off;
  }
  upstream_base_ = contract;
  if (env_.txn != nullptr) state_.keep_outbox(false);
  if (env_.changelog)
    for (auto st : family_stores(id.fam))
      log_topics_[static_cast<std::size_t>(st)] =
          changelog_topic(env_.config->kafka.group_id, id.fam, st);
  align_ = env.align[static_cast<std::size_t>(id.fam) & 3];
  // Several contract topics need the head-timestamp choice; an aligned task queues its one
  // topic's records the same way, to hold those past its cap.
  merge_ = contract > 1 || (align_ != nullptr && contract > 0);
  sort_ = internal;
  const std::size_t upstream =
      internal ? static_cast<std::size_t>(std::max(env.upstream_tasks, 0)) : 0;
  watermark_ = streams::watermark(env.config->task.watermark, contract + upstream);
  // A SKU task must not run ahead on shop.inventory before the customer tasks' first markers;
  // a restarted customer task must not run ahead on the clickstream while its carts partition
  // is still to be fetched (a cart's order would come after its reminder). Every input is
  // awaited until heard from, an input partition only while it may hold records.
  for (std::size_t i = 0; i < watermark_.inputs(); ++i) watermark_.expect(i);
  awaited_ = upstream_base_;
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
  if (auto wm = state_.watermark()) {
    watermark_.restore(*wm);
    stream_time_ = *wm;
    dirty_ = true;  // the first commit publishes it to the tasks downstream
  }
  reported_timers_ = state_.timer_count();
  env_.probe->add_timers(reported_timers_);
  reported_seen_ = seen_.size();
  reported_evicted_ = seen_.evicted();
  env_.probe->add_dedup_ids(static_cast<std::int64_t>(reported_seen_), reported_evicted_);
  env_.probe->add_tasks(1);
}

task::~task() {
  for (std::size_t t = 0; t < reported_waiting_.size(); ++t)
    env_.probe->add_waiting(t, -reported_waiting_[t]);
  env_.probe->add_timers(-reported_timers_);
  env_.probe->add_dedup_ids(-static_cast<std::int64_t>(reported_seen_), 0);
  env_.probe->add_tasks(-1);
  env_.probe->drop_watermark(id_);
  if (align_ != nullptr) align_->leave(id_.partition);
  // Not handing a commit: it produced nothing since its last one.
  if (txn_member_) env_.txn->leave(txn_member_, !txn_handing_ && !corrupt_);
}

rules::timer_service& task::timers(char tag, bool speaks) {
  auto& t = timers_[tag];
  if (!t) {
    speaks_[static_cast<unsigned char>(tag)] = speaks;
    t = std::make_unique<tagged_timers>(state_, tag, speaks,
                                        speaks ? env_.config->task.timer_grace_ms : 0);
  }
  return *t;
}

std::optional<std::int64_t> task::resume_offset(const std::string& topic) const {
  return state_.offset(topic);
}

std::size_t task::queued() const noexcept {
  std::size_t n = 0;
  for (const auto& q : queues_) n += q.size();
  return n;
}

void task::start(std::function<void()> wake) {
  {
    std::lock_guard<std::mutex> lock(log_acks_->mutex);
    log_acks_->wake = wake;
    log_acks_->id = fmt::format("{}/{}", state::to_string(id_.fam), id_.partition);
  }
  if (env_.txn != nullptr)
    txn_member_ =
        env_.txn->join(wake, fmt::format("{}/{}", state::to_string(id_.fam), id_.partition));
  if (align_ != nullptr) align_->join(id_.partition, std::move(wake));
  std::vector<state::outbox_record> pending;
  if (auto st = state_.load_outbox(pending); !st.ok()) {
    // Processing on would lose what it holds: the task stops and is restored.
    env_.probe->add_state_error("outbox", state::to_string(state::store::outbox));
    fail("its outbox cannot be read: " + st.message);
    return;
  }
  if (!pending.empty())
    spdlog::info("task {}/{}: re-producing {} unacknowledged output records",
                 state::to_string(id_.fam), id_.partition, pending.size());
  if (env_.txn != nullptr) {
    // Left by an at-least-once run: sent with the first transaction, and deleted with it.
    txn_carry_ = std::move(pending);
    if (!txn_carry_.empty()) dirty_ = true;
    return;
  }
  for (auto& rec : pending) produce(std::move(rec));
}

schemas::decode_code task::decode(const streams::record& rec, std::int64_t wall_ms,
                                  schemas::event& ev, std::string& reason) {
  const auto& binding = env_.topics[rec.topic];
  if (rec.value_null) {
    reason = "the record has no value (a tombstone): not an event";
    return schemas::decode_code::malformed_json;
  }
  const schemas::decode_error err = decoder_.decode(binding.kind, rec.key, rec.value, ev);
  if (err) {
    reason = err.message;
    return err.code;
  }
  // One absurd timestamp would drag the partition's watermark along and fire every timer
  // on it: bad input, like a malformed body.
  const auto& cfg = env_.config->task;
  if (ev.ts_ms > wall_ms + cfg.max_future_ms) {
    reason = fmt::format(
        "event time {} is more than task.max_future_ms ({} ms) ahead of the "
        "wall clock ({})",
        ev.ts_ms, cfg.max_future_ms, wall_ms);
    return schemas::decode_code::time_out_of_range;
  }
  if (ev.ts_ms < cfg.min_event_time_ms) {
    reason = fmt::format("event time {} is before task.min_event_time_ms ({})", ev.ts_ms,
                         cfg.min_event_time_ms);
    return schemas::decode_code::time_out_of_range;
  }
  return schemas::decode_code::ok;
}

void task::note_if_late(std::uint16_t topic, std::int64_t ts_ms) {
  if (watermark_.current() == streams::watermark::none || ts_ms >= watermark_.current()) return;
  ++counts_[topic][2];
  env_.probe->observe_lateness(topic, static_cast<double>(watermark_.current() - ts_ms) / 1000.0);
}

void task::check_route(const streams::record& rec) {
  const std::int32_t n = env_.family_partitions[static_cast<std::size_t>(id_.fam)];
  if (n <= 0 || rec.key_null || env_.topics[rec.topic].internal) return;
  if (streams::default_partition(rec.key, n) != id_.partition) ++counts_[rec.topic][4];
}

bool task::repeat(const streams::record& rec, std::string_view event_id, std::int64_t ts_ms,
                  std::uint8_t kind) {
  const auto& b = env_.topics[rec.topic];
  // The input's kind (and an internal record's own), not its index or name: stable across
  // configurations, as persisted ids must be.
  const char k = b.internal ? static_cast<char>(0x80 | (kind & 0x7f))
                            : static_cast<char>('a' + static_cast<int>(b.kind));
  if (!seen_.repeat(k, rec.key, event_id, ts_ms)) return false;
  ++counts_[rec.topic][3];
  if (!logged_repeat_) {
    logged_repeat_ = true;
    spdlog::info(
        "task {}/{}: the record of {} at offset {} repeats event_id '{}', applied already: "
        "not applied again (this and later repeats are counted in "
        "herald_duplicate_events_total{{topic}})",
        state::to_string(id_.fam), id_.partition, b.name, rec.offset, event_id);
  }
  return true;
}

void task::admit(std::uint16_t topic, std::int64_t ts_ms, std::int64_t wall_ms) {
  note_if_late(topic, ts_ms);
  watermark_.observe(static_cast<std::size_t>(input_of_[topic]), ts_ms, wall_ms);
}

std::int64_t task::watermark() const noexcept {
  return std::min(watermark_.current(), cap_);
}

std::int64_t task::settled() const noexcept {
  std::int64_t t = watermark();
  for (const auto& q : queues_)
    if (!q.empty() && q.front().ts_ms != streams::watermark::none)
      t = std::min(t, q.front().ts_ms - 1);
  if (fire_behind_ != streams::watermark::none) t = std::min(t, behind_next_ - 1);
  return t;
}

void task::update_cap(std::int64_t wall_ms) {
  const std::int64_t c = processor_->time_cap(wall_ms);
  if (c != streams::watermark::none && (cap_ == no_cap || c > cap_)) cap_ = c;
}

void task::consumed(const streams::record& rec) {
  next_offsets_[rec.topic] = rec.offset + 1;
  ++released_[rec.topic];
}

void task::apply_contract(const streams::record& rec, const schemas::event& ev,
                          schemas::decode_code code, const std::string& reason) {
  const std::uint16_t t = rec.topic;
  if (code != schemas::decode_code::ok) {
    dead_letter(rec, code, reason);
    ++counts_[t][1];
  } else {
    if (!repeat(rec, ev.event_id, ev.ts_ms)) {
      stream_time_ = std::max(stream_time_, ev.ts_ms);
      processor_->apply(ev, rec);
    }
    ++counts_[t][0];
  }
  consumed(rec);
}

void task::apply_internal_record(const streams::record& rec, std::int64_t wall_ms) {
  const std::uint16_t t = rec.topic;
  task_processor::internal_record info;
  std::string reason;
  if (!processor_->decode_internal(rec, info, reason)) {
    dead_letter(rec, schemas::decode_code::invalid_value, reason);
    ++counts_[t][1];
  } else if (info.marker) {
    // Only the watermark of the upstream task moves; markers are not events.
    if (info.upstream >= 0 && info.upstream < env_.upstream_tasks) {
      watermark_.advance(upstream_base_ + static_cast<std::size_t>(info.upstream), info.ts_ms,
                         wall_ms);
      fire_timers(watermark());
    } else {
      spdlog::warn("task {}/{}: watermark marker of unknown upstream task {} ignored",
                   state::to_string(id_.fam), id_.partition, info.upstream);
    }
    ++markers_received_;
  } else {
    note_if_late(t, info.ts_ms);
    if (sort_ && (info.ts_ms > watermark() || fire_behind_ != streams::watermark::none))
      defer(deferred_internal, rec, info.ts_ms, info.event_id);
    else if (!repeat(rec, info.event_id, info.ts_ms, info.kind))
      processor_->apply_internal(rec);
    ++counts_[t][0];
  }
  consumed(rec);
}

void task::fail(const std::string& why) {
  if (failed_) return;
  failed_ = true;
  spdlog::error(
      "task {}/{}: {}; it stops, and is restarted from its committed state (restored from the "
      "changelogs)",
      state::to_string(id_.fam), id_.partition, why);
  if (auto st = state::task_state::mark_unclean(*env_.db, id_); !st.ok())
    spdlog::error("task {}/{}: cannot mark its state for a restore: {}", state::to_string(id_.fam),
                  id_.partition, st.message);
  if (env_.failed) env_.failed(id_, why);
}

bool task::check_state() {
  if (!state_.has_errors()) return failed_;
  std::string what;
  for (const auto& e : state_.take_errors()) {
    env_.probe->add_state_error(e.kind, state::to_string(e.s));
    if (what.empty())
      what = fmt::format("a stored value of store {} could not be {}", state::to_string(e.s),
                         std::string_view(e.kind) == "read" ? "read" : "decoded");
  }
  fail(what);
  return true;
}

void task::process(streams::record_batch& batch, std::int64_t wall_ms) {
  if (last_commit_wall_ms_ == 0) last_commit_wall_ms_ = wall_ms;  // the interval starts now
  wall_ms_ = wall_ms;
  // Outputs wait for the producer: new records wait too (their credit is not returned, so
  // the source pauses these partitions) and are applied, in order, once the outputs are out.
  if (backlogged() || !held_batches_.empty()) {
    held_batches_.push_back(std::move(batch));
    return;
  }
  apply_batch(batch, wall_ms);
  (void)check_state();
}

void task::apply_batch(streams::record_batch& batch, std::int64_t wall_ms) {
  update_cap(wall_ms);
  // The ends follow the batch's records in Kafka's order; as maxima they may be taken first.
  for (const auto& [t, end] : batch.ends) {
    read_end_[t] = std::max(read_end_[t], end);
    fetched_[t] = true;
  }
  for (const auto& rec : batch.records) fetched_[rec.topic] = true;
  const std::size_t before = queued();
  const std::int64_t was = watermark();
  release_read_inputs();
  if (batch.records.empty()) {
    // Only ends: what waited for these partitions may go; an idle task stays clean.
    settle(before, was, wall_ms);
    return;
  }
  std::string reason;
  uncommitted_ += batch.records.size();
  for (streams::record& rec : batch.records) {
    const std::uint16_t t = rec.topic;
    if (rec.offset < applied_below_[t]) {
      // Applied already by the partition's previous owner: its restored state says so (the
      // group's offsets, from which the source resumed, may lag behind what the changelog has).
      ++released_[t];
      continue;
    }
    queued_next_[t] = rec.offset + 1;
    check_route(rec);
    if (env_.topics[t].internal) {
      apply_internal_record(rec, wall_ms);
    } else if (!merge_) {
      const auto code = decode(rec, wall_ms, event_, reason);
      if (code == schemas::decode_code::ok) {
        admit(t, event_.ts_ms, wall_ms);
        // Due before the record: fired before it. A sorting task defers the record behind
        // the timers a commit's room left; another one fires them all (its timers are few).
        fire_timers(watermark(), sort_);
      }
      if (code == schemas::decode_code::ok && sort_ &&
          (event_.ts_ms > watermark() || fire_behind_ != streams::watermark::none)) {
        defer(deferred_contract, rec, event_.ts_ms, event_.event_id);
        ++counts_[t][0];
        consumed(rec);
      } else {
        apply_contract(rec, event_, code, reason);
      }
    } else {
      queued_record q;
      if (event_pool_.empty()) {
        q.ev = std::make_unique<schemas::event>();
      } else {
        q.ev = std::move(event_pool_.back());
        event_pool_.pop_back();
      }
      q.code = decode(rec, wall_ms, *q.ev, q.reason);
      q.ts_ms = q.code == schemas::decode_code::ok ? q.ev->ts_ms : streams::watermark::none;
      // Read is seen: the input's event time moves now, while the record waits its turn.
      if (q.code == schemas::decode_code::ok) admit(t, q.ts_ms, wall_ms);
      q.rec = std::move(rec);
      queues_[t].push_back(std::move(q));
    }
  }
  if (merge_) drain(wall_ms);
  dirty_ = true;
  report(batch.polled_at_ns);
  if (env_.txn == nullptr &&
      (wall_ms - last_commit_wall_ms_ >= env_.config->task.commit_interval_ms ||
       full_until_commit()))
    commit(wall_ms);
}

bool task::may_have_more(std::uint16_t t) const {
  if (!env_.offsets) return false;
  // Not fetched yet in this assignment: it may well have records. The high watermark
  // librdkafka caches outlives an assignment: one of this instance's earlier ownership of the
  // partition, below where the restored state resumes, would release an input that holds the
  // very records the watermark must wait for (an order, and the reminder fired before it).
  if (!fetched_[t]) return true;
  std::int64_t lo = -1, hi = -1;
  if (!env_.offsets(t, id_.partition, lo, hi) || hi < 0) return true;
  return hi > std::max({queued_next_[t], read_end_[t], lo});
}

void task::release_read_inputs() {
  if (awaited_ == 0) return;
  awaited_ = 0;
  for (std::size_t t = 0; t < input_of_.size(); ++t) {
    if (input_of_[t] < 0) continue;
    const auto i = static_cast<std::size_t>(input_of_[t]);
    if (!watermark_.awaited(i)) continue;
    if (may_have_more(static_cast<std::uint16_t>(t)))
      ++awaited_;
    else
      watermark_.release(i);
  }
}

void task::drain(std::int64_t wall_ms) {
  const std::int64_t align_cap = align_ != nullptr ? align_->cap(id_.partition) : alignment::no_cap;
  stopped_at_ = streams::watermark::none;
  for (;;) {
    int pick = -1;
    for (std::size_t t = 0; t < queues_.size(); ++t) {
      if (queues_[t].empty()) continue;
      if (pick < 0 ||
          queues_[t].front().ts_ms < queues_[static_cast<std::size_t>(pick)].front().ts_ms)
        pick = static_cast<int>(t);
    }
    if (pick < 0) {
      waiting_since_ms_ = streams::watermark::none;
      break;
    }
    // A record ahead of the watermark waits until every input has reached its time, so the
    // task applies records and fires timers in event-time order whatever the topics' speeds.
    const std::int64_t head_ts = queues_[static_cast<std::size_t>(pick)].front().ts_ms;
    if (head_ts > watermark()) {
      waiting_since_ms_ = streams::watermark::none;
      break;
    }
    // Too far ahead of the family's other tasks on this instance: woken when they catch up.
    if (head_ts > align_cap) {
      stopped_at_ = head_ts;
      waiting_since_ms_ = streams::watermark::none;
      break;
    }
    // An empty partition that may still deliver an earlier record holds the others back, for
    // at most max_wait_ms. Bad input goes at once (its position in time is unknown).
    bool blocked = false;
    if (queues_[static_cast<std::size_t>(pick)].front().ts_ms != streams::watermark::none)
      for (std::size_t t = 0; t < queues_.size() && !blocked; ++t)
        blocked =
            input_of_[t] >= 0 && queues_[t].empty() && may_have_more(static_cast<std::uint16_t>(t));
    if (blocked) {
      if (waiting_since_ms_ == streams::watermark::none) waiting_since_ms_ = wall_ms;
      if (wall_ms - waiting_since_ms_ < env_.config->task.max_wait_ms) break;
    } else {
      waiting_since_ms_ = streams::watermark::none;
    }
    // Due at or before the record: fired before it; a commit's room may leave the record
    // waiting for the next.
    if (!fire_timers(head_ts)) break;
    auto& q = queues_[static_cast<std::size_t>(pick)];
    queued_record head = std::move(q.front());
    q.pop_front();
    apply_contract(head.rec, *head.ev, head.code, head.reason);
    event_pool_.push_back(std::move(head.ev));
  }
  fire_timers(settled());
  report_position();
}

void task::report_position() {
  if (align_ == nullptr) return;
  std::int64_t at = alignment::none;
  for (const auto& q : queues_)
    if (!q.empty() && q.front().ts_ms != streams::watermark::none)
      at = at == alignment::none ? q.front().ts_ms : std::min(at, q.front().ts_ms);
  // Nothing queued but more in Kafka: it is at its read watermark (before everything until
  // it has read a record); caught up: nowhere.
  if (at == alignment::none)
    for (std::size_t t = 0; t < input_of_.size(); ++t)
      if (input_of_[t] >= 0 && !env_.topics[t].internal &&
          may_have_more(static_cast<std::uint16_t>(t)))
        at = watermark_.current() == streams::watermark::none ? alignment::first
                                                              : watermark_.current();
  align_->report(id_.partition, at, stopped_at_);
}

void task::report(std::int64_t polled_at_ns) {
  std::int64_t released = 0;
  for (std::size_t t = 0; t < queues_.size(); ++t) {
    const auto n = static_cast<std::int64_t>(queues_[t].size());
    env_.probe->add_waiting(t, n - reported_waiting_[t]);
    reported_waiting_[t] = n;
  }
  for (std::size_t t = 0; t < counts_.size(); ++t) {
    auto& c = counts_[t];
    // Repeats and lateness before the records they belong to: whoever sees a record counted
    // sees them too.
    env_.probe->add_duplicates(t, c[3]);
    if (env_.probe->add_misrouted(t, c[4]))
      spdlog::warn(
          "{}: records whose key Kafka's default partitioner puts on another partition (first "
          "seen on partition {}): the producer uses another partitioner. Records of one key "
          "must meet in one task, with the signals Herald re-keys itself: produce with "
          "murmur2 (Java clients' default; librdkafka and kcat: partitioner=murmur2_random). "
          "Counted in herald_misrouted_records_total{{topic}}",
          env_.topics[t].name, id_.partition);
    env_.probe->add_late(t, c[2]);
    env_.probe->add_events(t, event_result::ok, c[0]);
    env_.probe->add_events(t, event_result::dlq, c[1]);
    c = {};
    if (released_[t] == 0) continue;
    released += released_[t];
    if (env_.release) env_.release(id_, static_cast<std::uint16_t>(t), released_[t]);
    released_[t] = 0;
  }
  if (markers_received_ != 0) {
    env_.probe->add_watermark_markers(true, markers_received_);
    released -= static_cast<std::int64_t>(markers_received_);  // not records of the latency
    markers_received_ = 0;
  }
  if (polled_at_ns != 0 && released > 0)
    env_.probe->observe_latency(static_cast<double>(streams::steady_now_ns() - polled_at_ns) / 1e9,
                                static_cast<std::uint64_t>(released));
}

bool task::fire_timers(std::int64_t up_to_ms, bool bounded) {
  if (up_to_ms == streams::watermark::none) return true;
  auto next = state_.next_fire_ms();
  while (next && *next <= up_to_ms) {
    // A watermark's jump may make millions due at once (a restart after a day): each commit
    // takes at most its room, so one transaction's outputs and state stay bounded.
    const std::size_t room = bounded ? commit_room() : static_cast<std::size_t>(-1);
    if (room == 0) {
      fire_behind_ = std::max(fire_behind_, up_to_ms);
      behind_next_ = *next;
      return false;
    }
    due_.clear();
    state_.pop_due(up_to_ms, due_, room);
    uncommitted_ += due_.size();
    for (const auto& t : due_) {
      if (t.key.empty()) continue;
      const char tag = t.key[0];
      if (tag == deferred_tag) {
        apply_deferred(std::string_view(t.key).substr(1), t.payload);
        continue;
      }
      std::int64_t due = t.fire_ms;
      std::string_view payload = t.payload;
      if (speaks_[static_cast<unsigned char>(tag)] &&
          !tagged_timers::unwrap(t.fire_ms, t.payload, due, payload)) {
        spdlog::warn("task {}/{}: unreadable timer of tag '{}' at {} dropped",
                     state::to_string(id_.fam), id_.partition, tag, t.fire_ms);
        continue;
      }
      processor_->on_timer(tag, std::string_view(t.key).substr(1), due, payload);
    }
    // A timer may schedule another that is already due (e.g. the next reminder step).
    next = state_.next_fire_ms();
  }
  if (up_to_ms >= fire_behind_) fire_behind_ = streams::watermark::none;
  return true;
}

void task::fire_behind(std::int64_t wall_ms) {
  if (fire_behind_ == streams::watermark::none || full_until_commit()) return;
  dirty_ = true;
  const std::size_t before = queued();
  if (fire_timers(fire_behind_) && merge_) drain(wall_ms);
  if (queued() != before) report(0);  // the records it applied are released
}

// A task fed by a repartition topic gets the records of every upstream task interleaved on
// one partition, in no useful order (each upstream runs at its own speed). Each record ahead
// of the watermark (the minimum over its own input and every upstream task's marker) waits in
// the timer store at its event time, so its offset can be committed and a crash loses
// nothing, and is applied once the watermark passes it, in (event time, id) order: the rules
// see the same sequence whatever the upstream partitions' speeds.
void task::defer(char kind, const streams::record& rec, std::int64_t ts_ms,
                 std::string_view event_id) {
  deferred_key_.assign(1, deferred_tag);
  deferred_key_.push_back(kind);
  // The event id orders records of one millisecond and keeps a repeated one once; records
  // without one (the contract requires it) fall back to their offset.
  if (event_id.empty())
    deferred_key_.append("@" + std::to_string(rec.offset));
  else
    deferred_key_.append(event_id);
  // Which input: the family's internal topic, or its contract topic of this kind (stable
  // across configurations, unlike an index, and shorter than a name).
  deferred_payload_.clear();
  state::byte_writer w(deferred_payload_);
  const auto& b = env_.topics[rec.topic];
  w.u8(deferred_format_v2);
  w.u8(b.internal ? internal_input : static_cast<std::uint8_t>(b.kind));
  w.str(rec.key);
  w.str(rec.value);
  state_.schedule_new(ts_ms, deferred_key_, deferred_payload_);
}

bool task::read_deferred(char kind, std::string_view payload, streams::record& rec) const {
  state::byte_reader r(payload);
  if (!payload.empty() && static_cast<std::uint8_t>(payload[0]) == deferred_format_v2) {
    std::uint8_t marker = 0, input = 0;
    if (!r.u8(marker) || !r.u8(input)) return false;
    const int t = input == internal_input ? internal_topic_ : contract_topic_[input & 3];
    if (t < 0 || !r.str(rec.key) || !r.str(rec.value) || !r.done()) return false;
    rec.topic = static_cast<std::uint16_t>(t);
    return true;
  }
  // Earlier formats. v1: [str topic name][str key][str value]. v0, written by the SKU
  // processor before the task deferred records itself: a stock level [str key][str value],
  // a signal its record value alone (its key is the signal's SKU).
  std::string name;
  if (r.str(name) && r.str(rec.key) && r.str(rec.value) && r.done()) {
    for (std::size_t t = 0; t < env_.topics.size(); ++t)
      if (env_.topics[t].fam == id_.fam && env_.topics[t].name == name) {
        rec.topic = static_cast<std::uint16_t>(t);
        return true;
      }
    return false;
  }
  if (kind == deferred_contract) {
    state::byte_reader v0(payload);
    const int t = contract_topic_[static_cast<std::size_t>(schemas::topic_kind::inventory)];
    if (t < 0 || !v0.str(rec.key) || !v0.str(rec.value) || !v0.done()) return false;
    rec.topic = static_cast<std::uint16_t>(t);
    return true;
  }
  rules::sku_signal signal;
  if (internal_topic_ < 0 || !rules::sku_signal::decode(payload, signal)) return false;
  rec.topic = static_cast<std::uint16_t>(internal_topic_);
  rec.key = signal.sku;
  rec.value.assign(payload);
  return true;
}

void task::apply_deferred(std::string_view key, std::string_view payload) {
  streams::record& rec = deferred_record_;
  rec.offset = -1;
  if (key.empty() || !read_deferred(key[0], payload, rec)) {
    spdlog::warn(
        "task {}/{}: deferred record of an input no longer consumed, or unreadable, "
        "dropped",
        state::to_string(id_.fam), id_.partition);
    return;
  }
  // Decoded and checked once already, when it arrived.
  if (key[0] == deferred_contract) {
    if (decoder_.decode(env_.topics[rec.topic].kind, rec.key, rec.value, deferred_event_)) return;
    if (repeat(rec, deferred_event_.event_id, deferred_event_.ts_ms)) return;
    stream_time_ = std::max(stream_time_, deferred_event_.ts_ms);
    processor_->apply(deferred_event_, rec);
  } else if (key[0] == deferred_internal) {
    task_processor::internal_record info;
    std::string reason;
    if (processor_->decode_internal(rec, info, reason) && !info.marker &&
        !repeat(rec, info.event_id, info.ts_ms, info.kind))
      processor_->apply_internal(rec);
  }
}

void task::settle(std::size_t before, std::int64_t was, std::int64_t wall_ms) {
  if (merge_ && before > 0) {
    drain(wall_ms);
  } else {
    if (watermark() != was) fire_timers(watermark());
    report_position();  // caught up since, or read more
  }
  if (watermark() != was) dirty_ = true;
  if (queued() != before) {
    dirty_ = true;
    report(0);
  }
}

void task::tick(std::int64_t wall_ms) {
  if (last_commit_wall_ms_ == 0) last_commit_wall_ms_ = wall_ms;
  wall_ms_ = wall_ms;
  const std::size_t before = queued();
  const std::int64_t was = watermark();
  if (!ended_ && env_.input_ended != nullptr && env_.input_ended->load()) {
    for (std::size_t i = 0; i < upstream_base_; ++i) watermark_.finish(i);
    ended_ = true;
  }
  release_read_inputs();
  watermark_.tick(wall_ms);
  update_cap(wall_ms);
  fire_behind(wall_ms);
  settle(before, was, wall_ms);
  drain_acks();
  apply_held(wall_ms);
  if (env_.txn != nullptr)
    txn_step(wall_ms);
  else if ((commit_failed_ || full_until_commit() ||
            wall_ms - last_commit_wall_ms_ >= env_.config->task.commit_interval_ms) &&
           (dirty_ || state_.pending_ops() > 0))
    commit(wall_ms);
  // A commit lifts task.max_uncommitted_records.
  fire_behind(wall_ms);
  apply_held(wall_ms);
}

void task::apply_held(std::int64_t wall_ms) {
  while (!held_batches_.empty() && !backlogged()) {
    streams::record_batch held = std::move(held_batches_.front());
    held_batches_.pop_front();
    apply_batch(held, wall_ms);
  }
}

void task::txn_step(std::int64_t wall_ms) {
  const transactions::order o = env_.txn->poll(*txn_member_);
  if (o.settled != 0 && o.settled == txn_prepared_) {
    txn_prepared_ = 0;
    if (o.committed && !txn_numbers_.empty()) {
      // Committed: the changelog holds the commit, so its pending mark goes and the
      // checkpoints move (written with the next commit).
      {
        std::lock_guard<std::mutex> lock(log_acks_->mutex);
        log_acks_->done = 0;
        for (std::size_t s = 0; s < state::store_count; ++s)
          log_next_[s] = std::max(log_next_[s], log_acks_->next[s]);
      }
      complete_logged(txn_numbers_);
    }
    txn_numbers_.clear();
  }
  if (o.corrupt) {
    if (!corrupt_)
      spdlog::warn(
          "task {}/{}: a transaction it took part in was aborted; it takes nothing more until "
          "it is rewound to its committed state",
          state::to_string(id_.fam), id_.partition);
    corrupt_ = true;
    return;
  }
  if (o.commit_for != 0 && !txn_handing_ && txn_prepared_ == 0) {
    txn_epoch_ = o.commit_for;
    txn_handing_ = true;
    txn_complete_ = true;
    if (txn_stopping_ && txn_final_ == 0) txn_final_ = txn_epoch_;
    if (dirty_ || state_.pending_ops() > 0) commit(wall_ms);
  }
  if (!txn_handing_) return;
  drain_acks();
  send_waiting();
  // A failed commit produced nothing: its state stays pending for the next transaction.
  if (!commit_failed_ &&
      (!waiting_outputs_.empty() || !waiting_transient_.empty() || marker_due_ || !hand_txn_log()))
    return;
  txn_handing_ = false;
  txn_prepared_ = txn_epoch_;
  std::vector<streams::txn_offset> offsets;
  if (!commit_failed_) offsets.swap(txn_offsets_);
  txn_offsets_.clear();
  txn_log_.clear();
  txn_log_handed_ = 0;
  env_.txn->prepared(*txn_member_, txn_epoch_, std::move(offsets), txn_complete_);
}

void task::complete_logged(const std::vector<std::uint64_t>& numbers) {
  std::map<state::store, std::int64_t> checkpoints;
  for (std::size_t s = 0; s < state::store_count; ++s)
    if (!log_topics_[s].empty() && log_next_[s] > 0)
      checkpoints[static_cast<state::store>(s)] = log_next_[s];
  state_.complete_log(numbers, checkpoints);
}

bool task::hand_txn_log() {
  while (txn_log_handed_ < txn_log_.size()) {
    const auto queued = produce_log_record(txn_log_[txn_log_handed_]);
    if (queued.full) return false;
    if (!queued) {
      // Not in the transaction: committing it would leave the changelog short of the state.
      env_.probe->add_changelog(false);
      if (txn_complete_)
        spdlog::error(
            "task {}/{}: a changelog record of store {} was refused by the producer ({}): its "
            "transaction aborts",
            state::to_string(id_.fam), id_.partition, state::to_string(txn_log_[txn_log_handed_].s),
            queued.failure.reason);
      txn_complete_ = false;
    }
    ++txn_log_handed_;
  }
  return true;
}

void task::dead_letter(const streams::record& rec, schemas::decode_code code,
                       const std::string& reason) {
  const auto& topic = env_.topics[rec.topic].name;
  auto headers = streams::dlq_headers(reason, topic, id_.partition, rec.offset);
  // Byte for byte (a record without a key or value, a tombstone, keeps it null), unless it
  // is too large for Kafka to take: an oversized record is cut to task.dlq_max_bytes, so its
  // dead letter is never refused and stuck in the outbox.
  std::string_view key = rec.key, value = rec.value;
  const std::size_t budget = env_.config->task.dlq_max_bytes;
  auto header_bytes = [&] {
    std::size_t n = 0;
    for (const auto& [name, v] : headers) n += name.size() + v.size();
    return n;
  };
  if (key.size() + value.size() + header_bytes() > budget) {
    headers.emplace_back("herald.truncated", std::to_string(rec.value.size()));
    if (key.size() > max_dlq_key_bytes) key = key.substr(0, max_dlq_key_bytes);
    const std::size_t used = key.size() + header_bytes();
    value = value.substr(0, used < budget ? budget - used : 0);
    env_.probe->add_dlq_truncated();
  }
  state_.add_output(env_.config->topics.dlq, key, value, headers, rec.key_null, rec.value_null);
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
  // State read wrongly must not be committed over what the changelog holds.
  if (check_state()) return;
  last_commit_wall_ms_ = wall_ms;
  const std::int64_t t0 = streams::steady_now_ns();
  processor_->flush();
  seen_.flush();
  for (std::size_t t = 0; t < next_offsets_.size(); ++t)
    if (next_offsets_[t] >= 0) state_.set_offset(env_.topics[t].name, next_offsets_[t]);
  const std::int64_t wm = settled();
  if (wm != streams::watermark::none) state_.set_watermark(wm);
  drain_acks();
  std::vector<state::outbox_record> committed;
  std::vector<std::uint64_t> carried;
  for (const auto& rec : txn_carry_) carried.push_back(rec.seq);
  if (!carried.empty()) state_.ack_outputs(carried);
  if (auto st = state_.commit(committed); !st.ok()) {
    // Pending state is kept and the next tick retries; meanwhile no new record is taken (their
    // credit is not returned, so the source pauses the partitions). Offsets did not move, so
    // nothing is lost.
    if (!commit_failed_)
      spdlog::error("task {}/{}: commit failed ({}); intake paused, retrying every tick",
                    state::to_string(id_.fam), id_.partition, st.message);
    commit_failed_ = true;
    env_.probe->add_state_error(st.value == state::status::code::no_space ? "no_space" : "commit");
    return;
  }
  if (commit_failed_) {
    commit_failed_ = false;
    spdlog::info("task {}/{}: commit succeeded again; intake resumed", state::to_string(id_.fam),
                 id_.partition);
  }
  dirty_ = false;
  uncommitted_ = 0;
  if (wm != streams::watermark::none) {
    env_.probe->set_watermark(id_, wm);
    seen_.expire(wm);
  }
  env_.probe->add_dedup_ids(
      static_cast<std::int64_t>(seen_.size()) - static_cast<std::int64_t>(reported_seen_),
      seen_.evicted() - reported_evicted_);
  reported_seen_ = seen_.size();
  reported_evicted_ = seen_.evicted();
  env_.probe->add_commit(static_cast<double>(streams::steady_now_ns() - t0) / 1e9);
  if (!txn_carry_.empty()) {
    committed.insert(committed.begin(), std::make_move_iterator(txn_carry_.begin()),
                     std::make_move_iterator(txn_carry_.end()));
    txn_carry_.clear();
  }
  std::uint64_t last_seq = 0;
  for (const auto& rec : committed) last_seq = std::max(last_seq, rec.seq);
  for (auto& rec : committed) produce(std::move(rec));
  waiting_transient_.insert(waiting_transient_.end(), std::make_move_iterator(transient_.begin()),
                            std::make_move_iterator(transient_.end()));
  transient_.clear();
  marker_due_ = true;
  send_waiting();
  std::vector<std::pair<std::uint16_t, std::int64_t>> offsets;
  for (std::size_t t = 0; t < next_offsets_.size(); ++t) {
    if (next_offsets_[t] < 0) continue;
    offsets.emplace_back(static_cast<std::uint16_t>(t), next_offsets_[t]);
    next_offsets_[t] = -1;
  }
  if (env_.txn != nullptr) {
    // One transaction holds the outputs, the changelog records and the offsets: no order
    // among them is needed.
    std::vector<state::log_record> records;
    if (const std::uint64_t number = state_.take_log(records); number != 0)
      txn_numbers_.push_back(number);
    for (auto& r : records)
      if (loggable(r)) txn_log_.push_back(std::move(r));
    for (const auto& [t, next] : offsets)
      txn_offsets_.push_back({env_.topics[t].name, id_.partition, next});
    offsets.clear();
    (void)hand_txn_log();
  } else if (env_.changelog) {
    // The offsets reach the group only once the changelog holds everything up to them, so a
    // task restored elsewhere resumes where its restored state ends, never past it.
    std::vector<state::log_record> records;
    const std::uint64_t number = state_.take_log(records);
    if (number != 0 || !log_queue_.empty())
      log_commit(std::move(records), number, last_seq, std::move(offsets));
    offsets.clear();
    advance_log();
  }
  for (const auto& [t, next] : offsets)
    if (env_.committed) env_.committed(id_, t, next);
  const std::int64_t timers = state_.timer_count();
  env_.probe->add_timers(timers - reported_timers_);
  reported_timers_ = timers;
}

bool task::send_transient() {
  metrics* probe = env_.probe;
  while (!waiting_transient_.empty()) {
    const auto& rec = waiting_transient_.front();
    const auto queued = env_.sink->produce(*rec.topic, rec.key, rec.value, {},
                                           [probe](const streams::delivery_report& r) {
                                             probe->add_produced(r.ok);
                                             if (!r.ok) note_lost_sample(r.reason);
                                           });
    // A full queue is no reason to lose a sample: it waits, and so does the task's intake.
    if (queued.full) return false;
    if (!queued) {
      probe->add_produced(false);
      note_lost_sample(queued.failure.reason);
    }
    waiting_transient_.pop_front();
  }
  return true;
}

void task::publish_watermark() {
  // After this commit's outputs, so a SKU task that reads the marker has read every signal
  // this task emitted before it (the idempotent producer keeps per-partition order).
  marker_due_ = false;
  if (env_.repartition_partitions <= 0 || id_.fam != state::family::customer) return;
  // Not past a record still waiting (it may emit signals of its time).
  const std::int64_t wm = settled();
  if (wm == streams::watermark::none || wm == published_watermark_) return;
  published_watermark_ = wm;
  rules::sku_signal marker;
  marker.type = rules::sku_signal::kind::watermark;
  marker.quantity = id_.partition;
  marker.ts_ms = wm;
  std::string value;
  marker.encode(value);
  metrics* probe = env_.probe;
  for (std::int32_t p = 0; p < env_.repartition_partitions; ++p)
    if (!env_.sink->produce_to(
            env_.config->topics.sku_signals, p, {}, value, {},
            [probe](const streams::delivery_report& r) { probe->add_produced(r.ok); })) {
      probe->add_produced(false);
      published_watermark_ = streams::watermark::none;  // published again with the next commit
    }
  // A lost marker costs a commit's wait: the next commit publishes it (or a newer one) again.
  env_.probe->add_watermark_markers(false, static_cast<std::uint64_t>(env_.repartition_partitions));
}

void task::produce(state::outbox_record&& rec) {
  if (backlogged() || !hand(rec)) {
    const std::uint64_t seq = rec.seq;
    waiting_outputs_.emplace(seq, std::move(rec));
  }
}

void task::send_waiting() {
  if (resend_wait_) {
    if (!unacked_.empty()) return;  // every record with the producer has its fate first
    resend_wait_ = false;
  }
  while (!waiting_outputs_.empty()) {
    auto it = waiting_outputs_.begin();
    if (!hand(it->second)) break;
    waiting_outputs_.erase(it);
  }
  // Under exactly-once only into the task's open part of a transaction.
  if (env_.txn == nullptr || txn_handing_) {
    if (send_transient() && marker_due_ && waiting_outputs_.empty()) publish_watermark();
  }
  if (waiting_outputs_.empty() && waiting_transient_.empty()) {
    logged_backlog_ = false;
  } else if (!logged_backlog_) {
    logged_backlog_ = true;
    spdlog::warn(
        "task {}/{}: the producer's queue is full ({} outputs waiting): the task takes no new "
        "records until they are handed over",
        state::to_string(id_.fam), id_.partition,
        waiting_outputs_.size() + waiting_transient_.size());
  }
}

bool task::hand(state::outbox_record& rec) {
  const std::uint64_t seq = rec.seq;
  std::weak_ptr<acks> weak = acks_;
  metrics* probe = env_.probe;
  const streams::produce_result queued =
      env_.sink->produce(rec.topic, rec.key_null ? std::string_view{} : std::string_view(rec.key),
                         rec.value_null ? std::string_view{} : std::string_view(rec.value),
                         rec.headers, [weak, seq, probe](const streams::delivery_report& r) {
                           probe->add_produced(r.ok);
                           if (auto a = weak.lock()) {
                             std::lock_guard<std::mutex> lock(a->mutex);
                             if (r.ok)
                               a->ok.push_back(seq);
                             else
                               a->failed.emplace_back(seq, r);
                           }
                         });
  if (queued.full) return false;
  if (!queued) {
    probe->add_produced(false);
    std::lock_guard<std::mutex> lock(acks_->mutex);
    acks_->failed.emplace_back(seq, queued.failure);
  }
  unacked_.emplace(seq, std::move(rec));
  return true;
}

void task::drain_acks() {
  std::vector<std::uint64_t> ok;
  std::vector<std::pair<std::uint64_t, streams::delivery_report>> failed;
  {
    std::lock_guard<std::mutex> lock(acks_->mutex);
    ok.swap(acks_->ok);
    failed.swap(acks_->failed);
  }
  if (!ok.empty()) {
    for (auto seq : ok) unacked_.erase(seq);
    if (env_.txn == nullptr) state_.ack_outputs(ok);
  }
  if (env_.txn != nullptr) {
    // In a transaction a record that failed makes it abort: its tasks are rewound and apply
    // their records again, so nothing is sent again here.
    // (A record its topic refuses for good, larger than the topic's max.message.bytes, fails
    // again each time: check_broker_limits warns of that at start-up.)
    for (const auto& [seq, why] : failed) {
      auto it = unacked_.find(seq);
      if (it == unacked_.end()) continue;
      spdlog::error(
          "task {}/{}: an output record to {} was not delivered ({}): the transaction "
          "aborts and the task applies its records again",
          state::to_string(id_.fam), id_.partition, it->second.topic, why.reason);
      unacked_.erase(it);
    }
    send_waiting();
    return;
  }
  // Kafka gave up on these (after librdkafka's own retries): they go again, in sequence order
  // once every other record with the producer has its fate, before anything newer (so a key's
  // records keep their order); they are still in the outbox, so a crash meanwhile loses
  // nothing either. One rejected for good (too large, invalid) would fail forever: it is
  // dropped, counted and logged.
  std::vector<std::uint64_t> dropped;
  for (const auto& [seq, why] : failed) {
    auto it = unacked_.find(seq);
    if (it == unacked_.end()) continue;
    state::outbox_record rec = std::move(it->second);
    unacked_.erase(it);
    if (!why.permanent) {
      resend_wait_ = true;
      waiting_outputs_.emplace(seq, std::move(rec));
      continue;
    }
    spdlog::error(
        "task {}/{}: Kafka rejects an output record to {} for good ({}; key {} bytes, value {} "
        "bytes): dropped, counted in herald_outputs_dropped_total",
        state::to_string(id_.fam), id_.partition, rec.topic, why.reason, rec.key.size(),
        rec.value.size());
    env_.probe->add_output_dropped();
    dropped.push_back(seq);
  }
  if (!dropped.empty()) state_.ack_outputs(dropped);
  send_waiting();
  if (env_.changelog) advance_log();
}

void task::log_commit(std::vector<state::log_record>&& records, std::uint64_t number,
                      std::uint64_t after_seq,
                      std::vector<std::pair<std::uint16_t, std::int64_t>>&& offsets) {
  // While the oldest entry is under way, later commits gather in one entry behind it: the
  // queue stays two entries long however slow the broker. The oldest never takes more in, so
  // it starts once its own outputs are acknowledged even while outputs keep coming.
  if (log_queue_.size() < 2 || log_queue_.back().stage >= 0) log_queue_.emplace_back();
  log_entry& e = log_queue_.back();
  if (number != 0) e.numbers.push_back(number);
  e.after_seq = std::max(e.after_seq, after_seq);
  for (auto& r : records)
    if (loggable(r))
      e.stages[static_cast<std::size_t>(state::log_stage(r.s))].push_back(std::move(r));
  for (auto& o : offsets) {
    auto it = std::find_if(e.offsets.begin(), e.offsets.end(),
                           [&](const auto& x) { return x.first == o.first; });
    if (it == e.offsets.end())
      e.offsets.push_back(o);
    else
      it->second = o.second;
  }
}

bool task::loggable(const state::log_record& r) const {
  if (state::log_stage(r.s) < 0) return false;
  if (!log_topics_[static_cast<std::size_t>(r.s)].empty()) return true;
  // A store this family does not log (family_stores is out of date): a restore would miss
  // it. Loud, because it is a defect.
  spdlog::error("task {}/{}: store {} has no changelog topic; its changes are not logged",
                state::to_string(id_.fam), id_.partition, state::to_string(r.s));
  return false;
}

streams::produce_result task::produce_log_record(const state::log_record& r) {
  std::weak_ptr<log_acks> weak = log_acks_;
  metrics* probe = env_.probe;
  const std::size_t s = static_cast<std::size_t>(r.s);
  return env_.sink->produce_to(
      log_topics_[s], id_.partition, r.key, r.del ? std::string_view{} : std::string_view(r.value),
      {}, [weak, s, probe](const streams::delivery_report& d) {
        probe->add_changelog(d.ok);
        std::function<void()> wake;
        if (auto a = weak.lock()) {
          std::lock_guard<std::mutex> lock(a->mutex);
          ++a->done;
          if (!d.ok && !a->logged_failure) {
            a->logged_failure = true;
            spdlog::error(
                "task {}: a changelog record of store {} was not delivered ({}): its commit goes "
                "again (at-least-once) or its transaction aborts (exactly-once); later failures "
                "are counted in herald_changelog_records_total{{result=\"failed\"}}",
                a->id, state::to_string(static_cast<state::store>(s)), d.reason);
          }
          if (!d.ok)
            a->failed = true;
          else
            a->next[s] = std::max(a->next[s], d.offset + 1);
          if (a->done == a->expected) wake = a->wake;
        }
        if (wake) wake();
      });
}

bool task::produce_stage(log_entry& e) {
  auto& records = e.stages[static_cast<std::size_t>(e.stage)];
  metrics* probe = env_.probe;
  while (e.produced < records.size()) {
    const auto queued = produce_log_record(records[e.produced]);
    if (queued.full) return false;
    ++log_in_flight_;
    {
      std::lock_guard<std::mutex> lock(log_acks_->mutex);
      log_acks_->expected = log_in_flight_;
    }
    if (!queued) {
      probe->add_changelog(false);
      std::lock_guard<std::mutex> lock(log_acks_->mutex);
      ++log_acks_->done;
      log_acks_->failed = true;
    }
    ++e.produced;
  }
  return true;
}

void task::advance_log() {
  bool failed = false;
  {
    std::lock_guard<std::mutex> lock(log_acks_->mutex);
    log_in_flight_ -= std::min(log_in_flight_, log_acks_->done);
    log_acks_->done = 0;
    log_acks_->expected = log_in_flight_;
    failed = log_acks_->failed;
    log_acks_->failed = false;
    for (std::size_t s = 0; s < state::store_count; ++s)
      log_next_[s] = std::max(log_next_[s], log_acks_->next[s]);
  }
  while (!log_queue_.empty()) {
    log_entry& e = log_queue_.front();
    if (failed) {
      // Not taken after librdkafka's own retries (the broker down for message.timeout.ms):
      // the whole stage goes again once the rest of it has its fate. Later commits wait, so
      // every key's records still reach the topic oldest first.
      e.produced = 0;
      failed = false;
      if (!logged_log_failure_) {
        logged_log_failure_ = true;
        spdlog::warn("task {}/{}: changelog records not delivered; sending them again",
                     state::to_string(id_.fam), id_.partition);
      }
    }
    if (log_in_flight_ > 0) return;
    if (e.stage >= 0 && e.produced < e.stages[static_cast<std::size_t>(e.stage)].size()) {
      if (!produce_stage(e) || log_in_flight_ > 0) return;
      continue;
    }
    if (e.stage < 0) {
      // The commit's outputs first: state that says a message went out is only ever restored
      // with that message delivered.
      if (!unacked_.empty() && unacked_.begin()->first <= e.after_seq) return;
      if (!waiting_outputs_.empty() && waiting_outputs_.begin()->first <= e.after_seq) return;
    }
    int next = e.stage + 1;
    while (next < state::log_stages && e.stages[static_cast<std::size_t>(next)].empty()) ++next;
    if (next < state::log_stages) {
      e.stage = next;
      e.produced = 0;
      if (!produce_stage(e) || log_in_flight_ > 0) return;
      continue;
    }
    // Everything of the entry is in Kafka: its checkpoint (with the next commit) and offsets.
    logged_log_failure_ = false;
    complete_logged(e.numbers);
    for (const auto& [t, next_offset] : e.offsets)
      if (env_.committed) env_.committed(id_, t, next_offset);
    log_queue_.pop_front();
  }
}

void task::shutdown(std::int64_t wall_ms) {
  if (shutdown_begin(wall_ms)) return;
  while (!shutdown_step()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

bool task::shutdown_begin(std::int64_t wall_ms) {
  if (env_.txn != nullptr) {
    // The final commit is the task's part of the next transaction, asked for at once.
    shutdown_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    wall_ms_ = wall_ms;
    txn_stopping_ = true;
    if (!corrupt_) env_.txn->hurry();
    return shutdown_step();
  }
  commit(wall_ms);
  // Wait for the broker to acknowledge what this task emitted, so a clean stop leaves an
  // empty outbox and a restart re-sends nothing.
  shutdown_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  return shutdown_step();
}

bool task::shutdown_step() {
  if (env_.txn != nullptr) {
    txn_step(wall_ms_);
    // Corrupt or failed: it stops as it is; its pending mark has the next owner restore it.
    if (corrupt_ || failed_) return true;
    if (txn_final_ != 0 && txn_prepared_ == 0 && !txn_handing_) {
      // The final commit's checkpoints, so that the local state is found current again.
      std::vector<state::outbox_record> none;
      if (auto st = state_.commit(none); !st.ok())
        spdlog::error("task {}/{}: final checkpoint not written: {}", state::to_string(id_.fam),
                      id_.partition, st.message);
      return true;
    }
    if (std::chrono::steady_clock::now() < shutdown_deadline_ && !env_.sink->fatal()) return false;
    spdlog::warn(
        "task {}/{}: its final transaction did not end within 30 s; it stops as it is, and its "
        "next owner restores it from the changelogs",
        state::to_string(id_.fam), id_.partition);
    return true;
  }
  drain_acks();
  // A producer that failed fatally acknowledges nothing more: the restart re-sends it all.
  if ((!unacked_.empty() || !waiting_outputs_.empty() || !log_idle()) &&
      std::chrono::steady_clock::now() < shutdown_deadline_ && !env_.sink->fatal())
    return false;
  if (!log_idle())
    spdlog::warn(
        "task {}/{}: changelog records unacknowledged at shutdown; the next owner restores "
        "the task from scratch",
        state::to_string(id_.fam), id_.partition);
  // What is still unacknowledged stays in the outbox.
  if (!unacked_.empty() || !waiting_outputs_.empty())
    spdlog::warn("task {}/{}: {} outputs unacknowledged at shutdown; re-sent on restart",
                 state::to_string(id_.fam), id_.partition,
                 unacked_.size() + waiting_outputs_.size());
  std::vector<state::outbox_record> none;
  if (failed_) return true;  // nothing of what it holds since is to be kept
  if (auto st = state_.commit(none); !st.ok())
    spdlog::error("task {}/{}: final commit failed: {}", state::to_string(id_.fam), id_.partition,
                  st.message);
  return true;
}

}  // namespace herald::actors

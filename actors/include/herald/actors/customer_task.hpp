#pragma once
/// The customer task: everything one partition of the customer family (shop.clickstream +
/// shop.carts, keyed by customer) does, as plain C++. The CAF task actor is a thin shell that
/// feeds it batches and ticks; tests drive it directly.
///
/// Per record: decode (bad input -> DLQ record with reason headers, via the outbox), advance
/// the watermark, fire due timers (before applying the event, so a reminder due before an
/// order is sent), apply the event to the rule operators. Per commit interval: one
/// RocksDB WriteBatch with dirty state, timers, input offsets, watermark and the outbox; the
/// outbox is produced after the commit and deleted as Kafka acknowledges it.
///
/// Lifecycle: created on assignment (loads offsets and watermark), `start`ed on the actor
/// (re-produces a crash's unacknowledged outbox), `shutdown` on revoke (commit, flush, ack).
/// Single-threaded: used only by its actor, except the delivery callbacks, which only touch
/// the mutex-guarded ack queue.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "herald/actors/config.hpp"
#include "herald/actors/metrics.hpp"
#include "herald/actors/rules/abandoned_cart.hpp"
#include "herald/schemas/codec.hpp"
#include "herald/state/cache.hpp"
#include "herald/state/task_state.hpp"
#include "herald/streams/record.hpp"
#include "herald/streams/sink.hpp"
#include "herald/streams/watermark.hpp"

namespace herald::actors {

/// What every task shares; owned by the app and outliving all tasks.
struct task_env {
  state::db* db = nullptr;
  streams::sink* sink = nullptr;
  metrics* probe = nullptr;
  const app_config* config = nullptr;
  std::vector<streams::topic_binding> topics;
  /// Returns processed records' in-flight credit to the source.
  std::function<void(state::task_id, std::int64_t)> release;
  /// Reports a committed next offset per topic index (for Kafka lag).
  std::function<void(state::task_id, std::uint16_t, std::int64_t)> committed;
};

class customer_task {
 public:
  customer_task(const task_env& env, state::task_id id);
  ~customer_task();

  [[nodiscard]] state::task_id id() const noexcept { return id_; }
  /// Where `topic` resumes (nullopt = nothing committed yet).
  [[nodiscard]] std::optional<std::int64_t> resume_offset(const std::string& topic) const;

  /// Re-produces the outbox left by a crash.
  void start();
  /// Processes one batch; commits when the commit interval has passed.
  void process(streams::record_batch& batch, std::int64_t wall_ms);
  /// Housekeeping: idle watermark advance, re-produce failed deliveries, due commits.
  void tick(std::int64_t wall_ms);
  /// Commits now (state, timers, offsets, outbox) and produces the committed outputs.
  void commit(std::int64_t wall_ms);
  /// Final commit, waits for every output's acknowledgement, deletes the acknowledged outbox.
  void shutdown(std::int64_t wall_ms);

  [[nodiscard]] std::int64_t watermark() const noexcept { return watermark_.current(); }

 private:
  class cart_store;
  class cart_timers;
  class cart_sink;
  struct acks {
    std::mutex mutex;
    std::vector<std::uint64_t> ok;
    std::vector<std::uint64_t> failed;
  };

  void apply(const schemas::event& ev);
  void fire_timers(std::int64_t up_to_ms);
  void dead_letter(const streams::record& rec, const schemas::decode_error& err);
  void produce(state::outbox_record&& rec);
  void drain_acks();
  void add_output(const std::string& topic, const std::string& key, std::string&& value,
                  streams::header_list headers = {});

  task_env env_;
  state::task_id id_;
  state::task_state state_;
  state::cache<rules::cart_state> cart_cache_;
  schemas::decoder decoder_;
  schemas::event event_;
  streams::watermark watermark_;
  rules::abandoned_cart_operator carts_;
  std::unique_ptr<cart_store> cart_store_;
  std::unique_ptr<cart_timers> cart_timers_;
  std::unique_ptr<cart_sink> cart_sink_;
  std::shared_ptr<acks> acks_ = std::make_shared<acks>();
  std::map<std::uint64_t, state::outbox_record> unacked_;
  std::vector<state::timer> due_;
  std::vector<std::int64_t> next_offsets_;  // per topic index, -1 = untouched since commit
  std::int64_t last_commit_wall_ms_ = 0;
  std::int64_t reported_timers_ = 0;
  std::string scratch_;
};

}  // namespace herald::actors

#pragma once
/// Changelog topics: every store a task persists is backed by a compacted topic
/// `<application id>-<store>-changelog` (the application id is kafka.group_id), one partition
/// per task partition, whose records are the task's committed changes (key without the task
/// prefix, a delete as a tombstone). Local RocksDB is a cache of them: a task whose local
/// state is not provably current restores it from them before it processes input.
///
/// A store shared by every family (timers, seen ids, detectors, meta) has a topic per
/// family: `herald-customer-timers-changelog`; a family's own store has its plain name:
/// `herald-carts-changelog`.
///
/// Restore decision, per task on assignment (`plan_restore`, one end-offset query per topic):
/// - local commits whose changelog records were not all acknowledged (a crash): the local
///   state may differ from the changelog in ways it cannot tell, so it is wiped and restored
///   from the beginning (no checkpoint either: the same);
/// - a checkpoint beyond a topic's end (the topic was re-created): wiped and restored;
/// - a topic's end beyond its checkpoint (another instance owned the partition since): the
///   records from the checkpoint on are applied (catch-up);
/// - otherwise the local state is current and the task starts at once.
/// After a restore the source resumes from the consumer group's committed offsets, which the
/// owner commits only once the changelog holds everything up to them; the task skips the
/// records below the input offsets its restored state holds (the group's may lag behind).

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "herald/state/db.hpp"
#include "herald/state/keys.hpp"
#include "herald/streams/admin.hpp"
#include "herald/streams/log_reader.hpp"

namespace herald::actors {

/// The stores a family's tasks persist (and log).
[[nodiscard]] const std::vector<state::store>& family_stores(state::family f);

/// `<app_id>-<store>-changelog` for store `s` of family `f`.
[[nodiscard]] std::string changelog_topic(const std::string& app_id, state::family f,
                                          state::store s);

/// Every changelog topic, for families with a partition count in `partitions` (indexed by
/// the family's value; 0 = the family has no topics).
[[nodiscard]] std::vector<streams::topic_spec> changelog_topics(
    const std::string& app_id, const std::array<std::int32_t, 4>& partitions);

/// Start-up: every changelog topic exists with the family's partition count; missing ones are
/// created, compacted (a real broker; on the mock cluster they must exist). Returns an error
/// naming the topic, or empty. (That existing ones are compacted is checked with the other
/// topic configurations, in one request.)
[[nodiscard]] std::string ensure_changelogs(const streams::kafka_properties& props,
                                            const std::string& app_id,
                                            const std::array<std::int32_t, 4>& partitions);

/// What a task needs before it processes.
struct restore_plan {
  enum class kind : std::uint8_t { none, catch_up, full };
  state::task_id task;
  kind what = kind::none;
  std::string why;                                 ///< for the log
  std::vector<state::store> stores;                ///< parallel to ranges
  std::vector<streams::log_reader::range> ranges;  ///< what to read, per store
  [[nodiscard]] std::int64_t records() const;      ///< offsets to read (an upper bound)
};

/// Decides (see above). False with `error` when a topic's end cannot be read.
[[nodiscard]] bool plan_restore(const state::db& db, streams::log_reader& reader,
                                const std::string& app_id, state::task_id task, restore_plan& plan,
                                std::string& error);

/// Progress of a running restore: records applied so far (called every few thousand).
using restore_progress = std::function<void(std::uint64_t applied)>;

/// Carries out `plan`: wipes the task's state (full), applies the ranges' records in
/// batches (the previous owner's input offsets included), then sets the checkpoints to the
/// ranges' ends.
/// False with `error` (the local state then has no valid checkpoint unless it had one).
[[nodiscard]] bool run_restore(state::db& db, streams::log_reader& reader, const restore_plan& plan,
                               const std::atomic<bool>* cancel, const restore_progress& progress,
                               std::uint64_t& applied, std::string& error,
                               std::uint64_t* bytes = nullptr);

}  // namespace herald::actors

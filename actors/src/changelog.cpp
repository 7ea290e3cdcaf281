#include "herald/actors/changelog.hpp"

#include <map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "herald/state/task_state.hpp"
#include "herald/streams/topic_reader.hpp"

namespace herald::actors {

namespace {

constexpr std::size_t restore_batch_ops = 20'000;

bool shared(state::store s) {
  return s == state::store::timers || s == state::store::seen || s == state::store::meta ||
         s == state::store::detectors;
}

}  // namespace

const std::vector<state::store>& family_stores(state::family f) {
  using state::store;
  static const std::vector<store> customer = {store::carts, store::detectors, store::timers,
                                              store::seen, store::meta};
  static const std::vector<store> sku = {store::skus, store::detectors, store::timers, store::seen,
                                         store::meta};
  static const std::vector<store> shipment = {store::shipments, store::lanes, store::detectors,
                                              store::timers,    store::seen,  store::meta};
  switch (f) {
    case state::family::sku:
      return sku;
    case state::family::shipment:
      return shipment;
    case state::family::customer:
      break;
  }
  return customer;
}

std::string changelog_topic(const std::string& app_id, state::family f, state::store s) {
  if (shared(s))
    return fmt::format("{}-{}-{}-changelog", app_id, state::to_string(f), state::to_string(s));
  return fmt::format("{}-{}-changelog", app_id, state::to_string(s));
}

std::vector<streams::topic_spec> changelog_topics(const std::string& app_id,
                                                  const std::array<std::int32_t, 4>& partitions) {
  std::vector<streams::topic_spec> out;
  for (auto f : {state::family::customer, state::family::sku, state::family::shipment}) {
    const std::int32_t n = partitions[static_cast<std::size_t>(f)];
    if (n <= 0) continue;
    for (auto s : family_stores(f)) {
      streams::topic_spec t;
      t.name = changelog_topic(app_id, f, s);
      t.partitions = n;
      // Compacted: the latest value of every key, deletes kept a day for restores under way.
      // Smaller segments than the broker's 1 GiB let the cleaner reach a busy store sooner,
      // which keeps restores short.
      t.configs = {{"cleanup.policy", "compact"}, {"segment.bytes", "67108864"}};
      out.push_back(std::move(t));
    }
  }
  return out;
}

std::string ensure_changelogs(const streams::kafka_properties& props, const std::string& app_id,
                              const std::array<std::int32_t, 4>& partitions) {
  const auto wanted = changelog_topics(app_id, partitions);
  std::vector<streams::topic_spec> missing;
  std::vector<std::string> names;
  std::map<std::string, int> counts;
  if (std::string error; !streams::partition_counts(props, counts, error)) return error;
  for (const auto& t : wanted) {
    auto found = counts.find(t.name);
    if (found == counts.end()) {
      missing.push_back(t);
      continue;
    }
    const int n = found->second;
    if (n != t.partitions)
      return fmt::format(
          "changelog topic '{}' has {} partitions, but its tasks have {} (one per partition of "
          "their input topics): delete it (its state is restored from nowhere else) or give "
          "the inputs the same count",
          t.name, n, t.partitions);
    names.push_back(t.name);
  }
  if (!missing.empty()) {
    std::string error;
    if (!streams::create_topics(props, missing, /*exist_ok=*/true, error, 30'000))
      return fmt::format("cannot create changelog topic '{}': {}", missing.front().name, error);
    spdlog::info("created {} changelog topics ({}, ...)", missing.size(), missing.front().name);
  }
  return {};
}

std::int64_t restore_plan::records() const {
  std::int64_t n = 0;
  for (const auto& r : ranges) n += r.to - r.from;
  return n;
}

bool plan_restore(const state::db& db, streams::log_reader& reader, const std::string& app_id,
                  state::task_id task, restore_plan& plan, std::string& error) {
  plan = {};
  plan.task = task;
  state::log_position local;
  if (auto st = state::task_state::read_log_position(db, task, local); !st.ok()) {
    // Unreadable bookkeeping: nothing local can be trusted.
    local = {};
    local.unclean = true;
  }
  const auto& stores = family_stores(task.fam);
  std::vector<std::int64_t> ends(stores.size(), 0);
  bool any_record = false;
  for (std::size_t i = 0; i < stores.size(); ++i) {
    if (!reader.end_offset(changelog_topic(app_id, task.fam, stores[i]), task.partition, ends[i],
                           error))
      return false;
    any_record = any_record || ends[i] > 0;
  }
  bool full = false;
  if (local.unclean) {
    full = true;
    plan.why = "stopped with changelog records unacknowledged";
  } else if (local.checkpoints.empty()) {
    full = any_record;
    plan.why = "no local checkpoint";
  } else {
    for (std::size_t i = 0; i < stores.size() && !full; ++i) {
      auto ck = local.checkpoints.find(stores[i]);
      if (ck == local.checkpoints.end()) {
        full = ends[i] > 0;
        plan.why = "no local checkpoint of " + std::string(state::to_string(stores[i]));
      } else if (ck->second > ends[i]) {
        full = true;
        plan.why = fmt::format("checkpoint {} beyond the end {} of {} (topic re-created?)",
                               ck->second, ends[i], changelog_topic(app_id, task.fam, stores[i]));
      }
    }
  }
  for (std::size_t i = 0; i < stores.size(); ++i) {
    std::int64_t from = 0;
    if (!full) {
      auto ck = local.checkpoints.find(stores[i]);
      from = ck == local.checkpoints.end() ? 0 : ck->second;
    }
    plan.stores.push_back(stores[i]);
    plan.ranges.push_back(
        {changelog_topic(app_id, task.fam, stores[i]), task.partition, from, ends[i]});
  }
  if (full) {
    plan.what = restore_plan::kind::full;
  } else if (plan.records() > 0) {
    plan.what = restore_plan::kind::catch_up;
    plan.why =
        "the changelog moved on since the local checkpoint (another owner's records, or only "
        "the markers of the transactions that committed it)";
  } else {
    plan.what = restore_plan::kind::none;
    if (plan.why.empty()) plan.why = "current";
  }
  return true;
}

bool run_restore(state::db& db, streams::log_reader& reader, const restore_plan& plan,
                 const std::atomic<bool>* cancel, const restore_progress& progress,
                 std::uint64_t& applied, std::string& error, std::uint64_t* bytes) {
  applied = 0;
  if (plan.what == restore_plan::kind::full) {
    if (auto st = state::task_state::wipe(db, plan.task); !st.ok()) {
      error = "wiping the local state: " + st.message;
      return false;
    }
  }
  state::write_batch batch = db.batch();
  state::status failed;
  auto write = [&] {
    if (batch.empty() || !failed.ok()) return;
    if (auto st = db.write_unlogged(batch); !st.ok()) failed = st;
  };
  const bool ok = reader.read(
      plan.ranges,
      [&](std::size_t i, std::int64_t, std::string_view key, const std::string_view* value) {
        state::task_state::apply_log(batch, plan.task, plan.stores[i], key, value);
        ++applied;
        if (bytes != nullptr) *bytes += key.size() + (value != nullptr ? value->size() : 0);
        if (batch.count() >= restore_batch_ops) {
          write();
          if (progress) progress(applied);
        }
      },
      cancel, error);
  write();
  if (!ok) return false;
  if (!failed.ok()) {
    error = "writing restored state: " + failed.message;
    return false;
  }
  // Restored records bypass the write-ahead log: on disk before the checkpoint says so.
  if (auto st = db.flush(); !st.ok()) {
    error = "flushing restored state: " + st.message;
    return false;
  }
  std::map<state::store, std::int64_t> checkpoints;
  for (std::size_t i = 0; i < plan.stores.size(); ++i)
    checkpoints[plan.stores[i]] = plan.ranges[i].to;
  state::task_state::set_checkpoints(batch, plan.task, checkpoints);
  if (auto st = db.write(batch); !st.ok()) {
    error = "writing the checkpoints: " + st.message;
    return false;
  }
  if (progress) progress(applied);
  return true;
}

}  // namespace herald::actors

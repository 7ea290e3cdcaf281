#include "herald/state/seen_ids.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "temp_db.hpp"

namespace herald::state {
namespace {

using SeenIdsTest = test::temp_db;

const task_id customer1{family::customer, 1};
constexpr std::int64_t t0 = 1'700'000'000'000;
constexpr std::int64_t minute = 60'000;

seen_ids_config hour_window(std::size_t max_ids = 1'000'000) {
  seen_ids_config c;
  c.window_ms = 60 * minute;
  c.max_ids = max_ids;
  return c;
}

void commit(task_state& ts) {
  std::vector<outbox_record> out;
  ASSERT_TRUE(ts.commit(out).ok());
}

std::size_t stored(const db& d) {
  std::size_t n = 0;
  EXPECT_TRUE(d.scan(store::seen, "", std::string(16, '\xff'), [&](auto, auto) {
                 ++n;
                 return true;
               }).ok());
  return n;
}

TEST_F(SeenIdsTest, ASecondDeliveryIsARepeatAnotherEntityOrKindIsNot) {
  task_state ts(*db_, customer1);
  seen_ids seen(ts, hour_window());
  EXPECT_FALSE(seen.repeat('c', "ann", "e1", t0));
  EXPECT_TRUE(seen.repeat('c', "ann", "e1", t0));
  EXPECT_TRUE(seen.repeat('c', "ann", "e1", t0 + 20 * minute)) << "a retry with a new time";
  EXPECT_FALSE(seen.repeat('c', "bob", "e1", t0)) << "the same id of another customer";
  EXPECT_FALSE(seen.repeat('v', "ann", "e1", t0)) << "the same id on another input";
  EXPECT_FALSE(seen.repeat('c', "ann", "", t0));
  EXPECT_FALSE(seen.repeat('c', "ann", "", t0)) << "no id: never a repeat";
  EXPECT_EQ(seen.size(), 3u);
}

TEST_F(SeenIdsTest, RememberedForTheWindowOfEventTimeThenForgotten) {
  task_state ts(*db_, customer1);
  seen_ids seen(ts, hour_window());
  EXPECT_FALSE(seen.repeat('c', "ann", "e1", t0));
  seen.flush();
  commit(ts);
  seen.expire(t0 + 60 * minute);  // a window after it: still remembered
  EXPECT_TRUE(seen.repeat('c', "ann", "e1", t0));
  seen.expire(t0 + 90 * minute);  // its generation ended a window ago
  EXPECT_EQ(seen.size(), 0u);
  EXPECT_EQ(seen.evicted(), 0u) << "expired, not evicted";
  seen.flush();
  commit(ts);
  EXPECT_EQ(stored(*db_), 0u) << "deleted from the database too, with the next commit";
  EXPECT_FALSE(seen.repeat('c', "ann", "e1", t0)) << "older than the window: not checked";
  EXPECT_EQ(seen.size(), 0u) << "nor remembered";
}

TEST_F(SeenIdsTest, CommittedIdsSurviveARestartUncommittedOnesDoNot) {
  {
    task_state ts(*db_, customer1);
    seen_ids seen(ts, hour_window());
    EXPECT_FALSE(seen.repeat('c', "ann", "e1", t0));
    EXPECT_FALSE(seen.repeat('c', "ann", "e2", t0 + 30 * minute));
    seen.flush();
    commit(ts);
    EXPECT_FALSE(seen.repeat('c', "ann", "e3", t0));  // not committed: its record is read again
  }
  reopen();
  task_state ts(*db_, customer1);
  seen_ids seen(ts, hour_window());
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen.repeat('c', "ann", "e1", t0));
  EXPECT_TRUE(seen.repeat('c', "ann", "e2", t0 + 30 * minute));
  EXPECT_FALSE(seen.repeat('c', "ann", "e3", t0));
}

TEST_F(SeenIdsTest, MemoryIsBoundedTheOldestGenerationGoesFirst) {
  task_state ts(*db_, customer1);
  seen_ids seen(ts, hour_window(1000));
  for (int i = 0; i < 600; ++i) EXPECT_FALSE(seen.repeat('c', "c", "old-" + std::to_string(i), t0));
  for (int i = 0; i < 600; ++i)
    EXPECT_FALSE(seen.repeat('c', "c", "new-" + std::to_string(i), t0 + 20 * minute));
  EXPECT_LE(seen.size(), 1000u);
  EXPECT_EQ(seen.evicted(), 600u);
  EXPECT_TRUE(seen.repeat('c', "c", "new-1", t0 + 20 * minute));
  EXPECT_FALSE(seen.repeat('c', "c", "old-1", t0)) << "its generation went early";
}

TEST_F(SeenIdsTest, ManyIdsAreAllFound) {
  task_state ts(*db_, customer1);
  seen_ids seen(ts, hour_window());
  for (int i = 0; i < 50'000; ++i)
    ASSERT_FALSE(seen.repeat('c', "c" + std::to_string(i % 97), std::to_string(i), t0 + i));
  for (int i = 0; i < 50'000; ++i)
    ASSERT_TRUE(seen.repeat('c', "c" + std::to_string(i % 97), std::to_string(i), t0 + i)) << i;
  EXPECT_EQ(seen.size(), 50'000u);
}

// Random repeats, commits, expiries and crashes against a plain model of the contract: an id
// is a repeat while its generation (window / 4 of event time) is live; expire(wm) ends the
// generations before wm - window; a crash forgets what was not committed, and the restarted
// task checks every generation it finds until its first expiry.
TEST_F(SeenIdsTest, MatchesAModelUnderRandomOperations) {
  constexpr std::int64_t window = 60 * minute;
  constexpr std::int64_t width = window / 4;
  auto gen = [](std::int64_t ts) { return ts / width; };  // ts > 0 here
  std::mt19937_64 rng(42);
  struct model_id {
    std::int64_t gen;
    bool committed;
  };
  std::map<std::string, model_id> model;
  std::int64_t floor = std::numeric_limits<std::int64_t>::min();
  std::int64_t wm = t0;
  auto ts_ = std::make_unique<task_state>(*db_, customer1);
  auto seen = std::make_unique<seen_ids>(*ts_, hour_window());
  for (int step = 0; step < 5'000; ++step) {
    const int op = static_cast<int>(rng() % 100);
    if (op < 90) {
      const std::string id = std::to_string(rng() % 400);
      const std::int64_t ts =
          wm - window + static_cast<std::int64_t>(rng() % (window + 10 * minute));
      const std::string key = "c" + id;
      bool expect = false;
      if (gen(ts) >= floor) {
        auto it = model.find(key);
        expect = it != model.end();
        if (!expect) model[key] = {gen(ts), false};
      }
      ASSERT_EQ(seen->repeat('c', "c", id, ts), expect) << "step " << step << " id " << id;
    } else if (op < 98) {
      seen->flush();
      commit(*ts_);
      for (auto& [k, m] : model) m.committed = true;
      wm += static_cast<std::int64_t>(rng() % (10 * minute));
      seen->expire(wm);
      // The task's next commit carries the deletes of what expired (before it, a crash
      // brings those generations back, older than the window, until the next expiry).
      seen->flush();
      commit(*ts_);
      floor = std::max(floor, gen(wm - window));
      std::erase_if(model, [&](const auto& kv) { return kv.second.gen < floor; });
    } else {
      // A crash: everything since the last commit is gone.
      seen.reset();
      ts_.reset();
      reopen();
      ts_ = std::make_unique<task_state>(*db_, customer1);
      seen = std::make_unique<seen_ids>(*ts_, hour_window());
      std::erase_if(model, [](const auto& kv) { return !kv.second.committed; });
      floor = std::numeric_limits<std::int64_t>::min();
    }
    ASSERT_EQ(seen->size(), model.size()) << "step " << step;
  }
}

TEST_F(SeenIdsTest, AZeroWindowIsOff) {
  task_state ts(*db_, customer1);
  seen_ids_config c;
  c.window_ms = 0;
  seen_ids seen(ts, c);
  EXPECT_FALSE(seen.repeat('c', "ann", "e1", t0));
  EXPECT_FALSE(seen.repeat('c', "ann", "e1", t0));
}

}  // namespace
}  // namespace herald::state

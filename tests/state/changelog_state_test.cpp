// task_state's side of the changelog: what a commit logs, the pending mark until Kafka has
// all of it, the checkpoints after, and the restore helpers.

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "herald/state/task_state.hpp"
#include "temp_db.hpp"

namespace herald::state {
namespace {

using ChangelogStateTest = test::temp_db;

const task_id customer3{family::customer, 3};

std::map<std::pair<store, std::string>, std::pair<std::string, bool>> by_key(
    const std::vector<log_record>& records) {
  std::map<std::pair<store, std::string>, std::pair<std::string, bool>> out;
  for (const auto& r : records) out[{r.s, r.key}] = {r.value, r.del};
  return out;
}

TEST_F(ChangelogStateTest, ACommitLogsItsChangesWithoutTheTaskPrefixAndNotItsOutbox) {
  task_state ts(*db_, customer3, /*changelog=*/true);
  ts.put(store::carts, entity_key(customer3, "ann"), "v1");
  ts.del(store::carts, entity_key(customer3, "bob"));
  ts.schedule(1000, "ann", "p");
  ts.set_offset("shop.carts", 12);
  ts.add_output("herald.cart-reminders", "ann", "reminder");
  std::vector<outbox_record> out;
  ASSERT_TRUE(ts.commit(out).ok());
  std::vector<log_record> log;
  const std::uint64_t n = ts.take_log(log);
  EXPECT_EQ(n, 1u);
  const auto got = by_key(log);
  EXPECT_EQ(got.at({store::carts, "ann"}), std::make_pair(std::string("v1"), false));
  EXPECT_TRUE(got.at({store::carts, "bob"}).second) << "a delete is a tombstone";
  bool timer = false, offset = false;
  for (const auto& r : log) {
    EXPECT_NE(r.s, store::outbox) << "outputs are not state";
    timer = timer || r.s == store::timers;
    offset = offset || (r.s == store::meta && r.key.starts_with("o"));
    EXPECT_FALSE(r.s == store::meta && (r.key.starts_with("p") || r.key.starts_with("k")))
        << "the changelog's own bookkeeping stays local";
  }
  EXPECT_TRUE(timer);
  EXPECT_TRUE(offset) << "offsets go too: another owner's processing shows in the changelog";
  EXPECT_EQ(log_stage(store::carts), 0);
  EXPECT_EQ(log_stage(store::timers), 1);
  EXPECT_EQ(log_stage(store::seen), 2);
  EXPECT_EQ(log_stage(store::meta), 2);
  EXPECT_EQ(log_stage(store::outbox), -1);
}

TEST_F(ChangelogStateTest, ACommitIsPendingUntilCompletedAndThenItsCheckpointsAreExact) {
  log_position pos;
  {
    task_state ts(*db_, customer3, true);
    ts.put(store::carts, entity_key(customer3, "ann"), "v1");
    std::vector<outbox_record> out;
    ASSERT_TRUE(ts.commit(out).ok());
    std::vector<log_record> log;
    const std::uint64_t n = ts.take_log(log);
    ASSERT_TRUE(task_state::read_log_position(*db_, customer3, pos).ok());
    EXPECT_TRUE(pos.unclean) << "a crash now leaves changes the changelog may lack";
    ts.complete_log({n}, {{store::carts, 5}, {store::meta, 9}});
    ASSERT_TRUE(ts.commit(out).ok());
    std::vector<log_record> none;
    EXPECT_EQ(ts.take_log(none), 0u) << "the bookkeeping itself logs nothing";
    EXPECT_TRUE(none.empty());
  }
  reopen();
  ASSERT_TRUE(task_state::read_log_position(*db_, customer3, pos).ok());
  EXPECT_FALSE(pos.unclean);
  const std::map<store, std::int64_t> want = {{store::carts, 5}, {store::meta, 9}};
  EXPECT_EQ(pos.checkpoints, want);
  // Log numbers go on after a restart: a mark never names an older commit's number.
  task_state ts(*db_, customer3, true);
  ts.put(store::carts, entity_key(customer3, "ann"), "v2");
  std::vector<outbox_record> out;
  ASSERT_TRUE(ts.commit(out).ok());
  std::vector<log_record> log;
  EXPECT_EQ(ts.take_log(log), 1u) << "no mark was left, so numbering starts again";
}

TEST_F(ChangelogStateTest, ARestoreWipesTheTaskAndAppliesRecordsUnderItsPrefix) {
  {
    task_state ts(*db_, customer3, true);
    ts.put(store::carts, entity_key(customer3, "old"), "stale");
    ts.schedule(5, "old", "");
    std::vector<outbox_record> out;
    ASSERT_TRUE(ts.commit(out).ok());
  }
  const task_id other{family::customer, 4};
  {
    task_state ts(*db_, other);
    ts.put(store::carts, entity_key(other, "keep"), "mine");
    std::vector<outbox_record> out;
    ASSERT_TRUE(ts.commit(out).ok());
  }
  ASSERT_TRUE(task_state::wipe(*db_, customer3).ok());
  auto batch = db_->batch();
  const std::string_view v = "restored";
  task_state::apply_log(batch, customer3, store::carts, "ann", &v);
  task_state::apply_log(batch, customer3, store::carts, "gone", nullptr);
  task_state::set_checkpoints(batch, customer3, {{store::carts, 2}});
  ASSERT_TRUE(db_->write(batch).ok());
  std::string value;
  EXPECT_TRUE(db_->get(store::carts, entity_key(customer3, "old"), value).not_found());
  ASSERT_TRUE(db_->get(store::carts, entity_key(customer3, "ann"), value).ok());
  EXPECT_EQ(value, "restored");
  ASSERT_TRUE(db_->get(store::carts, entity_key(other, "keep"), value).ok())
      << "another task's range is untouched";
  task_state ts(*db_, customer3, true);
  EXPECT_EQ(ts.timer_count(), 0) << "the timers went with the wipe";
  log_position pos;
  ASSERT_TRUE(task_state::read_log_position(*db_, customer3, pos).ok());
  EXPECT_EQ(pos.checkpoints.at(store::carts), 2);
  EXPECT_FALSE(pos.unclean);
}

}  // namespace
}  // namespace herald::state

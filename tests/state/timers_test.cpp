#include <gtest/gtest.h>

#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "herald/state/task_state.hpp"
#include "temp_db.hpp"

namespace herald::state {
namespace {

class TimersTest : public test::temp_task {
 protected:
  TimersTest() : temp_task({family::customer, 4}) {}
  std::vector<timer> pop(std::int64_t up_to, std::size_t limit = static_cast<std::size_t>(-1)) {
    std::vector<timer> out;
    ts_->pop_due(up_to, out, limit);
    return out;
  }
  static std::vector<std::string> keys(const std::vector<timer>& ts) {
    std::vector<std::string> out;
    for (const auto& t : ts) out.push_back(t.key);
    return out;
  }
};

using strings = std::vector<std::string>;
constexpr std::int64_t min_ms = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t max_ms = std::numeric_limits<std::int64_t>::max();

TEST_F(TimersTest, PopsInFireThenKeyOrderAcrossPendingAndCommitted) {
  ts_->schedule(30, "c");
  ts_->schedule(-10, "neg");
  ts_->schedule(20, "b");
  commit();
  ts_->schedule(20, "a");
  ts_->schedule(25, "z");
  ts_->schedule(min_ms, "min");
  ts_->schedule(0, "zero");
  EXPECT_EQ(ts_->timer_count(), 7);
  auto due = pop(max_ms);
  EXPECT_EQ(keys(due), (strings{"min", "neg", "zero", "a", "b", "z", "c"}));
  EXPECT_EQ(due[0].fire_ms, min_ms);
  EXPECT_EQ(due[1].fire_ms, -10);
  EXPECT_EQ(ts_->timer_count(), 0);
  EXPECT_FALSE(ts_->next_fire_ms().has_value());
}

TEST_F(TimersTest, PopDueWithALimitTakesTheEarliestAndLeavesTheRestDue) {
  for (std::int64_t t : {10, 20, 30}) ts_->schedule(t, "c" + std::to_string(t));
  ts_->schedule(20, "c20b");
  commit();
  for (std::int64_t t : {15, 20, 25}) ts_->schedule(t, "p" + std::to_string(t));
  EXPECT_TRUE(pop(30, 0).empty());
  EXPECT_EQ(keys(pop(30, 2)), (strings{"c10", "p15"}));
  EXPECT_EQ(ts_->next_fire_ms(), 20);
  EXPECT_EQ(ts_->timer_count(), 5);
  EXPECT_EQ(keys(pop(30, 2)), (strings{"c20", "c20b"}));
  commit();  // the popped committed timers are deleted; the floor stays below what is left
  EXPECT_EQ(ts_->next_fire_ms(), 20);
  EXPECT_EQ(keys(pop(30, 1)), (strings{"p20"}));
  EXPECT_EQ(keys(pop(30)), (strings{"p25", "c30"}));
  EXPECT_EQ(ts_->timer_count(), 0);
  EXPECT_FALSE(ts_->next_fire_ms().has_value());
}

TEST_F(TimersTest, PopDueBoundaryIsInclusive) {
  for (std::int64_t t : {99, 100, 101}) ts_->schedule(t, "p" + std::to_string(t), "pending");
  for (std::int64_t t : {98, 100, 102}) ts_->schedule(t, "c" + std::to_string(t), "committed");
  commit();
  for (std::int64_t t : {99, 100, 101}) ts_->schedule(t, "p" + std::to_string(t), "pending");
  EXPECT_TRUE(pop(97).empty());
  EXPECT_EQ(keys(pop(98)), (strings{"c98"}));
  EXPECT_EQ(keys(pop(98)), strings{});
  EXPECT_EQ(keys(pop(100)), (strings{"p99", "c100", "p100"}));
  EXPECT_EQ(ts_->next_fire_ms(), 101);
  EXPECT_EQ(keys(pop(101)), (strings{"p101"}));
  EXPECT_EQ(ts_->next_fire_ms(), 102);
  EXPECT_EQ(ts_->timer_count(), 1);
  EXPECT_EQ(keys(pop(max_ms)), (strings{"c102"}));
}

TEST_F(TimersTest, ExtremeFireTimes) {
  ts_->schedule(max_ms, "max");
  ts_->schedule(min_ms, "min");
  commit();
  EXPECT_EQ(ts_->next_fire_ms(), min_ms);
  EXPECT_EQ(keys(pop(min_ms)), (strings{"min"}));
  EXPECT_EQ(ts_->next_fire_ms(), max_ms);
  EXPECT_TRUE(pop(max_ms - 1).empty());
  EXPECT_EQ(keys(pop(max_ms)), (strings{"max"}));
  commit();
  restart();
  EXPECT_EQ(ts_->timer_count(), 0);
}

TEST_F(TimersTest, ScheduleThenCancelBeforeCommit) {
  ts_->schedule(10, "a", "x");
  ts_->cancel(10, "a");
  EXPECT_EQ(ts_->timer_count(), 0);
  EXPECT_FALSE(ts_->next_fire_ms().has_value());
  EXPECT_TRUE(pop(max_ms).empty());
  EXPECT_EQ(ts_->pending_ops(), 0u);
  commit();
  restart();
  EXPECT_EQ(ts_->timer_count(), 0);
  EXPECT_TRUE(pop(max_ms).empty());
}

TEST_F(TimersTest, CancelIsExactAndIdempotent) {
  ts_->schedule(10, "a");
  ts_->schedule(10, "b");
  commit();
  ts_->cancel(10, "zz");  // absent
  ts_->cancel(11, "a");   // wrong time
  EXPECT_EQ(ts_->timer_count(), 2);
  ts_->cancel(10, "a");
  ts_->cancel(10, "a");
  EXPECT_EQ(ts_->timer_count(), 1);
  EXPECT_EQ(keys(pop(max_ms)), (strings{"b"}));
  commit();
  ts_->cancel(10, "b");  // popped and committed: gone
  EXPECT_EQ(ts_->timer_count(), 0);
}

TEST_F(TimersTest, CancelCommittedThenRescheduleSameTimer) {
  ts_->schedule(10, "a", "old");
  commit();
  ts_->cancel(10, "a");
  EXPECT_EQ(ts_->timer_count(), 0);
  EXPECT_FALSE(ts_->next_fire_ms().has_value());
  ts_->schedule(10, "a", "new");
  EXPECT_EQ(ts_->timer_count(), 1);
  EXPECT_EQ(ts_->next_fire_ms(), 10);
  commit();
  restart();
  EXPECT_EQ(ts_->timer_count(), 1);
  auto due = pop(max_ms);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].payload, "new");
}

TEST_F(TimersTest, CancelCommittedRescheduleThenPopBeforeCommit) {
  ts_->schedule(10, "a", "old");
  commit();
  ts_->cancel(10, "a");
  ts_->schedule(10, "a", "new");
  auto due = pop(10);
  ASSERT_EQ(due.size(), 1u);  // once, not the committed copy as well
  EXPECT_EQ(due[0].payload, "new");
  EXPECT_TRUE(pop(10).empty());
  EXPECT_EQ(ts_->timer_count(), 0);
  commit();
  restart();
  EXPECT_EQ(ts_->timer_count(), 0);
  EXPECT_TRUE(pop(max_ms).empty());
}

TEST_F(TimersTest, RescheduleReplacesPayloadAndKeepsOne) {
  ts_->schedule(10, "a", "1");
  ts_->schedule(10, "a", "2");  // pending over pending
  EXPECT_EQ(ts_->timer_count(), 1);
  commit();
  ts_->schedule(10, "a", "3");  // pending over committed
  EXPECT_EQ(ts_->timer_count(), 1);
  auto due = pop(10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].payload, "3");
  EXPECT_EQ(ts_->timer_count(), 0);

  ts_->schedule(20, "b", "4");
  commit();
  EXPECT_EQ(ts_->next_fire_ms(), 20);
  ts_->schedule(20, "b", "5");
  EXPECT_EQ(ts_->next_fire_ms(), 20);
  ts_->cancel(20, "b");  // cancels the replacement and the committed one
  EXPECT_EQ(ts_->timer_count(), 0);
  EXPECT_FALSE(ts_->next_fire_ms().has_value());
  EXPECT_TRUE(pop(max_ms).empty());
  commit();
  restart();
  EXPECT_EQ(ts_->timer_count(), 0);
}

TEST_F(TimersTest, PoppedCommittedTimersAreNotReturnedAgainBeforeCommit) {
  for (int i = 0; i < 10; ++i) ts_->schedule(i, "k" + std::to_string(i));
  commit();
  EXPECT_EQ(pop(4).size(), 5u);
  EXPECT_TRUE(pop(4).empty());
  EXPECT_EQ(ts_->next_fire_ms(), 5);
  EXPECT_EQ(pop(6).size(), 2u);
  EXPECT_EQ(ts_->timer_count(), 3);
  commit();
  EXPECT_TRUE(pop(6).empty());
  restart();
  EXPECT_EQ(ts_->timer_count(), 3);
  EXPECT_EQ(ts_->next_fire_ms(), 7);
  EXPECT_EQ(keys(pop(max_ms)), (strings{"k7", "k8", "k9"}));
}

TEST_F(TimersTest, PopWithoutCommitIsUndoneByCrash) {
  ts_->schedule(1, "a", "p");
  commit();
  EXPECT_EQ(pop(1).size(), 1u);
  restart();  // the pop's delete was never committed: the timer fires again
  EXPECT_EQ(ts_->timer_count(), 1);
  EXPECT_EQ(keys(pop(1)), (strings{"a"}));
}

TEST_F(TimersTest, PopThenRescheduleSameTimerBeforeCommit) {
  ts_->schedule(5, "a", "first");
  commit();
  EXPECT_EQ(pop(5).size(), 1u);
  ts_->schedule(5, "a", "again");  // e.g. an operator re-arming the same reminder
  EXPECT_EQ(ts_->timer_count(), 1);
  EXPECT_EQ(ts_->next_fire_ms(), 5);
  commit();
  restart();
  auto due = pop(5);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].payload, "again");
}

TEST_F(TimersTest, ScheduleInThePastAfterPops) {
  ts_->schedule(100, "late");
  commit();
  EXPECT_EQ(pop(50).size(), 0u);
  EXPECT_EQ(pop(200).size(), 1u);
  commit();
  ts_->schedule(10, "early");  // below everything popped so far
  commit();
  EXPECT_EQ(ts_->next_fire_ms(), 10);
  EXPECT_EQ(ts_->timer_count(), 1);
  ts_->cancel(10, "early");
  EXPECT_EQ(ts_->timer_count(), 0);
  EXPECT_FALSE(ts_->next_fire_ms().has_value());
  commit();
  restart();
  EXPECT_EQ(ts_->timer_count(), 0);
}

TEST_F(TimersTest, PendingOnlyTimersPop) {
  ts_->schedule(3, "c");
  ts_->schedule(1, "a");
  ts_->schedule(2, "b");
  EXPECT_EQ(ts_->next_fire_ms(), 1);
  EXPECT_EQ(keys(pop(2)), (strings{"a", "b"}));
  EXPECT_EQ(ts_->next_fire_ms(), 3);
  commit();
  restart();
  EXPECT_EQ(keys(pop(max_ms)), (strings{"c"}));
}

TEST_F(TimersTest, NextFireTracksCancelOfEarliestCommitted) {
  ts_->schedule(10, "a");
  ts_->schedule(20, "b");
  ts_->schedule(30, "c");
  commit();
  EXPECT_EQ(ts_->next_fire_ms(), 10);
  ts_->cancel(10, "a");
  EXPECT_EQ(ts_->next_fire_ms(), 20);
  ts_->schedule(15, "p");
  EXPECT_EQ(ts_->next_fire_ms(), 15);
  ts_->cancel(20, "b");
  EXPECT_EQ(ts_->next_fire_ms(), 15);
  ts_->cancel(15, "p");
  EXPECT_EQ(ts_->next_fire_ms(), 30);
  commit();
  EXPECT_EQ(ts_->next_fire_ms(), 30);
  ts_->schedule(5, "q");
  commit();
  EXPECT_EQ(ts_->next_fire_ms(), 5);
}

TEST_F(TimersTest, TasksAreIsolated) {
  task_state sku4(*db_, {family::sku, 4});
  task_state cust5(*db_, {family::customer, 5});
  task_state cust3(*db_, {family::customer, 3});
  std::vector<outbox_record> out;
  for (auto* other : {&sku4, &cust5, &cust3}) {
    other->schedule(1, "other");
    other->schedule(max_ms, "\xff\xff");
    ASSERT_TRUE(other->commit(out).ok());
  }
  ts_->schedule(2, "mine");
  commit();
  restart();
  EXPECT_EQ(ts_->timer_count(), 1);
  EXPECT_EQ(ts_->next_fire_ms(), 2);
  EXPECT_EQ(keys(pop(max_ms)), (strings{"mine"}));
  ts_->cancel(1, "other");  // not this task's
  EXPECT_EQ(ts_->timer_count(), 0);
  commit();
  for (task_id t :
       {task_id{family::sku, 4}, task_id{family::customer, 5}, task_id{family::customer, 3}}) {
    task_state other(*db_, t);
    EXPECT_EQ(other.timer_count(), 2);
    EXPECT_EQ(other.next_fire_ms(), 1);
  }
}

TEST_F(TimersTest, CountIsExactAfterReopen) {
  for (int i = 0; i < 1000; ++i) ts_->schedule(i % 100, "k" + std::to_string(i));
  EXPECT_EQ(ts_->timer_count(), 1000);
  commit();
  for (int i = 0; i < 1000; i += 2) ts_->cancel(i % 100, "k" + std::to_string(i));
  EXPECT_EQ(ts_->timer_count(), 500);
  commit();
  restart();
  EXPECT_EQ(ts_->timer_count(), 500);
  EXPECT_EQ(pop(49).size(), 250u);
  EXPECT_EQ(ts_->timer_count(), 250);
  commit();
  restart();
  EXPECT_EQ(ts_->timer_count(), 250);
}

// Every operation against a plain ordered map, with commits and crashes at random.
TEST_F(TimersTest, MatchesModelUnderRandomOperations) {
  using id = std::pair<std::int64_t, std::string>;
  std::map<id, std::string> live;
  std::map<id, std::string> committed;
  std::mt19937_64 rng(12345);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<std::uint64_t>(n)); };
  // Neighbours on both sides of the task's key range, at the same times.
  for (task_id t :
       {task_id{family::customer, 3}, task_id{family::customer, 5}, task_id{family::sku, 4}}) {
    task_state other(*db_, t);
    for (int i = -20; i < 200; ++i) other.schedule(i, "k" + std::to_string(i % 12), "other");
    std::vector<outbox_record> out;
    ASSERT_TRUE(other.commit(out).ok());
  }
  std::int64_t now = 0;
  int payload = 0;
  for (int step = 0; step < 8000; ++step) {
    const int op = pick(100);
    // Few keys and a narrow window, so that operations often meet the same (fire, key).
    const std::int64_t fire = now + pick(20) - 5;
    const std::string key = "k" + std::to_string(pick(6));
    // Existing timers are picked often, the earliest one most often: replacing or cancelling
    // it is what moves next_fire_ms.
    auto existing = [&] {
      auto it = live.begin();
      if (pick(2) == 0) std::advance(it, pick(static_cast<int>(live.size())));
      return it;
    };
    if (op < 40) {
      const std::string p = std::to_string(++payload);
      if (!live.empty() && pick(3) == 0) {
        auto it = existing();
        ts_->schedule(it->first.first, it->first.second, p);
        it->second = p;
      } else {
        ts_->schedule(fire, key, p);
        live[{fire, key}] = p;
      }
    } else if (op < 60) {
      if (!live.empty() && pick(2) == 0) {
        auto it = existing();
        ts_->cancel(it->first.first, it->first.second);
        live.erase(it);
      } else {
        ts_->cancel(fire, key);
        live.erase({fire, key});
      }
    } else if (op < 80) {
      now += pick(10);
      // Half the pops take at most a few timers, as a task whose commit has little room.
      const std::size_t limit =
          pick(2) == 0 ? static_cast<std::size_t>(-1) : static_cast<std::size_t>(pick(4));
      const auto due = pop(now, limit);
      std::vector<timer> expected;
      while (!live.empty() && live.begin()->first.first <= now && expected.size() < limit) {
        expected.push_back(
            {live.begin()->first.first, live.begin()->first.second, live.begin()->second});
        live.erase(live.begin());
      }
      ASSERT_EQ(due.size(), expected.size()) << "step " << step;
      for (std::size_t i = 0; i < due.size(); ++i) {
        EXPECT_EQ(due[i].fire_ms, expected[i].fire_ms) << "step " << step;
        EXPECT_EQ(due[i].key, expected[i].key) << "step " << step;
        EXPECT_EQ(due[i].payload, expected[i].payload) << "step " << step;
      }
    } else if (op < 98) {
      commit();
      committed = live;
    } else {
      restart();
      live = committed;
    }
    ASSERT_EQ(ts_->timer_count(), static_cast<std::int64_t>(live.size())) << "step " << step;
    // Not after every step: the lazily cached earliest timer must also hold up when several
    // operations invalidate it in a row.
    if (pick(3) == 0) {
      std::optional<std::int64_t> next;
      if (!live.empty()) next = live.begin()->first.first;
      ASSERT_EQ(ts_->next_fire_ms(), next) << "step " << step;
    }
  }
  ASSERT_TRUE(ts_->read_error().ok());
}

}  // namespace
}  // namespace herald::state

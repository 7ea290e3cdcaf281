#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "herald/state/cache.hpp"
#include "temp_db.hpp"

namespace herald::state {
namespace {

// A small value type with the encode/decode contract of cache<T>.
struct counter {
  static constexpr char version = 1;
  std::int64_t n = 0;
  std::string tag;

  void encode(std::string& out) const {
    out.push_back(version);
    append_be64(out, static_cast<std::uint64_t>(n));
    out.append(tag);
  }
  static bool decode(std::string_view in, counter& out) {
    if (in.size() < 9 || in[0] != version) return false;
    out.n = static_cast<std::int64_t>(read_be64(in.substr(1)));
    out.tag.assign(in.substr(9));
    return true;
  }
};

class CacheTest : public test::temp_task {
 protected:
  CacheTest() : temp_task({family::customer, 9}) {}
};

TEST_F(CacheTest, MissThenHit) {
  cache<counter> c(*ts_, store::customers);
  EXPECT_EQ(c.find("c-1"), nullptr);
  EXPECT_EQ(c.misses(), 1u);
  EXPECT_EQ(c.find("c-1"), nullptr);  // absence is cached too
  EXPECT_EQ(c.misses(), 1u);
  counter& v = c.get_or_create("c-1");
  v.n = 5;
  ASSERT_NE(c.find("c-1"), nullptr);
  EXPECT_EQ(c.find("c-1")->n, 5);
  EXPECT_EQ(c.misses(), 1u);
  EXPECT_EQ(c.size(), 1u);
}

TEST_F(CacheTest, DirtyFlushPersistsAcrossReopen) {
  {
    cache<counter> c(*ts_, store::customers);
    counter& v = c.get_or_create("c-1");
    v.n = 42;
    v.tag = "gold";
    c.mark_dirty("c-1");
    c.get_or_create("c-2").n = 7;  // never marked dirty: not written
    c.flush();
    EXPECT_EQ(ts_->pending_ops(), 1u);
    commit();
  }
  restart();
  cache<counter> c(*ts_, store::customers);
  counter* v = c.find("c-1");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->n, 42);
  EXPECT_EQ(v->tag, "gold");
  EXPECT_EQ(c.find("c-2"), nullptr);
  // Stored under the task's prefix in the chosen store only.
  std::string raw;
  EXPECT_TRUE(db_->get(store::customers, entity_key(task_, "c-1"), raw).ok());
  EXPECT_TRUE(db_->get(store::carts, entity_key(task_, "c-1"), raw).not_found());
}

TEST_F(CacheTest, UnflushedOrUncommittedChangesAreLostOnCrash) {
  {
    cache<counter> c(*ts_, store::carts);
    c.get_or_create("a").n = 1;
    c.mark_dirty("a");
    c.flush();
    commit();
    c.find("a")->n = 2;
    c.mark_dirty("a");
    c.flush();  // in the batch, never committed
  }
  restart();
  cache<counter> c(*ts_, store::carts);
  ASSERT_NE(c.find("a"), nullptr);
  EXPECT_EQ(c.find("a")->n, 1);
}

TEST_F(CacheTest, EraseDeletes) {
  {
    cache<counter> c(*ts_, store::skus);
    c.get_or_create("s-1").n = 1;
    c.mark_dirty("s-1");
    c.flush();
    commit();
    c.erase("s-1");
    EXPECT_EQ(c.find("s-1"), nullptr);
    c.erase("never-existed");  // a delete of nothing is harmless
    c.flush();
    commit();
  }
  restart();
  cache<counter> c(*ts_, store::skus);
  EXPECT_EQ(c.find("s-1"), nullptr);
  std::string raw;
  EXPECT_TRUE(db_->get(store::skus, entity_key(task_, "s-1"), raw).not_found());
}

TEST_F(CacheTest, EraseThenRecreate) {
  cache<counter> c(*ts_, store::skus);
  c.get_or_create("s").n = 1;
  c.mark_dirty("s");
  c.flush();
  commit();
  c.erase("s");
  counter& v = c.get_or_create("s");
  EXPECT_EQ(v.n, 0);
  v.n = 3;
  c.mark_dirty("s");
  c.flush();
  commit();
  cache<counter> fresh(*ts_, store::skus);
  ASSERT_NE(fresh.find("s"), nullptr);
  EXPECT_EQ(fresh.find("s")->n, 3);
}

TEST_F(CacheTest, EvictionOverCapacityKeepsDirtyData) {
  cache<counter> c(*ts_, store::customers, 10);
  for (int i = 0; i < 100; ++i) {
    c.get_or_create("k" + std::to_string(i)).n = i;
    c.mark_dirty("k" + std::to_string(i));
  }
  c.flush();
  // Written but not committed yet: they are the only readable copy, so they stay.
  EXPECT_EQ(c.size(), 100u);
  commit();
  c.flush();  // now they match the database and may go
  EXPECT_EQ(c.size(), 10u);
  for (int i = 0; i < 100; ++i) {
    counter* v = c.find("k" + std::to_string(i));
    ASSERT_NE(v, nullptr) << i;
    EXPECT_EQ(v->n, i);
  }
  EXPECT_GE(c.misses(), 90u);
}

TEST_F(CacheTest, FlushWithoutCommitNeverServesStaleValues) {
  // A commit that failed (or has not happened yet) leaves the flushed values in the batch
  // only; later flushes must not evict them and let a miss read the older committed value.
  cache<counter> c(*ts_, store::customers, 1);
  c.get_or_create("hot").n = 1;
  c.mark_dirty("hot");
  c.flush();
  commit();
  c.find("hot")->n = 2;
  c.mark_dirty("hot");
  c.flush();  // pretend the commit after this one failed
  for (int i = 0; i < 50; ++i) {
    (void)c.find("cold" + std::to_string(i));
    c.flush();
  }
  ASSERT_NE(c.find("hot"), nullptr);
  EXPECT_EQ(c.find("hot")->n, 2);
  commit();
  c.flush();
  EXPECT_LE(c.size(), 1u);
  ASSERT_NE(c.find("hot"), nullptr);
  EXPECT_EQ(c.find("hot")->n, 2);
}

TEST_F(CacheTest, UndecodableValueReadsAsAbsentAndIsCounted) {
  auto b = db_->batch();
  b.put(store::customers, entity_key(task_, "future"), std::string("\x09garbage", 8));
  ASSERT_TRUE(db_->write(b).ok());
  cache<counter> c(*ts_, store::customers);
  EXPECT_EQ(c.find("future"), nullptr);
  EXPECT_EQ(c.decode_errors(), 1u);
  EXPECT_EQ(c.read_errors(), 0u);
}

TEST_F(CacheTest, SameKeyInTwoTasksIsTwoValues) {
  task_state other(*db_, {family::customer, 10});
  cache<counter> mine(*ts_, store::customers);
  cache<counter> theirs(other, store::customers);
  mine.get_or_create("c").n = 1;
  mine.mark_dirty("c");
  theirs.get_or_create("c").n = 2;
  theirs.mark_dirty("c");
  mine.flush();
  theirs.flush();
  commit();
  std::vector<outbox_record> out;
  ASSERT_TRUE(other.commit(out).ok());
  cache<counter> a(*ts_, store::customers);
  cache<counter> b(other, store::customers);
  EXPECT_EQ(a.find("c")->n, 1);
  EXPECT_EQ(b.find("c")->n, 2);
}

}  // namespace
}  // namespace herald::state

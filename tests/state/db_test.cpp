#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "herald/state/db.hpp"
#include "herald/state/keys.hpp"
#include "temp_db.hpp"

namespace herald::state {
namespace {

using DbTest = test::temp_db;

std::vector<std::pair<std::string, std::string>> scan_all(const db& d, store s,
                                                          std::string_view begin,
                                                          std::string_view end) {
  std::vector<std::pair<std::string, std::string>> out;
  EXPECT_TRUE(d.scan(s, begin, end, [&](std::string_view k, std::string_view v) {
                 out.emplace_back(k, v);
                 return true;
               }).ok());
  return out;
}

TEST(DbStoreTest, NamesAreColumnFamilyNames) {
  EXPECT_EQ(to_string(store::customers), "customers");
  EXPECT_EQ(to_string(store::carts), "carts");
  EXPECT_EQ(to_string(store::timers), "timers");
  EXPECT_EQ(to_string(store::outbox), "outbox");
}

TEST_F(DbTest, GetMissingIsNotFound) {
  std::string v;
  status st = db_->get(store::customers, "nope", v);
  EXPECT_TRUE(st.not_found());
  EXPECT_FALSE(st.ok());
}

TEST_F(DbTest, PutGetAndStoresAreSeparate) {
  auto b = db_->batch();
  b.put(store::customers, "k", "customer");
  b.put(store::carts, "k", "cart");
  EXPECT_EQ(b.count(), 2u);
  EXPECT_GT(b.bytes(), 0u);
  ASSERT_TRUE(db_->write(b).ok());
  EXPECT_TRUE(b.empty());  // cleared by a successful write

  std::string v;
  ASSERT_TRUE(db_->get(store::customers, "k", v).ok());
  EXPECT_EQ(v, "customer");
  ASSERT_TRUE(db_->get(store::carts, "k", v).ok());
  EXPECT_EQ(v, "cart");
  EXPECT_TRUE(db_->get(store::skus, "k", v).not_found());
}

TEST_F(DbTest, BatchIsInvisibleUntilWrittenThenAllVisible) {
  auto b = db_->batch();
  for (store s : {store::customers, store::carts, store::skus, store::waitlists, store::shipments,
                  store::timers, store::meta, store::outbox})
    b.put(s, "atomic", std::string(to_string(s)));
  std::string v;
  EXPECT_TRUE(db_->get(store::meta, "atomic", v).not_found());
  ASSERT_TRUE(db_->write(b).ok());
  for (store s : {store::customers, store::carts, store::skus, store::waitlists, store::shipments,
                  store::timers, store::meta, store::outbox}) {
    ASSERT_TRUE(db_->get(s, "atomic", v).ok());
    EXPECT_EQ(v, to_string(s));
  }
}

TEST_F(DbTest, DeleteInBatch) {
  auto b = db_->batch();
  b.put(store::skus, "a", "1");
  ASSERT_TRUE(db_->write(b).ok());
  b.del(store::skus, "a");
  b.put(store::skus, "b", "2");
  ASSERT_TRUE(db_->write(b).ok());
  std::string v;
  EXPECT_TRUE(db_->get(store::skus, "a", v).not_found());
  EXPECT_TRUE(db_->get(store::skus, "b", v).ok());
}

TEST_F(DbTest, LaterOperationInBatchWins) {
  auto b = db_->batch();
  b.put(store::skus, "a", "1");
  b.del(store::skus, "a");
  b.put(store::skus, "a", "3");
  ASSERT_TRUE(db_->write(b).ok());
  std::string v;
  ASSERT_TRUE(db_->get(store::skus, "a", v).ok());
  EXPECT_EQ(v, "3");
}

TEST_F(DbTest, ClearAndSavePoint) {
  auto b = db_->batch();
  b.put(store::skus, "kept", "1");
  b.set_save_point();
  b.put(store::skus, "dropped", "2");
  b.del(store::skus, "kept");
  EXPECT_EQ(b.count(), 3u);
  b.rollback_to_save_point();
  EXPECT_EQ(b.count(), 1u);
  b.rollback_to_save_point();  // no save point left: no-op
  EXPECT_EQ(b.count(), 1u);
  ASSERT_TRUE(db_->write(b).ok());
  std::string v;
  EXPECT_TRUE(db_->get(store::skus, "kept", v).ok());
  EXPECT_TRUE(db_->get(store::skus, "dropped", v).not_found());

  b.put(store::skus, "x", "1");
  b.clear();
  EXPECT_TRUE(b.empty());
  ASSERT_TRUE(db_->write(b).ok());  // empty write is fine
}

TEST_F(DbTest, ScanIsOrderedAndBounded) {
  auto b = db_->batch();
  for (const char* k : {"b1", "a1", "b3", "c1", "b2", "b"}) b.put(store::waitlists, k, k);
  ASSERT_TRUE(db_->write(b).ok());
  auto got = scan_all(*db_, store::waitlists, "b", "c");
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].first, "b");
  EXPECT_EQ(got[1].first, "b1");
  EXPECT_EQ(got[2].first, "b2");
  EXPECT_EQ(got[3].first, "b3");
  EXPECT_EQ(got[3].second, "b3");
  EXPECT_EQ(scan_all(*db_, store::waitlists, "b2", "").size(), 3u);  // open end
  EXPECT_TRUE(scan_all(*db_, store::waitlists, "d", "e").empty());
}

TEST_F(DbTest, ScanStopsWhenVisitorReturnsFalse) {
  auto b = db_->batch();
  for (int i = 0; i < 10; ++i) b.put(store::shipments, "k" + std::to_string(i), "v");
  ASSERT_TRUE(db_->write(b).ok());
  int seen = 0;
  ASSERT_TRUE(db_->scan(store::shipments, "k", "l", [&](auto, auto) { return ++seen < 3; }).ok());
  EXPECT_EQ(seen, 3);
}

TEST_F(DbTest, LastKey) {
  std::string k;
  EXPECT_TRUE(db_->last_key(store::outbox, "a", "b", k).not_found());
  auto b = db_->batch();
  for (const char* key : {"a1", "a5", "a3", "b0"}) b.put(store::outbox, key, "");
  ASSERT_TRUE(db_->write(b).ok());
  ASSERT_TRUE(db_->last_key(store::outbox, "a", "b", k).ok());
  EXPECT_EQ(k, "a5");
  ASSERT_TRUE(db_->last_key(store::outbox, "a", "", k).ok());
  EXPECT_EQ(k, "b0");
  EXPECT_TRUE(db_->last_key(store::outbox, "a6", "a9", k).not_found());
}

TEST_F(DbTest, DeleteRangeDropsOnlyThatTask) {
  const task_id t1{family::customer, 1};
  const task_id t2{family::customer, 2};
  auto b = db_->batch();
  for (int i = 0; i < 100; ++i) {
    b.put(store::customers, entity_key(t1, "c" + std::to_string(i)), "x");
    b.put(store::customers, entity_key(t2, "c" + std::to_string(i)), "y");
  }
  ASSERT_TRUE(db_->write(b).ok());
  ASSERT_TRUE(db_->delete_range(store::customers, task_prefix(t1), task_prefix_end(t1)).ok());
  EXPECT_TRUE(scan_all(*db_, store::customers, task_prefix(t1), task_prefix_end(t1)).empty());
  EXPECT_EQ(scan_all(*db_, store::customers, task_prefix(t2), task_prefix_end(t2)).size(), 100u);
  EXPECT_EQ(db_->delete_range(store::customers, "a", "").value, status::code::invalid_argument);
}

TEST_F(DbTest, WritesSurviveReopenWithAndWithoutFlush) {
  auto b = db_->batch();
  b.put(store::meta, "flushed", "1");
  ASSERT_TRUE(db_->write(b).ok());
  ASSERT_TRUE(db_->flush().ok());
  b.put(store::meta, "wal-only", "2");
  ASSERT_TRUE(db_->write(b).ok());
  reopen();
  std::string v;
  ASSERT_TRUE(db_->get(store::meta, "flushed", v).ok());
  EXPECT_EQ(v, "1");
  ASSERT_TRUE(db_->get(store::meta, "wal-only", v).ok());
  EXPECT_EQ(v, "2");
}

TEST_F(DbTest, ApproximateBytesGrows) {
  auto b = db_->batch();
  for (int i = 0; i < 1000; ++i)
    b.put(store::carts, "k" + std::to_string(i), std::string(100, 'x'));
  ASSERT_TRUE(db_->write(b).ok());
  EXPECT_GT(db_->approximate_bytes(store::carts), 0u);
  ASSERT_TRUE(db_->flush().ok());
  EXPECT_GT(db_->approximate_bytes(store::carts), 0u);
}

TEST_F(DbTest, PathIsKept) {
  EXPECT_EQ(db_->path(), dir_.string());
}

TEST(DbOpenTest, BadPathIsAnError) {
  db_options o;
  o.path = "/proc/herald-cannot-create-this";
  std::unique_ptr<db> d;
  status st = db::open(o, d);
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(st.message.empty());
  EXPECT_EQ(d, nullptr);
}

}  // namespace
}  // namespace herald::state

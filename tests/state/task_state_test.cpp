#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "herald/state/task_state.hpp"
#include "temp_db.hpp"

namespace herald::state {
namespace {

using TaskStateTest = test::temp_db;

const task_id customer3{family::customer, 3};

TEST_F(TaskStateTest, FreshTaskHasNothing) {
  task_state ts(*db_, customer3);
  EXPECT_TRUE(ts.read_error().ok());
  EXPECT_EQ(ts.id(), customer3);
  EXPECT_FALSE(ts.offset("orders").has_value());
  EXPECT_FALSE(ts.watermark().has_value());
  EXPECT_FALSE(ts.next_fire_ms().has_value());
  EXPECT_EQ(ts.timer_count(), 0);
  EXPECT_EQ(ts.pending_ops(), 0u);
  std::vector<outbox_record> out;
  EXPECT_TRUE(ts.commit(out).ok());  // nothing to do
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(ts.load_outbox(out).ok());
  EXPECT_TRUE(out.empty());
}

TEST_F(TaskStateTest, OffsetsAndWatermarkSurviveReopen) {
  {
    task_state ts(*db_, customer3);
    ts.set_offset("orders", 42);
    ts.set_offset("carts", 7);
    ts.set_watermark(-1500);             // negative must round-trip too
    EXPECT_EQ(ts.offset("orders"), 42);  // visible before commit
    EXPECT_EQ(ts.watermark(), -1500);
    EXPECT_EQ(ts.pending_ops(), 3u);
    std::vector<outbox_record> out;
    ASSERT_TRUE(ts.commit(out).ok());
    EXPECT_EQ(ts.pending_ops(), 0u);
    EXPECT_EQ(ts.commits(), 1u);
  }
  reopen();
  {
    task_state ts(*db_, customer3);
    EXPECT_EQ(ts.offset("orders"), 42);
    EXPECT_EQ(ts.offset("carts"), 7);
    EXPECT_FALSE(ts.offset("other").has_value());
    EXPECT_EQ(ts.watermark(), -1500);
    ts.set_offset("orders", 100);
    ts.set_watermark(1'700'000'000'000);
    std::vector<outbox_record> out;
    ASSERT_TRUE(ts.commit(out).ok());
  }
  reopen();
  task_state ts(*db_, customer3);
  EXPECT_EQ(ts.offset("orders"), 100);
  EXPECT_EQ(ts.offset("carts"), 7);
  EXPECT_EQ(ts.watermark(), 1'700'000'000'000);
}

TEST_F(TaskStateTest, OffsetsAreIsolatedPerTask) {
  {
    task_state a(*db_, {family::customer, 1});
    task_state b(*db_, {family::sku, 1});
    a.set_offset("t", 1);
    b.set_offset("t", 2);
    a.set_watermark(10);
    std::vector<outbox_record> out;
    ASSERT_TRUE(a.commit(out).ok());
    ASSERT_TRUE(b.commit(out).ok());
  }
  EXPECT_EQ(task_state(*db_, {family::customer, 1}).offset("t"), 1);
  EXPECT_EQ(task_state(*db_, {family::sku, 1}).offset("t"), 2);
  EXPECT_FALSE(task_state(*db_, {family::customer, 2}).offset("t").has_value());
  EXPECT_FALSE(task_state(*db_, {family::sku, 1}).watermark().has_value());
}

TEST_F(TaskStateTest, KeyedValuesCommitted) {
  task_state ts(*db_, customer3);
  const std::string k = entity_key(customer3, "c-1");
  ts.put(store::customers, k, "v1");
  std::string v;
  EXPECT_TRUE(ts.get(store::customers, k, v).not_found());  // pending is not visible
  EXPECT_EQ(ts.pending_ops(), 1u);
  std::vector<outbox_record> out;
  ASSERT_TRUE(ts.commit(out).ok());
  ASSERT_TRUE(ts.get(store::customers, k, v).ok());
  EXPECT_EQ(v, "v1");
  ts.del(store::customers, k);
  ASSERT_TRUE(ts.commit(out).ok());
  EXPECT_TRUE(ts.get(store::customers, k, v).not_found());
}

TEST_F(TaskStateTest, OutboxAddCommitLoadAck) {
  task_state ts(*db_, customer3);
  const auto s1 = ts.add_output("notifications", "c-1", "hello");
  const auto s2 = ts.add_output("notifications", "c-2", std::string("bin\0ary", 7));
  const auto s3 = ts.add_output("", "", "");
  EXPECT_LT(s1, s2);
  EXPECT_LT(s2, s3);
  ASSERT_EQ(ts.pending_outputs().size(), 3u);

  std::vector<outbox_record> loaded;
  ASSERT_TRUE(ts.load_outbox(loaded).ok());
  EXPECT_TRUE(loaded.empty());  // not committed yet

  std::vector<outbox_record> committed;
  ASSERT_TRUE(ts.commit(committed).ok());
  EXPECT_TRUE(ts.pending_outputs().empty());
  ASSERT_EQ(committed.size(), 3u);
  EXPECT_EQ(committed[0].seq, s1);
  EXPECT_EQ(committed[1].value, std::string("bin\0ary", 7));

  ASSERT_TRUE(ts.load_outbox(loaded).ok());
  ASSERT_EQ(loaded.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(loaded[i].seq, committed[i].seq);
    EXPECT_EQ(loaded[i].topic, committed[i].topic);
    EXPECT_EQ(loaded[i].key, committed[i].key);
    EXPECT_EQ(loaded[i].value, committed[i].value);
  }

  ASSERT_TRUE(task_state::ack_outbox(*db_, customer3, {s1, s3}).ok());
  loaded.clear();
  ASSERT_TRUE(ts.load_outbox(loaded).ok());
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].seq, s2);
  EXPECT_EQ(loaded[0].topic, "notifications");
  EXPECT_EQ(loaded[0].key, "c-2");
  EXPECT_TRUE(task_state::ack_outbox(*db_, customer3, {}).ok());
}

TEST_F(TaskStateTest, OutboxKeepsHeadersAndAcksInTheNextCommit) {
  task_state ts(*db_, customer3);
  const record_headers headers = {
      {"herald.error", "missing field 'cart_id'"}, {"herald.source.offset", "42"}, {"empty", ""}};
  const auto s1 = ts.add_output("herald.dlq", "c-1", "{bad", headers);
  const auto s2 = ts.add_output("herald.dlq", "c-2", "plain");
  std::vector<outbox_record> committed;
  ASSERT_TRUE(ts.commit(committed).ok());
  std::vector<outbox_record> loaded;
  ASSERT_TRUE(ts.load_outbox(loaded).ok());
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_EQ(loaded[0].headers, headers);
  EXPECT_EQ(loaded[0].value, "{bad");
  EXPECT_TRUE(loaded[1].headers.empty());

  ts.ack_outputs({s1});
  EXPECT_GT(ts.pending_ops(), 0u);
  loaded.clear();
  ASSERT_TRUE(ts.load_outbox(loaded).ok());
  EXPECT_EQ(loaded.size(), 2u) << "an ack is only written by the next commit";
  ASSERT_TRUE(ts.commit(committed).ok());
  loaded.clear();
  ASSERT_TRUE(ts.load_outbox(loaded).ok());
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].seq, s2);
}

TEST_F(TaskStateTest, CommitAppendsToCommittedOutputs) {
  task_state ts(*db_, customer3);
  std::vector<outbox_record> committed;
  ts.add_output("t", "k", "1");
  ASSERT_TRUE(ts.commit(committed).ok());
  ts.add_output("t", "k", "2");
  ASSERT_TRUE(ts.commit(committed).ok());
  ASSERT_EQ(committed.size(), 2u);
  EXPECT_EQ(committed[1].value, "2");
}

TEST_F(TaskStateTest, OutboxIsolatedPerTask) {
  task_state a(*db_, {family::customer, 1});
  task_state b(*db_, {family::customer, 2});
  a.add_output("t", "k", "a");
  b.add_output("t", "k", "b");
  std::vector<outbox_record> out;
  ASSERT_TRUE(a.commit(out).ok());
  ASSERT_TRUE(b.commit(out).ok());
  std::vector<outbox_record> la;
  ASSERT_TRUE(a.load_outbox(la).ok());
  ASSERT_EQ(la.size(), 1u);
  EXPECT_EQ(la[0].value, "a");
}

TEST_F(TaskStateTest, SequenceNeverRepeatsAfterAckAndReopen) {
  std::uint64_t last = 0;
  for (int round = 0; round < 3; ++round) {
    {
      task_state ts(*db_, customer3);
      std::vector<std::uint64_t> seqs;
      for (int i = 0; i < 5; ++i) {
        const auto s = ts.add_output("t", "k", "v");
        EXPECT_GT(s, last);
        last = s;
        seqs.push_back(s);
      }
      std::vector<outbox_record> out;
      ASSERT_TRUE(ts.commit(out).ok());
      // Everything acknowledged: the outbox is empty, only the meta sequence remembers.
      ASSERT_TRUE(task_state::ack_outbox(*db_, customer3, seqs).ok());
      std::vector<outbox_record> left;
      ASSERT_TRUE(ts.load_outbox(left).ok());
      EXPECT_TRUE(left.empty());
    }
    reopen();
  }
}

TEST_F(TaskStateTest, UncommittedSequencesMayBeReusedButCommittedNever) {
  std::uint64_t committed_seq = 0;
  {
    task_state ts(*db_, customer3);
    committed_seq = ts.add_output("t", "k", "v");
    std::vector<outbox_record> out;
    ASSERT_TRUE(ts.commit(out).ok());
    ts.add_output("t", "k", "lost in the crash");
  }
  reopen();
  task_state ts(*db_, customer3);
  EXPECT_GT(ts.add_output("t", "k", "v"), committed_seq);
}

TEST_F(TaskStateTest, CrashDropsUncommittedBatchOnly) {
  const std::string k1 = entity_key(customer3, "c-1");
  const std::string k2 = entity_key(customer3, "c-2");
  {
    task_state ts(*db_, customer3);
    ts.put(store::customers, k1, "committed");
    ts.set_offset("orders", 10);
    ts.set_watermark(1000);
    ts.schedule(5000, "c-1", "remind");
    ts.add_output("notifications", "c-1", "sent");
    std::vector<outbox_record> out;
    ASSERT_TRUE(ts.commit(out).ok());

    // A whole interval of work, never committed.
    ts.put(store::customers, k1, "uncommitted");
    ts.put(store::customers, k2, "uncommitted");
    ts.set_offset("orders", 20);
    ts.set_offset("carts", 5);
    ts.set_watermark(2000);
    ts.schedule(6000, "c-2", "x");
    ts.cancel(5000, "c-1");
    ts.add_output("notifications", "c-2", "never");
    EXPECT_GT(ts.pending_ops(), 0u);
  }  // task_state dropped with its batch
  reopen();
  task_state ts(*db_, customer3);
  std::string v;
  ASSERT_TRUE(ts.get(store::customers, k1, v).ok());
  EXPECT_EQ(v, "committed");
  EXPECT_TRUE(ts.get(store::customers, k2, v).not_found());
  EXPECT_EQ(ts.offset("orders"), 10);
  EXPECT_FALSE(ts.offset("carts").has_value());
  EXPECT_EQ(ts.watermark(), 1000);
  EXPECT_EQ(ts.timer_count(), 1);
  EXPECT_EQ(ts.next_fire_ms(), 5000);
  std::vector<timer> due;
  ts.pop_due(10'000, due);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].key, "c-1");
  EXPECT_EQ(due[0].payload, "remind");
  std::vector<outbox_record> outbox;
  ASSERT_TRUE(ts.load_outbox(outbox).ok());
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_EQ(outbox[0].value, "sent");
}

}  // namespace
}  // namespace herald::state

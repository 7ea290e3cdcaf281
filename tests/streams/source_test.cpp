// The Kafka source against the mock cluster: routing by (family, partition), resuming from the
// offsets the listener returns, and pause/resume backpressure on in-flight records.

#include "herald/streams/source.hpp"

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "herald/streams/mock_cluster.hpp"
#include "herald/streams/sink.hpp"

namespace herald::streams {
namespace {

struct recording_listener final : source_listener {
  std::mutex mutex;
  std::vector<state::task_id> assigned, revoked;
  std::map<state::task_id, std::vector<record>> records;
  std::map<std::pair<state::task_id, std::string>, std::int64_t> offsets;
  std::map<std::pair<state::task_id, std::uint16_t>, std::int64_t> ends;  // the latest each
  std::int64_t received = 0;

  void on_assigned(const std::vector<state::task_id>& tasks) override {
    std::lock_guard<std::mutex> l(mutex);
    assigned.insert(assigned.end(), tasks.begin(), tasks.end());
  }
  std::optional<std::int64_t> resume_offset(state::task_id t, const std::string& topic) override {
    std::lock_guard<std::mutex> l(mutex);
    auto it = offsets.find({t, topic});
    return it == offsets.end() ? std::nullopt : std::optional<std::int64_t>(it->second);
  }
  void on_revoked(const std::vector<state::task_id>& tasks) override {
    std::lock_guard<std::mutex> l(mutex);
    revoked.insert(revoked.end(), tasks.begin(), tasks.end());
  }
  void on_batch(record_batch&& b) override {
    std::lock_guard<std::mutex> l(mutex);
    received += static_cast<std::int64_t>(b.records.size());
    for (auto& r : b.records) records[b.task].push_back(std::move(r));
    for (const auto& [topic, end] : b.ends) ends[{b.task, topic}] = end;
  }
  std::optional<std::int64_t> end_of(state::task_id t, std::uint16_t topic) {
    std::lock_guard<std::mutex> l(mutex);
    auto it = ends.find({t, topic});
    return it == ends.end() ? std::nullopt : std::optional<std::int64_t>(it->second);
  }
  std::int64_t count() {
    std::lock_guard<std::mutex> l(mutex);
    return received;
  }
};

bool wait_until(const std::function<bool()>& f, int ms = 30'000) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return f();
}

class SourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    cluster_ = mock_cluster::start(1, error);
    ASSERT_TRUE(cluster_) << error;
    ASSERT_TRUE(cluster_->create_topic("a", 2));
    ASSERT_TRUE(cluster_->create_topic("b", 2));
    sink_config sc;
    sc.properties["bootstrap.servers"] = cluster_->bootstrap_servers();
    producer_ = sink::create(sc, error);
    ASSERT_TRUE(producer_) << error;
  }

  source_config config() const {
    source_config c;
    c.properties["bootstrap.servers"] = cluster_->bootstrap_servers();
    c.properties["group.id"] = "source-test";
    c.properties["session.timeout.ms"] = "4000";
    c.topics = {{"a", schemas::topic_kind::clickstream, state::family::customer},
                {"b", schemas::topic_kind::carts, state::family::customer}};
    return c;
  }

  /// A started source feeding `l`; null (and a failure) when it cannot be created.
  static std::unique_ptr<source> start_source(const source_config& c, recording_listener& l) {
    std::string error;
    auto src = source::create(c, l, error);
    EXPECT_TRUE(src) << error;
    if (src) src->start();
    return src;
  }

  std::unique_ptr<mock_cluster> cluster_;
  std::unique_ptr<sink> producer_;
};

TEST_F(SourceTest, RoutesBothTopicsOfAFamilyToOneTaskPerPartition) {
  for (int i = 0; i < 50; ++i) {
    producer_->produce("a", fmt::format("k{}", i), fmt::format("a{}", i));
    producer_->produce("b", fmt::format("k{}", i), fmt::format("b{}", i));
  }
  ASSERT_TRUE(producer_->flush(10'000));
  recording_listener l;
  auto src = start_source(config(), l);
  ASSERT_TRUE(src);
  ASSERT_TRUE(wait_until([&] { return l.count() == 100; })) << l.count();
  src->stop();
  std::lock_guard<std::mutex> lock(l.mutex);
  EXPECT_EQ(l.assigned.size(), 2u);
  EXPECT_EQ(l.revoked.size(), 2u) << "stop revokes every task";
  // The same key lands in the same task from both topics, and offsets rise per topic.
  std::map<std::string, state::task_id> task_of_key;
  for (const auto& [task, recs] : l.records) {
    std::map<std::uint16_t, std::int64_t> last;
    for (const auto& r : recs) {
      auto [it, fresh] = task_of_key.emplace(r.key, task);
      EXPECT_EQ(it->second, task) << r.key;
      auto [o, first] = last.emplace(r.topic, r.offset);
      if (!first) {
        EXPECT_GT(r.offset, o->second);
      }
      o->second = r.offset;
    }
  }
  EXPECT_EQ(task_of_key.size(), 50u);
}

TEST_F(SourceTest, ResumesFromTheOffsetsTheTaskStored) {
  for (int i = 0; i < 20; ++i) producer_->produce("a", "same-key", fmt::format("v{}", i));
  ASSERT_TRUE(producer_->flush(10'000));
  recording_listener l;
  // Every partition of topic a resumes at offset 15: only offsets 15..19 of the key's
  // partition are delivered.
  for (int p = 0; p < 2; ++p) l.offsets[{{state::family::customer, p}, "a"}] = 15;
  auto src = start_source(config(), l);
  ASSERT_TRUE(src);
  ASSERT_TRUE(wait_until([&] { return l.count() == 5; }));
  // Nothing more may come: the consumer has fetched every partition to its end.
  ASSERT_TRUE(wait_until([&] { return src->lag() == 0; }));
  src->stop();
  EXPECT_EQ(l.count(), 5);
  std::lock_guard<std::mutex> lock(l.mutex);
  for (const auto& [task, recs] : l.records)
    for (const auto& r : recs) EXPECT_GE(r.offset, 15);
}

TEST_F(SourceTest, TellsTheTaskWhereEachPartitionEndsAfterItsRecords) {
  for (int i = 0; i < 20; ++i) producer_->produce_to("a", 1, "k", fmt::format("v{}", i));
  ASSERT_TRUE(producer_->flush(10'000));
  recording_listener l;
  auto src = start_source(config(), l);
  ASSERT_TRUE(src);
  const state::task_id one{state::family::customer, 1}, zero{state::family::customer, 0};
  ASSERT_TRUE(wait_until([&] { return l.end_of(one, 0) == 20; }));
  {
    std::lock_guard<std::mutex> lock(l.mutex);
    EXPECT_EQ(l.records[one].size(), 20u) << "the end comes after the partition's records";
  }
  EXPECT_TRUE(wait_until([&] { return l.end_of(zero, 0) == 0 && l.end_of(one, 1) == 0; }))
      << "empty partitions end at 0";
  producer_->produce_to("a", 1, "k", "v20");
  ASSERT_TRUE(producer_->flush(10'000));
  EXPECT_TRUE(wait_until([&] { return l.end_of(one, 0) == 21; })) << "and again once read on";
  src->stop();
}

TEST_F(SourceTest, PausesATaskAboveMaxInFlightAndResumesWhenReleased) {
  for (int i = 0; i < 3000; ++i) producer_->produce("b", "one-key", fmt::format("v{}", i));
  ASSERT_TRUE(producer_->flush(10'000));
  source_config c = config();
  c.max_in_flight = 500;
  c.resume_in_flight = 100;
  c.max_poll_records = 100;
  recording_listener l;  // never releases on its own
  auto src = start_source(c, l);
  ASSERT_TRUE(src);
  ASSERT_TRUE(wait_until([&] { return src->paused_tasks() == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const std::int64_t held = l.count();
  EXPECT_GT(held, 500);
  EXPECT_LE(held, 500 + 2 * 100 + 100) << "bounded by the limit plus what was already fetched";
  EXPECT_EQ(src->in_flight(), held);
  EXPECT_LT(held, 3000);
  // Release everything: the task resumes and the rest arrives, as far as the bound allows.
  std::int64_t released = 0;
  const state::task_id task = [&] {
    std::lock_guard<std::mutex> lock(l.mutex);
    return l.records.begin()->first;
  }();
  ASSERT_TRUE(wait_until([&] {
    const std::int64_t n = l.count();
    src->release(task, 1, n - released);  // topic index 1: "b"
    released = n;
    return n == 3000;
  }));
  EXPECT_TRUE(wait_until([&] { return src->paused_tasks() == 0; }));
  src->stop();
}

}  // namespace
}  // namespace herald::streams

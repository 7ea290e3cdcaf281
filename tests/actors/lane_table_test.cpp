// The global lane table (the other partitions' transit times of a lane as of an event time,
// its topic records) and the event-time alignment of a family's local tasks.

#include <atomic>
#include <string>

#include <gtest/gtest.h>

#include "herald/actors/alignment.hpp"
#include "herald/actors/lane_table.hpp"

namespace herald::actors {
namespace {

using rules::lane_stats;

constexpr std::int64_t t0 = 1'700'000'000'000;
constexpr std::int64_t hour = 3'600'000;
constexpr std::int64_t day = 24 * hour;

lane_stats deliveries(std::uint64_t n, std::int64_t transit) {
  lane_stats s;
  for (std::uint64_t i = 0; i < n; ++i) s.add(transit, 0);
  return s;
}

lane_stats others(const lane_table& t, std::string_view lane, std::int32_t partition,
                  std::int64_t before) {
  lane_stats out;
  t.add_others(lane, partition, before, out);
  return out;
}

TEST(LaneTableTest, OthersAreMergedAndTheAskingPartitionIsLeftOut) {
  lane_table t;
  t.publish(0, "ups|a|b", t0, deliveries(3, 2 * day));
  t.publish(1, "ups|a|b", t0, deliveries(5, 3 * day));
  t.publish(2, "ups|a|b", t0, deliveries(7, 3 * day));
  t.publish(2, "dhl|a|b", t0, deliveries(9, day));
  EXPECT_EQ(others(t, "ups|a|b", 0, t0 + 1).samples, 12U);
  EXPECT_EQ(others(t, "ups|a|b", 2, t0 + 1).samples, 8U);
  EXPECT_EQ(others(t, "ups|a|b", 3, t0 + 1).samples, 15U);
  EXPECT_EQ(others(t, "dhl|a|b", 2, t0 + 1).samples, 0U);
  EXPECT_EQ(others(t, "ups|x|y", 3, t0 + 1).samples, 0U);
  EXPECT_EQ(t.size(), 2U);
  const lane_stats merged = others(t, "ups|a|b", 0, t0 + 1);
  EXPECT_EQ(merged.counts[lane_stats::bucket_of(3 * day)], 12U);
}

TEST(LaneTableTest, APartitionReadAheadLendsNoFutureDeliveries) {
  lane_table t;
  t.publish(1, "ups|a|b", t0, deliveries(1, day));
  t.publish(1, "ups|a|b", t0 + day, deliveries(2, day));
  t.publish(1, "ups|a|b", t0 + 2 * day, deliveries(3, day));
  EXPECT_EQ(others(t, "ups|a|b", 0, t0).samples, 0U) << "before: strictly earlier deliveries";
  EXPECT_EQ(others(t, "ups|a|b", 0, t0 + 1).samples, 1U);
  EXPECT_EQ(others(t, "ups|a|b", 0, t0 + day + 1).samples, 2U);
  EXPECT_EQ(others(t, "ups|a|b", 0, t0 + 10 * day).samples, 3U);
  // Published again (read back from the topic), or out of order: the same versions.
  t.publish(1, "ups|a|b", t0 + day, deliveries(2, day));
  t.publish(1, "ups|a|b", t0 - day, deliveries(0, day));
  EXPECT_EQ(others(t, "ups|a|b", 0, t0 + day + 1).samples, 2U);
  EXPECT_EQ(others(t, "ups|a|b", 0, t0).samples, 0U);
}

TEST(LaneTableTest, KeptHistoryIsThinnedButReachesBackToTheFirstDelivery) {
  lane_table t;
  const std::uint64_t n = 10 * lane_table::versions_kept;
  for (std::uint64_t i = 1; i <= n; ++i)
    t.publish(1, "ups|a|b", t0 + static_cast<std::int64_t>(i) * hour, deliveries(i, day));
  // Recent versions stay exact; older questions get an earlier version, never a later one.
  EXPECT_EQ(others(t, "ups|a|b", 0, t0 + static_cast<std::int64_t>(n) * hour + 1).samples, n);
  EXPECT_EQ(others(t, "ups|a|b", 0, t0 + static_cast<std::int64_t>(n) * hour).samples, n - 1);
  EXPECT_EQ(others(t, "ups|a|b", 0, t0 + hour + 1).samples, 1U);
  for (std::uint64_t i = 2; i <= n; i += 7) {
    const auto got = others(t, "ups|a|b", 0, t0 + static_cast<std::int64_t>(i) * hour + 1).samples;
    EXPECT_LE(got, i);
    EXPECT_GE(got, 1U);
  }
}

TEST(LaneTableTest, TopicRecordsRoundTripAndBadOnesAreRefused) {
  std::string key, value;
  lane_table::encode(7, "ups|de-be|de-hh", t0, deliveries(4, 2 * day), key, value);
  EXPECT_EQ(key,
            "ups|de-be|de-hh\x1f"
            "7");
  lane_table t;
  ASSERT_TRUE(t.apply(key, value));
  EXPECT_EQ(others(t, "ups|de-be|de-hh", 0, t0 + 1).samples, 4U);
  EXPECT_EQ(others(t, "ups|de-be|de-hh", 7, t0 + 1).samples, 0U);
  EXPECT_FALSE(t.apply("no-partition", value));
  EXPECT_FALSE(t.apply("lane\x1f-1", value));
  EXPECT_FALSE(
      t.apply("lane\x1f"
              "1x",
              value));
  EXPECT_FALSE(t.apply(key, ""));
  EXPECT_FALSE(t.apply(key, value.substr(0, value.size() - 1)));
  std::string wrong_version = value;
  wrong_version[0] = 9;
  EXPECT_FALSE(t.apply(key, wrong_version));
  EXPECT_EQ(t.size(), 1U);
}

TEST(AlignmentTest, NoTaskRunsMoreThanTheDriftAheadOfTheOthersNextRecords) {
  alignment a(day);
  std::atomic<int> woken0{0}, woken1{0};
  a.join(0, [&] { ++woken0; });
  a.join(1, [&] { ++woken1; });
  // Until a task reports, it may have records before everything.
  EXPECT_EQ(a.cap(0), alignment::first);
  a.report(1, t0, alignment::none);
  EXPECT_EQ(a.cap(0), t0 + day);
  EXPECT_EQ(a.cap(1), alignment::first);
  a.report(0, t0 + 5 * day, t0 + 5 * day);  // stopped at its cap
  EXPECT_EQ(a.cap(1), t0 + 6 * day);
  EXPECT_EQ(woken0.load(), 0);
  a.report(1, t0 + 2 * day, alignment::none);
  EXPECT_EQ(woken0.load(), 0) << "its cap (3 days) is still short of its record (5 days)";
  a.report(1, t0 + 4 * day, alignment::none);
  EXPECT_EQ(woken0.load(), 1);
  a.report(1, t0 + 4 * day + 1, alignment::none);
  EXPECT_EQ(woken0.load(), 1) << "woken once per stop";
  // A task that has caught up holds nobody back; one that leaves neither.
  a.report(1, alignment::none, alignment::none);
  EXPECT_EQ(a.cap(0), alignment::no_cap);
  a.report(0, t0, t0 + 3 * day);
  a.report(1, t0 - day, alignment::none);
  EXPECT_EQ(a.cap(0), t0);
  a.leave(1);
  EXPECT_EQ(a.cap(0), alignment::no_cap);
  EXPECT_EQ(woken0.load(), 2);
  EXPECT_EQ(woken1.load(), 0);
}

TEST(AlignmentTest, ATaskStoppedAtACapThatHasAlreadyMovedIsWokenAtOnce) {
  alignment a(hour);
  std::atomic<int> woken{0};
  a.join(0, [&] { ++woken; });
  a.join(1, {});
  a.report(1, t0 + 2 * hour, alignment::none);
  a.report(0, t0, t0 + hour);  // read its cap before task 1 moved
  EXPECT_EQ(woken.load(), 1);
}

}  // namespace
}  // namespace herald::actors

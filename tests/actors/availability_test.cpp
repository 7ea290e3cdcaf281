// The global availability table in event time: levels as of a time, its watermark over the
// inventory partitions, the history it keeps, the end of a bounded feed.

#include <limits>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "herald/actors/availability.hpp"

namespace herald::actors {
namespace {

constexpr std::int64_t t0 = 1'700'000'000'000;
constexpr std::int64_t hour = 3'600'000;

std::string level(const std::string& sku, const std::string& location, std::int64_t available,
                  std::int64_t ts) {
  return fmt::format(
      R"({{"type":"stock_level","event_id":"{}-{}-{}","ts":{},"sku":"{}","location":"{}","available":{}}})",
      sku, location, ts, ts, sku, location, available);
}

struct table {
  availability_table t;
  explicit table(int partitions = 2, std::int64_t idle = 0, std::int64_t history = 6 * hour) {
    t.reset({0, idle}, partitions, history);
  }
  void put(int partition, const std::string& sku, const std::string& location,
           std::int64_t available, std::int64_t ts, std::int64_t wall = 1) {
    t.apply(partition, sku, level(sku, location, available, ts), wall);
  }
  std::optional<std::int64_t> available(std::string_view sku, std::int64_t as_of) const {
    return t.available(sku, as_of);
  }
  std::int64_t watermark(std::int64_t wall) const { return t.watermark(wall); }
  void finish() { t.finish(); }
  std::size_t size() const { return t.size(); }
};

TEST(AvailabilityTest, AnswersAsOfAnEventTimeWhateverCameLater) {
  table t;
  t.put(0, "sku-1", "wh", 5, t0);
  t.put(0, "sku-1", "wh", 0, t0 + hour);  // sold out an hour later
  EXPECT_EQ(t.available("sku-1", t0 - 1), std::nullopt) << "nothing known before its first level";
  EXPECT_EQ(t.available("sku-1", t0), 5);
  EXPECT_EQ(t.available("sku-1", t0 + hour - 1), 5) << "a reminder due before the sell-out";
  EXPECT_EQ(t.available("sku-1", t0 + hour), 0);
  EXPECT_EQ(t.available("sku-2", t0 + hour), std::nullopt);
}

TEST(AvailabilityTest, SumsEachLocationsLatestLevelAtThatTime) {
  table t;
  t.put(0, "sku-1", "a", 3, t0);
  t.put(0, "sku-1", "b", 4, t0 + 10);
  t.put(0, "sku-1", "a", 1, t0 + 20);
  t.put(0, "sku-1", "b", 2, t0 + 15);  // read after a's later level: placed by its own time
  EXPECT_EQ(t.available("sku-1", t0 + 5), 3) << "b not known yet";
  EXPECT_EQ(t.available("sku-1", t0 + 12), 7);
  EXPECT_EQ(t.available("sku-1", t0 + 17), 5);
  EXPECT_EQ(t.available("sku-1", t0 + 20), 3);
  t.put(0, "sku-1", "a", 9, t0 + 20);  // the same instant again: the later record wins
  EXPECT_EQ(t.available("sku-1", t0 + 20), 11);
  EXPECT_EQ(t.size(), 1u);
}

TEST(AvailabilityTest, WatermarkIsTheMinimumOverThePartitionsHeardFrom) {
  table t(2);
  EXPECT_EQ(t.watermark(1), streams::watermark::none);
  t.put(0, "sku-1", "wh", 1, t0 + hour);
  EXPECT_EQ(t.watermark(1), t0 + hour) << "idleness off: only partitions heard from count";
  t.put(1, "sku-2", "wh", 1, t0);
  EXPECT_EQ(t.watermark(1), t0 + hour) << "never goes back";
  t.put(1, "sku-2", "wh", 1, t0 + 2 * hour);
  t.put(0, "sku-1", "wh", 1, t0 + 3 * hour);
  EXPECT_EQ(t.watermark(1), t0 + 2 * hour) << "partition 1 is behind";
  t.finish();
  EXPECT_EQ(t.watermark(1), std::numeric_limits<std::int64_t>::max())
      << "an ended feed's answers are final for any time";
}

TEST(AvailabilityTest, AnIdlePartitionStopsHoldingTheWatermark) {
  table t(2, /*idle=*/30'000);
  t.put(0, "sku-1", "wh", 1, t0, /*wall=*/1'000);
  t.put(1, "sku-2", "wh", 1, t0 + hour, /*wall=*/1'000);
  EXPECT_EQ(t.watermark(1'000), t0);
  t.put(1, "sku-2", "wh", 1, t0 + 2 * hour, /*wall=*/20'000);
  EXPECT_EQ(t.watermark(20'000), t0);
  EXPECT_EQ(t.watermark(31'000), t0 + 2 * hour) << "partition 0 quiet for the idle timeout";
}

TEST(AvailabilityTest, KeepsHistoryForItsWindowAndTheLevelBeforeIt) {
  table t(1, 0, /*history=*/hour);
  t.put(0, "sku-1", "wh", 5, t0);
  t.put(0, "sku-1", "wh", 4, t0 + hour);
  t.put(0, "sku-1", "wh", 3, t0 + 2 * hour);
  t.put(0, "sku-1", "wh", 2, t0 + 3 * hour);  // watermark t0 + 3 h: keeps t0 + 2 h onwards
  EXPECT_EQ(t.available("sku-1", t0 + 2 * hour + 1), 3);
  EXPECT_EQ(t.available("sku-1", t0 + 3 * hour), 2);
  // Older readings are folded: a time before the window answers "not known" rather than a
  // level that may be wrong.
  EXPECT_EQ(t.available("sku-1", t0 + hour), std::nullopt);
}

}  // namespace
}  // namespace herald::actors

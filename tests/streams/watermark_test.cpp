#include "herald/streams/watermark.hpp"

#include <gtest/gtest.h>

namespace herald::streams {
namespace {

TEST(WatermarkTest, NoneBeforeTheFirstEvent) {
  watermark wm;
  EXPECT_EQ(wm.current(), watermark::none);
  EXPECT_FALSE(wm.tick(1'000'000));
}

TEST(WatermarkTest, MaxEventTimeMinusAllowedLateness) {
  watermark wm({/*allowed_lateness_ms=*/100, /*idle_timeout_ms=*/0});
  EXPECT_FALSE(wm.observe(1000, 0));
  EXPECT_EQ(wm.current(), 900);
  EXPECT_FALSE(wm.observe(950, 0)) << "within the allowed lateness";
  EXPECT_EQ(wm.current(), 900) << "never moves backwards";
  EXPECT_TRUE(wm.observe(899, 0)) << "older than the watermark: late";
  EXPECT_FALSE(wm.observe(2000, 0));
  EXPECT_EQ(wm.current(), 1900);
}

TEST(WatermarkTest, IdleAdvanceOffKeepsEventTimeOnly) {
  watermark wm({0, 0});
  wm.observe(1000, 0);
  EXPECT_FALSE(wm.tick(10'000'000));
  EXPECT_EQ(wm.current(), 1000);
}

TEST(WatermarkTest, IdlePartitionFollowsTheWallClockAfterTheTimeout) {
  watermark wm({0, /*idle_timeout_ms=*/5000});
  wm.observe(1'000'000, /*wall=*/100'000);
  EXPECT_FALSE(wm.tick(101'000));
  EXPECT_FALSE(wm.tick(104'999)) << "not idle long enough";
  EXPECT_EQ(wm.current(), 1'000'000);
  EXPECT_TRUE(wm.tick(106'000));
  EXPECT_EQ(wm.current(), 1'000'000 + 1'001) << "advances by the wall time since the last tick";
  EXPECT_TRUE(wm.tick(116'000));
  EXPECT_EQ(wm.current(), 1'000'000 + 1'001 + 10'000);
  // A new event resets the idle clock; an older event is late against the advanced mark.
  EXPECT_TRUE(wm.observe(1'005'000, 117'000));
  EXPECT_FALSE(wm.tick(118'000));
  EXPECT_EQ(wm.current(), 1'011'001);
}

TEST(WatermarkTest, RestoreResumesAPersistedWatermark) {
  watermark wm({50, 0});
  wm.restore(5000);
  EXPECT_EQ(wm.current(), 5000);
  EXPECT_TRUE(wm.observe(4000, 0));
  EXPECT_FALSE(wm.observe(6000, 0));
  EXPECT_EQ(wm.current(), 5950);
}

}  // namespace
}  // namespace herald::streams

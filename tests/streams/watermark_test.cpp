#include "herald/streams/watermark.hpp"

#include <gtest/gtest.h>

namespace herald::streams {
namespace {

constexpr std::int64_t t0 = 1'700'000'000'000;  // event time
constexpr std::int64_t w0 = 1'800'000'000'000;  // wall clock
constexpr std::int64_t idle = 30'000;

TEST(WatermarkTest, NoneBeforeTheFirstEvent) {
  watermark wm;
  EXPECT_EQ(wm.current(), watermark::none);
  EXPECT_FALSE(wm.tick(w0));
  EXPECT_EQ(wm.current(), watermark::none);
}

TEST(WatermarkTest, MaxEventTimeMinusAllowedLateness) {
  watermark wm({/*allowed_lateness_ms=*/100, /*idle_timeout_ms=*/0});
  EXPECT_FALSE(wm.observe(0, 1000, w0));
  EXPECT_EQ(wm.current(), 900);
  EXPECT_FALSE(wm.observe(0, 950, w0)) << "within the allowed lateness";
  EXPECT_EQ(wm.current(), 900) << "never moves backwards";
  EXPECT_TRUE(wm.observe(0, 899, w0)) << "older than the watermark: late";
  EXPECT_FALSE(wm.observe(0, 2000, w0));
  EXPECT_EQ(wm.current(), 1900);
}

TEST(WatermarkTest, MinimumOverTheInputsHeardFrom) {
  watermark wm({0, 0}, 2);
  wm.observe(1, t0 + 7'200'000, w0);  // carts 2 h ahead
  EXPECT_EQ(wm.current(), t0 + 7'200'000) << "the clickstream has not delivered anything yet";
  watermark skewed({0, 0}, 2);
  skewed.observe(0, t0, w0);
  skewed.observe(1, t0 + 7'200'000, w0);
  EXPECT_EQ(skewed.current(), t0) << "the slower partition holds the watermark back";
  skewed.observe(0, t0 + 60'000, w0);
  EXPECT_EQ(skewed.current(), t0 + 60'000);
  EXPECT_EQ(skewed.input(0), t0 + 60'000);
  EXPECT_EQ(skewed.input(1), t0 + 7'200'000);
  EXPECT_FALSE(skewed.observe(1, t0 + 61'000, w0))
      << "an event behind its own partition's newest but ahead of the minimum is not late";
}

TEST(WatermarkTest, IdleInputIsLeftOutAfterTheTimeout) {
  watermark wm({0, idle}, 2);
  wm.observe(0, t0, w0);
  wm.observe(1, t0 + 600'000, w0);
  EXPECT_EQ(wm.current(), t0);
  // The carts keep coming; the clickstream goes quiet.
  wm.observe(1, t0 + 601'000, w0 + 29'000);
  EXPECT_FALSE(wm.tick(w0 + 29'999));
  EXPECT_EQ(wm.current(), t0) << "not idle yet";
  EXPECT_FALSE(wm.idle(0, w0 + 29'999));
  EXPECT_TRUE(wm.tick(w0 + 30'000));
  EXPECT_TRUE(wm.idle(0, w0 + 30'000));
  EXPECT_EQ(wm.current(), t0 + 601'000) << "the active partition alone sets the watermark";
  // The quiet partition comes back behind: late, and the watermark does not go back.
  EXPECT_TRUE(wm.observe(0, t0 + 10'000, w0 + 31'000));
  EXPECT_EQ(wm.current(), t0 + 601'000);
}

TEST(WatermarkTest, AllInputsQuietFollowTheWallClockBehindByTheTimeout) {
  watermark wm({0, idle}, 2);
  wm.observe(0, w0 - 26 * 3'600'000LL, w0);  // a cart 26 h old, then silence
  EXPECT_FALSE(wm.tick(w0 + idle - 1));
  EXPECT_TRUE(wm.tick(w0 + idle));
  EXPECT_EQ(wm.current(), w0) << "catches up with the clock, not at the clock's pace";
  EXPECT_TRUE(wm.tick(w0 + idle + 5'000));
  EXPECT_EQ(wm.current(), w0 + 5'000);
  // A live event resets the idle clock.
  EXPECT_FALSE(wm.observe(1, w0 + 36'000, w0 + 36'000));
  EXPECT_FALSE(wm.tick(w0 + 40'000));
  EXPECT_EQ(wm.current(), w0 + 36'000);
}

TEST(WatermarkTest, ExpectedInputHoldsOnlyForTheIdleTimeoutAfterTheStart) {
  watermark wm({0, idle}, 2);
  wm.expect(1);
  wm.observe(0, t0, w0);
  wm.observe(0, t0 + 1, w0 + idle - 1);
  EXPECT_EQ(wm.current(), watermark::none);
  EXPECT_TRUE(wm.tick(w0 + idle));
  EXPECT_EQ(wm.current(), t0 + 1)
      << "an upstream task that never speaks is left out after the timeout";
  watermark off({0, 0}, 2);
  off.expect(1);
  off.observe(0, t0, w0);
  EXPECT_EQ(off.current(), t0) << "idleness off: only inputs heard from count";
}

TEST(WatermarkTest, ReleasedInputStopsHoldingAndCountsOnceHeard) {
  watermark wm({0, idle}, 2);
  wm.restore(t0);
  wm.expect(0);
  wm.expect(1);
  wm.observe(0, t0 + 3'600'000, w0);
  EXPECT_EQ(wm.current(), t0) << "input 1 may still deliver earlier records";
  EXPECT_TRUE(wm.awaited(1));
  EXPECT_FALSE(wm.awaited(0)) << "heard from";
  wm.release(1);  // its partition turned out read to its end
  EXPECT_FALSE(wm.awaited(1));
  EXPECT_EQ(wm.current(), t0 + 3'600'000);
  wm.observe(1, t0 + 3'600'000 + 10, w0 + 1);
  wm.observe(0, t0 + 7'200'000, w0 + 2);
  EXPECT_EQ(wm.current(), t0 + 3'600'000 + 10) << "heard from since: in the minimum";
}

TEST(WatermarkTest, IdleOffKeepsEventTimeOnly) {
  watermark wm({0, 0}, 2);
  wm.observe(0, t0, w0);
  wm.observe(1, t0 + 5'000, w0);
  EXPECT_FALSE(wm.tick(w0 + 100 * 86'400'000LL));
  EXPECT_EQ(wm.current(), t0) << "no input is ever idle: deterministic";
}

TEST(WatermarkTest, RestoreNeverJumpsByTheTimeTheProcessWasDown) {
  // The process stopped with the watermark at t0 and starts again days later: only wall time
  // it observes counts, so the first tick after the start moves nothing.
  watermark wm({0, idle}, 2);
  wm.restore(t0);
  EXPECT_FALSE(wm.tick(w0));
  EXPECT_EQ(wm.current(), t0);
  EXPECT_FALSE(wm.tick(w0 + idle - 1));
  EXPECT_EQ(wm.current(), t0) << "no jump before idle_timeout_ms of observed quiet";
  EXPECT_TRUE(wm.tick(w0 + idle));
  EXPECT_EQ(wm.current(), w0) << "then it follows the clock, idle_timeout_ms behind";
}

TEST(WatermarkTest, RestoreIsAFloorForLaterEvents) {
  watermark wm({50, 0});
  wm.restore(5000);
  EXPECT_EQ(wm.current(), 5000);
  EXPECT_TRUE(wm.observe(0, 4000, w0)) << "older than the restored watermark";
  EXPECT_EQ(wm.current(), 5000);
  EXPECT_FALSE(wm.observe(0, 6000, w0));
  EXPECT_EQ(wm.current(), 5950);
}

TEST(WatermarkTest, AllInputsQuietLetEverythingReadGoEvenAheadOfTheClock) {
  // Event time ahead of the wall clock (a simulation): the clock alone would never get there.
  const std::int64_t ahead = w0 + 3'600'000;
  watermark wm({0, idle}, 2);
  wm.observe(0, ahead, w0);
  wm.observe(1, ahead + 7'200'000, w0);
  EXPECT_EQ(wm.current(), ahead);
  EXPECT_FALSE(wm.tick(w0 + idle - 1));
  EXPECT_TRUE(wm.tick(w0 + idle));
  EXPECT_EQ(wm.current(), ahead + 7'200'000) << "nothing left to wait for";
}

TEST(WatermarkTest, EndedInputsHoldNothingAndTheirNewestTimeEndsIt) {
  watermark wm({0, 0}, 3);
  wm.observe(0, t0 + 1'000, w0);
  wm.observe(1, t0 + 9'000, w0);
  wm.advance(2, t0 + 5'000, w0);  // an upstream task's marker
  EXPECT_EQ(wm.current(), t0 + 1'000);
  wm.finish(0);
  EXPECT_EQ(wm.current(), t0 + 5'000) << "the ended input no longer holds it back";
  wm.finish(1);
  EXPECT_EQ(wm.current(), t0 + 5'000) << "inputs still going (markers) keep counting";
  wm.finish(2);
  EXPECT_EQ(wm.current(), t0 + 9'000) << "all ended: as far as the data went, no further";
  EXPECT_FALSE(wm.tick(w0 + 86'400'000));
  EXPECT_EQ(wm.current(), t0 + 9'000);
}

TEST(WatermarkTest, MarkersAdvanceUpstreamInputs) {
  // A SKU task: input 0 is shop.inventory, inputs 1..3 three upstream customer tasks.
  watermark wm({0, idle}, 4);
  for (std::size_t i = 1; i < 4; ++i) wm.expect(i);
  wm.observe(0, t0 + 900'000, w0);
  wm.advance(1, t0 + 500'000, w0);
  wm.advance(2, t0 + 100'000, w0);
  EXPECT_EQ(wm.current(), watermark::none) << "upstream 3 has not been heard from yet";
  wm.advance(3, t0 + 50'000, w0);
  EXPECT_EQ(wm.current(), t0 + 50'000) << "the slowest upstream task";
  wm.advance(3, t0 + 100'000, w0);
  EXPECT_EQ(wm.current(), t0 + 100'000);
  wm.advance(3, t0 + 700'000, w0 + 1'000);
  wm.advance(2, t0 + 800'000, w0 + 1'000);
  EXPECT_EQ(wm.current(), t0 + 500'000);
  wm.advance(2, t0 + 100'000, w0 + 2'000);
  EXPECT_EQ(wm.input(2), t0 + 800'000) << "an older marker does not move an input back";
  // Upstream 1 dies: after the idle timeout the others carry on.
  wm.advance(2, t0 + 850'000, w0 + 20'000);
  wm.advance(3, t0 + 850'000, w0 + 20'000);
  wm.observe(0, t0 + 950'000, w0 + 20'000);
  EXPECT_FALSE(wm.tick(w0 + 29'999));
  EXPECT_TRUE(wm.tick(w0 + 30'000));
  EXPECT_EQ(wm.current(), t0 + 850'000);
}

}  // namespace
}  // namespace herald::streams

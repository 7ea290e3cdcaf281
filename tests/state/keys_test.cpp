#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "herald/state/keys.hpp"

namespace herald::state {
namespace {

TEST(KeysTest, BigEndianRoundTrip) {
  std::string s;
  append_be32(s, 0x01020304u);
  append_be64(s, 0x0a0b0c0d0e0f1011ull);
  ASSERT_EQ(s.size(), 12u);
  EXPECT_EQ(static_cast<unsigned char>(s[0]), 0x01);
  EXPECT_EQ(read_be32(s), 0x01020304u);
  EXPECT_EQ(read_be64(std::string_view(s).substr(4)), 0x0a0b0c0d0e0f1011ull);
  EXPECT_EQ(read_be32("ab"), 0u);  // too short reads as zero, never out of bounds
}

TEST(KeysTest, OrderPreservingRoundTrip) {
  for (std::int64_t v :
       {std::numeric_limits<std::int64_t>::min(), std::int64_t{-1}, std::int64_t{0},
        std::int64_t{1}, std::numeric_limits<std::int64_t>::max()})
    EXPECT_EQ(from_order_preserving(order_preserving(v)), v);
}

TEST(KeysTest, TimerKeysSortNumericallyAcrossSign) {
  const task_id t{family::customer, 7};
  std::vector<std::int64_t> times = {5,
                                     -5,
                                     0,
                                     std::numeric_limits<std::int64_t>::min(),
                                     -1,
                                     1,
                                     std::numeric_limits<std::int64_t>::max(),
                                     1'700'000'000'000,
                                     -1'700'000'000'000,
                                     256,
                                     255};
  std::vector<std::string> keys;
  for (auto ms : times) keys.push_back(timer_key(t, ms, "k"));
  std::sort(keys.begin(), keys.end());
  std::sort(times.begin(), times.end());
  for (std::size_t i = 0; i < keys.size(); ++i)
    EXPECT_EQ(from_order_preserving(read_be64(std::string_view(keys[i]).substr(5))), times[i]);
}

TEST(KeysTest, SameFireTimeOrdersByKey) {
  const task_id t{family::customer, 0};
  EXPECT_LT(timer_key(t, 10, "a"), timer_key(t, 10, "b"));
  EXPECT_LT(timer_key(t, 10, "zzz"), timer_key(t, 11, "a"));
}

TEST(KeysTest, PartitionsDoNotInterleave) {
  // Every key of partition p sorts inside [prefix(p), prefix_end(p)), before partition p+1,
  // whatever the key bytes (0xff included).
  for (std::int32_t p : {0, 1, 255, 256, 65535, 65536}) {
    const task_id t{family::sku, p};
    const task_id next{family::sku, p + 1};
    const std::string lo = task_prefix(t);
    const std::string hi = task_prefix_end(t);
    for (const std::string& k :
         {entity_key(t, ""), entity_key(t, std::string(40, '\xff')),
          timer_key(t, std::numeric_limits<std::int64_t>::max(), "\xff\xff")}) {
      EXPECT_LE(lo, k);
      EXPECT_LT(k, hi);
      EXPECT_LT(k, task_prefix(next));
    }
    EXPECT_EQ(hi, task_prefix(next));
  }
  EXPECT_LT(task_prefix({family::customer, 2}), task_prefix({family::customer, 10}));
}

TEST(KeysTest, FamiliesAreSeparateRanges) {
  const task_id c{family::customer, std::numeric_limits<std::int32_t>::max()};
  const task_id s{family::sku, 0};
  EXPECT_LT(entity_key(c, std::string(10, '\xff')), entity_key(s, ""));
  EXPECT_LE(task_prefix_end(c), task_prefix(s));
  EXPECT_NE(task_prefix({family::customer, 3}), task_prefix({family::shipment, 3}));
  EXPECT_EQ(to_string(family::shipment), "shipment");
}

TEST(KeysTest, PrefixEndCarries) {
  const task_id t{family::customer, -1};  // 0xffffffff: the carry moves into the family byte
  EXPECT_EQ(task_prefix_end(t), std::string("\x02\0\0\0\0", 5));
  EXPECT_LT(entity_key(t, "\xff"), task_prefix_end(t));
}

TEST(KeysTest, LayoutIsFamilyThenPartitionThenKey) {
  const std::string k = entity_key({family::shipment, 0x01020304}, "abc");
  EXPECT_EQ(k, std::string("\x03\x01\x02\x03\x04"
                           "abc",
                           8));
  const std::string tk = timer_key({family::customer, 1}, 0, "x");
  EXPECT_EQ(tk.size(), 5u + 8u + 1u);
  EXPECT_EQ(static_cast<unsigned char>(tk[5]), 0x80);  // zero sits in the middle of the range
}

}  // namespace
}  // namespace herald::state

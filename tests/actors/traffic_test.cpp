#include "herald/actors/traffic.hpp"

#include <map>

#include <gtest/gtest.h>

#include "herald/schemas/codec.hpp"

namespace herald::actors {
namespace {

TEST(TrafficGeneratorTest, EveryRecordDecodesExceptTheMalformedShare) {
  traffic_config c;
  c.malformed_share = 0.01;
  traffic_generator gen(c);
  schemas::decoder dec;
  schemas::event ev;
  std::map<schemas::event_type, int> types;
  int malformed = 0;
  for (int i = 0; i < 50'000; ++i) {
    const auto r = gen.next(1'760'000'000'000 + i * 200LL);
    const auto err = dec.decode(r.topic, r.key, r.value, ev);
    if (r.malformed) {
      ++malformed;
      EXPECT_TRUE(err) << r.value;
    } else {
      ASSERT_FALSE(err) << err.message << ": " << r.value;
      ++types[ev.type];
    }
  }
  EXPECT_NEAR(malformed, 500, 150);
  for (auto t : {schemas::event_type::page_view, schemas::event_type::product_view,
                 schemas::event_type::cart_item_added, schemas::event_type::cart_item_removed,
                 schemas::event_type::cart_cleared, schemas::event_type::checkout_started,
                 schemas::event_type::order_placed, schemas::event_type::notify_me,
                 schemas::event_type::stock_level})
    EXPECT_GT(types[t], 0) << schemas::to_string(t);
}

TEST(TrafficGeneratorTest, SameSeedSameTraffic) {
  traffic_generator a, b;
  for (int i = 0; i < 2000; ++i) {
    const auto x = a.next(i * 1000LL), y = b.next(i * 1000LL);
    ASSERT_EQ(x.value, y.value);
    ASSERT_EQ(x.key, y.key);
  }
}

}  // namespace
}  // namespace herald::actors

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

TEST(TrafficGeneratorTest, PricesAreFixedPerSkuAndBotsClickEverySecond) {
  traffic_config c;
  c.malformed_share = 0;
  c.bot_share = 0.01;
  traffic_generator gen(c);
  schemas::decoder dec;
  schemas::event ev;
  std::map<std::string, double> price;
  std::map<std::string, std::vector<std::int64_t>> bot_views;
  for (int i = 0; i < 50'000; ++i) {
    const auto r = gen.next(1'760'000'000'000 + i * 200LL);
    ASSERT_FALSE(dec.decode(r.topic, r.key, r.value, ev));
    if (ev.type != schemas::event_type::product_view) continue;
    // The price detector must not see list prices jump: one price per SKU.
    auto [it, fresh] = price.emplace(ev.sku, ev.price);
    EXPECT_EQ(it->second, ev.price) << ev.sku;
    if (ev.customer_id.starts_with("bot-")) bot_views[ev.customer_id].push_back(ev.ts_ms);
  }
  ASSERT_GT(bot_views.size(), 5u);
  std::size_t full = 0;
  for (const auto& [bot, ts] : bot_views) {
    for (std::size_t k = 1; k < ts.size(); ++k) EXPECT_EQ(ts[k] - ts[k - 1], 1000) << bot;
    full += ts.size() == static_cast<std::size_t>(c.bot_views) ? 1 : 0;
  }
  EXPECT_GT(full, 0u) << "a bot's 60 views in 60 s: above the absolute limit of 30";
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

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "herald/schemas/events.hpp"

namespace herald::schemas {
namespace {

constexpr event_type all_types[] = {
    event_type::page_view,    event_type::product_view,     event_type::wishlist_add,
    event_type::notify_me,    event_type::cart_item_added,  event_type::cart_item_removed,
    event_type::cart_cleared, event_type::checkout_started, event_type::order_placed,
    event_type::stock_level,  event_type::shipment_created, event_type::carrier_scan,
};

TEST(EventsTest, EventTypeNamesRoundTrip) {
  std::set<std::string_view> names;
  for (const event_type t : all_types) {
    const std::string_view name = to_string(t);
    EXPECT_TRUE(names.insert(name).second) << name;
    EXPECT_EQ(parse_event_type(name), t) << name;
  }
  EXPECT_EQ(to_string(event_type::cart_item_added), "cart_item_added");
  EXPECT_EQ(to_string(event_type::carrier_scan), "carrier_scan");
}

TEST(EventsTest, UnknownNamesDoNotParse) {
  for (const std::string_view name : {"", "foo", "Page_View", "page_view ", "page_vie", "order"}) {
    EXPECT_FALSE(parse_event_type(name).has_value()) << name;
  }
  EXPECT_FALSE(parse_event_type(std::string_view("cart_cleared\0", 13)).has_value());
}

TEST(EventsTest, TopicOfEveryType) {
  EXPECT_EQ(topic_of(event_type::page_view), topic_kind::clickstream);
  EXPECT_EQ(topic_of(event_type::product_view), topic_kind::clickstream);
  EXPECT_EQ(topic_of(event_type::wishlist_add), topic_kind::clickstream);
  EXPECT_EQ(topic_of(event_type::notify_me), topic_kind::clickstream);
  EXPECT_EQ(topic_of(event_type::cart_item_added), topic_kind::carts);
  EXPECT_EQ(topic_of(event_type::cart_item_removed), topic_kind::carts);
  EXPECT_EQ(topic_of(event_type::cart_cleared), topic_kind::carts);
  EXPECT_EQ(topic_of(event_type::checkout_started), topic_kind::carts);
  EXPECT_EQ(topic_of(event_type::order_placed), topic_kind::carts);
  EXPECT_EQ(topic_of(event_type::stock_level), topic_kind::inventory);
  EXPECT_EQ(topic_of(event_type::shipment_created), topic_kind::shipments);
  EXPECT_EQ(topic_of(event_type::carrier_scan), topic_kind::shipments);
}

TEST(EventsTest, TopicKindNames) {
  EXPECT_EQ(to_string(topic_kind::clickstream), "clickstream");
  EXPECT_EQ(to_string(topic_kind::carts), "carts");
  EXPECT_EQ(to_string(topic_kind::inventory), "inventory");
  EXPECT_EQ(to_string(topic_kind::shipments), "shipments");
}

TEST(EventsTest, ClearResetsEveryField) {
  event e;
  e.type = event_type::carrier_scan;
  e.event_id = "e";
  e.ts_ms = 5;
  e.customer_id = e.session_id = e.url = e.sku = e.currency = e.cart_id = e.order_id = "x";
  e.price = e.unit_price = e.total = 1.5;
  e.quantity = e.available = 3;
  e.anonymous = true;
  e.lines.push_back({"s", 1, 2.0, {}});
  e.location = e.shipment_id = e.carrier = e.service = e.origin = e.destination = "y";
  e.status_code = e.description = "z";
  e.low_stock_threshold = 4;
  e.promised_delivery_ms = 6;
  e.estimated_delivery_ms = 7;
  const std::size_t capacity_before = e.customer_id.capacity();

  e.clear();
  const event fresh;
  EXPECT_EQ(e.type, fresh.type);
  EXPECT_TRUE(e.event_id.empty());
  EXPECT_EQ(e.ts_ms, 0);
  EXPECT_TRUE(e.customer_id.empty() && e.session_id.empty() && e.url.empty() && e.sku.empty());
  EXPECT_TRUE(e.currency.empty() && e.cart_id.empty() && e.order_id.empty());
  EXPECT_EQ(e.price, 0);
  EXPECT_EQ(e.unit_price, 0);
  EXPECT_EQ(e.total, 0);
  EXPECT_EQ(e.quantity, 0);
  EXPECT_EQ(e.available, 0);
  EXPECT_FALSE(e.anonymous);
  EXPECT_TRUE(e.lines.empty());
  EXPECT_TRUE(e.location.empty() && e.shipment_id.empty() && e.carrier.empty());
  EXPECT_TRUE(e.service.empty() && e.origin.empty() && e.destination.empty());
  EXPECT_TRUE(e.status_code.empty() && e.description.empty());
  EXPECT_FALSE(e.low_stock_threshold.has_value());
  EXPECT_FALSE(e.promised_delivery_ms.has_value());
  EXPECT_FALSE(e.estimated_delivery_ms.has_value());
  EXPECT_EQ(e.customer_id.capacity(), capacity_before);
}

}  // namespace
}  // namespace herald::schemas

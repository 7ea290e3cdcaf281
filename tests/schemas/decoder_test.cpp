#include <gtest/gtest.h>

#include <string>

#include "herald/schemas/codec.hpp"
#include "test_records.hpp"

namespace herald::schemas {
namespace {

using test::json;

// ---- valid events of every type ------------------------------------------------------------

TEST(DecoderTest, PageViewValid) {
  decoder d;
  event e;
  const auto err = d.decode(topic_kind::clickstream, "c1",
                            R"({"type":"page_view","event_id":"e1","ts":1700000000000,)"
                            R"("customer_id":"c1","session_id":"s1","url":"https://x/y"})",
                            e);
  ASSERT_FALSE(err) << err.message;
  EXPECT_EQ(err.code, decode_code::ok);
  EXPECT_EQ(e.type, event_type::page_view);
  EXPECT_EQ(e.event_id, "e1");
  EXPECT_EQ(e.ts_ms, 1700000000000);
  EXPECT_EQ(e.customer_id, "c1");
  EXPECT_EQ(e.session_id, "s1");
  EXPECT_EQ(e.url, "https://x/y");
}

TEST(DecoderTest, PageViewWithoutUrlValid) {
  decoder d;
  event e;
  const auto err = d.decode(
      topic_kind::clickstream, "c1",
      R"({"type":"page_view","event_id":"e1","ts":1,"customer_id":"c1","session_id":"s1"})", e);
  ASSERT_FALSE(err) << err.message;
  EXPECT_TRUE(e.url.empty());
}

TEST(DecoderTest, ProductViewValid) {
  decoder d;
  event e;
  const auto err = d.decode(topic_kind::clickstream, "c1",
                            R"({"type":"product_view","event_id":"e2","ts":5,"customer_id":"c1",)"
                            R"("session_id":"s1","sku":"SKU-9","price":12.5,"currency":"USD"})",
                            e);
  ASSERT_FALSE(err) << err.message;
  EXPECT_EQ(e.type, event_type::product_view);
  EXPECT_EQ(e.sku, "SKU-9");
  EXPECT_DOUBLE_EQ(e.price, 12.5);
  EXPECT_EQ(e.currency, "USD");
}

TEST(DecoderTest, ProductViewIntegerPriceValid) {
  decoder d;
  event e;
  const auto err = d.decode(topic_kind::clickstream, "c1",
                            R"({"type":"product_view","event_id":"e2","ts":5,"customer_id":"c1",)"
                            R"("session_id":"s1","sku":"SKU-9","price":12})",
                            e);
  ASSERT_FALSE(err) << err.message;
  EXPECT_DOUBLE_EQ(e.price, 12.0);
  EXPECT_TRUE(e.currency.empty());
}

TEST(DecoderTest, WishlistAddValid) {
  decoder d;
  event e;
  const auto err =
      d.decode(topic_kind::clickstream, "c1",
               R"({"type":"wishlist_add","event_id":"e3","ts":7,"customer_id":"c1","sku":"A"})", e);
  ASSERT_FALSE(err) << err.message;
  EXPECT_EQ(e.type, event_type::wishlist_add);
  EXPECT_EQ(e.sku, "A");
}

TEST(DecoderTest, NotifyMeValid) {
  decoder d;
  event e;
  const auto err =
      d.decode(topic_kind::clickstream, "c1",
               R"({"sku":"A","customer_id":"c1","ts":7,"event_id":"e4","type":"notify_me"})", e);
  ASSERT_FALSE(err) << err.message;
  EXPECT_EQ(e.type, event_type::notify_me);
  EXPECT_EQ(e.sku, "A");
  EXPECT_EQ(e.customer_id, "c1");
}

TEST(DecoderTest, CartItemAddedValid) {
  decoder d;
  event e;
  const auto err = d.decode(topic_kind::carts, "cust-42",
                            R"({"type":"cart_item_added","event_id":"evt-1","ts":1700000000123,)"
                            R"("customer_id":"cust-42","cart_id":"cart-7","sku":"SKU-1",)"
                            R"("quantity":3,"unit_price":19.99,"currency":"EUR"})",
                            e);
  ASSERT_FALSE(err) << err.message;
  EXPECT_EQ(e.type, event_type::cart_item_added);
  EXPECT_EQ(e.event_id, "evt-1");
  EXPECT_EQ(e.ts_ms, 1700000000123);
  EXPECT_EQ(e.customer_id, "cust-42");
  EXPECT_EQ(e.cart_id, "cart-7");
  EXPECT_EQ(e.sku, "SKU-1");
  EXPECT_EQ(e.quantity, 3);
  EXPECT_DOUBLE_EQ(e.unit_price, 19.99);
  EXPECT_EQ(e.currency, "EUR");
  EXPECT_FALSE(e.anonymous);
}

TEST(DecoderTest, CartItemAddedAnonymous) {
  decoder d;
  event e;
  json r = test::full_record(event_type::cart_item_added);
  r["anonymous"] = true;
  ASSERT_FALSE(test::decode_record(d, event_type::cart_item_added, r, e));
  EXPECT_TRUE(e.anonymous);
  r["anonymous"] = nullptr;  // null = absent
  ASSERT_FALSE(test::decode_record(d, event_type::cart_item_added, r, e));
  EXPECT_FALSE(e.anonymous);
}

TEST(DecoderTest, CartItemRemovedValid) {
  decoder d;
  event e;
  const auto err = d.decode(topic_kind::carts, "c1",
                            R"({"type":"cart_item_removed","event_id":"e","ts":1,)"
                            R"("customer_id":"c1","cart_id":"k","sku":"s","quantity":2})",
                            e);
  ASSERT_FALSE(err) << err.message;
  EXPECT_EQ(e.type, event_type::cart_item_removed);
  EXPECT_EQ(e.quantity, 2);
}

TEST(DecoderTest, CartItemRemovedWithoutQuantityMeansAll) {
  decoder d;
  event e;
  json r = test::minimal_record(event_type::cart_item_removed);
  ASSERT_FALSE(test::decode_record(d, event_type::cart_item_removed, r, e));
  EXPECT_EQ(e.quantity, 0);
  r["quantity"] = nullptr;
  ASSERT_FALSE(test::decode_record(d, event_type::cart_item_removed, r, e));
  EXPECT_EQ(e.quantity, 0);
}

TEST(DecoderTest, CartItemRemovedZeroQuantityInvalid) {
  decoder d;
  event e;
  json r = test::full_record(event_type::cart_item_removed);
  r["quantity"] = 0;
  const auto err = test::decode_record(d, event_type::cart_item_removed, r, e);
  EXPECT_EQ(err.code, decode_code::invalid_value);
  EXPECT_EQ(err.message, "field 'quantity' must be an integer > 0");
}

TEST(DecoderTest, CartClearedValid) {
  decoder d;
  event e;
  const auto err = d.decode(topic_kind::carts, "c1",
                            R"({"type":"cart_cleared","event_id":"e","ts":1,"customer_id":"c1",)"
                            R"("cart_id":"k","anonymous":true})",
                            e);
  ASSERT_FALSE(err) << err.message;
  EXPECT_EQ(e.type, event_type::cart_cleared);
  EXPECT_EQ(e.cart_id, "k");
  EXPECT_TRUE(e.anonymous);
}

TEST(DecoderTest, CheckoutStartedValid) {
  decoder d;
  event e;
  const auto err = d.decode(
      topic_kind::carts, "c1",
      R"({"type":"checkout_started","event_id":"e","ts":1,"customer_id":"c1","cart_id":"k"})", e);
  ASSERT_FALSE(err) << err.message;
  EXPECT_EQ(e.type, event_type::checkout_started);
  EXPECT_EQ(e.cart_id, "k");
}

TEST(DecoderTest, OrderPlacedValid) {
  decoder d;
  event e;
  const auto err = d.decode(
      topic_kind::carts, "c1",
      R"({"type":"order_placed","event_id":"e","ts":1,"customer_id":"c1","order_id":"o1",)"
      R"("cart_id":"k","lines":[{"sku":"a","quantity":2,"unit_price":1.5},)"
      R"({"unit_price":3,"sku":"b","quantity":1,"gift_wrap":true}],"total":6,"currency":"EUR"})",
      e);
  ASSERT_FALSE(err) << err.message;
  EXPECT_EQ(e.type, event_type::order_placed);
  EXPECT_EQ(e.order_id, "o1");
  EXPECT_EQ(e.cart_id, "k");
  ASSERT_EQ(e.lines.size(), 2U);
  EXPECT_EQ(e.lines[0], (order_line{"a", 2, 1.5, {}}));
  EXPECT_EQ(e.lines[1], (order_line{"b", 1, 3.0, {}}));
  EXPECT_DOUBLE_EQ(e.total, 6.0);
  EXPECT_EQ(e.currency, "EUR");
}

TEST(DecoderTest, OrderPlacedWithoutCartIdValid) {
  decoder d;
  event e;
  ASSERT_FALSE(test::decode_record(d, event_type::order_placed,
                                   test::minimal_record(event_type::order_placed), e));
  EXPECT_TRUE(e.cart_id.empty());
  EXPECT_EQ(e.lines.size(), 2U);
}

TEST(DecoderTest, OrderPlacedManyLines) {
  decoder d;
  event e;
  json r = test::full_record(event_type::order_placed);
  r["lines"] = json::array();
  for (int i = 0; i < 1000; ++i) {
    r["lines"].push_back(
        json{{"sku", "s" + std::to_string(i)}, {"quantity", i + 1}, {"unit_price", i}});
  }
  ASSERT_FALSE(test::decode_record(d, event_type::order_placed, r, e));
  ASSERT_EQ(e.lines.size(), 1000U);
  EXPECT_EQ(e.lines[999], (order_line{"s999", 1000, 999.0, {}}));
}

TEST(DecoderTest, StockLevelValid) {
  decoder d;
  event e;
  const auto err = d.decode(topic_kind::inventory, "SKU-1",
                            R"({"type":"stock_level","event_id":"e","ts":1,"sku":"SKU-1",)"
                            R"("location":"wh-1","available":0,"low_stock_threshold":5})",
                            e);
  ASSERT_FALSE(err) << err.message;
  EXPECT_EQ(e.type, event_type::stock_level);
  EXPECT_EQ(e.location, "wh-1");
  EXPECT_EQ(e.available, 0);
  EXPECT_EQ(e.low_stock_threshold, 5);
}

TEST(DecoderTest, StockLevelWithoutThresholdValid) {
  decoder d;
  event e;
  ASSERT_FALSE(test::decode_record(d, event_type::stock_level,
                                   test::minimal_record(event_type::stock_level), e));
  EXPECT_FALSE(e.low_stock_threshold.has_value());
  EXPECT_EQ(e.available, 7);
}

TEST(DecoderTest, ShipmentCreatedValid) {
  decoder d;
  event e;
  const auto err = d.decode(
      topic_kind::shipments, "sh1",
      R"({"type":"shipment_created","event_id":"e","ts":1,"shipment_id":"sh1","order_id":"o1",)"
      R"("customer_id":"c1","carrier":"ups","service":"ground","origin":"US-CA",)"
      R"("destination":"US-NY","promised_delivery":"2023-11-15T12:00:00Z"})",
      e);
  ASSERT_FALSE(err) << err.message;
  EXPECT_EQ(e.type, event_type::shipment_created);
  EXPECT_EQ(e.shipment_id, "sh1");
  EXPECT_EQ(e.order_id, "o1");
  EXPECT_EQ(e.customer_id, "c1");
  EXPECT_EQ(e.carrier, "ups");
  EXPECT_EQ(e.service, "ground");
  EXPECT_EQ(e.origin, "US-CA");
  EXPECT_EQ(e.destination, "US-NY");
  EXPECT_EQ(e.promised_delivery_ms, 1700049600000);
}

TEST(DecoderTest, ShipmentCreatedMinimalValid) {
  decoder d;
  event e;
  ASSERT_FALSE(test::decode_record(d, event_type::shipment_created,
                                   test::minimal_record(event_type::shipment_created), e));
  EXPECT_FALSE(e.promised_delivery_ms.has_value());
  EXPECT_TRUE(e.service.empty());
}

TEST(DecoderTest, CarrierScanValid) {
  decoder d;
  event e;
  const auto err = d.decode(
      topic_kind::shipments, "sh1",
      R"({"type":"carrier_scan","event_id":"e","ts":"2023-11-14T08:30:00+01:00","shipment_id":"sh1",)"
      R"("carrier":"ups","status_code":"OD","description":"Out for delivery",)"
      R"("location":"Brooklyn","estimated_delivery":1700049600000})",
      e);
  ASSERT_FALSE(err) << err.message;
  EXPECT_EQ(e.type, event_type::carrier_scan);
  EXPECT_EQ(e.ts_ms, 1699947000000);
  EXPECT_EQ(e.status_code, "OD");
  EXPECT_EQ(e.description, "Out for delivery");
  EXPECT_EQ(e.location, "Brooklyn");
  EXPECT_EQ(e.estimated_delivery_ms, 1700049600000);
  EXPECT_TRUE(e.customer_id.empty());
}

TEST(DecoderTest, EveryTypeFullAndMinimalRecordsDecode) {
  decoder d;
  event e;
  for (const auto& spec : test::type_specs()) {
    SCOPED_TRACE(std::string(to_string(spec.type)));
    auto err = test::decode_record(d, spec.type, test::full_record(spec.type), e);
    EXPECT_FALSE(err) << err.message;
    EXPECT_EQ(e.type, spec.type);
    err = test::decode_record(d, spec.type, test::minimal_record(spec.type), e);
    EXPECT_FALSE(err) << err.message;
    EXPECT_EQ(e.type, spec.type);
  }
}

// ---- required fields ------------------------------------------------------------------------

TEST(DecoderTest, CartItemAddedMissingCartId) {
  decoder d;
  event e;
  json r = test::full_record(event_type::cart_item_added);
  r.erase("cart_id");
  const auto err = test::decode_record(d, event_type::cart_item_added, r, e);
  EXPECT_EQ(err.code, decode_code::missing_field);
  EXPECT_EQ(err.message, "missing field 'cart_id'");
}

TEST(DecoderTest, EveryRequiredFieldMissingIsReported) {
  decoder d;
  event e;
  for (const auto& spec : test::type_specs()) {
    std::vector<std::string> fields = {"event_id", "ts"};
    fields.insert(fields.end(), spec.required.begin(), spec.required.end());
    for (const auto& f : fields) {
      SCOPED_TRACE(std::string(to_string(spec.type)) + "." + f);
      json r = test::full_record(spec.type);
      r.erase(f);
      const auto err = d.decode(spec.topic, "cust-1", r.dump(), e);
      EXPECT_EQ(err.code, decode_code::missing_field) << err.message;
      EXPECT_EQ(err.message, "missing field '" + f + "'");
    }
  }
}

TEST(DecoderTest, EveryRequiredFieldNullIsMissing) {
  decoder d;
  event e;
  for (const auto& spec : test::type_specs()) {
    std::vector<std::string> fields = {"type", "event_id", "ts"};
    fields.insert(fields.end(), spec.required.begin(), spec.required.end());
    for (const auto& f : fields) {
      SCOPED_TRACE(std::string(to_string(spec.type)) + "." + f);
      json r = test::full_record(spec.type);
      r[f] = nullptr;
      const auto err = d.decode(spec.topic, "cust-1", r.dump(), e);
      EXPECT_EQ(err.code, decode_code::missing_field) << err.message;
      EXPECT_TRUE(test::contains(err.message, "'" + f + "'")) << err.message;
    }
  }
}

TEST(DecoderTest, EveryRequiredFieldWrongTypeIsReported) {
  decoder d;
  event e;
  for (const auto& spec : test::type_specs()) {
    std::vector<std::string> fields = {"type", "event_id", "ts"};
    fields.insert(fields.end(), spec.required.begin(), spec.required.end());
    for (const auto& f : fields) {
      SCOPED_TRACE(std::string(to_string(spec.type)) + "." + f);
      json r = test::full_record(spec.type);
      r[f] = test::wrong_type_value(f);
      const auto err = d.decode(spec.topic, test::key_for(spec.type, r), r.dump(), e);
      EXPECT_EQ(err.code, decode_code::wrong_type) << err.message;
      EXPECT_TRUE(test::contains(err.message, "field '" + f + "' must be")) << err.message;
    }
  }
}

TEST(DecoderTest, EveryOptionalFieldMayBeAbsentOrNull) {
  decoder d;
  event e;
  for (const auto& spec : test::type_specs()) {
    for (const auto& f : spec.optional) {
      SCOPED_TRACE(std::string(to_string(spec.type)) + "." + f);
      json r = test::full_record(spec.type);
      r.erase(f);
      auto err = test::decode_record(d, spec.type, r, e);
      EXPECT_FALSE(err) << err.message;
      r[f] = nullptr;
      err = test::decode_record(d, spec.type, r, e);
      EXPECT_FALSE(err) << err.message;
    }
  }
}

TEST(DecoderTest, EveryOptionalFieldWrongTypeIsReported) {
  decoder d;
  event e;
  for (const auto& spec : test::type_specs()) {
    for (const auto& f : spec.optional) {
      SCOPED_TRACE(std::string(to_string(spec.type)) + "." + f);
      json r = test::full_record(spec.type);
      r[f] = test::wrong_type_value(f);
      const auto err = test::decode_record(d, spec.type, r, e);
      EXPECT_EQ(err.code, decode_code::wrong_type) << err.message;
      EXPECT_TRUE(test::contains(err.message, "field '" + f + "' must be")) << err.message;
    }
  }
}

TEST(DecoderTest, FieldsOfOtherTypesAreIgnored) {
  decoder d;
  event e;
  // A page_view carrying cart fields with wrong types: not its fields, so not its problem.
  json r = test::full_record(event_type::page_view);
  r["quantity"] = "lots";
  r["lines"] = json::array({1, 2});
  r["available"] = -4;
  r["estimated_delivery"] = "soon";
  const auto err = test::decode_record(d, event_type::page_view, r, e);
  ASSERT_FALSE(err) << err.message;
  EXPECT_EQ(e.quantity, 0);
  EXPECT_TRUE(e.lines.empty());
  EXPECT_EQ(e.available, 0);
  EXPECT_FALSE(e.estimated_delivery_ms.has_value());
}

TEST(DecoderTest, UnknownFieldsAreIgnored) {
  decoder d;
  event e;
  const auto err = d.decode(
      topic_kind::clickstream, "c1",
      R"({"x":{"nested":[1,{"a":null}]},"type":"wishlist_add","y":[],"event_id":"e","z":-1.5e3,)"
      R"("ts":1,"customer_id":"c1","w":"str","sku":"A","v":true,"u":null})",
      e);
  EXPECT_FALSE(err) << err.message;
}

TEST(DecoderTest, EmptyIdentifierIsInvalid) {
  decoder d;
  event e;
  json r = test::full_record(event_type::cart_item_added);
  r["event_id"] = "";
  auto err = test::decode_record(d, event_type::cart_item_added, r, e);
  EXPECT_EQ(err.code, decode_code::invalid_value);
  EXPECT_EQ(err.message, "field 'event_id' must be a non-empty string");

  r = test::full_record(event_type::cart_item_added);
  r["cart_id"] = "";
  err = test::decode_record(d, event_type::cart_item_added, r, e);
  EXPECT_EQ(err.code, decode_code::invalid_value);
  EXPECT_EQ(err.message, "field 'cart_id' must be a non-empty string");
}

// ---- numeric rules --------------------------------------------------------------------------

TEST(DecoderTest, NegativeQuantityInvalid) {
  decoder d;
  event e;
  json r = test::full_record(event_type::cart_item_added);
  r["quantity"] = -1;
  const auto err = test::decode_record(d, event_type::cart_item_added, r, e);
  EXPECT_EQ(err.code, decode_code::invalid_value);
  EXPECT_EQ(err.message, "field 'quantity' must be an integer > 0");
}

TEST(DecoderTest, ZeroQuantityInvalid) {
  decoder d;
  event e;
  json r = test::full_record(event_type::cart_item_added);
  r["quantity"] = 0;
  EXPECT_EQ(test::decode_record(d, event_type::cart_item_added, r, e).code,
            decode_code::invalid_value);
}

TEST(DecoderTest, FractionalQuantityIsWrongType) {
  decoder d;
  event e;
  json r = test::full_record(event_type::cart_item_added);
  r["quantity"] = 1.5;
  const auto err = test::decode_record(d, event_type::cart_item_added, r, e);
  EXPECT_EQ(err.code, decode_code::wrong_type);
  EXPECT_EQ(err.message, "field 'quantity' must be an integer > 0");
}

TEST(DecoderTest, IntegralFloatQuantityAccepted) {
  // JSON Schema calls 2.0 an integer; producers that only have doubles stay valid.
  decoder d;
  event e;
  const std::string base =
      R"({"type":"cart_item_added","event_id":"e","ts":1,"customer_id":"c","cart_id":"k",)"
      R"("sku":"s","unit_price":1,"currency":"EUR","quantity":)";
  ASSERT_FALSE(d.decode(topic_kind::carts, "c", base + "2.0}", e));
  EXPECT_EQ(e.quantity, 2);
  ASSERT_FALSE(d.decode(topic_kind::carts, "c", base + "1e2}", e));
  EXPECT_EQ(e.quantity, 100);
}

TEST(DecoderTest, OutOfRangeQuantityInvalid) {
  decoder d;
  event e;
  const std::string base =
      R"({"type":"cart_item_added","event_id":"e","ts":1,"customer_id":"c","cart_id":"k",)"
      R"("sku":"s","unit_price":1,"currency":"EUR","quantity":)";
  for (const std::string q : {"9223372036854775808", "99999999999999999999999", "1e30", "1e400"}) {
    SCOPED_TRACE(q);
    const auto err = d.decode(topic_kind::carts, "c", base + q + "}", e);
    EXPECT_EQ(err.code, decode_code::invalid_value) << err.message;
    EXPECT_EQ(err.message, "field 'quantity' must be an integer > 0");
  }
  ASSERT_FALSE(d.decode(topic_kind::carts, "c", base + "9223372036854775807}", e));
  EXPECT_EQ(e.quantity, 9223372036854775807);
}

TEST(DecoderTest, QuantityAsStringIsWrongType) {
  decoder d;
  event e;
  json r = test::full_record(event_type::cart_item_added);
  r["quantity"] = "3";
  const auto err = test::decode_record(d, event_type::cart_item_added, r, e);
  EXPECT_EQ(err.code, decode_code::wrong_type);
  EXPECT_EQ(err.message, "field 'quantity' must be an integer > 0");
}

TEST(DecoderTest, NegativePriceInvalid) {
  decoder d;
  event e;
  json r = test::full_record(event_type::cart_item_added);
  r["unit_price"] = -0.01;
  const auto err = test::decode_record(d, event_type::cart_item_added, r, e);
  EXPECT_EQ(err.code, decode_code::invalid_value);
  EXPECT_EQ(err.message, "field 'unit_price' must be a number >= 0");
  r = test::full_record(event_type::product_view);
  r["price"] = -5;
  EXPECT_EQ(test::decode_record(d, event_type::product_view, r, e).code,
            decode_code::invalid_value);
}

TEST(DecoderTest, ZeroPriceValid) {
  decoder d;
  event e;
  json r = test::full_record(event_type::cart_item_added);
  r["unit_price"] = 0;
  EXPECT_FALSE(test::decode_record(d, event_type::cart_item_added, r, e));
}

TEST(DecoderTest, AvailableRules) {
  decoder d;
  event e;
  json r = test::full_record(event_type::stock_level);
  r["available"] = -1;
  auto err = test::decode_record(d, event_type::stock_level, r, e);
  EXPECT_EQ(err.code, decode_code::invalid_value);
  EXPECT_EQ(err.message, "field 'available' must be an integer >= 0");
  r["available"] = 0;
  EXPECT_FALSE(test::decode_record(d, event_type::stock_level, r, e));
  r["available"] = 2.5;
  EXPECT_EQ(test::decode_record(d, event_type::stock_level, r, e).code, decode_code::wrong_type);
  r["available"] = 1;
  r["low_stock_threshold"] = -3;
  err = test::decode_record(d, event_type::stock_level, r, e);
  EXPECT_EQ(err.code, decode_code::invalid_value);
  EXPECT_EQ(err.message, "field 'low_stock_threshold' must be an integer >= 0");
}

TEST(DecoderTest, NegativeTotalInvalid) {
  decoder d;
  event e;
  json r = test::full_record(event_type::order_placed);
  r["total"] = -1;
  const auto err = test::decode_record(d, event_type::order_placed, r, e);
  EXPECT_EQ(err.code, decode_code::invalid_value);
  EXPECT_EQ(err.message, "field 'total' must be a number >= 0");
}

// ---- order lines ----------------------------------------------------------------------------

TEST(DecoderTest, OrderPlacedLinesRules) {
  decoder d;
  event e;
  struct bad_lines {
    json lines;
    decode_code code;
    std::string message;
  };
  const std::vector<bad_lines> cases = {
      {json::array(), decode_code::invalid_value,
       "field 'lines' must be a non-empty array of {sku, quantity, unit_price} objects"},
      {json::object(), decode_code::wrong_type,
       "field 'lines' must be a non-empty array of {sku, quantity, unit_price} objects"},
      {"a,b", decode_code::wrong_type,
       "field 'lines' must be a non-empty array of {sku, quantity, unit_price} objects"},
      {nullptr, decode_code::missing_field, "missing field 'lines' (null)"},
      {json::array({json{{"sku", "a"}, {"quantity", 1}, {"unit_price", 1}}, 7}),
       decode_code::wrong_type, "field 'lines[1]' must be an object"},
      {json::array({json{{"quantity", 1}, {"unit_price", 1}}}), decode_code::missing_field,
       "missing field 'lines[0].sku'"},
      {json::array({json{{"sku", "a"}, {"quantity", 1}, {"unit_price", 1}},
                    json{{"sku", "b"}, {"quantity", 0}, {"unit_price", 1}}}),
       decode_code::invalid_value, "field 'lines[1].quantity' must be an integer > 0"},
      {json::array({json{{"sku", "a"}, {"quantity", 1}}}), decode_code::missing_field,
       "missing field 'lines[0].unit_price'"},
      {json::array({json{{"sku", "a"}, {"quantity", 1}, {"unit_price", -2}}}),
       decode_code::invalid_value, "field 'lines[0].unit_price' must be a number >= 0"},
      {json::array({json{{"sku", "a"}, {"quantity", 1}, {"unit_price", "2"}}}),
       decode_code::wrong_type, "field 'lines[0].unit_price' must be a number >= 0"},
      {json::array({json{{"sku", 5}, {"quantity", 1}, {"unit_price", 2}}}), decode_code::wrong_type,
       "field 'lines[0].sku' must be a non-empty string"},
      {json::array({json{{"sku", "a"}, {"quantity", nullptr}, {"unit_price", 2}}}),
       decode_code::missing_field, "missing field 'lines[0].quantity' (null)"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.lines.dump());
    json r = test::full_record(event_type::order_placed);
    r["lines"] = c.lines;
    const auto err = test::decode_record(d, event_type::order_placed, r, e);
    EXPECT_EQ(err.code, c.code) << err.message;
    EXPECT_EQ(err.message, c.message);
  }
}

TEST(DecoderTest, OrderPlacedMissingLines) {
  decoder d;
  event e;
  json r = test::full_record(event_type::order_placed);
  r.erase("lines");
  const auto err = test::decode_record(d, event_type::order_placed, r, e);
  EXPECT_EQ(err.code, decode_code::missing_field);
  EXPECT_EQ(err.message, "missing field 'lines'");
}

TEST(DecoderTest, DuplicateLinesFieldLastWins) {
  decoder d;
  event e;
  const auto err = d.decode(
      topic_kind::carts, "c",
      R"({"type":"order_placed","event_id":"e","ts":1,"customer_id":"c","order_id":"o",)"
      R"("lines":[{"sku":"a","quantity":1,"unit_price":1},{"sku":"b","quantity":1,"unit_price":1}],)"
      R"("lines":[{"sku":"z","quantity":4,"unit_price":2}],"total":8,"currency":"EUR"})",
      e);
  ASSERT_FALSE(err) << err.message;
  ASSERT_EQ(e.lines.size(), 1U);
  EXPECT_EQ(e.lines[0], (order_line{"z", 4, 2.0, {}}));
}

// ---- type and topic -------------------------------------------------------------------------

TEST(DecoderTest, UnknownTypeRejected) {
  decoder d;
  event e;
  const auto err = d.decode(topic_kind::carts, "c",
                            R"({"type":"foo","event_id":"e","ts":1,"customer_id":"c"})", e);
  EXPECT_EQ(err.code, decode_code::unknown_type);
  EXPECT_EQ(err.message, "unknown event type 'foo' for topic carts");
}

TEST(DecoderTest, UnknownTypeNameIsClipped) {
  decoder d;
  event e;
  const std::string name(5000, 'x');
  const auto err = d.decode(topic_kind::carts, "c", R"({"type":")" + name + R"("})", e);
  EXPECT_EQ(err.code, decode_code::unknown_type);
  EXPECT_LT(err.message.size(), 200U);
  EXPECT_TRUE(test::contains(err.message, "...")) << err.message;
}

TEST(DecoderTest, TypeFromWrongTopicRejected) {
  decoder d;
  event e;
  const topic_kind topics[] = {topic_kind::clickstream, topic_kind::carts, topic_kind::inventory,
                               topic_kind::shipments};
  for (const auto& spec : test::type_specs()) {
    for (const topic_kind topic : topics) {
      if (topic == spec.topic) continue;
      SCOPED_TRACE(std::string(to_string(spec.type)) + " on " + std::string(to_string(topic)));
      const json r = test::full_record(spec.type);
      const auto err = d.decode(topic, test::key_for(spec.type, r), r.dump(), e);
      EXPECT_EQ(err.code, decode_code::unknown_type);
      EXPECT_EQ(err.message, "event type '" + std::string(to_string(spec.type)) +
                                 "' belongs on topic " + std::string(to_string(spec.topic)) +
                                 ", not " + std::string(to_string(topic)));
    }
  }
}

TEST(DecoderTest, TypeMissingOrNotString) {
  decoder d;
  event e;
  auto err = d.decode(topic_kind::carts, "c", R"({"event_id":"e","ts":1})", e);
  EXPECT_EQ(err.code, decode_code::missing_field);
  EXPECT_EQ(err.message, "missing field 'type'");
  err = d.decode(topic_kind::carts, "c", R"({"type":7,"event_id":"e","ts":1})", e);
  EXPECT_EQ(err.code, decode_code::wrong_type);
  EXPECT_EQ(err.message, "field 'type' must be a string");
  err = d.decode(topic_kind::carts, "c", R"({"type":["cart_cleared"]})", e);
  EXPECT_EQ(err.code, decode_code::wrong_type);
}

TEST(DecoderTest, TypeIsCaseSensitive) {
  decoder d;
  event e;
  json r = test::full_record(event_type::cart_cleared);
  r["type"] = "Cart_Cleared";
  EXPECT_EQ(test::decode_record(d, event_type::cart_cleared, r, e).code, decode_code::unknown_type);
}

// ---- key ------------------------------------------------------------------------------------

TEST(DecoderTest, KeyMismatchRejected) {
  decoder d;
  event e;
  json r = test::full_record(event_type::cart_item_added);
  r["customer_id"] = "c2";
  const auto err = d.decode(topic_kind::carts, "c1", r.dump(), e);
  EXPECT_EQ(err.code, decode_code::key_mismatch);
  EXPECT_EQ(err.message, "key 'c1' does not match customer_id 'c2'");
}

TEST(DecoderTest, KeyMustBeTheTopicsEntity) {
  decoder d;
  event e;
  for (const auto& spec : test::type_specs()) {
    SCOPED_TRACE(std::string(to_string(spec.type)));
    const json r = test::full_record(spec.type);
    const std::string entity = r[spec.key_field].get<std::string>();
    EXPECT_FALSE(d.decode(spec.topic, entity, r.dump(), e));
    const auto err = d.decode(spec.topic, entity + "x", r.dump(), e);
    EXPECT_EQ(err.code, decode_code::key_mismatch);
    EXPECT_EQ(err.message,
              "key '" + entity + "x' does not match " + spec.key_field + " '" + entity + "'");
  }
}

TEST(DecoderTest, EmptyKeyIsMismatch) {
  decoder d;
  event e;
  const json r = test::full_record(event_type::stock_level);
  const auto err = d.decode(topic_kind::inventory, "", r.dump(), e);
  EXPECT_EQ(err.code, decode_code::key_mismatch);
  EXPECT_EQ(err.message, "empty key does not match sku 'sku-1'");
}

TEST(DecoderTest, KeyComparedAfterUnescaping) {
  decoder d;
  event e;
  const auto err = d.decode(
      topic_kind::clickstream, "caf\xC3\xA9",
      R"({"type":"wishlist_add","event_id":"e","ts":1,"customer_id":"caf\u00e9","sku":"A"})", e);
  ASSERT_FALSE(err) << err.message;
  EXPECT_EQ(e.customer_id, "caf\xC3\xA9");
}

// ---- timestamps -----------------------------------------------------------------------------

std::int64_t decode_ts(decoder& d, const json& ts, decode_error& err) {
  event e;
  json r = test::full_record(event_type::cart_cleared);
  r["ts"] = ts;
  err = test::decode_record(d, event_type::cart_cleared, r, e);
  return e.ts_ms;
}

TEST(DecoderTest, TsRfc3339Accepted) {
  decoder d;
  const std::vector<std::pair<std::string, std::int64_t>> cases = {
      {"2019-10-01T00:00:00Z", 1569888000000},
      {"2019-10-01T00:00:00.123+02:00", 1569880800123},
      {"2019-10-01T00:00:00.5-05:30", 1569907800500},
      {"2019-10-01T00:00:00.123456789Z", 1569888000123},
      {"2019-10-01t00:00:00z", 1569888000000},
      {"2019-10-01 00:00:00Z", 1569888000000},
      {"2019-10-01T00:00:00+00:00", 1569888000000},
      {"2019-10-01T00:00:00-00:00", 1569888000000},
      {"2020-02-29T23:59:59.999Z", 1583020799999},
      {"2000-03-01T00:00:00Z", 951868800000},
      {"2100-12-31T23:59:59Z", 4133980799000},
      {"1970-01-01T00:00:00Z", 0},
      {"1970-01-01T01:00:00+01:00", 0},
      {"2016-12-31T23:59:60Z", 1483228800000},  // leap second: the next minute's first second
  };
  for (const auto& [text, ms] : cases) {
    SCOPED_TRACE(text);
    decode_error err;
    EXPECT_EQ(decode_ts(d, text, err), ms);
    EXPECT_FALSE(err) << err.message;
  }
}

TEST(DecoderTest, TsEpochMillisAccepted) {
  decoder d;
  decode_error err;
  EXPECT_EQ(decode_ts(d, 0, err), 0);
  EXPECT_FALSE(err);
  EXPECT_EQ(decode_ts(d, 1700000000123, err), 1700000000123);
  EXPECT_FALSE(err);
  EXPECT_EQ(decode_ts(d, 1.7e12, err), 1700000000000);
  EXPECT_FALSE(err);
}

TEST(DecoderTest, BadTsRejected) {
  decoder d;
  const std::vector<std::pair<json, decode_code>> cases = {
      {"2019-10-01 00:00:00 UTC", decode_code::invalid_value},
      {"2019-10-01T00:00:00", decode_code::invalid_value},
      {"2019-10-01", decode_code::invalid_value},
      {"2019-13-01T00:00:00Z", decode_code::invalid_value},
      {"2019-00-01T00:00:00Z", decode_code::invalid_value},
      {"2019-02-29T00:00:00Z", decode_code::invalid_value},
      {"1900-02-29T00:00:00Z", decode_code::invalid_value},
      {"2019-04-31T00:00:00Z", decode_code::invalid_value},
      {"2019-10-01T24:00:00Z", decode_code::invalid_value},
      {"2019-10-01T00:60:00Z", decode_code::invalid_value},
      {"2019-10-01T00:00:61Z", decode_code::invalid_value},
      {"2019-10-01T00:00:00.Z", decode_code::invalid_value},
      {"2019-10-01T00:00:00+2:00", decode_code::invalid_value},
      {"2019-10-01T00:00:00+0200", decode_code::invalid_value},
      {"2019-10-01T00:00:00+24:00", decode_code::invalid_value},
      {"2019-10-01T00:00:00Zx", decode_code::invalid_value},
      {"2019-10-01T00:00:00+02:00 ", decode_code::invalid_value},
      {"2019-1-01T00:00:00Z", decode_code::invalid_value},
      {"1969-12-31T23:59:59Z", decode_code::invalid_value},
      {"1569888000000", decode_code::invalid_value},
      {"", decode_code::invalid_value},
      {"yesterday", decode_code::invalid_value},
      {-1, decode_code::invalid_value},
      {1e30, decode_code::invalid_value},
      {1.5, decode_code::wrong_type},
      {true, decode_code::wrong_type},
      {json::object(), decode_code::wrong_type},
      {json::array({1}), decode_code::wrong_type},
  };
  for (const auto& [ts, code] : cases) {
    SCOPED_TRACE(ts.dump());
    decode_error err;
    decode_ts(d, ts, err);
    EXPECT_EQ(err.code, code) << err.message;
    EXPECT_EQ(err.message, "field 'ts' must be epoch milliseconds or an RFC 3339 string");
  }
}

TEST(DecoderTest, DeliveryTimesAcceptBothForms) {
  decoder d;
  event e;
  json r = test::full_record(event_type::shipment_created);
  r["promised_delivery"] = "2023-11-15T13:00:00+01:00";
  ASSERT_FALSE(test::decode_record(d, event_type::shipment_created, r, e));
  EXPECT_EQ(e.promised_delivery_ms, 1700049600000);
  r["promised_delivery"] = 1700049600001;
  ASSERT_FALSE(test::decode_record(d, event_type::shipment_created, r, e));
  EXPECT_EQ(e.promised_delivery_ms, 1700049600001);
  r["promised_delivery"] = "next tuesday";
  const auto err = test::decode_record(d, event_type::shipment_created, r, e);
  EXPECT_EQ(err.code, decode_code::invalid_value);
  EXPECT_EQ(err.message,
            "field 'promised_delivery' must be epoch milliseconds or an RFC 3339 string");

  r = test::full_record(event_type::carrier_scan);
  r["estimated_delivery"] = "2023-11-15T12:00:00.250Z";
  ASSERT_FALSE(test::decode_record(d, event_type::carrier_scan, r, e));
  EXPECT_EQ(e.estimated_delivery_ms, 1700049600250);
  r["estimated_delivery"] = -5;
  EXPECT_EQ(test::decode_record(d, event_type::carrier_scan, r, e).code,
            decode_code::invalid_value);
}

// ---- malformed input ------------------------------------------------------------------------

TEST(DecoderTest, MalformedJsonRejected) {
  decoder d;
  event e;
  const std::vector<std::string> cases = {
      "{",
      "}",
      "{\"type\":\"page_view\",",
      R"({"type":})",
      R"({"type" "page_view"})",
      R"({"type":"page_view",})",
      R"({'type':'page_view'})",
      R"({type:"page_view"})",
      R"({"type":"page_view"}})",
      R"({"type":"page_view"} {"type":"page_view"})",
      R"({"type":"page_view"} x)",
      R"({"type":"page_view"},)",
      R"({"customer_id":"\x"})",
      R"({"customer_id":"\ud800"})",
      "{\"customer_id\":\"\xff\"}",
      "{\"customer_id\":\"a\nb\"}",
      R"({"customer_id":"abc)",
      R"({"price":NaN})",
      R"({"price":Infinity})",
      R"({"quantity":01})",
      R"({"quantity":-})",
      R"({"quantity":1.})",
      R"({"quantity":+1})",
      R"({"anonymous":tru})",
      R"({"url":nul})",
      R"({"x":{"y":]},"type":"page_view"})",
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c);
    const auto err = d.decode(topic_kind::clickstream, "c", c, e);
    EXPECT_EQ(err.code, decode_code::malformed_json) << err.message;
    EXPECT_TRUE(err.message.starts_with("malformed JSON")) << err.message;
  }
}

TEST(DecoderTest, MalformedInsideIgnoredFieldsRejected) {
  // Fields Herald does not use are still checked: a record that is not JSON goes to the DLQ.
  decoder d;
  event e;
  const std::string head = R"({"type":"notify_me","event_id":"e","ts":1,"extra":)";
  const std::string tail = R"(,"customer_id":"c","sku":"A"})";
  for (const std::string bad : {"[1,tru]", "[1,,2]", R"({"a" 1})", R"({"a":1,})", "[}", R"({"a":])",
                                "01", R"("x\q")", "nul", "[1,[2,[3,]]]"}) {
    SCOPED_TRACE(bad);
    const auto err = d.decode(topic_kind::clickstream, "c", head + bad + tail, e);
    EXPECT_EQ(err.code, decode_code::malformed_json) << err.message;
    EXPECT_TRUE(err.message.starts_with("malformed JSON in field 'extra': ")) << err.message;
  }
  // Inside a known field of a container type, and inside an order line.
  EXPECT_EQ(
      d.decode(topic_kind::clickstream, "c",
               R"({"type":"notify_me","event_id":"e","ts":1,"customer_id":[1,,2],"sku":"A"})", e)
          .code,
      decode_code::malformed_json);
  json r = test::full_record(event_type::order_placed);
  std::string text = r.dump();
  const std::string marker = R"("quantity":2,)";
  text.insert(text.find(marker) + marker.size(), R"("note":{"x":tru},)");
  const auto err = d.decode(topic_kind::carts, "cust-1", text, e);
  EXPECT_EQ(err.code, decode_code::malformed_json) << err.message;
  EXPECT_TRUE(test::contains(err.message, "'lines'")) << err.message;
}

TEST(DecoderTest, DeepNestingInIgnoredFields) {
  decoder d;
  event e;
  const auto nested = [](int depth) {
    return R"({"type":"notify_me","event_id":"e","ts":1,"customer_id":"c","sku":"A","x":)" +
           std::string(depth, '[') + std::string(depth, ']') + "}";
  };
  EXPECT_FALSE(d.decode(topic_kind::clickstream, "c", nested(200), e));
  const auto err = d.decode(topic_kind::clickstream, "c", nested(300), e);
  EXPECT_EQ(err.code, decode_code::malformed_json);
  EXPECT_TRUE(test::contains(err.message, "'x'")) << err.message;
}

TEST(DecoderTest, MalformedNumberMessageNamesField) {
  decoder d;
  event e;
  const auto err = d.decode(topic_kind::carts, "c", R"({"quantity":-,"type":"cart_cleared"})", e);
  EXPECT_EQ(err.code, decode_code::malformed_json);
  EXPECT_TRUE(test::contains(err.message, "'quantity'")) << err.message;
}

TEST(DecoderTest, NonObjectRootsRejected) {
  decoder d;
  event e;
  for (const std::string c : {"[]", "[1,2]", R"("page_view")", "42", "true", "null"}) {
    SCOPED_TRACE(c);
    const auto err = d.decode(topic_kind::clickstream, "c", c, e);
    EXPECT_EQ(err.code, decode_code::malformed_json);
    EXPECT_EQ(err.message, "malformed JSON: the record is not a JSON object");
  }
}

TEST(DecoderTest, EmptyAndBlankValuesRejected) {
  decoder d;
  event e;
  for (const std::string c : {"", " ", "\n\t "}) {
    const auto err = d.decode(topic_kind::clickstream, "c", c, e);
    EXPECT_EQ(err.code, decode_code::malformed_json) << err.message;
  }
}

TEST(DecoderTest, EmptyObjectIsMissingType) {
  decoder d;
  event e;
  const auto err = d.decode(topic_kind::clickstream, "c", "{}", e);
  EXPECT_EQ(err.code, decode_code::missing_field);
  EXPECT_EQ(err.message, "missing field 'type'");
}

TEST(DecoderTest, TruncatedJsonRejected) {
  decoder d;
  event e;
  for (const auto& spec : test::type_specs()) {
    const std::string full = test::full_record(spec.type).dump();
    const std::string key = test::key_for(spec.type, test::full_record(spec.type));
    ASSERT_FALSE(d.decode(spec.topic, key, full, e));
    for (std::size_t n = 0; n < full.size(); ++n) {
      SCOPED_TRACE(full.substr(0, n));
      const auto err = d.decode(spec.topic, key, std::string_view(full).substr(0, n), e);
      EXPECT_EQ(err.code, decode_code::malformed_json) << err.message;
    }
  }
}

TEST(DecoderTest, WhitespaceAroundObjectAccepted) {
  decoder d;
  event e;
  const std::string r = " \n\t" + test::full_record(event_type::notify_me).dump(2) + "\r\n ";
  EXPECT_FALSE(d.decode(topic_kind::clickstream, "cust-1", r, e));
}

// ---- size limit -----------------------------------------------------------------------------

TEST(DecoderTest, OversizedRejected) {
  decoder d;
  event e;
  const std::string big(2000000, ' ');
  const auto err = d.decode(topic_kind::clickstream, "c", big, e);
  EXPECT_EQ(err.code, decode_code::oversized);
  EXPECT_EQ(err.message, "record of 2000000 bytes exceeds the 1048576-byte limit");
}

TEST(DecoderTest, ConfiguredLimitIsInclusive) {
  const std::string r = test::full_record(event_type::notify_me).dump();
  decoder exact(r.size());
  decoder smaller(r.size() - 1);
  event e;
  EXPECT_FALSE(exact.decode(topic_kind::clickstream, "cust-1", r, e));
  EXPECT_EQ(smaller.decode(topic_kind::clickstream, "cust-1", r, e).code, decode_code::oversized);
}

TEST(DecoderTest, LargeRecordUnderLimitDecodes) {
  decoder d;
  event e;
  json r = test::full_record(event_type::page_view);
  r["url"] = std::string(1000000, 'u');
  const std::string text = r.dump();
  ASSERT_LT(text.size(), 1U << 20);
  ASSERT_FALSE(d.decode(topic_kind::clickstream, "cust-1", text, e));
  EXPECT_EQ(e.url.size(), 1000000U);
  // The buffer grown for the big record must not break small ones after it.
  ASSERT_FALSE(
      test::decode_record(d, event_type::notify_me, test::full_record(event_type::notify_me), e));
  EXPECT_EQ(e.sku, "sku-1");
}

// ---- strings --------------------------------------------------------------------------------

TEST(DecoderTest, EscapesAreDecoded) {
  decoder d;
  event e;
  const auto err =
      d.decode(topic_kind::clickstream, "c",
               R"({"type":"page_view","event_id":"e","ts":1,"customer_id":"c","session_id":"s",)"
               R"("url":"a\"b\\c\/d\n\t\u0001\u20ac\ud83d\ude00"})",
               e);
  ASSERT_FALSE(err) << err.message;
  EXPECT_EQ(e.url, "a\"b\\c/d\n\t\x01\xE2\x82\xAC\xF0\x9F\x98\x80");
}

TEST(DecoderTest, EscapedKeyNamesRecognised) {
  decoder d;
  event e;
  const auto err = d.decode(
      topic_kind::clickstream, "c",
      R"({"\u0074ype":"notify_me","event_id":"e","ts":1,"customer_\u0069d":"c","sku":"A"})", e);
  ASSERT_FALSE(err) << err.message;
  EXPECT_EQ(e.type, event_type::notify_me);
}

TEST(DecoderTest, RawUtf8PassesThrough) {
  decoder d;
  event e;
  json r = test::full_record(event_type::carrier_scan);
  r["description"] = "Zugestellt in M\xC3\xBCnchen \xE2\x9C\x93";
  ASSERT_FALSE(test::decode_record(d, event_type::carrier_scan, r, e));
  EXPECT_EQ(e.description, "Zugestellt in M\xC3\xBCnchen \xE2\x9C\x93");
}

// ---- reuse ----------------------------------------------------------------------------------

TEST(DecoderTest, ReusedEventDoesNotLeakFields) {
  decoder d;
  event reused;
  // Full records of every type, twice round, in an order that puts rich types before poor
  // ones; each must equal a decode into a fresh event.
  for (int round = 0; round < 2; ++round) {
    for (const auto& spec : test::type_specs()) {
      for (const json& r : {test::full_record(spec.type), test::minimal_record(spec.type)}) {
        SCOPED_TRACE(std::string(to_string(spec.type)));
        ASSERT_FALSE(test::decode_record(d, spec.type, r, reused));
        decoder fresh_decoder;
        event fresh;
        ASSERT_FALSE(test::decode_record(fresh_decoder, spec.type, r, fresh));
        test::expect_same_event(reused, fresh);
      }
    }
  }
}

TEST(DecoderTest, OrderLinesDoNotLeakIntoNextEvent) {
  decoder d;
  event e;
  ASSERT_FALSE(test::decode_record(d, event_type::order_placed,
                                   test::full_record(event_type::order_placed), e));
  ASSERT_EQ(e.lines.size(), 2U);
  ASSERT_FALSE(test::decode_record(d, event_type::cart_cleared,
                                   test::full_record(event_type::cart_cleared), e));
  EXPECT_TRUE(e.lines.empty());
  EXPECT_TRUE(e.order_id.empty());
  EXPECT_EQ(e.total, 0);
}

TEST(DecoderTest, DecodeAfterErrorRecovers) {
  decoder d;
  event e;
  EXPECT_EQ(d.decode(topic_kind::carts, "c", R"({"type":"cart_cleared",)", e).code,
            decode_code::malformed_json);
  EXPECT_EQ(d.decode(topic_kind::carts, "c", R"({"quantity":-,"x":1})", e).code,
            decode_code::malformed_json);
  const json r = test::full_record(event_type::cart_cleared);
  ASSERT_FALSE(test::decode_record(d, event_type::cart_cleared, r, e));
  EXPECT_EQ(e.cart_id, "cart-1");
}

TEST(DecoderTest, MovedDecoderKeepsWorking) {
  decoder a(4096);
  decoder b(std::move(a));
  event e;
  const json r = test::full_record(event_type::wishlist_add);
  EXPECT_FALSE(test::decode_record(b, event_type::wishlist_add, r, e));
  decoder c;
  c = std::move(b);
  EXPECT_FALSE(test::decode_record(c, event_type::wishlist_add, r, e));
  EXPECT_EQ(c.decode(topic_kind::clickstream, "c", std::string(5000, ' '), e).code,
            decode_code::oversized);
}

TEST(DecoderTest, DecodeCodeNames) {
  EXPECT_EQ(to_string(decode_code::ok), "ok");
  EXPECT_EQ(to_string(decode_code::oversized), "oversized");
  EXPECT_EQ(to_string(decode_code::malformed_json), "malformed_json");
  EXPECT_EQ(to_string(decode_code::missing_field), "missing_field");
  EXPECT_EQ(to_string(decode_code::wrong_type), "wrong_type");
  EXPECT_EQ(to_string(decode_code::invalid_value), "invalid_value");
  EXPECT_EQ(to_string(decode_code::unknown_type), "unknown_type");
  EXPECT_EQ(to_string(decode_code::key_mismatch), "key_mismatch");
}

}  // namespace
}  // namespace herald::schemas

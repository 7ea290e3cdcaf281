#pragma once
/// Valid input records of every event type, and the per-type field lists the tests walk
/// through. Records are built as JSON values so a test can drop, null or retype one field.

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "herald/schemas/codec.hpp"

namespace herald::schemas::test {

using json = nlohmann::ordered_json;

constexpr std::int64_t default_ts = 1700000000000;

/// Which fields an event type has besides `type`, `event_id` and `ts` (CONTRACT.md).
struct type_spec {
  event_type type;
  topic_kind topic;
  std::string key_field;
  std::vector<std::string> required;
  std::vector<std::string> optional;
};

inline const std::vector<type_spec>& type_specs() {
  static const std::vector<type_spec> specs = {
      {event_type::page_view,
       topic_kind::clickstream,
       "customer_id",
       {"customer_id", "session_id"},
       {"url"}},
      {event_type::product_view,
       topic_kind::clickstream,
       "customer_id",
       {"customer_id", "session_id", "sku", "price"},
       {"currency"}},
      {event_type::wishlist_add,
       topic_kind::clickstream,
       "customer_id",
       {"customer_id", "sku"},
       {}},
      {event_type::notify_me, topic_kind::clickstream, "customer_id", {"customer_id", "sku"}, {}},
      {event_type::cart_item_added,
       topic_kind::carts,
       "customer_id",
       {"customer_id", "cart_id", "sku", "quantity", "unit_price", "currency"},
       {"anonymous"}},
      {event_type::cart_item_removed,
       topic_kind::carts,
       "customer_id",
       {"customer_id", "cart_id", "sku"},
       {"quantity", "anonymous"}},
      {event_type::cart_cleared,
       topic_kind::carts,
       "customer_id",
       {"customer_id", "cart_id"},
       {"anonymous"}},
      {event_type::checkout_started,
       topic_kind::carts,
       "customer_id",
       {"customer_id", "cart_id"},
       {"anonymous"}},
      {event_type::order_placed,
       topic_kind::carts,
       "customer_id",
       {"customer_id", "order_id", "lines", "total", "currency"},
       {"cart_id", "anonymous"}},
      {event_type::stock_level,
       topic_kind::inventory,
       "sku",
       {"sku", "location", "available"},
       {"low_stock_threshold"}},
      {event_type::shipment_created,
       topic_kind::shipments,
       "shipment_id",
       {"shipment_id", "order_id", "customer_id", "carrier"},
       {"service", "origin", "destination", "promised_delivery"}},
      {event_type::carrier_scan,
       topic_kind::shipments,
       "shipment_id",
       {"shipment_id", "carrier", "status_code"},
       {"description", "location", "estimated_delivery"}},
  };
  return specs;
}

inline const type_spec& spec_of(event_type type) {
  for (const auto& s : type_specs()) {
    if (s.type == type) return s;
  }
  throw std::logic_error("no spec");
}

/// A value for `name` as a valid record of any type would carry it.
inline json sample_value(const std::string& name) {
  if (name == "customer_id") return "cust-1";
  if (name == "session_id") return "sess-1";
  if (name == "url") return "https://shop.example/p/1";
  if (name == "sku") return "sku-1";
  if (name == "price") return 19.99;
  if (name == "currency") return "EUR";
  if (name == "cart_id") return "cart-1";
  if (name == "quantity") return 2;
  if (name == "unit_price") return 9.5;
  if (name == "anonymous") return true;
  if (name == "order_id") return "ord-1";
  if (name == "lines") {
    return json::array({json{{"sku", "sku-1"}, {"quantity", 2}, {"unit_price", 9.5}},
                        json{{"sku", "sku-2"}, {"quantity", 1}, {"unit_price", 20}}});
  }
  if (name == "total") return 39;
  if (name == "location") return "wh-berlin";
  if (name == "available") return 7;
  if (name == "low_stock_threshold") return 3;
  if (name == "shipment_id") return "ship-1";
  if (name == "carrier") return "dhl";
  if (name == "service") return "express";
  if (name == "origin") return "DE-BE";
  if (name == "destination") return "FR-75";
  if (name == "status_code") return "PU";
  if (name == "description") return "Picked up";
  if (name == "promised_delivery") return 1700600000000;
  if (name == "estimated_delivery") return "2023-11-15T12:00:00Z";
  throw std::logic_error("no sample for " + name);
}

/// A value of the wrong JSON type for `name`.
inline json wrong_type_value(const std::string& name) {
  static const std::vector<std::string> numbers = {"price", "quantity",  "unit_price",
                                                   "total", "available", "low_stock_threshold"};
  if (std::find(numbers.begin(), numbers.end(), name) != numbers.end()) return "12";
  if (name == "anonymous") return "true";
  if (name == "lines") return json{{"sku", "sku-1"}};
  if (name == "ts" || name == "promised_delivery" || name == "estimated_delivery") return true;
  return 42;  // every other field is a string
}

inline json header(event_type type) {
  return json{{"type", std::string(to_string(type))}, {"event_id", "evt-1"}, {"ts", default_ts}};
}

/// Every field of the type, optional ones included.
inline json full_record(event_type type) {
  json r = header(type);
  const auto& spec = spec_of(type);
  for (const auto& f : spec.required) r[f] = sample_value(f);
  for (const auto& f : spec.optional) r[f] = sample_value(f);
  return r;
}

/// Only the required fields.
inline json minimal_record(event_type type) {
  json r = header(type);
  for (const auto& f : spec_of(type).required) r[f] = sample_value(f);
  return r;
}

/// The Kafka key a producer would use for `record`.
inline std::string key_for(event_type type, const json& record) {
  const auto& field = spec_of(type).key_field;
  return record.contains(field) && record[field].is_string() ? record[field].get<std::string>()
                                                             : std::string("cust-1");
}

inline decode_error decode_record(decoder& d, event_type type, const json& record, event& out) {
  return d.decode(topic_of(type), key_for(type, record), record.dump(), out);
}

/// Field-by-field equality, so a failure names the field that differs.
inline void expect_same_event(const event& a, const event& b) {
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.event_id, b.event_id);
  EXPECT_EQ(a.ts_ms, b.ts_ms);
  EXPECT_EQ(a.customer_id, b.customer_id);
  EXPECT_EQ(a.session_id, b.session_id);
  EXPECT_EQ(a.url, b.url);
  EXPECT_EQ(a.sku, b.sku);
  EXPECT_EQ(a.price, b.price);
  EXPECT_EQ(a.currency, b.currency);
  EXPECT_EQ(a.cart_id, b.cart_id);
  EXPECT_EQ(a.quantity, b.quantity);
  EXPECT_EQ(a.unit_price, b.unit_price);
  EXPECT_EQ(a.anonymous, b.anonymous);
  EXPECT_EQ(a.order_id, b.order_id);
  EXPECT_EQ(a.lines, b.lines);
  EXPECT_EQ(a.total, b.total);
  EXPECT_EQ(a.location, b.location);
  EXPECT_EQ(a.available, b.available);
  EXPECT_EQ(a.low_stock_threshold, b.low_stock_threshold);
  EXPECT_EQ(a.shipment_id, b.shipment_id);
  EXPECT_EQ(a.carrier, b.carrier);
  EXPECT_EQ(a.service, b.service);
  EXPECT_EQ(a.origin, b.origin);
  EXPECT_EQ(a.destination, b.destination);
  EXPECT_EQ(a.status_code, b.status_code);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.promised_delivery_ms, b.promised_delivery_ms);
  EXPECT_EQ(a.estimated_delivery_ms, b.estimated_delivery_ms);
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace herald::schemas::test

namespace herald::schemas {
// Lets gtest print codes by name.
inline void PrintTo(decode_code code, std::ostream* os) {
  *os << to_string(code);
}
inline void PrintTo(const decode_error& e, std::ostream* os) {
  *os << to_string(e.code) << ": " << e.message;
}
}  // namespace herald::schemas

#pragma once
/// Herald's input events as C++ values (CONTRACT.md "Input events").
///
/// One flat struct serves every event type: the decoder fills only the fields the type
/// defines and leaves the rest at their defaults. A flat struct lets a task reuse one
/// `event` object across a whole batch (no per-event variant allocation), which matters at
/// millions of events per second. Which fields a type carries is listed per enumerator.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::schemas {

/// The input topics, one per entity kind. The topic *names* are configuration.
enum class topic_kind : std::uint8_t {
  clickstream,  ///< key customer_id
  carts,        ///< key customer_id
  inventory,    ///< key sku
  shipments,    ///< key shipment_id
};

/// Every event type of CONTRACT.md v1.
enum class event_type : std::uint8_t {
  page_view,          ///< customer_id, session_id, url?
  product_view,       ///< customer_id, session_id, sku, price, currency?
  wishlist_add,       ///< customer_id, sku
  notify_me,          ///< customer_id, sku
  cart_item_added,    ///< customer_id, cart_id, sku, quantity > 0, unit_price, currency
  cart_item_removed,  ///< customer_id, cart_id, sku, quantity? (0 = all of it)
  cart_cleared,       ///< customer_id, cart_id
  checkout_started,   ///< customer_id, cart_id
  order_placed,       ///< customer_id, order_id, cart_id?, lines, total, currency
  stock_level,        ///< sku, location, available >= 0, low_stock_threshold?
  shipment_created,   ///< shipment_id, order_id, customer_id, carrier, service?, origin?,
                      ///< destination?, promised_delivery?
  carrier_scan,       ///< shipment_id, carrier, status_code, description?, location?,
                      ///< estimated_delivery?
};

/// Wire name of an event type ("cart_item_added").
[[nodiscard]] std::string_view to_string(event_type type) noexcept;
/// Parses a wire name; nullopt when unknown.
[[nodiscard]] std::optional<event_type> parse_event_type(std::string_view name) noexcept;
/// The topic an event type belongs on.
[[nodiscard]] topic_kind topic_of(event_type type) noexcept;
/// "clickstream", "carts", "inventory", "shipments".
[[nodiscard]] std::string_view to_string(topic_kind kind) noexcept;

/// One line of an order or a cart.
struct order_line {
  std::string sku;
  std::int64_t quantity = 0;
  double unit_price = 0;
  /// The price's currency where it differs from its message's (cart reminders); else empty.
  std::string currency;

  friend bool operator==(const order_line&, const order_line&) = default;
};

/// A decoded input event. See `event_type` for which fields each type fills.
struct event {
  event_type type = event_type::page_view;
  std::string event_id;
  std::int64_t ts_ms = 0;  ///< event time, epoch ms (RFC 3339 input is converted)

  // clickstream / carts / shipment_created
  std::string customer_id;
  std::string session_id;
  std::string url;
  std::string sku;
  double price = 0;  ///< product_view
  std::string currency;
  std::string cart_id;
  std::int64_t quantity = 0;  ///< cart_item_added (> 0); cart_item_removed (0 = all)
  double unit_price = 0;
  bool anonymous = false;  ///< carts of visitors who cannot be contacted
  std::string order_id;
  std::vector<order_line> lines;  ///< order_placed
  double total = 0;               ///< order_placed

  // inventory
  std::string location;  ///< stock_level location; carrier_scan location
  std::int64_t available = 0;
  std::optional<std::int64_t> low_stock_threshold;

  // shipments
  std::string shipment_id;
  std::string carrier;
  std::string service;
  std::string origin;
  std::string destination;
  std::string status_code;
  std::string description;
  std::optional<std::int64_t> promised_delivery_ms;
  std::optional<std::int64_t> estimated_delivery_ms;

  /// Resets every field to its default while keeping string capacity (for reuse).
  void clear() noexcept;
};

}  // namespace herald::schemas

#include "herald/schemas/events.hpp"

#include <array>

namespace herald::schemas {
namespace {

// Indexed by event_type; the order must follow the enum.
constexpr std::array<std::string_view, 12> event_type_names = {
    "page_view",       "product_view",      "wishlist_add",     "notify_me",
    "cart_item_added", "cart_item_removed", "cart_cleared",     "checkout_started",
    "order_placed",    "stock_level",       "shipment_created", "carrier_scan",
};

}  // namespace

std::string_view to_string(event_type type) noexcept {
  const auto index = static_cast<std::size_t>(type);
  return index < event_type_names.size() ? event_type_names[index] : std::string_view{"unknown"};
}

std::optional<event_type> parse_event_type(std::string_view name) noexcept {
  // Twelve short names: a linear scan that compares sizes first beats a hash map here.
  for (std::size_t i = 0; i < event_type_names.size(); ++i) {
    if (event_type_names[i] == name) return static_cast<event_type>(i);
  }
  return std::nullopt;
}

topic_kind topic_of(event_type type) noexcept {
  switch (type) {
    case event_type::page_view:
    case event_type::product_view:
    case event_type::wishlist_add:
    case event_type::notify_me:
      return topic_kind::clickstream;
    case event_type::cart_item_added:
    case event_type::cart_item_removed:
    case event_type::cart_cleared:
    case event_type::checkout_started:
    case event_type::order_placed:
      return topic_kind::carts;
    case event_type::stock_level:
      return topic_kind::inventory;
    case event_type::shipment_created:
    case event_type::carrier_scan:
      return topic_kind::shipments;
  }
  return topic_kind::clickstream;
}

std::string_view to_string(topic_kind kind) noexcept {
  switch (kind) {
    case topic_kind::clickstream:
      return "clickstream";
    case topic_kind::carts:
      return "carts";
    case topic_kind::inventory:
      return "inventory";
    case topic_kind::shipments:
      return "shipments";
  }
  return "unknown";
}

void event::clear() noexcept {
  type = event_type::page_view;
  event_id.clear();
  ts_ms = 0;
  customer_id.clear();
  session_id.clear();
  url.clear();
  sku.clear();
  price = 0;
  currency.clear();
  cart_id.clear();
  quantity = 0;
  unit_price = 0;
  anonymous = false;
  order_id.clear();
  // Destroys the line objects but keeps the vector's buffer.
  lines.clear();
  total = 0;
  location.clear();
  available = 0;
  low_stock_threshold.reset();
  shipment_id.clear();
  carrier.clear();
  service.clear();
  origin.clear();
  destination.clear();
  status_code.clear();
  description.clear();
  promised_delivery_ms.reset();
  estimated_delivery_ms.reset();
}

}  // namespace herald::schemas

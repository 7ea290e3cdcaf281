#pragma once
/// One fully populated sample of every output message type.

#include <string>
#include <vector>

#include "herald/schemas/codec.hpp"

namespace herald::schemas::test {

inline cart_reminder sample_cart_reminder() {
  cart_reminder m;
  m.notification_id = make_id("cart_reminder", "cart-1", "evt-9/2");
  m.ts_ms = 1700000000000;
  m.customer_id = "cust-1";
  m.cart_id = "cart-1";
  m.reminder_number = 2;
  m.lines = {{"sku-1", 2, 9.5, {}}, {"sku-2", 1, 20.0, {}}};
  m.cart_value = 39.0;
  m.currency = "EUR";
  m.coupon = "COMEBACK10";
  return m;
}

inline back_in_stock sample_back_in_stock() {
  back_in_stock m;
  m.notification_id = make_id("back_in_stock", "cust-1", "sku-1/evt-3");
  m.ts_ms = 1700000000001;
  m.customer_id = "cust-1";
  m.sku = "sku-1";
  m.available = 12;
  return m;
}

inline stock_alert sample_stock_alert(bool out_of_stock) {
  stock_alert m;
  m.out_of_stock = out_of_stock;
  m.notification_id = make_id(out_of_stock ? "out_of_stock" : "low_stock", "sku-1", "evt-4");
  m.ts_ms = 1700000000002;
  m.sku = "sku-1";
  m.available = out_of_stock ? 0 : 2;
  m.threshold = 5;
  m.units_sold_per_day = 4.0;
  m.days_of_cover = out_of_stock ? 0.0 : 0.5;
  return m;
}

inline tracking_notification sample_tracking(bool delayed) {
  tracking_notification m;
  m.delayed = delayed;
  m.notification_id = make_id(delayed ? "delivery_delayed" : "tracking_update", "ship-1", "evt-5");
  m.ts_ms = 1700000000003;
  m.customer_id = "cust-1";
  m.shipment_id = "ship-1";
  m.order_id = "ord-1";
  m.carrier = "dhl";
  m.status = delayed ? "in_transit" : "out_for_delivery";
  m.previous_status = "in_transit";
  m.estimated_delivery_ms = 1700049600000;
  return m;
}

inline anomaly_flag sample_anomaly() {
  anomaly_flag m;
  m.flag_id = make_id("bot_click_rate", "cust-1", "window-170000");
  m.ts_ms = 1700000000004;
  m.kind = "bot_click_rate";
  m.entity_type = "customer";
  m.entity_id = "cust-1";
  m.score = 412.5;
  m.threshold = 120;
  m.window_ms = 60000;
  m.evidence_json = R"({"clicks":412,"distinct_skus":3})";
  return m;
}

struct encoded_sample {
  std::string type;  ///< the output `type`, also the schema file's stem
  std::string json;
};

inline std::vector<encoded_sample> encoded_samples() {
  std::vector<encoded_sample> out;
  const auto add = [&out](std::string type, const auto& msg) {
    std::string text;
    encode(msg, text);
    out.push_back({std::move(type), std::move(text)});
  };
  add("cart_reminder", sample_cart_reminder());
  add("back_in_stock", sample_back_in_stock());
  add("low_stock", sample_stock_alert(false));
  add("out_of_stock", sample_stock_alert(true));
  add("tracking_update", sample_tracking(false));
  add("delivery_delayed", sample_tracking(true));
  add("anomaly", sample_anomaly());
  return out;
}

}  // namespace herald::schemas::test

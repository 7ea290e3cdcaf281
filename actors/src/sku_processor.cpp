// The SKU family (shop.inventory + the herald.sku-signals repartition topic, keyed by SKU):
// back-in-stock notifications to waiting customers, low/out-of-stock alerts to merchants, and
// the SKU's demand-spike, price and cart-quantity anomaly detectors (fed by views and cart adds
// re-keyed by SKU).

#include "anomaly_output.hpp"
#include "cache_state.hpp"
#include "herald/actors/rules/anomalies.hpp"
#include "herald/actors/rules/inventory.hpp"
#include "herald/actors/task.hpp"

namespace herald::actors {
namespace {

constexpr char inventory_tag = 'i';
constexpr char view_demand_tag = 'v';
constexpr char cart_demand_tag = 'a';
constexpr char order_demand_tag = 'o';
// Detector state kinds in the detectors store.
constexpr char view_demand_prefix = 'v';
constexpr char cart_demand_prefix = 'a';
constexpr char order_demand_prefix = 'o';
constexpr char price_prefix = 'p';
constexpr char quantity_prefix = 'q';

class sku_processor final : public task_processor,
                            private rules::inventory_effects,
                            private rules::anomaly_effects {
 public:
  explicit sku_processor(task& host)
      : host_(host),
        config_(*host.env().config),
        skus_(host.state(), state::store::skus, config_.state.cache_entries),
        view_demand_(host.state(), state::store::detectors, config_.state.cache_entries,
                     view_demand_prefix),
        cart_demand_(host.state(), state::store::detectors, config_.state.cache_entries,
                     cart_demand_prefix),
        order_demand_(host.state(), state::store::detectors, config_.state.cache_entries,
                      order_demand_prefix),
        prices_(host.state(), state::store::detectors, config_.state.cache_entries, price_prefix),
        quantities_(host.state(), state::store::detectors, config_.state.cache_entries,
                    quantity_prefix),
        rule_(config_.inventory),
        view_demand_rule_(config_.anomalies.demand, "demand_spike", "sku", "view"),
        cart_demand_rule_(config_.anomalies.demand, "demand_spike", "sku",
                          config_.anomalies.demand_units.cart_adds ? "units_added" : "cart_add"),
        order_demand_rule_(config_.anomalies.demand, "demand_spike", "sku", "units_ordered"),
        price_rule_(config_.anomalies.price),
        quantity_rule_(config_.anomalies.cart_quantity),
        timers_(host.timers(inventory_tag)),
        view_demand_timers_(host.timers(view_demand_tag)),
        cart_demand_timers_(host.timers(cart_demand_tag)),
        order_demand_timers_(host.timers(order_demand_tag)) {}

  // A SKU task's inputs interleave the signals of every customer partition, in no useful
  // order, with the SKU's stock levels: the task applies them in event-time order (it defers
  // each record ahead of its watermark), so waitlists, trailing medians, rate limits and
  // demand buckets see the same sequence whatever the partitions' speeds.
  void apply(const schemas::event& ev, const streams::record&) override {
    if (ev.type != schemas::event_type::stock_level) return;
    rule_.on_stock(ev, skus_, timers_, *this);
  }

  bool decode_internal(const streams::record& rec, internal_record& out,
                       std::string& reason) override {
    if (!rules::sku_signal::decode(rec.value, signal_)) {
      reason = "undecodable sku signal record";
      return false;
    }
    if (signal_.type == rules::sku_signal::kind::watermark) {
      out.marker = true;
      out.ts_ms = signal_.ts_ms;
      out.upstream = static_cast<std::int32_t>(signal_.quantity);
      return true;
    }
    if (signal_.sku != rec.key) {
      reason = "key '" + rec.key + "' does not match sku '" + signal_.sku + "'";
      return false;
    }
    out.marker = false;
    out.ts_ms = signal_.ts_ms;
    out.event_id = signal_.event_id;
    out.kind = static_cast<std::uint8_t>(signal_.type);
    return true;
  }

  void apply_internal(const streams::record&) override {
    using kind = rules::sku_signal::kind;
    if (signal_.type != kind::view && signal_.type != kind::cart_add) {
      rule_.on_signal(signal_, skus_, timers_, *this);
      if (signal_.type == kind::sold && config_.anomalies.demand_units.orders &&
          order_demand_rule_.observe(signal_.sku, signal_.ts_ms, order_demand_, *this,
                                     signal_.quantity))
        close_when_due(order_demand_rule_, order_demand_, order_demand_timers_);
      return;
    }
    // The detectors judge the customer's original event, as re-keyed here.
    event_.type = signal_.type == kind::view ? schemas::event_type::product_view
                                             : schemas::event_type::cart_item_added;
    event_.event_id = signal_.event_id;
    event_.ts_ms = signal_.ts_ms;
    event_.customer_id = signal_.customer_id;
    event_.sku = signal_.sku;
    event_.price = signal_.price;
    event_.unit_price = signal_.price;
    event_.quantity = signal_.quantity;
    event_.cart_id = signal_.cart_id;
    const bool view = signal_.type == kind::view;
    auto& rule = view ? view_demand_rule_ : cart_demand_rule_;
    auto& demand = view ? view_demand_ : cart_demand_;
    const std::int64_t weight =
        !view && config_.anomalies.demand_units.cart_adds ? signal_.quantity : 1;
    if (rule.observe(signal_.sku, signal_.ts_ms, demand, *this, weight))
      close_when_due(rule, demand, view ? view_demand_timers_ : cart_demand_timers_);
    if (view)
      price_rule_.on_event(event_, prices_, *this);
    else
      quantity_rule_.on_event(event_, quantities_, *this);
  }

  void on_timer(char tag, std::string_view key, std::int64_t fire_ms,
                std::string_view payload) override {
    if (tag == inventory_tag)
      rule_.on_timer(key, fire_ms, payload, skus_, timers_, *this);
    else if (tag == view_demand_tag)
      view_demand_rule_.advance(key, fire_ms, view_demand_, *this);
    else if (tag == cart_demand_tag)
      cart_demand_rule_.advance(key, fire_ms, cart_demand_, *this);
    else if (tag == order_demand_tag)
      order_demand_rule_.advance(key, fire_ms, order_demand_, *this);
  }

  void flush() override {
    skus_.flush();
    view_demand_.flush();
    cart_demand_.flush();
    order_demand_.flush();
    prices_.flush();
    quantities_.flush();
  }

 private:
  // Once the open bucket has the volume to be flagged, it closes when the watermark passes
  // its end rather than on the SKU's next event (which may be long after the spike).
  void close_when_due(const rules::demand_spike_detector& rule,
                      detail::cache_state<rules::demand_state>& demand,
                      rules::timer_service& timers) {
    if (const rules::demand_state* d = demand.find(signal_.sku))
      timers.schedule(rule.closes_at(*d), signal_.sku, {});
  }

  void emit(schemas::back_in_stock&& msg) override {
    buffer_.clear();
    schemas::encode(msg, buffer_);
    host_.emit(config_.topics.restock_alerts, msg.customer_id, buffer_);
    host_.env().probe->add_restock_alert(metrics::restock_type::back_in_stock);
  }
  void emit(schemas::stock_alert&& msg) override {
    buffer_.clear();
    schemas::encode(msg, buffer_);
    host_.emit(config_.topics.restock_alerts, msg.sku, buffer_);
    host_.env().probe->add_restock_alert(msg.out_of_stock ? metrics::restock_type::out_of_stock
                                                          : metrics::restock_type::low_stock);
  }
  void suppressed(rules::inventory_suppression reason) override {
    host_.env().probe->add_inventory_suppression(reason, 1);
  }
  void emit(schemas::anomaly_flag&& flag) override { detail::emit_anomaly(host_, flag, buffer_); }

  task& host_;
  const app_config& config_;
  detail::cache_state<rules::sku_state> skus_;
  detail::cache_state<rules::demand_state> view_demand_;
  detail::cache_state<rules::demand_state> cart_demand_;
  detail::cache_state<rules::demand_state> order_demand_;
  detail::cache_state<rules::price_state> prices_;
  detail::cache_state<rules::cart_quantity_state> quantities_;
  rules::inventory_operator rule_;
  rules::demand_spike_detector view_demand_rule_;
  rules::demand_spike_detector cart_demand_rule_;
  rules::demand_spike_detector order_demand_rule_;
  rules::price_detector price_rule_;
  rules::cart_quantity_detector quantity_rule_;
  schemas::event event_;
  rules::timer_service& timers_;
  rules::timer_service& view_demand_timers_;
  rules::timer_service& cart_demand_timers_;
  rules::timer_service& order_demand_timers_;
  rules::sku_signal signal_;
  std::string buffer_;
};

}  // namespace

std::unique_ptr<task_processor> make_sku_processor(task& host) {
  return std::make_unique<sku_processor>(host);
}

}  // namespace herald::actors

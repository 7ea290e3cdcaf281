// The SKU family (shop.inventory + the herald.sku-signals repartition topic, keyed by SKU):
// back-in-stock notifications to waiting customers and low/out-of-stock alerts to merchants.

#include "cache_state.hpp"
#include "herald/actors/rules/inventory.hpp"
#include "herald/actors/task.hpp"

namespace herald::actors {
namespace {

constexpr char inventory_tag = 'i';

class sku_processor final : public task_processor, private rules::inventory_effects {
 public:
  explicit sku_processor(task& host)
      : host_(host),
        config_(*host.env().config),
        skus_(host.state(), state::store::skus, config_.state.cache_entries),
        rule_(config_.inventory),
        timers_(host.timers(inventory_tag)) {}

  void apply(const schemas::event& ev) override {
    if (ev.type == schemas::event_type::stock_level) rule_.on_stock(ev, skus_, timers_, *this);
  }

  bool decode_internal(const streams::record& rec, std::int64_t& ts_ms,
                       std::string& reason) override {
    if (!rules::sku_signal::decode(rec.value, signal_)) {
      reason = "undecodable sku signal record";
      return false;
    }
    if (signal_.sku != rec.key) {
      reason = "key '" + rec.key + "' does not match sku '" + signal_.sku + "'";
      return false;
    }
    ts_ms = signal_.ts_ms;
    return true;
  }
  void apply_internal() override { rule_.on_signal(signal_, skus_, timers_, *this); }

  void on_timer(char tag, std::string_view key, std::int64_t fire_ms,
                std::string_view payload) override {
    if (tag == inventory_tag) rule_.on_timer(key, fire_ms, payload, skus_, timers_, *this);
  }

  void flush() override { skus_.flush(); }

 private:
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

  task& host_;
  const app_config& config_;
  detail::cache_state<rules::sku_state> skus_;
  rules::inventory_operator rule_;
  rules::timer_service& timers_;
  rules::sku_signal signal_;
  std::string buffer_;
};

}  // namespace

std::unique_ptr<task_processor> make_sku_processor(task& host) {
  return std::make_unique<sku_processor>(host);
}

}  // namespace herald::actors

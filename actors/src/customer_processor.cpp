// The customer family (shop.clickstream + shop.carts, keyed by customer): abandoned-cart
// reminders, bot and shop-traffic detection, and the signals that SKU tasks need (waitlist
// requests, order lines, views and cart adds) re-keyed by SKU through the repartition topic,
// since cross-key work goes through Kafka.

#include "anomaly_output.hpp"
#include "cache_state.hpp"
#include "herald/actors/availability.hpp"
#include "herald/actors/rules/abandoned_cart.hpp"
#include "herald/actors/rules/anomalies.hpp"
#include "herald/actors/rules/inventory.hpp"
#include "herald/actors/task.hpp"

namespace herald::actors {
namespace {

constexpr char cart_tag = 'c';
constexpr char bot_tag = 'b';  // erases a customer's bot state once it no longer matters

// Detector state kinds in the detectors store.
constexpr char bot_prefix = 'b';
constexpr char traffic_prefix = 't';

class customer_processor final : public task_processor,
                                 private rules::cart_effects,
                                 private rules::anomaly_effects,
                                 private rules::audience_view {
 public:
  explicit customer_processor(task& host)
      : host_(host),
        config_(*host.env().config),
        carts_(host.state(), state::store::carts, config_.state.cache_entries),
        bots_(host.state(), state::store::detectors, config_.state.cache_entries, bot_prefix),
        traffic_(host.state(), state::store::detectors, 16, traffic_prefix),
        cart_rule_(config_.abandoned_cart),
        bot_rule_(config_.anomalies.bot),
        // Customers hash uniformly over partitions, so each task sees its share of the shop's
        // traffic and a shop-wide surge shows in every partition (each flags it). One key per
        // input topic: each partition is in time order, the two together are not.
        traffic_rule_(config_.anomalies.traffic, "traffic_spike", "partition"),
        click_key_(config_.topics.clickstream + "/" + std::to_string(host.id().partition)),
        cart_key_(config_.topics.carts + "/" + std::to_string(host.id().partition)),
        cart_timers_(host.timers(cart_tag, /*speaks=*/true)),
        bot_timers_(host.timers(bot_tag)) {}

  void apply(const schemas::event& ev, const streams::record&) override {
    using schemas::event_type;
    // One expiry timer per customer, set when its state is created and pushed back lazily
    // when it fires.
    if (const rules::bot_state* b = bot_rule_.on_event(ev, bots_, *this); b && b->is_new())
      bot_timers_.schedule(expiry_of(*b), ev.customer_id, {});
    traffic_rule_.observe(
        schemas::topic_of(ev.type) == schemas::topic_kind::clickstream ? click_key_ : cart_key_,
        ev.ts_ms, traffic_, *this);
    switch (ev.type) {
      case event_type::product_view:
        signal(rules::sku_signal::kind::view, ev, ev.sku, 0, ev.event_id, ev.price);
        break;
      case event_type::cart_item_added:
        signal(rules::sku_signal::kind::cart_add, ev, ev.sku, ev.quantity, ev.event_id,
               ev.unit_price, ev.cart_id);
        break;
      case event_type::notify_me:
      case event_type::wishlist_add:
        signal(ev.type == event_type::notify_me ? rules::sku_signal::kind::notify_me
                                                : rules::sku_signal::kind::wishlist_add,
               ev, ev.sku, 0, ev.event_id);
        break;
      case event_type::order_placed:
        for (std::size_t i = 0; i < ev.lines.size(); ++i)
          signal(rules::sku_signal::kind::sold, ev, ev.lines[i].sku, ev.lines[i].quantity,
                 ev.event_id + '#' + std::to_string(i));
        break;
      default:
        break;
    }
    cart_rule_.on_event(ev, carts_, cart_timers_, *this, *this);
  }

  bool decode_internal(const streams::record&, internal_record&, std::string& reason) override {
    reason = "the customer family has no internal topic";
    return false;
  }
  void apply_internal(const streams::record&) override {}

  void on_timer(char tag, std::string_view key, std::int64_t fire_ms,
                std::string_view payload) override {
    if (tag == bot_tag) {
      if (const rules::bot_state* b = bots_.find(key)) {
        if (expires_at(*b) > fire_ms)
          bot_timers_.schedule(expiry_of(*b), key, {});
        else {
          bot_rule_.retire(*b);
          bots_.erase(key);
        }
      }
      return;
    }
    if (tag != cart_tag) return;
    static const rules::no_stock_view everything_available;
    const rules::stock_view& stock = host_.env().stock != nullptr
                                         ? static_cast<const rules::stock_view&>(*host_.env().stock)
                                         : everything_available;
    // A reminder firing long after it was due by the wall clock (an outage, a backlog) is
    // sent now, and the next step keeps its spacing from now: never two at once. Data older
    // than the cart retention is a replay: event time alone decides, so it is deterministic.
    const std::int64_t wall = host_.wall_ms();
    const std::int64_t now = wall - fire_ms <= config_.abandoned_cart.retention_ms ? wall : fire_ms;
    cart_rule_.on_timer(key, fire_ms, payload, carts_, cart_timers_, *this, stock, *this, now);
  }

  void flush() override {
    carts_.flush();
    bots_.flush();
    traffic_.flush();
  }

  // A reminder due at T fires at T + grace and reads the stock as of T: the availability
  // table must have read every inventory partition up to T first.
  std::int64_t time_cap(std::int64_t wall_ms) override {
    if (host_.env().stock == nullptr) return streams::watermark::none;
    const std::int64_t wm = host_.env().stock->watermark(wall_ms);
    if (wm == streams::watermark::none || wm == std::numeric_limits<std::int64_t>::max()) return wm;
    return wm + config_.task.timer_grace_ms;
  }

 private:
  // When a customer's bot state may go. Not before the cart timers that ask whether the
  // customer was a bot at their due time have fired: they fire task.timer_grace_ms after it.
  std::int64_t expires_at(const rules::bot_state& b) const {
    return bot_rule_.expires_at(b) + config_.task.timer_grace_ms;
  }
  // When its expiry timer is set: never before the task's stream time has moved a window
  // past its events, so a burst of late events (a topic that was idle resumes behind the
  // others) is counted together, not expired one by one as it arrives. Stream time, not the
  // watermark: it depends on the records alone, so the bot population does not depend on
  // how fast each topic was read.
  std::int64_t expiry_of(const rules::bot_state& b) const {
    const std::int64_t st = host_.stream_time();
    const std::int64_t at = expires_at(b);
    return st == streams::watermark::none ? at : std::max(at, st + bot_rule_.config().window_ms);
  }

  void signal(rules::sku_signal::kind kind, const schemas::event& ev, const std::string& sku,
              std::int64_t quantity, std::string event_id, double price = 0,
              std::string_view cart_id = {}) {
    rules::sku_signal s;
    s.type = kind;
    s.sku = sku;
    s.customer_id = ev.customer_id;
    s.quantity = quantity;
    s.ts_ms = ev.ts_ms;
    s.event_id = std::move(event_id);
    s.price = price;
    s.cart_id = cart_id;
    buffer_.clear();
    s.encode(buffer_);
    // Waitlist requests and order lines must never be lost: the outbox. Views and cart adds
    // only feed the SKU's statistical detectors: produced after the commit without a RocksDB
    // write each (a crash before Kafka acknowledges them loses a few samples).
    if (kind == rules::sku_signal::kind::view || kind == rules::sku_signal::kind::cart_add)
      host_.emit_transient(config_.topics.sku_signals, sku, buffer_);
    else
      host_.emit(config_.topics.sku_signals, sku, buffer_);
    host_.env().probe->add_sku_signals(1);
  }

  void emit(schemas::cart_reminder&& msg) override {
    buffer_.clear();
    schemas::encode(msg, buffer_);
    host_.emit(config_.topics.cart_reminders, msg.customer_id, buffer_);
    host_.env().probe->add_reminder(msg.reminder_number);
  }
  void suppressed(rules::suppression reason) override {
    host_.env().probe->add_suppression(reason, 1);
  }
  void emit(schemas::anomaly_flag&& flag) override { detail::emit_anomaly(host_, flag, buffer_); }
  bool is_bot(std::string_view customer, std::int64_t now_ms) const override {
    const rules::bot_state* s = bots_.find(customer);
    return s != nullptr && s->is_bot(now_ms);
  }

  task& host_;
  const app_config& config_;
  detail::cache_state<rules::customer_carts> carts_;
  // find() loads into the cache, so lookups from const contact checks still go through it.
  mutable detail::cache_state<rules::bot_state> bots_;
  detail::cache_state<rules::demand_state> traffic_;
  rules::abandoned_cart_operator cart_rule_;
  rules::bot_detector bot_rule_;
  rules::demand_spike_detector traffic_rule_;
  std::string click_key_;
  std::string cart_key_;
  rules::timer_service& cart_timers_;
  rules::timer_service& bot_timers_;
  std::string buffer_;
};

}  // namespace

std::unique_ptr<task_processor> make_customer_processor(task& host) {
  return std::make_unique<customer_processor>(host);
}

}  // namespace herald::actors

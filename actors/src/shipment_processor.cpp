// The shipment family (shop.shipments, keyed by shipment): tracking notifications, delivery
// delays and stuck-shipment flags, with transit times learned per lane across partitions (the
// global lane table).

#include <memory>

#include "anomaly_output.hpp"
#include "cache_state.hpp"
#include "herald/actors/lane_table.hpp"
#include "herald/actors/rules/shipments.hpp"
#include "herald/actors/task.hpp"

namespace herald::actors {
namespace {

constexpr char shipment_tag = 's';

class shipment_processor final : public task_processor, private rules::shipment_effects {
 public:
  explicit shipment_processor(task& host)
      : host_(host),
        config_(*host.env().config),
        shipments_(host.state(), state::store::shipments, config_.state.cache_entries),
        lanes_(host.state(), state::store::lanes, config_.state.cache_entries),
        shared_(host.env().lanes == nullptr
                    ? nullptr
                    : std::make_unique<lane_table_view>(*host.env().lanes, host.id().partition)),
        rule_(config_.shipments, shared_.get()),
        // Delay notices and stuck/late flags speak: they wait out the grace period, so a
        // delivery scan slightly late in arrival still stops them.
        timers_(host.timers(shipment_tag, /*speaks=*/true)) {}

  void apply(const schemas::event& ev, const streams::record&) override {
    rule_.on_event(ev, shipments_, lanes_, timers_, *this);
  }

  bool decode_internal(const streams::record&, internal_record&, std::string& reason) override {
    reason = "the shipment family has no internal topic";
    return false;
  }
  void apply_internal(const streams::record&) override {}

  void on_timer(char tag, std::string_view key, std::int64_t fire_ms,
                std::string_view payload) override {
    if (tag == shipment_tag)
      rule_.on_timer(key, fire_ms, payload, shipments_, lanes_, timers_, *this);
  }

  void flush() override {
    shipments_.flush();
    lanes_.flush();
  }

 private:
  void emit(schemas::tracking_notification&& msg) override {
    buffer_.clear();
    schemas::encode(msg, buffer_);
    host_.emit(config_.topics.tracking_notifications, msg.customer_id, buffer_);
    host_.env().probe->add_tracking_notification(msg.delayed);
  }
  void emit(schemas::anomaly_flag&& flag) override { detail::emit_anomaly(host_, flag, buffer_); }
  void suppressed(rules::shipment_suppression reason) override {
    host_.env().probe->add_shipment_suppression(reason);
  }
  // To this instance's table at once (the other local tasks see it), and through the outbox to
  // the topic every instance follows.
  void lane_learned(std::string_view lane, const rules::lane_stats& stats,
                    std::int64_t ts_ms) override {
    lane_table* table = host_.env().lanes;
    if (table == nullptr) return;
    table->publish(host_.id().partition, lane, ts_ms, stats);
    if (!host_.env().lane_topic) return;
    lane_table::encode(host_.id().partition, lane, ts_ms, stats, key_, buffer_);
    host_.emit(config_.topics.lane_stats, key_, buffer_);
  }

  task& host_;
  const app_config& config_;
  detail::cache_state<rules::shipment_state> shipments_;
  detail::cache_state<rules::lane_stats> lanes_;
  std::unique_ptr<lane_table_view> shared_;
  rules::shipment_operator rule_;
  rules::timer_service& timers_;
  std::string buffer_;
  std::string key_;
};

}  // namespace

std::unique_ptr<task_processor> make_shipment_processor(task& host) {
  return std::make_unique<shipment_processor>(host);
}

}  // namespace herald::actors

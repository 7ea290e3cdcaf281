#pragma once
/// Herald's configuration: one struct per module with in-class defaults, loaded from one YAML
/// file. Invalid configuration is the one place exceptions are used: at startup, with a
/// message naming the key.

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "herald/actors/rules/abandoned_cart.hpp"
#include "herald/actors/rules/anomalies.hpp"
#include "herald/actors/rules/inventory.hpp"
#include "herald/actors/rules/shipments.hpp"
#include "herald/streams/kafka_config.hpp"
#include "herald/streams/watermark.hpp"

namespace herald::actors {

/// Thrown at startup for an invalid configuration; `what()` names the key.
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct topics_config {
  /// Default: "shop.clickstream".
  std::string clickstream = "shop.clickstream";
  /// Default: "shop.carts".
  std::string carts = "shop.carts";
  /// Default: "shop.inventory".
  std::string inventory = "shop.inventory";
  /// Internal repartition topic: customer signals (notify_me, wishlist_add, order lines)
  /// re-keyed by SKU for the SKU tasks. Needs the partition count of `inventory`.
  /// Default: "herald.sku-signals".
  std::string sku_signals = "herald.sku-signals";
  /// Default: "herald.cart-reminders".
  std::string cart_reminders = "herald.cart-reminders";
  /// Default: "herald.restock-alerts".
  std::string restock_alerts = "herald.restock-alerts";
  /// Default: "shop.shipments".
  std::string shipments = "shop.shipments";
  /// Default: "herald.tracking-notifications".
  std::string tracking_notifications = "herald.tracking-notifications";
  /// Default: "herald.anomalies".
  std::string anomalies = "herald.anomalies";
  /// Default: "herald.dlq".
  std::string dlq = "herald.dlq";
};

struct kafka_config {
  /// Passed through to librdkafka for consumer and producer (e.g. "bootstrap.servers").
  streams::kafka_properties properties;
  /// Consumer group id. Default: "herald".
  std::string group_id = "herald";
  /// Default: 45000 ms. The mock cluster needs > 3000.
  int session_timeout_ms = 45'000;
  /// Most records per poll. Default: 2000.
  std::size_t max_poll_records = 2000;
  /// Pause a task's partitions above this many in-flight records. Default: 50 000.
  std::int64_t max_in_flight = 50'000;
  /// Resume at or below this many. Default: 10 000.
  std::int64_t resume_in_flight = 10'000;
};

struct state_config {
  /// RocksDB directory. Default: "./herald-state".
  std::string dir = "./herald-state";
  /// fsync every commit. Default: false.
  bool sync = false;
  /// Per-task cache capacity in entries. Default: 100 000.
  std::size_t cache_entries = 100'000;
};

struct task_config {
  /// How often a task writes its state, timers, offsets and outputs in one batch; outputs are
  /// produced after that commit, so this bounds their added latency. Default: 100 ms.
  std::int64_t commit_interval_ms = 100;
  /// Housekeeping tick (idle watermark, pending commits, failed deliveries). Default: 200 ms.
  std::int64_t tick_interval_ms = 200;
  /// Larger records go to the DLQ as `oversized`. Default: 1 MiB.
  std::size_t max_record_bytes = 1 << 20;
  streams::watermark_config watermark{0, 30'000};
};

struct metrics_config {
  /// Prometheus endpoint; port 0 picks a free port; empty disables. Default: "0.0.0.0:9464".
  std::string listen = "0.0.0.0:9464";
};

/// Shipment rule defaults, with the shipped carrier mappings.
[[nodiscard]] rules::shipment_config default_shipment_config();

struct app_config {
  kafka_config kafka;
  topics_config topics;
  state_config state;
  task_config task;
  metrics_config metrics;
  rules::abandoned_cart_config abandoned_cart;
  rules::inventory_config inventory;
  /// Detector settings (bots, demand and traffic spikes, prices, cart quantities).
  rules::anomaly_config anomalies;
  /// Carrier code mappings default to the shipped config/carriers/*.yaml (compiled in).
  rules::shipment_config shipments = default_shipment_config();
  /// Wait at start until the global availability table has read shop.inventory to its end,
  /// so cart reminders never promote sold-out items after a restart. Default: 30 000 ms.
  std::int64_t availability_bootstrap_timeout_ms = 30'000;
  /// CAF worker threads. Default: 2.
  std::size_t worker_threads = 2;
};

/// Adds the mappings of one carrier YAML file (`carriers: [names]`, `codes: {code: status}`);
/// throws config_error naming `source` and the bad entry.
void add_carrier_mappings(const std::string& yaml_text, const std::string& source,
                          rules::carrier_mappings& out);

/// The configured name of the input topic of `kind`.
[[nodiscard]] const std::string& input_topic(const topics_config& topics, schemas::topic_kind kind);

/// Loads a YAML file over the defaults; throws config_error naming the bad key.
[[nodiscard]] app_config load_config(const std::string& path);
/// Validates a config; throws config_error naming the bad key.
void validate(const app_config& config);

}  // namespace herald::actors

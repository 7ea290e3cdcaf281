#pragma once
/// Herald's configuration: one struct per module with in-class defaults, loaded from one YAML
/// file. Invalid configuration is the one place exceptions are used: at startup, with a
/// message naming the key.

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
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
  /// Internal, compacted, one partition: every shipment partition's transit times per lane
  /// (the global lane table), read by every instance. Without it the tasks of one instance
  /// still share lanes, but instances do not, and a restart forgets the others' lanes until
  /// they deliver again. Default: "herald.lane-stats".
  std::string lane_stats = "herald.lane-stats";
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
  /// Back every store of every task with a compacted changelog topic,
  /// `<kafka.group_id>-<store>-changelog` (one partition per task partition; created at
  /// start-up when missing): local state is then a cache of Kafka, restored before a task
  /// processes wherever its partition moves. Off: state lives on the local disk only, and a
  /// partition that moves starts empty on its new owner. Default: true.
  bool changelog = true;
};

/// What Herald guarantees from its input topics to its outputs.
struct processing_config {
  /// "exactly_once_v2": per commit interval one Kafka transaction holds every task's outputs,
  /// changelog records and consumed offsets (needs a real broker, and state.changelog);
  /// "at_least_once": outputs go through a local outbox and may repeat after a crash, each
  /// with the same deterministic id (the mode for librdkafka's mock cluster, which the demo
  /// and `herald dev-kafka` run on). Default: "exactly_once_v2".
  std::string guarantee = "exactly_once_v2";
  /// The producer's transactional.id under exactly-once, one per instance and stable across
  /// its restarts (a restarted instance fences its previous incarnation). Empty:
  /// `<kafka.group_id>-<host name>-<hash of the absolute state.dir>` (a StatefulSet pod's
  /// name; the directory tells apart instances that share a host). Default: "".
  std::string transactional_id;
  [[nodiscard]] bool exactly_once() const noexcept { return guarantee == "exactly_once_v2"; }
};

struct task_config {
  /// How often a task writes its state, timers, offsets and outputs in one batch; outputs are
  /// produced after that commit, so this bounds their added latency. Default: 100 ms.
  std::int64_t commit_interval_ms = 100;
  /// Housekeeping tick (idle watermark, pending commits, failed deliveries). Default: 200 ms.
  std::int64_t tick_interval_ms = 200;
  /// Larger records go to the DLQ as `oversized`. Default: 1 MiB.
  std::size_t max_record_bytes = 1 << 20;
  /// Most bytes (key + value + headers) of a dead letter; a longer value is cut, with header
  /// `herald.truncated` = its original size, and a key longer than 1 KiB is cut to that.
  /// Must fit the producer's `message.max.bytes` (1 MiB unless set) and the DLQ topic's
  /// `max.message.bytes` (the broker's default: 1 048 588). Default: 1 000 000.
  std::size_t dlq_max_bytes = 1'000'000;
  /// Event time (allowed_lateness_ms, default 0) and idleness (idle_timeout_ms): an input
  /// partition quiet for this much wall-clock time stops holding the task's watermark back,
  /// and a task whose inputs are all quiet follows the wall clock that far behind, so its
  /// timers fire; 0 = never (deterministic replays). Default: 30 000 ms.
  streams::watermark_config watermark{0, 30'000};
  /// Events more than this far ahead of the wall clock are bad input (DLQ
  /// `time_out_of_range`): one absurd timestamp must not fire every timer of a partition.
  /// Default: 86 400 000 ms (1 day).
  std::int64_t max_future_ms = 86'400'000;
  /// Events before this epoch-ms floor are bad input (DLQ `time_out_of_range`).
  /// Default: 946 684 800 000 (2000-01-01T00:00:00Z).
  std::int64_t min_event_time_ms = 946'684'800'000;
  /// Records of a task's input partitions are taken lowest head timestamp first; an empty
  /// partition that still has records in Kafka is waited for at most this long. Default: 5000 ms.
  std::int64_t max_wait_ms = 5'000;
  /// Timers that decide to speak (cart reminders, delivery delays, stuck and late shipment
  /// flags) fire this long after they are due in event time, so an event slightly late in
  /// arrival (an order placed just before the reminder was due) still counts. Their messages
  /// keep the due time. Default: 120 000 ms.
  std::int64_t timer_grace_ms = 120'000;
  /// A record whose event_id its task applied already for the same entity (customer, SKU,
  /// shipment) and input, within this much event time, is a repeat (a producer's retry, an
  /// upstream re-send): counted (herald_duplicate_events_total) and not applied again.
  /// 0 = off. Default: 3 600 000 ms (1 h).
  std::int64_t dedup_window_ms = 3'600'000;
  /// Most event ids a task remembers (about 16 bytes each); beyond it the oldest quarter of
  /// the window is forgotten early (herald_dedup_evicted_ids_total). Default: 1 000 000.
  std::size_t dedup_max_ids = 1'000'000;
  /// Most input records a task takes between two of its commits. Under exactly-once a task
  /// that reached it takes no more until it commits for the next transaction, so a
  /// transaction's size stays bounded when the tasks apply records faster than the producer
  /// ships their changelog records (a backlog, a large restore's catch-up): without it each
  /// slower transaction let the tasks take more for the next, until one outlived the
  /// broker's transaction timeout and the producer was fenced. Under at-least-once the task
  /// commits early instead. 0 = no bound. Default: 50 000.
  std::size_t max_uncommitted_records = 50'000;
};

struct metrics_config {
  /// Prometheus endpoint; port 0 picks a free port; empty disables. Default: "0.0.0.0:9464".
  std::string listen = "0.0.0.0:9464";
};

struct log_config {
  /// trace, debug, info, warn, error, critical or off. Default: "info".
  std::string level = "info";
  /// "text" (human) or "json" (one object per line: ts, level, msg; for log collectors).
  /// Default: "text".
  std::string format = "text";
};

/// Shipment rule defaults, with the shipped carrier mappings.
[[nodiscard]] rules::shipment_config default_shipment_config();

struct app_config {
  kafka_config kafka;
  topics_config topics;
  state_config state;
  processing_config processing;
  task_config task;
  metrics_config metrics;
  log_config log;
  rules::abandoned_cart_config abandoned_cart;
  rules::inventory_config inventory;
  /// Detector settings (bots, demand and traffic spikes, prices, cart quantities).
  rules::anomaly_config anomalies;
  /// Carrier code mappings default to the shipped config/carriers/*.yaml (compiled in).
  rules::shipment_config shipments = default_shipment_config();
  /// Wait at start until the global availability table has read shop.inventory to its end,
  /// so cart reminders never promote sold-out items after a restart. Default: 30 000 ms.
  std::int64_t availability_bootstrap_timeout_ms = 30'000;
  /// Event time the availability table keeps each location's older levels for, behind its
  /// watermark, so a reminder due that long ago still sees the stock as of its due time.
  /// Default: 21 600 000 ms (6 h).
  std::int64_t availability_history_ms = 21'600'000;
  /// CAF worker threads. Default: 2.
  std::size_t worker_threads = 2;
};

/// Adds the mappings of one carrier YAML file (`carriers: [names]`, `codes: {code: status}`);
/// throws config_error naming `source` and the bad entry.
void add_carrier_mappings(const std::string& yaml_text, const std::string& source,
                          rules::carrier_mappings& out);

/// The configured name of the input topic of `kind`.
[[nodiscard]] const std::string& input_topic(const topics_config& topics, schemas::topic_kind kind);

/// Environment variables (name, value); only HERALD_* ones matter.
using environment = std::vector<std::pair<std::string, std::string>>;
/// The HERALD_* variables of this process.
[[nodiscard]] environment process_environment();

/// A loaded configuration and every problem found in it (empty = valid).
struct config_check {
  app_config config;
  /// One line per problem: "config key 'rules.anomalies.bot.window': unknown key".
  std::vector<std::string> errors;
  /// Not problems: HERALD_* environment variables that name no configuration key (ignored).
  std::vector<std::string> warnings;
};

/// Loads a YAML file over the defaults, then the environment over the file, and validates.
/// Every key can be set by a variable: HERALD_ + the key path upper-cased with "__" between
/// components (kafka.group_id = HERALD_KAFKA__GROUP_ID, rules.anomalies.bot.window_ms =
/// HERALD_RULES__ANOMALIES__BOT__WINDOW_MS); values are YAML (lists as [a, b]). Under
/// kafka.properties '_' stands for '.' and values are verbatim strings
/// (HERALD_KAFKA__PROPERTIES__SASL_PASSWORD = sasl.password). Secret properties
/// (is_secret_property) are accepted only from the environment. An unknown key, in the file
/// or the environment, is an error.
[[nodiscard]] config_check check_config(const std::string& path, const environment& env);
/// check_config with this process's environment; throws config_error listing every problem.
[[nodiscard]] app_config load_config(const std::string& path);
[[nodiscard]] app_config load_config(const std::string& path, const environment& env);
/// Validates a config; throws config_error listing every problem, each naming its key.
void validate(const app_config& config);

/// Kafka properties that hold secrets (passwords, client secrets, private keys): never read
/// from a file, never logged.
[[nodiscard]] bool is_secret_property(std::string_view name);
/// The Kafka properties with secret values replaced by "***", for printing.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> redacted_properties(
    const app_config& config);

}  // namespace herald::actors

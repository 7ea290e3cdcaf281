#pragma once
/// `herald demo`: the whole pipeline in one process on librdkafka's mock cluster, fed by the
/// synthetic traffic generator, with progress lines and a final summary.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "herald/schemas/events.hpp"
#include "herald/streams/admin.hpp"

namespace herald::streams {
class mock_cluster;
}

namespace herald::actors {

struct topics_config;

struct demo_options {
  /// Generated records per second. Default: 20 000.
  double rate = 20'000;
  /// Seconds of traffic. Default: 30.
  double duration_s = 30;
  /// Simulated event-time seconds per wall-clock second (3600: the 1 h reminder shows up after
  /// one second of traffic, the 24 h one after 24). Default: 3600.
  double time_scale = 3600;
  /// Partitions per input topic. Default: 4.
  int partitions = 4;
  /// Seconds between progress lines. Default: 2.
  double progress_s = 2;
  /// Metrics endpoint. Default: "127.0.0.1:9464" (port 0 = any free port).
  std::string metrics_listen = "127.0.0.1:9464";
  /// State directory; empty = a fresh temporary directory, removed afterwards.
  std::string state_dir;
  /// Share of malformed records. Default: 0.001.
  double malformed_share = 0.001;
};

/// One anomaly flag read back from herald.anomalies.
struct replay_flag {
  std::string kind;
  std::string entity_type;
  std::string entity_id;
  std::int64_t ts_ms = 0;
  double score = 0;
  double threshold = 0;
  std::string evidence;  ///< the evidence object as JSON
};

/// What a replay did.
struct replay_summary {
  std::uint64_t rows = 0;       ///< source rows used (orders, clickstream rows)
  std::uint64_t events = 0;     ///< input records produced
  std::uint64_t processed = 0;  ///< input records Herald processed
  std::uint64_t dead_letters = 0;
  std::uint64_t repeats = 0;  ///< records not applied: their event_id was applied already
  /// Output messages by type (cart_reminder, back_in_stock, tracking_update, ...).
  std::map<std::string, std::uint64_t> messages;
  /// Anomaly flags by kind (the metrics).
  std::map<std::string, std::uint64_t> anomalies;
  /// Every flag on herald.anomalies, by (event time, kind, entity): the same order run after
  /// run, whatever order the partitions were read in.
  std::vector<replay_flag> flags;
};

/// One replayed input record, in event-time order.
struct replay_record {
  std::int64_t ts_ms = 0;
  schemas::topic_kind topic = schemas::topic_kind::shipments;
  std::string key;
  std::string value;
};

/// The Olist orders of `dir` as shop.shipments records, sorted by event time (creations before
/// scans at the same instant). Each delivered order with an estimated date becomes one Correios
/// shipment: created at purchase, promised by the end of its estimated delivery day, picked up
/// at the carrier date, delivered at the customer date; the lane is (correios, BR, customer
/// state). `rows` = orders used.
[[nodiscard]] std::vector<replay_record> olist_shipment_events(const std::string& dir,
                                                               std::uint64_t& rows,
                                                               std::string& error);

/// The REES46 clickstream CSV `file` as contract events in its (time) order: view ->
/// product_view, cart -> cart_item_added (cart = session), remove_from_cart ->
/// cart_item_removed, purchase -> order_placed; rows without a session are skipped.
[[nodiscard]] std::vector<replay_record> rees46_events(const std::string& file, std::uint64_t& rows,
                                                       std::string& error);

/// Runs `records` through the whole pipeline on a fresh mock cluster (event time only) and
/// counts what came out. Empty `error` on success.
[[nodiscard]] replay_summary replay(const std::vector<replay_record>& records, int partitions,
                                    std::string& error);

/// Herald's topics `t`: `partitions` each, the lane table's one (compacted), and, with an
/// `app_id` (kafka.group_id), the changelog topics of its stores (compacted).
[[nodiscard]] std::vector<streams::topic_spec> herald_topics(const topics_config& t, int partitions,
                                                             const std::string& app_id = {});
/// The `topics:` section of a configuration file that names every topic of `t` (tools and
/// tests that run `herald run` on topics of their own).
[[nodiscard]] std::string topics_yaml(const topics_config& t);
/// Creates `herald_topics` on the mock cluster (which ignores topic configurations), the
/// changelogs of application `app_id` included (the mock cannot create topics through the
/// Admin API, so Herald cannot create them there itself).
void create_topics(streams::mock_cluster& mc, const topics_config& t, int partitions,
                   const std::string& app_id = "herald");

/// Runs the demo; returns the process exit code.
int run_demo(const demo_options& options);

/// `herald dev-kafka`: a standalone mock cluster with Herald's topics, printing its bootstrap
/// address and running until SIGINT/SIGTERM.
int run_dev_kafka(int brokers, int partitions);

}  // namespace herald::actors

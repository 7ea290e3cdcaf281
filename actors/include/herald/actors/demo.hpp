#pragma once
/// `herald demo`: the whole pipeline in one process on librdkafka's mock cluster, fed by the
/// synthetic traffic generator, with progress lines and a final summary.

#include <cstdint>
#include <string>

namespace herald::actors {

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

/// Runs the demo; returns the process exit code.
int run_demo(const demo_options& options);

/// `herald dev-kafka`: a standalone mock cluster with Herald's topics, printing its bootstrap
/// address and running until SIGINT/SIGTERM.
int run_dev_kafka(int brokers, int partitions);

}  // namespace herald::actors

#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <map>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "herald/actors/app.hpp"
#include "herald/actors/demo.hpp"
#include "herald/actors/logging.hpp"

#ifndef HERALD_VERSION
#define HERALD_VERSION "0.0.0"
#endif

namespace {

constexpr int replay_flags_shown = 5;  // per kind

int check_config_file(const std::string& path) {
  const auto checked = herald::actors::check_config(path, herald::actors::process_environment());
  for (const auto& w : checked.warnings) fmt::print("  warning: {}\n", w);
  if (!checked.errors.empty()) {
    fmt::print("{}: {} problem{}\n", path, checked.errors.size(),
               checked.errors.size() == 1 ? "" : "s");
    for (const auto& e : checked.errors) fmt::print("  {}\n", e);
    return 2;
  }
  const auto& c = checked.config;
  fmt::print("{}: ok\n  group {}, state {}, metrics {}, log {} {}\n", path, c.kafka.group_id,
             c.state.dir, c.metrics.listen.empty() ? "off" : c.metrics.listen, c.log.level,
             c.log.format);
  for (const auto& [name, value] : herald::actors::redacted_properties(c))
    fmt::print("  kafka {} = {}\n", name, value);
  return 0;
}

int run(const std::string& config_path) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before any thread starts: all inherit it
  auto checked = herald::actors::check_config(config_path, herald::actors::process_environment());
  if (!checked.errors.empty()) {
    for (const auto& e : checked.errors) fmt::print(stderr, "herald: {}\n", e);
    return 2;
  }
  const herald::actors::app_config& cfg = checked.config;
  herald::actors::setup_logging(cfg.log);
  for (const auto& w : checked.warnings) spdlog::warn("config: {}", w);
  for (const auto& [name, value] : herald::actors::redacted_properties(cfg))
    spdlog::info("kafka property {} = {}", name, value);
  herald::actors::app app(cfg);
  // A fatal Kafka error ends the wait as a signal would; the exit code says it was one.
  if (auto err = app.start([] { kill(getpid(), SIGTERM); }); !err.empty()) {
    fmt::print(stderr, "herald: {}\n", err);
    return 1;
  }
  int sig = 0;
  sigwait(&set, &sig);
  const std::string fatal = app.fatal_error();
  if (fatal.empty()) spdlog::info("signal {}: stopping", sig);
  app.stop();
  if (!fatal.empty()) {
    spdlog::critical("stopped after a fatal Kafka error: {}", fatal);
    return 3;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Herald: event-stream automation for e-commerce"};
  cli.require_subcommand(1);

  herald::actors::demo_options demo;
  auto* demo_cmd = cli.add_subcommand("demo",
                                      "Run the whole pipeline on an embedded mock Kafka "
                                      "with generated shop traffic");
  demo_cmd->add_option("--rate", demo.rate, "Records per second")->capture_default_str();
  demo_cmd->add_option("--duration", demo.duration_s, "Seconds of traffic")->capture_default_str();
  demo_cmd
      ->add_option("--time-scale", demo.time_scale,
                   "Simulated event-time seconds per wall-clock second")
      ->capture_default_str();
  demo_cmd->add_option("--partitions", demo.partitions, "Partitions per topic")
      ->capture_default_str();
  demo_cmd->add_option("--metrics", demo.metrics_listen, "Metrics listen address")
      ->capture_default_str();
  demo_cmd->add_option("--state-dir", demo.state_dir, "State directory (default: temporary)");
  demo_cmd->add_option("--malformed", demo.malformed_share, "Share of malformed records")
      ->capture_default_str();

  int brokers = 1, partitions = 4;
  auto* dev = cli.add_subcommand("dev-kafka",
                                 "Run a standalone mock Kafka cluster with Herald's "
                                 "topics and print its bootstrap address");
  dev->add_option("--brokers", brokers, "Mock brokers")->capture_default_str();
  dev->add_option("--partitions", partitions, "Partitions per topic")->capture_default_str();

  std::string config_path;
  auto* run_cmd = cli.add_subcommand("run", "Run against a Kafka cluster");
  run_cmd->add_option("--config", config_path, "YAML configuration file")->required();

  std::string check_path;
  auto* check_cmd = cli.add_subcommand(
      "check-config",
      "Check a configuration file (with the HERALD_* environment applied): every bad key and "
      "why; exit 0 when valid, 2 otherwise");
  check_cmd->add_option("FILE", check_path, "YAML configuration file")->required();

  std::string replay_source;
  int replay_partitions = 4;
  auto* replay = cli.add_subcommand("replay", "Replay a public data set through the pipeline");
  auto* olist = replay->add_subcommand(
      "olist", "Olist orders CSVs as shipment events; prints what Herald emitted");
  olist->add_option("DIR", replay_source, "Folder with olist_orders_dataset.csv")->required();
  auto* rees46 = replay->add_subcommand(
      "rees46",
      "REES46 clickstream CSV as clickstream and cart events; prints what Herald emitted");
  rees46->add_option("FILE", replay_source, "The CSV file")->required();
  for (auto* sub : {olist, rees46})
    sub->add_option("--partitions", replay_partitions, "Partitions per topic")
        ->capture_default_str();
  replay->require_subcommand(1);

  auto* version = cli.add_subcommand("version", "Print the version");

  CLI11_PARSE(cli, argc, argv);
  if (demo_cmd->parsed()) return herald::actors::run_demo(demo);
  if (dev->parsed()) return herald::actors::run_dev_kafka(brokers, partitions);
  if (run_cmd->parsed()) return run(config_path);
  if (check_cmd->parsed()) return check_config_file(check_path);
  if (olist->parsed() || rees46->parsed()) {
    std::string error;
    std::uint64_t rows = 0;
    const auto records = olist->parsed()
                             ? herald::actors::olist_shipment_events(replay_source, rows, error)
                             : herald::actors::rees46_events(replay_source, rows, error);
    herald::actors::replay_summary sum;
    if (error.empty()) sum = herald::actors::replay(records, replay_partitions, error);
    fmt::print("replay: {} source rows, {} events, {} processed, {} dead letters, {} repeats\n",
               rows, sum.events, sum.processed, sum.dead_letters, sum.repeats);
    for (const auto& [type, n] : sum.messages) fmt::print("  {:<18} {}\n", type, n);
    for (const auto& [kind, n] : sum.anomalies) fmt::print("  anomaly {:<18} {}\n", kind, n);
    // The flags themselves, a few per kind (the Olist replay has thousands of stuck shipments).
    std::map<std::string, int> shown;
    for (const auto& f : sum.flags) {
      if (++shown[f.kind] > replay_flags_shown) continue;
      const std::time_t t = f.ts_ms / 1000;
      std::tm utc{};
      gmtime_r(&t, &utc);
      fmt::print(
          "  flag {} {} {} at {:%Y-%m-%d %H:%M:%S} UTC: score {:.1f} (threshold {:.1f}) {}\n",
          f.kind, f.entity_type, f.entity_id, utc, f.score, f.threshold, f.evidence);
    }
    if (!error.empty()) fmt::print(stderr, "replay: {}\n", error);
    return error.empty() ? 0 : 1;
  }
  if (version->parsed()) fmt::print("herald {}\n", HERALD_VERSION);
  return 0;
}

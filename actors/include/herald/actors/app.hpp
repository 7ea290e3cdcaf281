#pragma once
/// The Herald application: wires configuration, state, metrics, the Kafka source and sink,
/// the CAF actor system and the task actors.
///
/// Lifecycle: construct, `start` (returns an error message on failure), run until `stop`
/// (SIGTERM in `herald run`): stop polling, revoke every task (each commits, flushes its
/// outputs and acknowledges its outbox), flush the producer and RocksDB, close. The header
/// keeps CAF, librdkafka and RocksDB out of its includers.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "herald/actors/config.hpp"
#include "herald/actors/metrics.hpp"

namespace herald::actors {

class app {
 public:
  explicit app(app_config config);
  ~app();
  app(const app&) = delete;
  app& operator=(const app&) = delete;

  /// Starts everything; empty on success, else a message naming what failed. `on_fatal`
  /// (optional; called once, from a Kafka client's thread) says a Kafka client hit a fatal
  /// error: the embedder should `stop` the app (which commits what is consistent) and exit
  /// non-zero, so it restarts from its committed state. /healthz fails from then on.
  [[nodiscard]] std::string start(std::function<void()> on_fatal = {});
  /// The fatal Kafka error the app hit, or empty.
  [[nodiscard]] std::string fatal_error() const;
  /// Stops cleanly; idempotent. Called by the destructor too.
  void stop();
  /// The input is complete: the caller produced its last record and the app has read it (a
  /// bounded replay). The tasks' inputs and the availability table end, so records waiting
  /// for another input's event time are applied; timers fire no further than the data went.
  void finish_input();

  [[nodiscard]] metrics& probe();
  /// Bound metrics port (0 when metrics are off).
  [[nodiscard]] int metrics_port() const;
  /// Tasks currently assigned to this instance.
  [[nodiscard]] std::size_t assigned_tasks() const;
  /// Tasks assigned and not started yet (restoring their state).
  [[nodiscard]] int restoring_tasks() const;
  /// Consumer lag over assigned partitions (refreshed about once a second); -1 until known.
  [[nodiscard]] std::int64_t consumer_lag() const;
  [[nodiscard]] const app_config& config() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace herald::actors

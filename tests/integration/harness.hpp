#pragma once
// Shared fixtures for integration tests: a mock Kafka cluster with Herald's topics, a producer,
// a temporary state directory, waiting helpers and a tiny HTTP GET for /metrics.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "herald/actors/app.hpp"
#include "herald/actors/changelog.hpp"
#include "herald/actors/demo.hpp"
#include "herald/streams/admin.hpp"
#include "herald/streams/mock_cluster.hpp"
#include "herald/streams/sink.hpp"
#include "herald/streams/topic_reader.hpp"

namespace herald::testing {

class temp_dir {
 public:
  temp_dir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("herald-it-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() { std::filesystem::remove_all(path_); }
  [[nodiscard]] std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

/// The real broker the integration tests run on, when HERALD_TEST_KAFKA names the directory
/// of a cluster `scripts/kafka start` runs (ctest's second fixture); empty: each test starts
/// its own mock cluster.
inline const std::string& real_kafka() {
  static const std::string bootstrap = [] {
    const char* dir = std::getenv("HERALD_TEST_KAFKA");
    if (dir == nullptr || *dir == 0) return std::string();
    std::ifstream in(std::filesystem::path(dir) / "bootstrap");
    std::string line;
    std::getline(in, line);
    if (line.empty())
      throw std::runtime_error(std::string("HERALD_TEST_KAFKA=") + dir +
                               ": no bootstrap file (is `scripts/kafka start` running there?)");
    return line;
  }();
  return bootstrap;
}

/// Herald's default topics with a producer into them: on a fresh mock cluster, or, with
/// `real_kafka()`, re-created on the real broker (deleted first: the tests there run one at a
/// time) with a consumer group of the fixture's own.
class kafka_fixture {
 public:
  /// `brokers`: of the mock cluster (the real one has what it has).
  explicit kafka_fixture(int partitions = 3, int brokers = 1) : partitions_(partitions) {
    std::string error;
    static int fixtures = 0;
    group_ = "herald-it-" + std::to_string(::getpid()) + "-" + std::to_string(++fixtures);
    if (real()) {
      bootstrap_ = real_kafka();
      const auto specs = actors::herald_topics(actors::topics_config{}, partitions);
      std::vector<std::string> names;
      for (const auto& s : specs) names.push_back(s.name);
      const streams::kafka_properties props{{"bootstrap.servers", bootstrap_}};
      if (!streams::delete_topics(props, names, error) ||
          !streams::create_topics(props, specs, false, error))
        throw std::runtime_error("real Kafka at " + bootstrap_ + ": " + error);
      // Every broker of a cluster learns of a new topic on its own time; the app asks any.
      int in_a_row = 0;
      for (int round = 0; round < 200 && in_a_row < 3; ++round) {
        bool all = true;
        for (const auto& spec : specs)
          all = all && streams::partition_count(props, spec.name, error) == spec.partitions;
        in_a_row = all ? in_a_row + 1 : 0;
        if (!all) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    } else {
      cluster_ = streams::mock_cluster::start(brokers, error);
      if (!cluster_) throw std::runtime_error(error);
      // The mock cluster cannot create topics through the Admin API: the changelogs too.
      actors::create_topics(*cluster_, actors::topics_config{}, partitions, group_);
      bootstrap_ = cluster_->bootstrap_servers();
    }
    streams::sink_config sc;
    sc.properties["bootstrap.servers"] = bootstrap_;
    // A shop's producer may send records larger than Herald's own limits (oversized input).
    sc.properties["message.max.bytes"] = "8000000";
    producer_ = streams::sink::create(sc, error);
    if (!producer_) throw std::runtime_error(error);
  }

  kafka_fixture(const kafka_fixture&) = delete;
  kafka_fixture& operator=(const kafka_fixture&) = delete;
  /// On the real broker, deletes the changelog topics Herald created for the fixture's group.
  ~kafka_fixture() {
    if (!real()) return;
    std::vector<std::string> names;
    for (const auto& s :
         actors::changelog_topics(group_, {0, partitions_, partitions_, partitions_}))
      names.push_back(s.name);
    std::string error;
    (void)streams::delete_topics({{"bootstrap.servers", bootstrap_}}, names, error);
  }

  /// The consumer group (and application id) of the fixture's apps.
  [[nodiscard]] const std::string& group() const { return group_; }
  /// The mock cluster (fault injection), or null on the real broker.
  [[nodiscard]] streams::mock_cluster* mock() const { return cluster_.get(); }
  /// Whether the fixture is on the real broker.
  [[nodiscard]] static bool real() { return !real_kafka().empty(); }
  [[nodiscard]] const std::string& bootstrap_servers() const { return bootstrap_; }

  [[nodiscard]] actors::app_config config(const std::string& state_dir) const {
    actors::app_config c;
    c.kafka.properties["bootstrap.servers"] = bootstrap_;
    // The mock broker answers an empty fetch only after fetch.wait.max.ms (a real one as soon
    // as data arrives): keep produce-and-wait rounds short.
    c.kafka.properties["fetch.wait.max.ms"] = "5";
    // A real broker refuses sessions below its group.min.session.timeout.ms (6 s by default).
    c.kafka.session_timeout_ms = real() ? 6000 : 4000;
    c.kafka.group_id = group_;
    c.state.dir = state_dir;
    c.metrics.listen = "127.0.0.1:0";
    c.task.commit_interval_ms = 50;
    c.task.watermark.idle_timeout_ms = 0;  // event time only: deterministic
    c.task.max_record_bytes = 4096;
    return c;
  }

  void produce(const std::string& topic, const std::string& key, const std::string& value) {
    ASSERT_TRUE(producer_->produce(topic, key, value));
  }
  /// To one partition, whatever the key's hash (tests that need records on one task).
  void produce_to(const std::string& topic, int partition, const std::string& key,
                  const std::string& value) {
    ASSERT_TRUE(producer_->produce_to(topic, partition, key, value));
  }
  /// To one partition; a default-constructed key or value is produced as null (no key, a
  /// tombstone), not as an empty one.
  void produce_raw(const std::string& topic, int partition, std::string_view key,
                   std::string_view value) {
    ASSERT_TRUE(producer_->produce_to(topic, partition, key, value));
  }
  void flush() { ASSERT_TRUE(producer_->flush(10'000)); }

  /// Moves every customer partition's watermark to `ts_ms`: a page view and a checkout of an
  /// unknown cart (which touches no cart) on each partition of both customer topics. A task's
  /// watermark is the minimum over its partitions, and SKU tasks follow the customer tasks'.
  void heartbeat(std::int64_t ts_ms, int partitions) {
    for (int p = 0; p < partitions; ++p) {
      const std::string who = "heartbeat-" + std::to_string(p);
      produce_to("shop.clickstream", p, who,
                 R"({"type":"page_view","event_id":"hb-)" + std::to_string(ts_ms) + R"(","ts":)" +
                     std::to_string(ts_ms) + R"(,"customer_id":")" + who +
                     R"(","session_id":"hb"})");
      produce_to("shop.carts", p, who,
                 R"({"type":"checkout_started","event_id":"hbc-)" + std::to_string(ts_ms) +
                     R"(","ts":)" + std::to_string(ts_ms) + R"(,"customer_id":")" + who +
                     R"(","cart_id":"none"})");
    }
  }

  [[nodiscard]] std::vector<streams::consumed_record> read(const std::string& topic) const {
    std::vector<streams::consumed_record> out;
    std::string error;
    EXPECT_TRUE(streams::read_topic({{"bootstrap.servers", bootstrap_}}, topic, out, error))
        << error;
    return out;
  }

 private:
  int partitions_ = 3;
  std::string bootstrap_;
  std::string group_;
  std::unique_ptr<streams::mock_cluster> cluster_;
  std::unique_ptr<streams::sink> producer_;
};

/// Polls `done` until true or `timeout`; returns its last value.
inline bool wait_for(const std::function<bool()>& done,
                     std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

/// Input records (shop topics, not Herald's repartition topic) the app has processed.
inline std::uint64_t processed(actors::app& a) {
  return a.probe().input_events_total();
}

/// Input records the app has read: processed, or waiting for their task's watermark (another
/// input of the task is behind in event time).
inline std::uint64_t read_inputs(actors::app& a) {
  return a.probe().inputs_read_total();
}

/// GET http://127.0.0.1:port/path; returns the body ("" on failure).
inline std::string http_get(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return {};
  }
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  (void)::send(fd, req.data(), req.size(), 0);
  std::string resp;
  char buf[8192];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;)
    resp.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  const auto body = resp.find("\r\n\r\n");
  return body == std::string::npos ? std::string{} : resp.substr(body + 4);
}

/// The value of the sample `name{labels}` in a Prometheus text exposition (-1 when absent).
/// `labels` is the exact label set as exposed, e.g. `reason="ordered",rule="abandoned_cart"`.
inline double metric_value(const std::string& text, const std::string& name,
                           const std::string& labels = "") {
  const std::string key = labels.empty() ? name + " " : name + "{" + labels + "} ";
  for (std::size_t pos = 0; (pos = text.find(key, pos)) != std::string::npos; pos += key.size()) {
    if (pos != 0 && text[pos - 1] != '\n') continue;
    return std::stod(text.substr(pos + key.size()));
  }
  return -1;
}

/// Whether `family`'s tasks on `app` have committed everything up to event time `ts_ms`
/// (herald_watermark_seconds; NaN, so false, until one of them has committed a watermark).
inline bool family_done(const actors::app& app, const char* family, std::int64_t ts_ms) {
  const double v =
      metric_value(http_get(app.metrics_port(), "/metrics"), "herald_watermark_seconds",
                   std::string("family=\"") + family + "\"");
  return v >= static_cast<double>(ts_ms) / 1000.0;
}

}  // namespace herald::testing

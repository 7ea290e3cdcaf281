#pragma once
/// Synthetic shop traffic for `herald demo` and the benchmarks: customer journeys over
/// clickstream and carts (browse, add to cart, then order, clear, empty, come back later or
/// abandon; some visitors anonymous), with a small share of malformed records. Event time is
/// simulated and may run faster than the wall clock, so hour-long reminder delays show up in
/// seconds.
///
/// Deterministic for a given seed and sequence of `next` calls. Single-threaded.

#include <cstdint>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "herald/schemas/events.hpp"

namespace herald::actors {

struct traffic_config {
  /// Distinct customer ids. Default: 200 000.
  std::uint64_t customers = 200'000;
  /// Distinct SKUs (Zipf-like popularity). Default: 20 000.
  std::uint32_t skus = 20'000;
  /// Share of journeys by visitors who cannot be contacted. Default: 0.2.
  double anonymous_share = 0.2;
  /// Share of records that are malformed (they must reach the DLQ). Default: 0.001.
  double malformed_share = 0.001;
  std::uint64_t seed = 42;
};

/// One generated record.
struct traffic_record {
  schemas::topic_kind topic = schemas::topic_kind::carts;
  std::string key;
  std::string value;
  bool malformed = false;
};

class traffic_generator {
 public:
  explicit traffic_generator(traffic_config config = {});

  /// The next record at simulated time `now_ms`: the next due step of a running journey, or
  /// the first step of a new one.
  traffic_record next(std::int64_t now_ms);

  [[nodiscard]] std::uint64_t journeys_started() const noexcept { return journeys_; }

 private:
  struct step {
    std::int64_t at_ms;
    std::uint64_t seq;  // tie-break: keeps generation deterministic
    schemas::event ev;
    bool operator>(const step& o) const { return at_ms != o.at_ms ? at_ms > o.at_ms : seq > o.seq; }
  };
  void start_journey(std::int64_t now_ms);
  void push(std::int64_t at_ms, schemas::event ev);
  traffic_record encode(const schemas::event& ev);
  traffic_record malformed(std::int64_t now_ms);
  std::string pick_sku();

  traffic_config config_;
  std::mt19937_64 rng_;
  std::priority_queue<step, std::vector<step>, std::greater<>> due_;
  std::uint64_t journeys_ = 0;
  std::uint64_t seq_ = 0;
  std::uint64_t events_ = 0;
};

}  // namespace herald::actors

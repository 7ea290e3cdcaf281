#pragma once
/// Synthetic shop traffic for `herald demo` and the benchmarks: customer journeys over
/// clickstream and carts (browse, add to cart, then order, clear, empty, come back later or
/// abandon; some visitors anonymous), stock movements on shop.inventory (initial levels,
/// orders drawing stock down, restocks of sold-out SKUs), notify_me requests for sold-out
/// SKUs, a few scraper bots, and a small share of malformed records. Event time is
/// simulated and may run faster than the wall clock, so hour-long reminder delays show up in
/// seconds.
///
/// Deterministic for a given seed and sequence of `next` calls. Single-threaded.

#include <cstdint>
#include <queue>
#include <random>
#include <string>
#include <unordered_map>
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
  /// Share of SKUs sold out when first seen. Default: 0.25.
  double sold_out_share = 0.25;
  /// Chance per journey that a sold-out SKU is restocked. Default: 0.03.
  double restock_chance = 0.03;
  /// Share of journeys that are scrapers: `bot_views` product views a second apart, which the
  /// bot detector must flag. Default: 0.001.
  double bot_share = 0.001;
  int bot_views = 60;
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
  std::uint32_t pick_sku();
  /// The list price of `sku` (fixed per SKU, ~12 .. 250 EUR).
  [[nodiscard]] static double price_of(std::uint32_t sku);
  /// Current level of `sku`, emitting its first stock_level when it is new.
  std::int64_t level(std::uint32_t sku, std::int64_t at_ms);
  void set_level(std::uint32_t sku, std::int64_t level, std::int64_t at_ms);
  [[nodiscard]] std::string sku_name(std::uint32_t sku) const;

  traffic_config config_;
  std::mt19937_64 rng_;
  std::priority_queue<step, std::vector<step>, std::greater<>> due_;
  std::unordered_map<std::uint32_t, std::int64_t> stock_;
  std::vector<std::uint32_t> sold_out_;  // may hold SKUs restocked since (checked on use)
  std::uint64_t journeys_ = 0;
  std::uint64_t seq_ = 0;
  std::uint64_t events_ = 0;
};

}  // namespace herald::actors

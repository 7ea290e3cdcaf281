// Per-event cost of each anomaly detector over realistic key spaces (10k customers, 5k SKUs),
// with hash-map keyed state as a task's write-back cache gives. items/s = events/s.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "herald/actors/rules/anomalies.hpp"

namespace {

using namespace herald;

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

template <class T>
struct map_state final : rules::keyed_state<T> {
  std::unordered_map<std::string, T, string_hash, std::equal_to<>> values;
  T* find(std::string_view k) override {
    auto it = values.find(k);
    return it == values.end() ? nullptr : &it->second;
  }
  T& get_or_create(std::string_view k) override {
    auto it = values.find(k);
    if (it != values.end()) return it->second;
    return values.emplace(std::string(k), T{}).first->second;
  }
  void mark_dirty(std::string_view) override {}
  void erase(std::string_view k) override { values.erase(std::string(k)); }
};

struct counting_effects final : rules::anomaly_effects {
  std::int64_t flags = 0;
  void emit(schemas::anomaly_flag&&) override { ++flags; }
};

constexpr std::int64_t t0 = 1'700'000'000'000;

// 64k events over 10k customers and 5k SKUs, ~20 events per second of event time.
std::vector<schemas::event> make_events(schemas::event_type type) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int> customer(0, 9'999), sku(0, 4'999), qty(1, 4);
  std::normal_distribution<double> price(100.0, 5.0);
  std::vector<schemas::event> out(1 << 16);
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto& ev = out[i];
    ev.type = type;
    ev.customer_id = "c" + std::to_string(customer(rng));
    ev.session_id = "s" + ev.customer_id;
    ev.sku = "sku" + std::to_string(sku(rng));
    ev.price = price(rng);
    ev.quantity = qty(rng);
    ev.cart_id = "k" + ev.customer_id;
    ev.ts_ms = t0 + static_cast<std::int64_t>(i) * 50;
    ev.event_id = "e" + std::to_string(i);
  }
  return out;
}

template <class Detector, class State>
void run(benchmark::State& bench, Detector& d, schemas::event_type type) {
  auto events = make_events(type);
  map_state<State> st;
  counting_effects fx;
  std::size_t i = 0;
  for (auto _ : bench) {
    d.on_event(events[i], st, fx);
    if (++i == events.size()) {
      // Event time keeps moving forward across laps; amortised over 64k events.
      i = 0;
      const auto lap = static_cast<std::int64_t>(events.size()) * 50;
      for (auto& ev : events) ev.ts_ms += lap;
    }
  }
  bench.SetItemsProcessed(bench.iterations());
  bench.counters["flags"] = static_cast<double>(fx.flags);
}

void BM_bot_click_rate(benchmark::State& bench) {
  rules::bot_detector d;
  run<rules::bot_detector, rules::bot_state>(bench, d, schemas::event_type::page_view);
}
BENCHMARK(BM_bot_click_rate);

void BM_demand_spike(benchmark::State& bench) {
  rules::demand_spike_detector d;
  run<rules::demand_spike_detector, rules::demand_state>(bench, d,
                                                         schemas::event_type::product_view);
}
BENCHMARK(BM_demand_spike);

void BM_price_anomaly(benchmark::State& bench) {
  rules::price_detector d;
  run<rules::price_detector, rules::price_state>(bench, d, schemas::event_type::product_view);
}
BENCHMARK(BM_price_anomaly);

void BM_cart_quantity(benchmark::State& bench) {
  rules::cart_quantity_detector d;
  run<rules::cart_quantity_detector, rules::cart_quantity_state>(
      bench, d, schemas::event_type::cart_item_added);
}
BENCHMARK(BM_cart_quantity);

}  // namespace

BENCHMARK_MAIN();

// Micro-benchmarks of the per-event hot path: decode, encode, the abandoned-cart operator.
// Run: bench_micro (Google Benchmark flags apply, e.g. --benchmark_min_time=0.5).

#include <map>
#include <unordered_map>

#include <benchmark/benchmark.h>

#include "herald/actors/rules/abandoned_cart.hpp"
#include "herald/actors/traffic.hpp"
#include "herald/schemas/codec.hpp"

namespace {

using namespace herald;

std::vector<actors::traffic_record> sample(std::size_t n) {
  actors::traffic_config c;
  c.malformed_share = 0;
  actors::traffic_generator gen(c);
  std::vector<actors::traffic_record> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(gen.next(1'760'000'000'000 + static_cast<std::int64_t>(i) * 180));
  return out;
}

void BM_DecodeShopTraffic(benchmark::State& state) {
  const auto input = sample(10'000);
  schemas::decoder dec;
  schemas::event ev;
  std::size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const auto& r = input[i++ % input.size()];
    auto err = dec.decode(r.topic, r.key, r.value, ev);
    benchmark::DoNotOptimize(err);
    bytes += r.value.size();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_DecodeShopTraffic);

void BM_EncodeCartReminder(benchmark::State& state) {
  schemas::cart_reminder r;
  r.notification_id = schemas::make_id("abandoned_cart", "cust-1", "cart-1/ev-1/1");
  r.ts_ms = 1'760'000'000'000;
  r.customer_id = "cust-1";
  r.cart_id = "cart-1";
  r.lines = {{"sku-1", 2, 19.99, {}}, {"sku-2", 1, 5.5, {}}};
  r.cart_value = 45.48;
  r.currency = "EUR";
  std::string out;
  for (auto _ : state) {
    out.clear();
    schemas::encode(r, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_EncodeCartReminder);

struct map_carts final : rules::keyed_state<rules::customer_carts> {
  std::unordered_map<std::string, rules::customer_carts> m;
  rules::customer_carts* find(std::string_view k) override {
    auto it = m.find(std::string(k));
    return it == m.end() ? nullptr : &it->second;
  }
  rules::customer_carts& get_or_create(std::string_view k) override { return m[std::string(k)]; }
  void mark_dirty(std::string_view) override {}
  void erase(std::string_view k) override { m.erase(std::string(k)); }
};
struct map_timers final : rules::timer_service {
  std::map<std::pair<std::int64_t, std::string>, std::string> t;
  void schedule(std::int64_t at, std::string_view k, std::string_view p) override {
    t[{at, std::string(k)}] = std::string(p);
  }
  void cancel(std::int64_t at, std::string_view k) override { t.erase({at, std::string(k)}); }
};
struct null_effects final : rules::cart_effects {
  std::size_t n = 0;
  void emit(schemas::cart_reminder&&) override { ++n; }
  void suppressed(rules::suppression) override {}
};

void BM_AbandonedCartOperator(benchmark::State& state) {
  const auto input = sample(100'000);
  schemas::decoder dec;
  std::vector<schemas::event> events;
  for (const auto& r : input) {
    schemas::event ev;
    if (!dec.decode(r.topic, r.key, r.value, ev)) events.push_back(std::move(ev));
  }
  rules::abandoned_cart_operator op;
  map_carts carts;
  map_timers timers;
  null_effects fx;
  std::size_t i = 0;
  for (auto _ : state) {
    op.on_event(events[i++ % events.size()], carts, timers, fx);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_AbandonedCartOperator);

}  // namespace

BENCHMARK_MAIN();

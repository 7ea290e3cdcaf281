#pragma once
// In-memory stand-ins for what a task gives a rule operator (rules/context.hpp), shared by the
// operator tests: they drive operators exactly as a task does, without RocksDB or Kafka.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "herald/actors/rules/context.hpp"

namespace herald::rules::test {

constexpr std::int64_t t0 = 1'700'000'000'000;
constexpr std::int64_t minute = 60'000;
constexpr std::int64_t hour = 60 * minute;
constexpr std::int64_t day = 24 * hour;

template <class T>
struct fake_state final : keyed_state<T> {
  std::map<std::string, T, std::less<>> values;
  T* find(std::string_view k) override {
    auto it = values.find(k);
    return it == values.end() ? nullptr : &it->second;
  }
  T& get_or_create(std::string_view k) override { return values[std::string(k)]; }
  void mark_dirty(std::string_view) override {}
  void erase(std::string_view k) override { values.erase(std::string(k)); }
};

struct fake_timers final : timer_service {
  std::map<std::pair<std::int64_t, std::string>, std::string> pending;
  void schedule(std::int64_t at, std::string_view k, std::string_view p) override {
    pending[{at, std::string(k)}] = std::string(p);
  }
  void cancel(std::int64_t at, std::string_view k) override { pending.erase({at, std::string(k)}); }

  /// Fires every timer due at or before `to` in (time, key) order, as a task does when its
  /// watermark passes them, including timers scheduled while firing.
  template <class Fire>
  void fire_until(std::int64_t to, Fire&& fire) {
    while (!pending.empty() && pending.begin()->first.first <= to) {
      auto it = pending.begin();
      auto [at, key] = it->first;
      std::string payload = it->second;
      pending.erase(it);
      fire(key, at, payload);
    }
  }
};

}  // namespace herald::rules::test

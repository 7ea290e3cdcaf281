#pragma once
/// What a rule operator may touch: its keyed state, its timers and its outputs.
///
/// Operators are plain C++ (no CAF, Kafka or RocksDB types): the task actor implements these
/// interfaces over its write-back cache, timer store and outbox; unit tests implement them
/// over std::map. Everything an operator does goes through here, so replays are
/// deterministic.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herald::rules {

/// Keyed state of one operator, scoped to the task's partition.
template <class T>
class keyed_state {
 public:
  virtual ~keyed_state() = default;
  /// The value of `key`, or nullptr. Valid until the operator call returns.
  [[nodiscard]] virtual T* find(std::string_view key) = 0;
  /// The value of `key`, default-constructed when absent.
  [[nodiscard]] virtual T& get_or_create(std::string_view key) = 0;
  /// Records that the value of `key` changed (it will be persisted).
  virtual void mark_dirty(std::string_view key) = 0;
  virtual void erase(std::string_view key) = 0;
};

/// Event-time timers of one operator: `on_timer` is called once the watermark passes.
class timer_service {
 public:
  virtual ~timer_service() = default;
  virtual void schedule(std::int64_t fire_ms, std::string_view key, std::string_view payload) = 0;
  virtual void cancel(std::int64_t fire_ms, std::string_view key) = 0;
};

/// Read-only view of availability per SKU in event time (the global availability table).
class stock_view {
 public:
  virtual ~stock_view() = default;
  /// Units available at event time `as_of_ms` over all locations (each location's latest
  /// level at or before it); nullopt when no level of the SKU is known by then.
  [[nodiscard]] virtual std::optional<std::int64_t> available(std::string_view sku,
                                                              std::int64_t as_of_ms) const = 0;
};

/// Read-only view of what is known about customers (e.g. bot flags), for contact decisions.
class audience_view {
 public:
  virtual ~audience_view() = default;
  /// True while `customer` is flagged as a bot at event time `now_ms`.
  [[nodiscard]] virtual bool is_bot(std::string_view customer, std::int64_t now_ms) const = 0;
};

/// An audience_view that knows nobody (no customer is a bot).
class no_audience_view final : public audience_view {
 public:
  [[nodiscard]] bool is_bot(std::string_view, std::int64_t) const override { return false; }
};

/// A stock_view that knows no SKU (everything counts as available).
class no_stock_view final : public stock_view {
 public:
  [[nodiscard]] std::optional<std::int64_t> available(std::string_view,
                                                      std::int64_t) const override {
    return std::nullopt;
  }
};

}  // namespace herald::rules

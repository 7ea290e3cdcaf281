#pragma once
// rules::keyed_state over a task's write-back cache (private to the task processors).

#include "herald/actors/rules/context.hpp"
#include "herald/state/cache.hpp"

namespace herald::actors::detail {

/// `prefix` (non-zero) starts every key, so states of several kinds can share one store.
template <class T>
class cache_state final : public rules::keyed_state<T> {
 public:
  cache_state(state::task_state& owner, state::store s, std::size_t capacity, char prefix = 0)
      : cache_(owner, s, capacity), prefix_(prefix) {}
  T* find(std::string_view key) override { return cache_.find(k(key)); }
  T& get_or_create(std::string_view key) override { return cache_.get_or_create(k(key)); }
  void mark_dirty(std::string_view key) override { cache_.mark_dirty(k(key)); }
  void erase(std::string_view key) override { cache_.erase(k(key)); }
  /// Writes dirty entries into the task's pending batch.
  void flush() { cache_.flush(); }

 private:
  std::string_view k(std::string_view key) {
    if (prefix_ == 0) return key;
    key_.assign(1, prefix_);
    key_.append(key);
    return key_;
  }
  state::cache<T> cache_;
  char prefix_;
  std::string key_;
};

}  // namespace herald::actors::detail

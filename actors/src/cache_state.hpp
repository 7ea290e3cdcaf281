#pragma once
// rules::keyed_state over a task's write-back cache (private to the task processors).

#include "herald/actors/rules/context.hpp"
#include "herald/state/cache.hpp"

namespace herald::actors::detail {

template <class T>
class cache_state final : public rules::keyed_state<T> {
 public:
  cache_state(state::task_state& owner, state::store s, std::size_t capacity)
      : cache_(owner, s, capacity) {}
  T* find(std::string_view key) override { return cache_.find(key); }
  T& get_or_create(std::string_view key) override { return cache_.get_or_create(key); }
  void mark_dirty(std::string_view key) override { cache_.mark_dirty(key); }
  void erase(std::string_view key) override { cache_.erase(key); }
  /// Writes dirty entries into the task's pending batch.
  void flush() { cache_.flush(); }

 private:
  state::cache<T> cache_;
};

}  // namespace herald::actors::detail

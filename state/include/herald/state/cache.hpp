#pragma once
/// A per-task write-back cache of typed values over one store of a `task_state`.
///
/// Hot state lives here; a miss reads RocksDB once; dirty entries are written into the task's
/// pending batch by `flush` (called right before `task_state::commit`), so every event does
/// not pay a RocksDB round trip. Clean entries are evicted when the cache exceeds its
/// capacity. Single-threaded, owned by the task actor like its `task_state`.
///
/// `T` must provide `void encode(std::string& out) const` (append, starting with a format
/// version byte) and `static bool decode(std::string_view in, T& out)` (false on an unknown
/// version or corrupt bytes).

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>

#include "herald/state/task_state.hpp"

namespace herald::state {

template <class T>
class cache {
 public:
  /// Capacity: entries kept after a flush. Default: 100 000.
  cache(task_state& owner, store s, std::size_t capacity = 100'000)
      : owner_(owner), store_(s), capacity_(capacity) {}

  /// The value of `key`, loaded on a miss; nullptr when it does not exist.
  /// The pointer is valid until the next `flush`.
  [[nodiscard]] T* find(std::string_view key) {
    if (auto it = entries_.find(std::string(key)); it != entries_.end())
      return it->second.exists ? &it->second.value : nullptr;
    ++misses_;
    auto& e = entries_[std::string(key)];
    std::string raw;
    if (owner_.get(store_, owner_key(key), raw).ok() && T::decode(raw, e.value)) {
      e.exists = true;
      return &e.value;
    }
    e.exists = false;
    return nullptr;
  }

  /// The value of `key`, default-constructed (and marked existing) when absent.
  [[nodiscard]] T& get_or_create(std::string_view key) {
    if (T* v = find(key)) return *v;
    auto& e = entries_[std::string(key)];
    e.value = T{};
    e.exists = true;
    return e.value;
  }

  /// Marks `key` changed: it will be written at the next flush.
  void mark_dirty(std::string_view key) {
    auto it = entries_.find(std::string(key));
    if (it != entries_.end()) it->second.dirty = true;
  }

  /// Deletes `key` (written at the next flush).
  void erase(std::string_view key) {
    auto& e = entries_[std::string(key)];
    e.value = T{};
    e.exists = false;
    e.dirty = true;
  }

  /// Writes dirty entries into the task's pending batch; then evicts clean entries if the
  /// cache is above capacity.
  void flush() {
    std::string buf;
    for (auto& [key, e] : entries_) {
      if (!e.dirty) continue;
      if (e.exists) {
        buf.clear();
        e.value.encode(buf);
        owner_.put(store_, owner_key(key), buf);
      } else {
        owner_.del(store_, owner_key(key));
      }
      e.dirty = false;
    }
    if (entries_.size() > capacity_) entries_.clear();  // all clean now
  }

  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] std::uint64_t misses() const noexcept { return misses_; }

 private:
  struct entry {
    T value{};
    bool exists = false;
    bool dirty = false;
  };

  std::string owner_key(std::string_view key) const { return entity_key(owner_.id(), key); }

  task_state& owner_;
  store store_;
  std::size_t capacity_;
  std::unordered_map<std::string, entry> entries_;
  std::uint64_t misses_ = 0;
};

}  // namespace herald::state

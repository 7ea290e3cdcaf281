#pragma once
/// A per-task write-back cache of typed values over one store of a `task_state`.
///
/// Hot state lives here; a miss reads RocksDB once; dirty entries are written into the task's
/// pending batch by `flush` (called right before `task_state::commit`), so every event does
/// not pay a RocksDB round trip. Clean entries are evicted when the cache exceeds its
/// capacity, except those whose last write has not been committed yet (a failed commit keeps
/// them in the task's batch only, where a later miss could not see them). Single-threaded,
/// owned by the task actor like its `task_state`; one cache per (task, store).
///
/// `T` must be default-constructible and provide `void encode(std::string& out) const`
/// (append, starting with a format version byte) and `static bool decode(std::string_view in,
/// T& out)` (false on an unknown version or corrupt bytes).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "herald/state/task_state.hpp"

namespace herald::state {

template <class T>
class cache {
 public:
  /// Capacity: entries kept after a flush (plus those written by it until their commit).
  /// Default: 100 000.
  cache(task_state& owner, store s, std::size_t capacity = 100'000)
      : owner_(owner), store_(s), capacity_(capacity) {}
  cache(const cache&) = delete;
  cache& operator=(const cache&) = delete;

  /// The value of `key`, loaded on a miss; nullptr when it does not exist.
  /// A value that does not decode counts in `decode_errors` and reads as absent. A failed read
  /// counts in `read_errors`, reads as absent and is not cached (the next call retries).
  /// The pointer is valid until the next `flush`.
  [[nodiscard]] T* find(std::string_view key) {
    if (auto it = entries_.find(key); it != entries_.end())
      return it->second.exists ? &it->second.value : nullptr;
    ++misses_;
    std::string raw;
    const status st = owner_.get(store_, owner_key(key), raw);
    if (!st.ok() && !st.not_found()) {
      ++read_errors_;
      owner_.report_error(store_, "read");
      return nullptr;
    }
    auto& e = entries_.try_emplace(std::string(key)).first->second;
    if (st.ok()) {
      if (T::decode(raw, e.value)) {
        e.exists = true;
      } else {
        ++decode_errors_;
        owner_.report_error(store_, "decode");
        e.value = T{};
      }
    }
    return e.exists ? &e.value : nullptr;
  }

  /// The value of `key`, default-constructed (and marked existing) when absent. A new value
  /// is only written once it is marked dirty.
  [[nodiscard]] T& get_or_create(std::string_view key) {
    if (T* v = find(key)) return *v;
    auto& e = entries_.try_emplace(std::string(key)).first->second;
    e.value = T{};
    e.exists = true;
    return e.value;
  }

  /// Marks `key` changed: it will be written at the next flush. No-op for a key that is not
  /// cached (call it before the next flush, while the value from find/get_or_create is live).
  void mark_dirty(std::string_view key) {
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.dirty) return;
    it->second.dirty = true;
    dirty_.push_back(&*it);
  }

  /// Deletes `key` (written at the next flush).
  void erase(std::string_view key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) it = entries_.try_emplace(std::string(key)).first;
    it->second.value = T{};
    it->second.exists = false;
    if (!it->second.dirty) {
      it->second.dirty = true;
      dirty_.push_back(&*it);
    }
  }

  /// Writes dirty entries into the task's pending batch; then evicts entries that match the
  /// committed state while the cache is above capacity.
  void flush() {
    std::string buf;
    const std::uint64_t commits = owner_.commits();
    for (auto* node : dirty_) {
      entry& e = node->second;
      if (e.exists) {
        buf.clear();
        e.value.encode(buf);
        owner_.put(store_, owner_key(node->first), buf);
      } else {
        owner_.del(store_, owner_key(node->first));
      }
      e.dirty = false;
      e.written_before = commits + 1;
    }
    dirty_.clear();
    if (entries_.size() > capacity_) evict(commits);
  }

  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] std::uint64_t misses() const noexcept { return misses_; }
  /// Reads that failed (other than not-found) since construction.
  [[nodiscard]] std::uint64_t read_errors() const noexcept { return read_errors_; }
  /// Stored values that did not decode since construction.
  [[nodiscard]] std::uint64_t decode_errors() const noexcept { return decode_errors_; }

 private:
  struct entry {
    T value{};
    bool exists = false;
    bool dirty = false;
    // Flushed into the batch of the commit that makes owner_.commits() reach this value;
    // until then the entry is the only readable copy. 0: never written.
    std::uint64_t written_before = 0;
  };

  // Lookups by string_view without building a std::string on every hit.
  struct key_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view k) const noexcept {
      return std::hash<std::string_view>{}(k);
    }
  };
  using map_type = std::unordered_map<std::string, entry, key_hash, std::equal_to<>>;

  void evict(std::uint64_t commits) {
    // Arbitrary (bucket) order: the cache has no recency bookkeeping on the hot path.
    for (auto it = entries_.begin(); it != entries_.end() && entries_.size() > capacity_;) {
      if (it->second.written_before > commits) {
        ++it;
        continue;
      }
      it = entries_.erase(it);
    }
  }

  std::string owner_key(std::string_view key) const { return entity_key(owner_.id(), key); }

  task_state& owner_;
  store store_;
  std::size_t capacity_;
  map_type entries_;
  // Nodes of entries_ marked dirty since the last flush (node addresses are stable, and
  // nothing is erased between flushes), so a flush costs the dirty entries, not the cache.
  std::vector<typename map_type::value_type*> dirty_;
  std::uint64_t misses_ = 0;
  std::uint64_t read_errors_ = 0;
  std::uint64_t decode_errors_ = 0;
};

}  // namespace herald::state

#pragma once
/// The event ids one task applied recently, so that a record delivered twice (a producer's
/// retry, an upstream outbox re-sent after a crash) is applied once.
///
/// An id is (kind, entity, event id): the same event id under another entity or input kind
/// is another event. It is remembered in event time, for at least `window_ms` of the task's
/// watermark after its event time and at most a quarter more: ids are kept in generations of
/// `window_ms / 4` of event time, each dropped whole once the watermark is a window past its
/// end. An event older than that is not checked (the window is bounded); neither is one
/// without an id.
///
/// Memory: 64-bit fingerprints in open-addressing tables, about 16 bytes per id, at most
/// `max_ids` per task; beyond that the oldest generation goes before its time (counted by
/// `evicted`), so under extreme load the window shrinks rather than memory grows. Two ids
/// collide with probability about n^2 / 2^65 (1e-7 for a million ids).
///
/// Persisted with the task's commit (the same WriteBatch as its offsets): one value per
/// generation and commit, so a repeat that arrives after a restart is still caught, and a
/// crash forgets exactly the ids of the records it did not commit, which are read again.
///
/// Single-threaded, like its task.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "herald/state/task_state.hpp"

namespace herald::state {

struct seen_ids_config {
  /// How long (event time) an id is remembered; 0 = no deduplication. Default: 1 h.
  std::int64_t window_ms = 3'600'000;
  /// Most ids remembered per task. Default: 1 000 000 (about 16 MB).
  std::size_t max_ids = 1'000'000;
};

class seen_ids {
 public:
  /// Loads the ids `state`'s task committed (startup cost: one scan of its range).
  seen_ids(task_state& state, seen_ids_config config);

  /// Whether (kind, entity, id) at event time `ts_ms` repeats one already seen within the
  /// window; remembers it when it does not.
  [[nodiscard]] bool repeat(char kind, std::string_view entity, std::string_view id,
                            std::int64_t ts_ms);
  /// Writes the ids remembered since the last flush into the task's pending batch.
  void flush();
  /// Forgets the generations that ended a window before `watermark_ms`, the task's committed
  /// watermark (call after the commit that wrote it); the next flush deletes them.
  void expire(std::int64_t watermark_ms);

  /// Ids remembered now.
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// Ids forgotten before their window ended, because of `max_ids`, since construction.
  [[nodiscard]] std::uint64_t evicted() const noexcept { return evicted_; }

 private:
  struct generation {
    std::vector<std::uint64_t> slots;  // open addressing, 0 = empty; size a power of two
    std::size_t n = 0;
    std::vector<std::uint64_t> pending;  // added since the last flush
    std::vector<std::uint64_t> stored;   // sequence numbers of its stored values
  };
  [[nodiscard]] std::int64_t generation_of(std::int64_t ts_ms) const noexcept;
  // Inserts `fp`; false when it was there already.
  static bool insert(generation& g, std::uint64_t fp);
  [[nodiscard]] static bool contains(const generation& g, std::uint64_t fp) noexcept;
  [[nodiscard]] std::string key(std::int64_t generation, std::uint64_t seq) const;
  // Forgets the oldest generation and everything below it; `early`: before its window ended.
  void drop_oldest(bool early);

  task_state& state_;
  seen_ids_config config_;
  std::int64_t width_ms_ = 1;
  std::map<std::int64_t, generation> generations_;  // by generation number
  // Generations below this are gone: not checked, not remembered.
  std::int64_t floor_;
  // Keys of forgotten generations, deleted with the next flush (one delete per stored value,
  // so the deletes reach the changelog too).
  std::vector<std::string> garbage_;
  std::size_t size_ = 0;
  std::uint64_t evicted_ = 0;
  std::uint64_t next_seq_ = 0;
  std::string buffer_;
};

}  // namespace herald::state

#pragma once
/// The process's one RocksDB instance: a column family per store, partition-prefixed keys.
///
/// Thread-safety: `db` is thread-safe (RocksDB is); a `write_batch` is not.
/// Lifecycle: opened once by the app before any task starts, closed after all tasks stopped.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace herald::state {

/// Column families. Every key in every store starts with a task prefix (see keys.hpp).
enum class store : std::uint8_t {
  customers,  ///< per-customer profile state
  carts,      ///< per-customer cart state (abandoned-cart operator)
  skus,       ///< per-SKU stock state
  waitlists,  ///< per-SKU waiting customers
  shipments,  ///< per-shipment state
  timers,     ///< (task, fire time, key) -> payload, time-ordered
  meta,       ///< per-task input offsets, watermark, outbox sequence
  outbox,     ///< per-task emitted-but-unacknowledged output records
  lanes,      ///< per (carrier, origin, destination) transit-time statistics
  detectors,  ///< anomaly detector state (bounded per entity), key prefixed by detector
  seen,       ///< per-task event ids applied recently (seen_ids.hpp), by event-time generation
};
inline constexpr std::size_t store_count = 11;

/// Column family name ("carts").
[[nodiscard]] std::string_view to_string(store s) noexcept;

/// Outcome of a state operation. Errors are values; RocksDB's Status is translated here.
struct status {
  /// no_space: refused, less than `db::reserved_bytes` free (nothing was written).
  enum class code : std::uint8_t {
    ok,
    not_found,
    io_error,
    corruption,
    invalid_argument,
    no_space,
    other
  };
  code value = code::ok;
  std::string message;

  [[nodiscard]] bool ok() const noexcept { return value == code::ok; }
  [[nodiscard]] bool not_found() const noexcept { return value == code::not_found; }
};

struct db_options {
  /// Directory of the RocksDB instance; created when missing. Default: "./herald-state".
  std::string path = "./herald-state";
  /// fsync the WAL on every commit. Off keeps process crashes safe (the WAL is written
  /// before a commit returns) but not power loss. Default: false.
  bool sync = false;
  /// Shared block cache size in bytes. Default: 64 MiB.
  std::size_t block_cache_bytes = 64u << 20;
};

class db;

/// An atomic group of writes across stores, applied by `db::write`.
/// A batch refers to its database's column families: it must not outlive the `db`.
class write_batch {
 public:
  write_batch(write_batch&&) noexcept;
  write_batch& operator=(write_batch&&) noexcept;
  ~write_batch();

  void put(store s, std::string_view key, std::string_view value);
  void del(store s, std::string_view key);
  /// Number of operations added since construction or `clear`.
  [[nodiscard]] std::size_t count() const noexcept;
  [[nodiscard]] bool empty() const noexcept { return count() == 0; }
  /// Approximate bytes held.
  [[nodiscard]] std::size_t bytes() const noexcept;
  void clear();
  /// Remembers the current end of the batch, so that operations added after it can be
  /// dropped again (a commit appends its bookkeeping after one and rolls back on failure).
  void set_save_point();
  /// Drops every operation added since the latest `set_save_point` and forgets that point.
  /// No-op without a save point.
  void rollback_to_save_point();
  /// Called per operation by `for_each`: `value` is null for a delete.
  using op_fn = std::function<void(store s, std::string_view key, const std::string_view* value)>;
  /// Visits the batch's puts and deletes in the order they were added.
  void for_each(const op_fn& fn) const;

 private:
  friend class db;
  struct impl;
  explicit write_batch(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// Visitor for scans: return false to stop.
using scan_fn = std::function<bool(std::string_view key, std::string_view value)>;

class db {
 public:
  /// Opens (creating when missing) the database and every column family.
  [[nodiscard]] static status open(const db_options& options, std::unique_ptr<db>& out);
  ~db();
  db(const db&) = delete;
  db& operator=(const db&) = delete;

  /// Point read; `not_found` status when absent.
  [[nodiscard]] status get(store s, std::string_view key, std::string& value) const;
  /// A new empty batch bound to this database.
  [[nodiscard]] write_batch batch() const;
  /// Applies `batch` atomically (all or nothing) and clears it on success; on failure the
  /// batch is left as it was so that the caller may retry.
  [[nodiscard]] status write(write_batch& batch);
  /// Like `write`, but not through the write-ahead log: a crash loses it unless `flush` ran
  /// after it. For restores, whose source is Kafka and whose checkpoint is written after the
  /// flush.
  [[nodiscard]] status write_unlogged(write_batch& batch);
  /// Visits keys in [begin, end) in key order. An empty `end` means no upper bound.
  [[nodiscard]] status scan(store s, std::string_view begin, std::string_view end,
                            const scan_fn& fn) const;
  /// The greatest key in [begin, end) (one reverse seek); `not_found` when the range is empty.
  [[nodiscard]] status last_key(store s, std::string_view begin, std::string_view end,
                                std::string& key) const;
  /// Deletes every key in [begin, end).
  [[nodiscard]] status delete_range(store s, std::string_view begin, std::string_view end);
  /// Estimated live bytes of a store (for metrics).
  [[nodiscard]] std::uint64_t approximate_bytes(store s) const;
  /// Below this much free space on the database's file system (statvfs, what this process may
  /// use, looked up at most every 100 ms) every write is refused with code::no_space and
  /// writes nothing: RocksDB never meets a full disk on a write (it then refuses every write
  /// until it is resumed, and Debian's build may even abort on an assertion), and keeps room
  /// for its flushes and compactions, which free space again.
  static constexpr std::uint64_t reserved_bytes = 64ull << 20;
  /// Flushes memtables (used on clean shutdown so restart does not replay a large WAL).
  [[nodiscard]] status flush();
  [[nodiscard]] const std::string& path() const noexcept;

 private:
  struct impl;
  explicit db(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace herald::state

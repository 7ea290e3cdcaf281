#include "herald/state/db.hpp"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/write_batch.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <limits>
#include <mutex>
#include <vector>

namespace herald::state {

namespace {

constexpr std::array<store, store_count> all_stores = {
    store::customers, store::carts,     store::skus, store::waitlists,
    store::shipments, store::timers,    store::meta, store::outbox,
    store::lanes,     store::detectors, store::seen,
};

using cf_handles = std::array<rocksdb::ColumnFamilyHandle*, store_count>;

rocksdb::Slice to_slice(std::string_view v) noexcept {
  return {v.data(), v.size()};
}

status translate(const rocksdb::Status& s) {
  if (s.ok()) return {};
  status out;
  if (s.IsNotFound())
    out.value = status::code::not_found;
  else if (s.IsIOError())
    out.value = status::code::io_error;
  else if (s.IsCorruption())
    out.value = status::code::corruption;
  else if (s.IsInvalidArgument())
    out.value = status::code::invalid_argument;
  else
    out.value = status::code::other;
  out.message = s.ToString();
  return out;
}

bool supported(rocksdb::CompressionType t) {
  static const std::vector<rocksdb::CompressionType> all = rocksdb::GetSupportedCompressions();
  return std::find(all.begin(), all.end(), t) != all.end();
}

// Entity stores and meta are read by key on every cache miss: a bloom filter saves the disk
// read for absent keys (a first event per customer is the common case). Timers get one too
// because schedule/cancel check whether a (fire, key) is already committed. The outbox is
// only scanned and deleted, so a filter would be pure cost.
bool wants_bloom(store s) noexcept {
  return s != store::outbox;
}

// Timers and the outbox behave like queues: keys are written, read once and deleted. Files
// dense with tombstones slow down the seeks of pop_due and load_outbox, so compact them early.
bool queue_like(store s) noexcept {
  return s == store::timers || s == store::outbox;
}

rocksdb::ColumnFamilyOptions cf_options(store s, const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions o;
  // Eight stores share one process: keep each memtable modest, the db-wide cap below bounds
  // the total.
  o.write_buffer_size = 16u << 20;
  o.max_write_buffer_number = 3;
  o.level_compaction_dynamic_level_bytes = true;
  if (supported(rocksdb::kLZ4Compression))
    o.compression = rocksdb::kLZ4Compression;
  else if (supported(rocksdb::kSnappyCompression))
    o.compression = rocksdb::kSnappyCompression;
  else
    o.compression = rocksdb::kNoCompression;
  if (supported(rocksdb::kZSTD)) o.bottommost_compression = rocksdb::kZSTD;

  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  t.block_size = 16u << 10;
  t.cache_index_and_filter_blocks = true;
  t.cache_index_and_filter_blocks_with_high_priority = true;
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  // Index and filter in 4 KiB partitions under a pinned top level: a get loads the one
  // partition it needs. Whole, a large file's filter is a block of over a megabyte that data
  // blocks evict from the shared cache once the state outgrows it, and every get of a key not
  // cached then read and parsed it again (10M customers: the tasks slowed to 2 400 events/s,
  // the transactions outlived their timeout and the producer was fenced).
  t.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  t.metadata_block_size = 4096;
  t.pin_top_level_index_and_filter = true;
  t.format_version = 5;
  if (wants_bloom(s)) {
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    t.partition_filters = true;
    t.optimize_filters_for_memory = true;
  }
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  if (wants_bloom(s)) {
    // The same for the memtable: a get of an absent key skips the skip-list descent.
    o.memtable_prefix_bloom_size_ratio = 0.05;
    o.memtable_whole_key_filtering = true;
  }
  if (queue_like(s)) {
    o.table_properties_collector_factories.emplace_back(
        rocksdb::NewCompactOnDeletionCollectorFactory(128u << 10, 32u << 10, 0.5));
  }
  return o;
}

}  // namespace

std::string_view to_string(store s) noexcept {
  switch (s) {
    case store::customers:
      return "customers";
    case store::carts:
      return "carts";
    case store::skus:
      return "skus";
    case store::waitlists:
      return "waitlists";
    case store::shipments:
      return "shipments";
    case store::timers:
      return "timers";
    case store::meta:
      return "meta";
    case store::outbox:
      return "outbox";
    case store::lanes:
      return "lanes";
    case store::detectors:
      return "detectors";
    case store::seen:
      return "seen";
  }
  return "unknown";
}

// ---- write_batch ----------------------------------------------------------------------

namespace {

/// The store whose column family has id `id`, or -1.
int store_index(const cf_handles& cfs, std::uint32_t id) {
  for (std::size_t i = 0; i < store_count; ++i)
    if (cfs[i] != nullptr && cfs[i]->GetID() == id) return static_cast<int>(i);
  return -1;
}

}  // namespace

struct write_batch::impl {
  rocksdb::WriteBatch batch;
  const cf_handles* cfs = nullptr;

  rocksdb::ColumnFamilyHandle* cf(store s) const { return (*cfs)[static_cast<std::size_t>(s)]; }
};

write_batch::write_batch(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
write_batch::write_batch(write_batch&&) noexcept = default;
write_batch& write_batch::operator=(write_batch&&) noexcept = default;
write_batch::~write_batch() = default;

void write_batch::put(store s, std::string_view key, std::string_view value) {
  // Put only fails when the batch exceeds max_bytes, which we never set.
  (void)impl_->batch.Put(impl_->cf(s), to_slice(key), to_slice(value));
}

void write_batch::del(store s, std::string_view key) {
  (void)impl_->batch.Delete(impl_->cf(s), to_slice(key));
}

std::size_t write_batch::count() const noexcept {
  return impl_ ? impl_->batch.Count() : 0;
}

std::size_t write_batch::bytes() const noexcept {
  return impl_ ? impl_->batch.GetDataSize() : 0;
}

void write_batch::clear() {
  impl_->batch.Clear();
}

void write_batch::set_save_point() {
  impl_->batch.SetSavePoint();
}

void write_batch::rollback_to_save_point() {
  // NotFound when there is no save point: documented as a no-op.
  (void)impl_->batch.RollbackToSavePoint();
}

void write_batch::for_each(const op_fn& fn) const {
  struct visitor final : rocksdb::WriteBatch::Handler {
    const cf_handles* cfs = nullptr;
    const op_fn* fn = nullptr;
    bool of(std::uint32_t id, store& s) const {
      const int i = store_index(*cfs, id);
      if (i >= 0) s = static_cast<store>(i);
      return i >= 0;
    }
    rocksdb::Status PutCF(std::uint32_t id, const rocksdb::Slice& key,
                          const rocksdb::Slice& value) override {
      store s{};
      if (of(id, s)) {
        const std::string_view v(value.data(), value.size());
        (*fn)(s, std::string_view(key.data(), key.size()), &v);
      }
      return rocksdb::Status::OK();
    }
    rocksdb::Status DeleteCF(std::uint32_t id, const rocksdb::Slice& key) override {
      store s{};
      if (of(id, s)) (*fn)(s, std::string_view(key.data(), key.size()), nullptr);
      return rocksdb::Status::OK();
    }
  };
  visitor v;
  v.cfs = impl_->cfs;
  v.fn = &fn;
  (void)impl_->batch.Iterate(&v);
}

// ---- db -------------------------------------------------------------------------------

struct db::impl {
  std::string path;
  bool sync = false;
  std::shared_ptr<rocksdb::Cache> cache;
  std::unique_ptr<rocksdb::DB> rdb;
  cf_handles cfs{};
  // Handles of the default family and of families this version does not know (written by a
  // newer one): opened because RocksDB requires it, otherwise untouched.
  std::vector<rocksdb::ColumnFamilyHandle*> other_cfs;

  ~impl() {
    if (!rdb) return;
    for (auto* h : cfs)
      if (h) (void)rdb->DestroyColumnFamilyHandle(h);
    for (auto* h : other_cfs) (void)rdb->DestroyColumnFamilyHandle(h);
    (void)rdb->Close();
  }

  rocksdb::ColumnFamilyHandle* cf(store s) const { return cfs[static_cast<std::size_t>(s)]; }

  // A write that fails on the disk (full, or an I/O error) puts RocksDB in a background error
  // state in which it refuses every write until it is resumed, even once the disk has room
  // again. A refused write therefore asks it to resume (at most once a second: resuming
  // flushes, and fails while the cause lasts) and, if it did, is tried once more.
  std::mutex resume_mutex;
  std::chrono::steady_clock::time_point last_resume{};

  mutable std::atomic<std::uint64_t> free_cached{0};
  mutable std::atomic<std::int64_t> free_at_ns{std::numeric_limits<std::int64_t>::min()};

  // Bytes free for this process on the database's file system, looked up at most every 100 ms
  // (the maximum when it cannot be).
  std::uint64_t free_bytes() const {
    const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
    const std::int64_t at = free_at_ns.load(std::memory_order_relaxed);
    if (at != std::numeric_limits<std::int64_t>::min() && now - at < 100'000'000)
      return free_cached.load(std::memory_order_relaxed);
    struct statvfs fs {};
    const std::uint64_t free = ::statvfs(path.c_str(), &fs) == 0
                                   ? static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize
                                   : std::numeric_limits<std::uint64_t>::max();
    free_cached.store(free, std::memory_order_relaxed);
    free_at_ns.store(now, std::memory_order_relaxed);
    return free;
  }

  /// code::no_space when less than db::reserved_bytes is free.
  status room() const {
    const std::uint64_t free = free_bytes();
    if (free >= db::reserved_bytes) return {};
    return {status::code::no_space, "the state directory's file system has " +
                                        std::to_string(free >> 20) + " MiB free, less than the " +
                                        std::to_string(db::reserved_bytes >> 20) +
                                        " MiB kept free"};
  }

  /// `op` (a write of any kind); after an I/O error, resumes RocksDB and tries it once more.
  template <class Op>
  rocksdb::Status resuming(const Op& op) {
    rocksdb::Status st = op();
    if (st.ok() || !st.IsIOError()) return st;
    {
      std::lock_guard<std::mutex> lock(resume_mutex);
      const auto now = std::chrono::steady_clock::now();
      if (now - last_resume < std::chrono::seconds(1)) return st;
      last_resume = now;
      if (!rdb->Resume().ok()) return st;
    }
    return op();
  }

  rocksdb::Status write(const rocksdb::WriteOptions& wo, rocksdb::WriteBatch* batch) {
    return resuming([&] { return rdb->Write(wo, batch); });
  }
};

db::db(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
db::~db() = default;

status db::open(const db_options& options, std::unique_ptr<db>& out) {
  auto p = std::make_unique<impl>();
  p->path = options.path;
  p->sync = options.sync;
  p->cache = rocksdb::NewLRUCache(options.block_cache_bytes);

  rocksdb::DBOptions o;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  o.IncreaseParallelism(2);
  o.max_background_jobs = 2;
  // All stores together: memtables above this are flushed early.
  o.db_write_buffer_size = 128u << 20;
  // With eight families a quiet one would pin old WAL files forever; this forces its flush.
  o.max_total_wal_size = 256u << 20;
  o.bytes_per_sync = 1u << 20;
  o.wal_bytes_per_sync = 1u << 20;
  o.keep_log_file_num = 4;
  o.max_log_file_size = 16u << 20;

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions{});
  for (store s : all_stores)
    descriptors.emplace_back(std::string(to_string(s)), cf_options(s, p->cache));

  // Fails on a new database, which simply has no families yet.
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(o, options.path, &existing).ok()) {
    for (const auto& name : existing) {
      bool known = std::any_of(descriptors.begin(), descriptors.end(),
                               [&](const auto& d) { return d.name == name; });
      if (!known) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions{});
    }
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status st = rocksdb::DB::Open(o, options.path, descriptors, &handles, &raw);
  if (!st.ok()) return translate(st);
  p->rdb.reset(raw);
  for (std::size_t i = 0; i < handles.size(); ++i) {
    if (i >= 1 && i <= store_count)
      p->cfs[i - 1] = handles[i];
    else
      p->other_cfs.push_back(handles[i]);
  }
  out.reset(new db(std::move(p)));
  return {};
}

status db::get(store s, std::string_view key, std::string& value) const {
  return translate(impl_->rdb->Get(rocksdb::ReadOptions{}, impl_->cf(s), to_slice(key), &value));
}

write_batch db::batch() const {
  auto p = std::make_unique<write_batch::impl>();
  p->cfs = &impl_->cfs;
  return write_batch(std::move(p));
}

namespace {

/// A memtable insert walks its skip list from the previous insert's position: keys in order
/// cost a few comparisons each, keys in random order (dirty cache entries, in hash order) a
/// full descent. `out` gets `in`'s puts and deletes ordered by column family and key, the
/// operations on one key in their original order; false (nothing copied) when sorting would
/// not pay or `in` holds another kind of operation.
bool sorted_copy(const rocksdb::WriteBatch& in, const cf_handles& cfs, rocksdb::WriteBatch& out) {
  if (in.Count() < 64) return false;
  struct op {
    std::uint32_t cf;
    rocksdb::Slice key, value;
    bool del;
  };
  struct collect final : rocksdb::WriteBatch::Handler {
    std::vector<op> ops;
    bool other = false;
    rocksdb::Status PutCF(std::uint32_t cf, const rocksdb::Slice& k,
                          const rocksdb::Slice& v) override {
      ops.push_back({cf, k, v, false});
      return rocksdb::Status::OK();
    }
    rocksdb::Status DeleteCF(std::uint32_t cf, const rocksdb::Slice& k) override {
      ops.push_back({cf, k, {}, true});
      return rocksdb::Status::OK();
    }
    rocksdb::Status SingleDeleteCF(std::uint32_t, const rocksdb::Slice&) override {
      other = true;
      return rocksdb::Status::OK();
    }
    rocksdb::Status DeleteRangeCF(std::uint32_t, const rocksdb::Slice&,
                                  const rocksdb::Slice&) override {
      other = true;
      return rocksdb::Status::OK();
    }
    rocksdb::Status MergeCF(std::uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
      other = true;
      return rocksdb::Status::OK();
    }
    void LogData(const rocksdb::Slice&) override { other = true; }
  } c;
  c.ops.reserve(in.Count());
  if (!in.Iterate(&c).ok() || c.other) return false;
  std::stable_sort(c.ops.begin(), c.ops.end(), [](const op& a, const op& b) {
    return a.cf != b.cf ? a.cf < b.cf : a.key.compare(b.key) < 0;
  });
  rocksdb::ColumnFamilyHandle* h = nullptr;
  for (const op& o : c.ops) {
    if (h == nullptr || h->GetID() != o.cf) {
      const int i = store_index(cfs, o.cf);
      if (i < 0) return false;
      h = cfs[static_cast<std::size_t>(i)];
    }
    if (!(o.del ? out.Delete(h, o.key) : out.Put(h, o.key, o.value)).ok()) return false;
  }
  return true;
}

}  // namespace

status db::write(write_batch& batch) {
  if (batch.empty()) return {};
  if (auto room = impl_->room(); !room.ok()) return room;
  rocksdb::WriteOptions wo;
  wo.sync = impl_->sync;
  rocksdb::WriteBatch sorted;
  rocksdb::Status st = impl_->write(
      wo, sorted_copy(batch.impl_->batch, impl_->cfs, sorted) ? &sorted : &batch.impl_->batch);
  if (!st.ok()) return translate(st);
  batch.clear();
  return {};
}

status db::write_unlogged(write_batch& batch) {
  if (batch.empty()) return {};
  if (auto room = impl_->room(); !room.ok()) return room;
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  rocksdb::Status st = impl_->write(wo, &batch.impl_->batch);
  if (!st.ok()) return translate(st);
  batch.clear();
  return {};
}

status db::scan(store s, std::string_view begin, std::string_view end, const scan_fn& fn) const {
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper = to_slice(end);
  if (!end.empty()) ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(impl_->rdb->NewIterator(ro, impl_->cf(s)));
  for (it->Seek(to_slice(begin)); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    rocksdb::Slice v = it->value();
    if (!fn(std::string_view(k.data(), k.size()), std::string_view(v.data(), v.size()))) break;
  }
  return translate(it->status());
}

status db::last_key(store s, std::string_view begin, std::string_view end, std::string& key) const {
  rocksdb::ReadOptions ro;
  rocksdb::Slice lower = to_slice(begin);
  rocksdb::Slice upper = to_slice(end);
  ro.iterate_lower_bound = &lower;
  if (!end.empty()) ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(impl_->rdb->NewIterator(ro, impl_->cf(s)));
  if (end.empty())
    it->SeekToLast();
  else
    it->SeekForPrev(upper);  // upper bound is exclusive, so this lands below it
  if (!it->status().ok()) return translate(it->status());
  if (!it->Valid()) return {status::code::not_found, "empty range"};
  key.assign(it->key().data(), it->key().size());
  return {};
}

status db::delete_range(store s, std::string_view begin, std::string_view end) {
  if (end.empty()) return {status::code::invalid_argument, "delete_range needs an end key"};
  if (auto room = impl_->room(); !room.ok()) return room;
  rocksdb::WriteOptions wo;
  wo.sync = impl_->sync;
  return translate(impl_->resuming(
      [&] { return impl_->rdb->DeleteRange(wo, impl_->cf(s), to_slice(begin), to_slice(end)); }));
}

std::uint64_t db::approximate_bytes(store s) const {
  std::uint64_t live = 0;
  std::uint64_t mem = 0;
  (void)impl_->rdb->GetIntProperty(impl_->cf(s), rocksdb::DB::Properties::kEstimateLiveDataSize,
                                   &live);
  (void)impl_->rdb->GetIntProperty(impl_->cf(s), rocksdb::DB::Properties::kCurSizeAllMemTables,
                                   &mem);
  return live + mem;
}

status db::flush() {
  rocksdb::FlushOptions fo;
  fo.wait = true;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs(impl_->cfs.begin(), impl_->cfs.end());
  return translate(impl_->rdb->Flush(fo, cfs));
}

const std::string& db::path() const noexcept {
  return impl_->path;
}

}  // namespace herald::state

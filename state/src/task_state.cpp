#include "herald/state/task_state.hpp"

#include <algorithm>
#include <iterator>
#include <limits>
#include <map>
#include <tuple>
#include <utility>

namespace herald::state {

namespace {

constexpr std::int64_t max_ms = std::numeric_limits<std::int64_t>::max();

// Meta keys after the task prefix: one tag byte, so other per-task metadata can be added
// without a new store.
constexpr char offset_tag = 'o';     // + topic -> be64(next offset)
constexpr char watermark_tag = 'w';  // -> be64(order_preserving(watermark))
constexpr char sequence_tag = 'q';   // -> be64(next outbox sequence)
// Local bookkeeping of the changelog, never logged itself.
constexpr char checkpoint_tag = 'k';  // + store byte -> be64(next changelog offset included)
constexpr char pending_tag = 'p';     // + be64(log number): a commit not all acknowledged

// Outbox value v1: [1][be32 topic size][topic][be32 key size][key][value...].
// Outbox value v2: [2][topic][key][be32 header count]([name][value])*[value...], each
// bracketed field but the last value length-prefixed with a be32.
constexpr char outbox_format_v1 = 1;
constexpr char outbox_format_v2 = 2;
// Outbox value v3: v2 with a flags byte after the version: 1 = null key, 2 = null value.
constexpr char outbox_format_v3 = 3;

// Timer keys are prefix (5) + be64 fire time (8) + entity key.
constexpr std::size_t timer_key_head = 13;

std::string meta_key(const std::string& prefix, char tag, std::string_view rest = {}) {
  std::string k = prefix;
  k.push_back(tag);
  k.append(rest);
  return k;
}

std::string outbox_key(const std::string& prefix, std::uint64_t seq) {
  std::string k = prefix;
  append_be64(k, seq);
  return k;
}

void append_field(std::string& out, std::string_view field) {
  append_be32(out, static_cast<std::uint32_t>(field.size()));
  out.append(field);
}

void encode_outbox(std::string& out, const outbox_record& r) {
  out.reserve(13 + r.topic.size() + r.key.size() + r.value.size());
  out.push_back(outbox_format_v3);
  out.push_back(static_cast<char>((r.key_null ? 1 : 0) | (r.value_null ? 2 : 0)));
  append_field(out, r.topic);
  append_field(out, r.key);
  append_be32(out, static_cast<std::uint32_t>(r.headers.size()));
  for (const auto& [name, value] : r.headers) {
    append_field(out, name);
    append_field(out, value);
  }
  out.append(r.value);
}

bool decode_outbox(std::string_view in, outbox_record& out) {
  if (in.empty() || in[0] < outbox_format_v1 || in[0] > outbox_format_v3) return false;
  const bool has_headers = in[0] >= outbox_format_v2;
  const bool has_flags = in[0] >= outbox_format_v3;
  in.remove_prefix(1);
  out.key_null = out.value_null = false;
  if (has_flags) {
    if (in.empty()) return false;
    const auto flags = static_cast<unsigned char>(in[0]);
    out.key_null = (flags & 1) != 0;
    out.value_null = (flags & 2) != 0;
    in.remove_prefix(1);
  }
  auto take = [&in](std::string& field) {
    if (in.size() < 4) return false;
    std::uint32_t n = read_be32(in);
    in.remove_prefix(4);
    if (in.size() < n) return false;
    field.assign(in.substr(0, n));
    in.remove_prefix(n);
    return true;
  };
  if (!take(out.topic) || !take(out.key)) return false;
  out.headers.clear();
  if (has_headers) {
    if (in.size() < 4) return false;
    const std::uint32_t count = read_be32(in);
    in.remove_prefix(4);
    if (count > in.size() / 8) return false;  // each header takes at least 8 bytes
    out.headers.resize(count);
    for (auto& [name, value] : out.headers)
      if (!take(name) || !take(value)) return false;
  }
  out.value.assign(in);
  return true;
}

std::int64_t timer_fire(std::string_view full_key) {
  return from_order_preserving(read_be64(full_key.substr(5)));
}

}  // namespace

int log_stage(store s) noexcept {
  switch (s) {
    case store::outbox:
      return -1;
    case store::timers:
      return 1;
    case store::seen:
    case store::meta:
      return 2;
    default:
      return 0;
  }
}

task_state::task_state(db& database, task_id task, bool changelog)
    : db_(database),
      task_(task),
      prefix_(task_prefix(task)),
      batch_(database.batch()),
      changelog_(changelog) {
  const std::string end = task_prefix_end(task);
  if (changelog_) {
    std::string last;
    const status ls = db_.last_key(store::meta, meta_key(prefix_, pending_tag),
                                   meta_key(prefix_, static_cast<char>(pending_tag + 1)), last);
    if (ls.ok() && last.size() == prefix_.size() + 9)
      next_log_ = read_be64(std::string_view(last).substr(prefix_.size() + 1)) + 1;
    if (!ls.not_found()) note_error(ls);
  }

  note_error(db_.scan(store::meta, meta_key(prefix_, offset_tag),
                      meta_key(prefix_, static_cast<char>(offset_tag + 1)),
                      [this](std::string_view k, std::string_view v) {
                        if (v.size() == 8)
                          offsets_[std::string(k.substr(prefix_.size() + 1))] =
                              static_cast<std::int64_t>(read_be64(v));
                        return true;
                      }));

  std::string raw;
  status st = db_.get(store::meta, meta_key(prefix_, watermark_tag), raw);
  if (st.ok() && raw.size() == 8) watermark_ = from_order_preserving(read_be64(raw));
  if (!st.not_found()) note_error(st);

  // 'q' is written with every batch of outbox records, so it alone would do; the last outbox
  // key is a second opinion that costs one reverse seek.
  st = db_.get(store::meta, meta_key(prefix_, sequence_tag), raw);
  if (st.ok() && raw.size() == 8) next_seq_ = std::max(next_seq_, read_be64(raw));
  if (!st.not_found()) note_error(st);
  std::string last;
  st = db_.last_key(store::outbox, prefix_, end, last);
  if (st.ok() && last.size() == prefix_.size() + 8)
    next_seq_ = std::max(next_seq_, read_be64(std::string_view(last).substr(prefix_.size())) + 1);
  if (!st.not_found()) note_error(st);

  std::optional<std::int64_t> first;
  note_error(db_.scan(store::timers, prefix_, end, [&](std::string_view k, std::string_view) {
    if (!first) first = timer_fire(k);
    ++timer_count_;
    return true;
  }));
  committed_next_ = first;
  committed_next_valid_ = read_error_.ok();
  committed_floor_ = first.value_or(max_ms);
}

void task_state::note_error(const status& st) const {
  if (!st.ok() && read_error_.ok()) read_error_ = st;
}

status task_state::get(store s, std::string_view key, std::string& value) const {
  return db_.get(s, key, value);
}

void task_state::put(store s, std::string_view key, std::string_view value) {
  batch_.put(s, key, value);
}

void task_state::del(store s, std::string_view key) {
  batch_.del(s, key);
}

// ---- timers -----------------------------------------------------------------------------
//
// The effective timer set is (committed − timer_dels_) ∪ timer_adds_, and the two parts are
// kept disjoint: a pending add that replaces a committed timer also puts that timer into
// timer_dels_. Commit writes the deletes before the puts, so such a replacement survives.

bool task_state::committed_live(std::int64_t fire_ms, std::string_view key) {
  std::pair<std::int64_t, std::string> id{fire_ms, std::string(key)};
  if (timer_dels_.contains(id)) return false;
  // Cheap answers first: no committed timers left, or below the floor.
  const auto committed = timer_count_ - static_cast<std::int64_t>(timer_adds_.size());
  if (committed <= 0 || fire_ms < committed_floor_) return false;
  std::string ignored;
  status st = db_.get(store::timers, timer_key(task_, fire_ms, key), ignored);
  if (st.ok()) return true;
  if (!st.not_found()) note_error(st);
  return false;
}

void task_state::schedule(std::int64_t fire_ms, std::string_view key, std::string_view payload) {
  auto id = std::make_pair(fire_ms, std::string(key));
  if (auto it = timer_adds_.find(id); it != timer_adds_.end()) {
    it->second.assign(payload);
    return;
  }
  if (committed_live(fire_ms, key)) {
    // Replace the committed one (its payload may differ); the count stays.
    timer_dels_.insert(id);
    if (committed_next_valid_ && committed_next_ == fire_ms) committed_next_valid_ = false;
  } else {
    ++timer_count_;
  }
  timer_adds_.emplace(std::move(id), std::string(payload));
}

void task_state::schedule_new(std::int64_t fire_ms, std::string_view key,
                              std::string_view payload) {
  if (timer_adds_.emplace(std::make_pair(fire_ms, std::string(key)), std::string(payload)).second)
    ++timer_count_;
}

void task_state::cancel(std::int64_t fire_ms, std::string_view key) {
  auto id = std::make_pair(fire_ms, std::string(key));
  if (auto it = timer_adds_.find(id); it != timer_adds_.end()) {
    // A replaced committed timer is already in timer_dels_.
    timer_adds_.erase(it);
    --timer_count_;
    return;
  }
  if (!committed_live(fire_ms, key)) return;
  timer_dels_.insert(std::move(id));
  --timer_count_;
  if (committed_next_valid_ && committed_next_ == fire_ms) committed_next_valid_ = false;
}

void task_state::pop_due(std::int64_t up_to_ms, std::vector<timer>& out, std::size_t limit) {
  if (limit == 0) return;
  std::vector<timer> due;
  bool scan_cut = false;  // the scan stopped at the limit: committed timers may follow
  const auto committed = timer_count_ - static_cast<std::int64_t>(timer_adds_.size());
  if (committed > 0 && committed_floor_ <= up_to_ms) {
    const std::string begin = timer_key(task_, committed_floor_, {});
    const std::string end =
        up_to_ms == max_ms ? task_prefix_end(task_) : timer_key(task_, up_to_ms + 1, {});
    std::pair<std::int64_t, std::string> probe;
    note_error(db_.scan(store::timers, begin, end, [&](std::string_view k, std::string_view v) {
      if (k.size() < timer_key_head) return true;
      probe.first = timer_fire(k);
      probe.second.assign(k.substr(timer_key_head));
      if (!timer_dels_.empty() && timer_dels_.contains(probe)) return true;
      due.push_back(timer{probe.first, probe.second, std::string(v)});
      scan_cut = due.size() == limit;
      return !scan_cut;
    }));
  }

  auto adds_end = up_to_ms == max_ms
                      ? timer_adds_.end()
                      : timer_adds_.lower_bound(std::make_pair(up_to_ms + 1, std::string()));
  const std::size_t first_out = out.size();
  out.reserve(first_out + std::min(limit, due.size() + static_cast<std::size_t>(std::distance(
                                                           timer_adds_.begin(), adds_end))));

  // Merge the two sorted, disjoint sequences; committed ones become deletes, pending ones
  // simply vanish.
  auto a = timer_adds_.begin();
  std::size_t c = 0;
  while ((c < due.size() || a != adds_end) && out.size() - first_out < limit) {
    bool take_committed =
        a == adds_end || (c < due.size() && std::tie(due[c].fire_ms, due[c].key) <
                                                std::tie(a->first.first, a->first.second));
    if (take_committed) {
      timer_dels_.emplace(due[c].fire_ms, due[c].key);
      out.push_back(std::move(due[c]));
      ++c;
    } else {
      out.push_back(timer{a->first.first, a->first.second, std::move(a->second)});
      a = timer_adds_.erase(a);
    }
  }
  timer_count_ -= static_cast<std::int64_t>(out.size() - first_out);

  // Every committed timer below the floor is now in timer_dels_: up to up_to_ms, or, cut by
  // the limit, up to the first one left (or the last one scanned, when the scan was cut).
  if (c < due.size())
    committed_floor_ = std::max(committed_floor_, due[c].fire_ms);
  else if (scan_cut)
    committed_floor_ = std::max(committed_floor_, due.back().fire_ms);
  else if (up_to_ms != max_ms)
    committed_floor_ = std::max(committed_floor_, up_to_ms + 1);
  if (committed_next_valid_ && committed_next_ && *committed_next_ <= up_to_ms)
    committed_next_valid_ = false;
}

std::optional<std::int64_t> task_state::next_fire_ms() const {
  if (!committed_next_valid_) {
    const auto committed = timer_count_ - static_cast<std::int64_t>(timer_adds_.size());
    std::optional<std::int64_t> found;
    status st;
    if (committed > 0) {
      std::pair<std::int64_t, std::string> probe;
      st = db_.scan(store::timers, timer_key(task_, committed_floor_, {}), task_prefix_end(task_),
                    [&](std::string_view k, std::string_view) {
                      if (k.size() < timer_key_head) return true;
                      probe.first = timer_fire(k);
                      probe.second.assign(k.substr(timer_key_head));
                      if (!timer_dels_.empty() && timer_dels_.contains(probe)) return true;
                      found = probe.first;
                      return false;
                    });
    }
    note_error(st);
    if (st.ok()) {
      committed_next_ = found;
      committed_next_valid_ = true;
      if (found) committed_floor_ = *found;
    }
  }
  std::optional<std::int64_t> pending;
  if (!timer_adds_.empty()) pending = timer_adds_.begin()->first.first;
  if (!committed_next_valid_ || !committed_next_) return pending;
  if (!pending) return committed_next_;
  return std::min(*pending, *committed_next_);
}

// ---- offsets and watermark ----------------------------------------------------------------

void task_state::set_offset(std::string_view topic, std::int64_t next_offset) {
  offsets_[std::string(topic)] = next_offset;
  offsets_dirty_ = true;
}

std::optional<std::int64_t> task_state::offset(std::string_view topic) const {
  if (auto it = offsets_.find(std::string(topic)); it != offsets_.end()) return it->second;
  return std::nullopt;
}

void task_state::set_watermark(std::int64_t watermark_ms) {
  watermark_ = watermark_ms;
  watermark_dirty_ = true;
}

// ---- outbox -------------------------------------------------------------------------------

std::uint64_t task_state::add_output(std::string_view topic, std::string_view key,
                                     std::string_view value, const record_headers& headers,
                                     bool key_null, bool value_null) {
  const std::uint64_t seq = next_seq_++;
  pending_outputs_.push_back(outbox_record{seq, std::string(topic), std::string(key),
                                           std::string(value), headers, key_null, value_null});
  return seq;
}

void task_state::ack_outputs(const std::vector<std::uint64_t>& seqs) {
  for (std::uint64_t seq : seqs) batch_.del(store::outbox, outbox_key(prefix_, seq));
}

status task_state::load_outbox(std::vector<outbox_record>& out) const {
  status bad;
  status st = db_.scan(store::outbox, prefix_, task_prefix_end(task_),
                       [&](std::string_view k, std::string_view v) {
                         outbox_record r;
                         if (k.size() != prefix_.size() + 8 || !decode_outbox(v, r)) {
                           bad = {status::code::corruption, "undecodable outbox record"};
                           return false;
                         }
                         r.seq = read_be64(k.substr(prefix_.size()));
                         out.push_back(std::move(r));
                         return true;
                       });
  return st.ok() ? bad : st;
}

status task_state::ack_outbox(db& database, task_id task, const std::vector<std::uint64_t>& seqs) {
  if (seqs.empty()) return {};
  const std::string prefix = task_prefix(task);
  write_batch b = database.batch();
  for (std::uint64_t seq : seqs) b.del(store::outbox, outbox_key(prefix, seq));
  return database.write(b);
}

// ---- changelog ----------------------------------------------------------------------------

std::uint64_t task_state::take_log(std::vector<log_record>& out) {
  out = std::move(log_);
  log_.clear();
  const std::uint64_t n = last_log_;
  last_log_ = 0;
  return n;
}

void task_state::complete_log(const std::vector<std::uint64_t>& numbers,
                              const std::map<store, std::int64_t>& next_offsets) {
  set_checkpoints(batch_, task_, next_offsets);
  for (const std::uint64_t n : numbers) {
    std::string k = meta_key(prefix_, pending_tag);
    append_be64(k, n);
    batch_.del(store::meta, k);
  }
}

status task_state::read_log_position(const db& database, task_id task, log_position& out) {
  const std::string prefix = task_prefix(task);
  out = {};
  status st = database.scan(store::meta, meta_key(prefix, checkpoint_tag),
                            meta_key(prefix, static_cast<char>(checkpoint_tag + 1)),
                            [&](std::string_view k, std::string_view v) {
                              if (k.size() == prefix.size() + 2 && v.size() == 8)
                                out.checkpoints[static_cast<store>(k[prefix.size() + 1])] =
                                    static_cast<std::int64_t>(read_be64(v));
                              return true;
                            });
  if (!st.ok()) return st;
  std::string last;
  st = database.last_key(store::meta, meta_key(prefix, pending_tag),
                         meta_key(prefix, static_cast<char>(pending_tag + 1)), last);
  if (st.ok()) out.unclean = true;
  return st.ok() || st.not_found() ? status{} : st;
}

status task_state::mark_unclean(db& database, task_id task) {
  std::string k = meta_key(task_prefix(task), pending_tag);
  append_be64(k, ~std::uint64_t{0});  // no commit has this log number
  auto batch = database.batch();
  batch.put(store::meta, k, {});
  return database.write(batch);
}

status task_state::read_offsets(const db& database, task_id task,
                                std::map<std::string, std::int64_t>& out) {
  const std::string prefix = task_prefix(task);
  return database.scan(store::meta, meta_key(prefix, offset_tag),
                       meta_key(prefix, static_cast<char>(offset_tag + 1)),
                       [&](std::string_view k, std::string_view v) {
                         if (v.size() == 8)
                           out[std::string(k.substr(prefix.size() + 1))] =
                               static_cast<std::int64_t>(read_be64(v));
                         return true;
                       });
}

status task_state::wipe(db& database, task_id task) {
  const std::string begin = task_prefix(task), end = task_prefix_end(task);
  for (std::size_t i = 0; i < store_count; ++i)
    if (auto st = database.delete_range(static_cast<store>(i), begin, end); !st.ok()) return st;
  return {};
}

void task_state::set_checkpoints(write_batch& batch, task_id task,
                                 const std::map<store, std::int64_t>& next_offsets) {
  const std::string prefix = task_prefix(task);
  std::string buf;
  for (const auto& [s, next] : next_offsets) {
    buf.clear();
    append_be64(buf, static_cast<std::uint64_t>(next));
    batch.put(store::meta, meta_key(prefix, checkpoint_tag, std::string(1, static_cast<char>(s))),
              buf);
  }
}

void task_state::apply_log(write_batch& batch, task_id task, store s, std::string_view key,
                           const std::string_view* value) {
  thread_local std::string full;  // restores apply millions: no allocation per record
  full = task_prefix(task);
  full.append(key);
  if (value != nullptr)
    batch.put(s, full, *value);
  else
    batch.del(s, full);
}

// ---- commit -------------------------------------------------------------------------------

std::size_t task_state::pending_ops() const noexcept {
  return batch_.count() + timer_adds_.size() + timer_dels_.size() +
         (offsets_dirty_ ? offsets_.size() : 0) + (watermark_dirty_ ? 1 : 0) +
         pending_outputs_.size();
}

status task_state::commit(std::vector<outbox_record>& committed_outputs) {
  if (pending_ops() == 0) return {};

  // Timer, offset and outbox changes stay in memory until here; appending them after a save
  // point lets a failed write leave batch_ exactly as the callers filled it.
  batch_.set_save_point();
  for (const auto& [fire, key] : timer_dels_)
    batch_.del(store::timers, timer_key(task_, fire, key));
  for (const auto& [id, payload] : timer_adds_)
    batch_.put(store::timers, timer_key(task_, id.first, id.second), payload);

  std::string buf;
  if (offsets_dirty_) {
    for (const auto& [topic, next] : offsets_) {
      buf.clear();
      append_be64(buf, static_cast<std::uint64_t>(next));
      batch_.put(store::meta, meta_key(prefix_, offset_tag, topic), buf);
    }
  }
  if (watermark_dirty_ && watermark_) {
    buf.clear();
    append_be64(buf, order_preserving(*watermark_));
    batch_.put(store::meta, meta_key(prefix_, watermark_tag), buf);
  }
  if (outbox_ && !pending_outputs_.empty()) {
    for (const auto& r : pending_outputs_) {
      buf.clear();
      encode_outbox(buf, r);
      batch_.put(store::outbox, outbox_key(prefix_, r.seq), buf);
    }
    // Acks delete outbox records; this keeps sequences unique even when all are gone.
    buf.clear();
    append_be64(buf, next_seq_);
    batch_.put(store::meta, meta_key(prefix_, sequence_tag), buf);
  }

  // The changes that leave this task's range for its changelog topics: everything but the
  // outbox and the changelog's own bookkeeping.
  std::vector<log_record> log;
  if (changelog_) {
    const std::size_t skip = prefix_.size();
    batch_.for_each([&](store s, std::string_view key, const std::string_view* value) {
      if (log_stage(s) < 0 || key.size() < skip) return;
      if (s == store::meta &&
          (key.size() == skip || key[skip] == checkpoint_tag || key[skip] == pending_tag))
        return;
      log.push_back(log_record{s, std::string(key.substr(skip)),
                               value ? std::string(*value) : std::string(), value == nullptr});
    });
    if (!log.empty()) {
      std::string k = meta_key(prefix_, pending_tag);
      append_be64(k, next_log_);
      batch_.put(store::meta, k, {});
    }
  }

  status st = db_.write(batch_);
  if (!st.ok()) {
    batch_.rollback_to_save_point();
    return st;
  }
  if (!log.empty()) {
    log_ = std::move(log);
    last_log_ = next_log_++;
  } else {
    log_.clear();
    last_log_ = 0;
  }

  if (!timer_adds_.empty()) {
    const std::int64_t first = timer_adds_.begin()->first.first;
    committed_floor_ = std::min(committed_floor_, first);
    if (committed_next_valid_) committed_next_ = std::min(committed_next_.value_or(max_ms), first);
  }
  timer_adds_.clear();
  timer_dels_.clear();
  offsets_dirty_ = false;
  watermark_dirty_ = false;
  if (committed_outputs.empty()) {
    committed_outputs = std::move(pending_outputs_);
  } else {
    committed_outputs.insert(committed_outputs.end(),
                             std::make_move_iterator(pending_outputs_.begin()),
                             std::make_move_iterator(pending_outputs_.end()));
  }
  pending_outputs_.clear();
  ++commits_;
  return {};
}

}  // namespace herald::state

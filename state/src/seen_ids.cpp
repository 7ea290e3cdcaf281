#include "herald/state/seen_ids.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "herald/state/keys.hpp"

namespace herald::state {

namespace {

constexpr std::int64_t lowest = std::numeric_limits<std::int64_t>::min();
constexpr char format_v1 = 1;  // value: [1] then little-endian 64-bit fingerprints

std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
  const std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

}  // namespace

seen_ids::seen_ids(task_state& state, seen_ids_config config)
    : state_(state),
      config_(config),
      width_ms_(std::max<std::int64_t>(config.window_ms / 4, 1)),
      floor_(lowest) {
  if (config_.window_ms <= 0) return;
  const std::string prefix = task_prefix(state_.id());
  const auto st = state_.database().scan(
      store::seen, prefix, task_prefix_end(state_.id()),
      [&](std::string_view k, std::string_view v) {
        if (k.size() != prefix.size() + 16 || v.empty() || v[0] != format_v1) return true;
        const std::int64_t g = from_order_preserving(read_be64(k.substr(prefix.size())));
        const std::uint64_t seq = read_be64(k.substr(prefix.size() + 8));
        next_seq_ = std::max(next_seq_, seq + 1);
        generation& gen = generations_[g];
        gen.stored.push_back(seq);
        for (std::size_t i = 1; i + 8 <= v.size(); i += 8) {
          std::uint64_t fp = 0;
          std::memcpy(&fp, v.data() + i, 8);
          if (fp != 0 && insert(gen, fp)) ++size_;
        }
        return true;
      });
  (void)st;  // unreadable: the ids are forgotten, which at worst applies a repeat again
  while (size_ > config_.max_ids && !generations_.empty()) drop_oldest(/*early=*/true);
}

std::int64_t seen_ids::generation_of(std::int64_t ts_ms) const noexcept {
  return floor_div(ts_ms, width_ms_);
}

bool seen_ids::insert(generation& g, std::uint64_t fp) {
  if (g.slots.empty() || (g.n + 1) * 4 > g.slots.size() * 3) {
    std::vector<std::uint64_t> old = std::move(g.slots);
    g.slots.assign(std::max<std::size_t>(64, old.size() * 2), 0);
    const std::size_t mask = g.slots.size() - 1;
    for (const std::uint64_t f : old) {
      if (f == 0) continue;
      std::size_t i = f & mask;
      while (g.slots[i] != 0) i = (i + 1) & mask;
      g.slots[i] = f;
    }
  }
  const std::size_t mask = g.slots.size() - 1;
  std::size_t i = fp & mask;
  while (g.slots[i] != 0) {
    if (g.slots[i] == fp) return false;
    i = (i + 1) & mask;
  }
  g.slots[i] = fp;
  ++g.n;
  return true;
}

bool seen_ids::contains(const generation& g, std::uint64_t fp) noexcept {
  if (g.slots.empty()) return false;
  const std::size_t mask = g.slots.size() - 1;
  for (std::size_t i = fp & mask; g.slots[i] != 0; i = (i + 1) & mask)
    if (g.slots[i] == fp) return true;
  return false;
}

bool seen_ids::repeat(char kind, std::string_view entity, std::string_view id, std::int64_t ts_ms) {
  if (config_.window_ms <= 0 || id.empty()) return false;
  const std::int64_t g = generation_of(ts_ms);
  if (g < floor_) return false;  // older than the window
  buffer_.assign(1, kind);
  buffer_.append(entity);
  buffer_.push_back('\0');
  buffer_.append(id);
  std::uint64_t fp = hash64(buffer_);
  if (fp == 0) fp = 1;
  // A repeat has the same event time, so the same generation, unless its producer changed
  // the time on retry; the others are checked too (a few, each one probe).
  for (const auto& [n, gen] : generations_)
    if (n != g && contains(gen, fp)) return true;
  generation& gen = generations_[g];
  if (!insert(gen, fp)) return true;
  gen.pending.push_back(fp);
  if (++size_ > config_.max_ids) drop_oldest(/*early=*/true);
  return false;
}

void seen_ids::drop_oldest(bool early) {
  auto it = generations_.begin();
  for (const std::uint64_t seq : it->second.stored) garbage_.push_back(key(it->first, seq));
  size_ -= it->second.n;
  if (early) evicted_ += it->second.n;
  floor_ = std::max(floor_, it->first + 1);
  generations_.erase(it);
}

std::string seen_ids::key(std::int64_t generation, std::uint64_t seq) const {
  std::string k = task_prefix(state_.id());
  append_be64(k, order_preserving(generation));
  append_be64(k, seq);
  return k;
}

void seen_ids::flush() {
  for (auto& [n, gen] : generations_) {
    if (gen.pending.empty()) continue;
    std::string v(1, format_v1);
    v.resize(1 + 8 * gen.pending.size());
    std::memcpy(v.data() + 1, gen.pending.data(), 8 * gen.pending.size());
    gen.stored.push_back(next_seq_);
    state_.put(store::seen, key(n, next_seq_++), v);
    gen.pending.clear();
  }
  for (const auto& k : garbage_) state_.del(store::seen, k);
  garbage_.clear();
}

void seen_ids::expire(std::int64_t watermark_ms) {
  if (config_.window_ms <= 0) return;
  if (watermark_ms > lowest + config_.window_ms)
    floor_ = std::max(floor_, generation_of(watermark_ms - config_.window_ms));
  while (!generations_.empty() && generations_.begin()->first < floor_) drop_oldest(false);
}

}  // namespace herald::state

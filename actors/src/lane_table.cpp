#include "herald/actors/lane_table.hpp"

#include <algorithm>
#include <charconv>

#include "herald/state/bytes.hpp"

namespace herald::actors {
namespace {

constexpr std::uint8_t record_version = 1;
constexpr char key_separator = '\x1f';

}  // namespace

void lane_table::encode(std::int32_t partition, std::string_view lane, std::int64_t ts_ms,
                        const rules::lane_stats& stats, std::string& key, std::string& value) {
  key.assign(lane);
  key.push_back(key_separator);
  key.append(std::to_string(partition));
  value.clear();
  state::byte_writer w(value);
  w.u8(record_version);
  w.svarint(ts_ms);
  stats.encode(value);
}

bool lane_table::apply(std::string_view key, std::string_view value) {
  const auto sep = key.rfind(key_separator);
  if (sep == std::string_view::npos) return false;
  const std::string_view digits = key.substr(sep + 1);
  std::int32_t partition = -1;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), partition);
  if (ec != std::errc() || end != digits.data() + digits.size() || partition < 0) return false;
  state::byte_reader r(value);
  std::uint8_t version = 0;
  std::int64_t ts_ms = 0;
  rules::lane_stats stats;
  if (!r.u8(version) || version != record_version || !r.integer(ts_ms) ||
      !rules::lane_stats::decode(r.rest(), stats))
    return false;
  insert(partition, key.substr(0, sep), ts_ms, std::string(r.rest()));
  return true;
}

void lane_table::publish(std::int32_t partition, std::string_view lane, std::int64_t ts_ms,
                         const rules::lane_stats& stats) {
  std::string encoded;
  stats.encode(encoded);
  insert(partition, lane, ts_ms, std::move(encoded));
}

void lane_table::insert(std::int32_t partition, std::string_view lane, std::int64_t ts_ms,
                        std::string&& stats) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = lanes_.find(lane);
  if (it == lanes_.end())
    it = lanes_.emplace(std::string(lane), std::vector<partition_versions>{}).first;
  auto p = std::find_if(it->second.begin(), it->second.end(),
                        [&](const partition_versions& v) { return v.partition == partition; });
  if (p == it->second.end()) {
    it->second.push_back({partition, {}});
    p = std::prev(it->second.end());
  }
  auto& v = p->versions;
  auto after = [&] {
    return std::upper_bound(v.begin(), v.end(), ts_ms,
                            [](std::int64_t ts, const version& x) { return ts < x.ts_ms; });
  };
  auto at = after();
  // Several deliveries of one instant: the last published holds them all.
  if (at != v.begin() && std::prev(at)->ts_ms == ts_ms) {
    std::prev(at)->stats = std::move(stats);
    return;
  }
  if (v.size() == versions_kept) {
    // Every other one of the older half goes: recent versions stay dense, older ones sparser,
    // so the kept history reaches twice as far back each time it fills.
    std::size_t kept = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (i < versions_kept / 2 && i % 2 == 1) continue;
      if (kept != i) v[kept] = std::move(v[i]);
      ++kept;
    }
    v.resize(kept);
    at = after();
  }
  v.insert(at, {ts_ms, std::move(stats)});
}

void lane_table::add_others(std::string_view lane, std::int32_t partition, std::int64_t before_ms,
                            rules::lane_stats& out) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = lanes_.find(lane);
  if (it == lanes_.end()) return;
  rules::lane_stats stats;
  for (const auto& p : it->second) {
    if (p.partition == partition) continue;
    auto at = std::lower_bound(p.versions.begin(), p.versions.end(), before_ms,
                               [](const version& x, std::int64_t ts) { return x.ts_ms < ts; });
    if (at == p.versions.begin()) continue;  // nothing delivered before then, as far as kept
    if (rules::lane_stats::decode(std::prev(at)->stats, stats)) out.merge(stats);
  }
}

std::size_t lane_table::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return lanes_.size();
}

}  // namespace herald::actors

#include "herald/state/keys.hpp"

#include <cstring>

namespace herald::state {

std::string_view to_string(family f) noexcept {
  switch (f) {
    case family::customer:
      return "customer";
    case family::sku:
      return "sku";
    case family::shipment:
      return "shipment";
  }
  return "unknown";
}

void append_be32(std::string& out, std::uint32_t v) {
  char buf[4];
  for (int i = 3; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xffu);
    v >>= 8;
  }
  out.append(buf, sizeof buf);
}

void append_be64(std::string& out, std::uint64_t v) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xffu);
    v >>= 8;
  }
  out.append(buf, sizeof buf);
}

std::uint32_t read_be32(std::string_view in) noexcept {
  if (in.size() < 4) return 0;
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

std::uint64_t read_be64(std::string_view in) noexcept {
  if (in.size() < 8) return 0;
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

// MurmurHash64A (Austin Appleby, public domain).
std::uint64_t hash64(std::string_view in) noexcept {
  constexpr std::uint64_t m = 0xc6a4a7935bd1e995ull;
  constexpr int r = 47;
  std::uint64_t h = 0x9e3779b97f4a7c15ull ^ (in.size() * m);
  const char* p = in.data();
  const char* end = p + (in.size() & ~std::size_t{7});
  for (; p != end; p += 8) {
    std::uint64_t k = 0;
    std::memcpy(&k, p, 8);
    k *= m;
    k ^= k >> r;
    k *= m;
    h ^= k;
    h *= m;
  }
  const std::size_t rest = in.size() & 7;
  if (rest != 0) {
    std::uint64_t k = 0;
    for (std::size_t i = 0; i < rest; ++i)
      k |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
    h ^= k;
    h *= m;
  }
  h ^= h >> r;
  h *= m;
  h ^= h >> r;
  return h;
}

std::string task_prefix(task_id task) {
  std::string out;
  out.reserve(5);
  out.push_back(static_cast<char>(task.fam));
  // Partitions are never negative; the cast keeps the byte layout total anyway.
  append_be32(out, static_cast<std::uint32_t>(task.partition));
  return out;
}

std::string task_prefix_end(task_id task) {
  // The prefix read as a 40-bit big-endian number, plus one, so it equals the next task's
  // prefix. Only (255, 0xffffffff) has no successor; an empty string then means "no bound".
  std::string out = task_prefix(task);
  for (auto i = out.size(); i-- > 0;) {
    auto& byte = reinterpret_cast<unsigned char&>(out[i]);
    if (byte != 0xff) {
      ++byte;
      return out;
    }
    byte = 0;
  }
  return {};
}

std::string entity_key(task_id task, std::string_view key) {
  std::string out = task_prefix(task);
  out.append(key);
  return out;
}

std::string timer_key(task_id task, std::int64_t fire_ms, std::string_view key) {
  std::string out = task_prefix(task);
  out.reserve(out.size() + 8 + key.size());
  append_be64(out, order_preserving(fire_ms));
  out.append(key);
  return out;
}

}  // namespace herald::state

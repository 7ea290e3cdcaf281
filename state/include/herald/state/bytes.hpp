#pragma once
/// Tiny binary writer/reader for persisted values (every value starts with a format version
/// byte written by its owner). Header-only; used by operators' state types.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace herald::state {

/// Appends fixed-width and length-prefixed fields to a string.
class byte_writer {
 public:
  explicit byte_writer(std::string& out) : out_(out) {}
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  /// Zig-zag, so small negative numbers stay small.
  void svarint(std::int64_t v) {
    varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
  }
  void f64(double v) {
    char buf[8];
    std::memcpy(buf, &v, 8);
    out_.append(buf, 8);
  }
  void str(std::string_view s) {
    varint(s.size());
    out_.append(s.data(), s.size());
  }

 private:
  std::string& out_;
};

/// Reads what `byte_writer` wrote; every read returns false once the input is exhausted or
/// corrupt, so decoders can reject bad bytes instead of crashing.
class byte_reader {
 public:
  explicit byte_reader(std::string_view in) : in_(in) {}
  bool u8(std::uint8_t& v) {
    if (in_.empty()) return false;
    v = static_cast<std::uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool varint(std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      std::uint8_t b = 0;
      if (!u8(b)) return false;
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool svarint(std::int64_t& v) {
    std::uint64_t u = 0;
    if (!varint(u)) return false;
    v = static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1));
    return true;
  }
  template <class Int>
  bool integer(Int& v) {
    std::int64_t x = 0;
    if (!svarint(x)) return false;
    v = static_cast<Int>(x);
    return true;
  }
  bool f64(double& v) {
    if (in_.size() < 8) return false;
    std::memcpy(&v, in_.data(), 8);
    in_.remove_prefix(8);
    return true;
  }
  bool str(std::string& s) {
    std::uint64_t n = 0;
    if (!varint(n) || n > in_.size()) return false;
    s.assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  [[nodiscard]] bool done() const noexcept { return in_.empty(); }
  /// What is left to read.
  [[nodiscard]] std::string_view rest() const noexcept { return in_; }

 private:
  std::string_view in_;
};

}  // namespace herald::state

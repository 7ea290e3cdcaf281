#pragma once
/// RFC 3339 timestamps ("2019-10-01T00:00:00Z", "2019-10-01T02:00:00.123+02:00") to epoch
/// milliseconds. Private to the schemas module.

#include <cstdint>
#include <string_view>

namespace herald::schemas::detail {

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
[[nodiscard]] constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m,
                                                     unsigned d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

[[nodiscard]] constexpr unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
  constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
}

/// Parses RFC 3339 `date-time`: `YYYY-MM-DD` `T` `HH:MM:SS` [`.` digits] (`Z` | `±HH:MM`).
/// `t`/`z` and a space instead of `T` are accepted (RFC 3339 section 5.6 allows both).
/// Fractions beyond milliseconds are truncated; a leap second (`:60`) counts as the first
/// second of the next minute. Returns false on anything else, including impossible dates.
[[nodiscard]] constexpr bool parse_rfc3339(std::string_view s, std::int64_t& epoch_ms) noexcept {
  if (s.size() < 20) return false;
  const auto digits = [s](std::size_t pos, std::size_t n, unsigned& value) {
    value = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      value = value * 10 + static_cast<unsigned>(s[i] - '0');
    }
    return true;
  };
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(0, 4, year) || s[4] != '-' || !digits(5, 2, month) || s[7] != '-' ||
      !digits(8, 2, day)) {
    return false;
  }
  if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return false;
  if (!digits(11, 2, hour) || s[13] != ':' || !digits(14, 2, minute) || s[16] != ':' ||
      !digits(17, 2, second)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return false;
  }
  std::size_t pos = 19;
  std::int64_t fraction_ms = 0;
  if (s[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    std::int64_t scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      fraction_ms += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return false;
  }
  if (pos >= s.size()) return false;
  std::int64_t offset_s = 0;
  const char zone = s[pos];
  if (zone == 'Z' || zone == 'z') {
    ++pos;
  } else if (zone == '+' || zone == '-') {
    unsigned offset_h = 0, offset_m = 0;
    if (s.size() - pos < 6 || !digits(pos + 1, 2, offset_h) || s[pos + 3] != ':' ||
        !digits(pos + 4, 2, offset_m) || offset_h > 23 || offset_m > 59) {
      return false;
    }
    const std::int64_t magnitude = static_cast<std::int64_t>(offset_h) * 3600 + offset_m * 60;
    offset_s = zone == '-' ? -magnitude : magnitude;
    pos += 6;
  } else {
    return false;
  }
  if (pos != s.size()) return false;
  const std::int64_t seconds = days_from_civil(year, month, day) * 86400 +
                               static_cast<std::int64_t>(hour * 3600 + minute * 60 + second) -
                               offset_s;
  epoch_ms = seconds * 1000 + fraction_ms;
  return true;
}

}  // namespace herald::schemas::detail

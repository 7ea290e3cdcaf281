#pragma once
// The Olist sample's ground truth, computed from the CSV's date strings alone (independently of
// how the replay turns them into timestamps): which orders were delivered after their
// estimated date.

#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace herald::test {

inline std::string olist_dir() {
  return std::string(HERALD_TEST_DATA) + "/olist_orders_sample";
}

/// Days since 1970-01-01 of a "YYYY-MM-DD..." date (the civil calendar, no time zone).
inline long days_of(const std::string& date) {
  long y = std::stol(date.substr(0, 4));
  const long m = std::stol(date.substr(5, 2)), d = std::stol(date.substr(8, 2));
  y -= m <= 2 ? 1 : 0;
  const long era = (y >= 0 ? y : y - 399) / 400;
  const long yoe = y - era * 400;
  const long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/// Orders delivered more than `grace_days` days after their estimated date (dates only,
/// YYYY-MM-DD); `with_both_dates` counts the orders that have both.
inline std::set<std::string> late_orders_from_csv(std::size_t& with_both_dates,
                                                  long grace_days = 0) {
  std::ifstream in(olist_dir() + "/olist_orders_dataset.csv");
  std::string line;
  std::getline(in, line);
  std::set<std::string> late;
  with_both_dates = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> f(1);
    for (char c : line) {
      if (c == ',')
        f.emplace_back();
      else if (c != '\r')
        f.back().push_back(c);
    }
    if (f.size() < 8 || f[6].size() < 10 || f[7].size() < 10) continue;
    ++with_both_dates;
    if (days_of(f[6]) - days_of(f[7]) > grace_days) late.insert(f[0]);
  }
  return late;
}

}  // namespace herald::test

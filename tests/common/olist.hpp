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
  return std::string(HERALD_SHARED_DATA) + "/olist_orders_sample";
}

/// Orders whose delivery date (YYYY-MM-DD) is after their estimated date; `with_both_dates`
/// counts the orders that have both.
inline std::set<std::string> late_orders_from_csv(std::size_t& with_both_dates) {
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
    if (f[6].substr(0, 10) > f[7].substr(0, 10)) late.insert(f[0]);
  }
  return late;
}

}  // namespace herald::test

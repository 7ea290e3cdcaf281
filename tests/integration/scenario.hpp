#pragma once
// The scripted shop scenario of the integration tests: several customers (abandon, buy, clear,
// empty, re-activate, anonymous, buy after a reminder) plus malformed records, with exactly
// what Herald must emit for it.

#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace herald::testing {

struct input {
  std::string topic;
  std::string key;
  std::string value;
};

struct expected_reminder {
  std::string customer;
  int number;
  std::int64_t ts_ms;
  std::vector<std::string> skus;
  std::string coupon;
};

struct expected_dlq {
  std::string key;
  std::string reason_fragment;  // must appear in the herald.error header
};

constexpr std::int64_t t0 = 1'700'000'000'000;
constexpr std::int64_t min_ms = 60'000;
constexpr std::int64_t hour_ms = 60 * min_ms;
constexpr std::int64_t day_ms = 24 * hour_ms;

inline std::string add(const std::string& c, const std::string& cart, const std::string& sku,
                       int qty, std::int64_t ts, bool anonymous = false) {
  return fmt::format(
      R"({{"type":"cart_item_added","event_id":"{}-add-{}-{}","ts":{},"customer_id":"{}","cart_id":"{}","sku":"{}","quantity":{},"unit_price":12.5,"currency":"EUR"{}}})",
      c, sku, ts, ts, c, cart, sku, qty, anonymous ? R"(,"anonymous":true)" : "");
}
inline std::string simple(const std::string& type, const std::string& c, const std::string& cart,
                          std::int64_t ts) {
  return fmt::format(
      R"({{"type":"{}","event_id":"{}-{}-{}","ts":{},"customer_id":"{}","cart_id":"{}"}})", type, c,
      type, ts, ts, c, cart);
}
inline std::string remove_all(const std::string& c, const std::string& cart, const std::string& sku,
                              std::int64_t ts) {
  return fmt::format(
      R"({{"type":"cart_item_removed","event_id":"{}-rm-{}","ts":{},"customer_id":"{}","cart_id":"{}","sku":"{}"}})",
      c, ts, ts, c, cart, sku);
}
inline std::string order(const std::string& c, const std::string& cart, std::int64_t ts) {
  return fmt::format(
      R"({{"type":"order_placed","event_id":"{}-order-{}","ts":{},"customer_id":"{}","order_id":"o-{}","cart_id":"{}","lines":[{{"sku":"sku-1","quantity":1,"unit_price":12.5}}],"total":12.5,"currency":"EUR"}})",
      c, ts, ts, c, c, cart);
}

struct scenario {
  std::string carts = "shop.carts";
  std::string clicks = "shop.clickstream";
  std::vector<input> part1;  // up to t0 + 2 h
  std::vector<input> part2;  // the rest
  std::vector<expected_reminder> reminders;
  std::vector<expected_dlq> dlq;
  std::size_t valid = 0;
  /// Re-keyed by SKU to the SKU tasks: one per valid cart add, one per order line.
  std::size_t sku_signals = 0;

  scenario() {
    auto c = [&](std::vector<input>& v, const std::string& key, std::string value) {
      v.push_back({carts, key, std::move(value)});
    };
    // alice abandons two lines: reminders 1 and 2 (coupon).
    c(part1, "alice", add("alice", "ca", "sku-1", 2, t0));
    c(part1, "alice", add("alice", "ca", "sku-2", 1, t0 + 5 * min_ms));
    // bob checks out and buys: nothing.
    c(part1, "bob", add("bob", "cb", "sku-1", 1, t0));
    c(part1, "bob", simple("checkout_started", "bob", "cb", t0 + 10 * min_ms));
    c(part1, "bob", order("bob", "cb", t0 + 20 * min_ms));
    // carol clears her cart: nothing.
    c(part1, "carol", add("carol", "cc", "sku-3", 1, t0));
    c(part1, "carol", simple("cart_cleared", "carol", "cc", t0 + 15 * min_ms));
    // dave removes his only item: nothing.
    c(part1, "dave", add("dave", "cd", "sku-1", 1, t0));
    c(part1, "dave", remove_all("dave", "cd", "sku-1", t0 + 10 * min_ms));
    // erin gets reminder 1, comes back (re-arms), gets reminder 2, comes back again: no 3rd.
    c(part1, "erin", add("erin", "ce", "sku-4", 1, t0));
    c(part1, "erin", add("erin", "ce", "sku-5", 1, t0 + 90 * min_ms));  // after reminder 1
    // frank is anonymous: nothing.
    c(part1, "frank", add("frank", "cf", "sku-1", 1, t0, true));
    // grace buys 2 h later: reminder 1 was due before, reminder 2 never.
    c(part1, "grace", add("grace", "cg", "sku-6", 1, t0));
    valid = part1.size();

    c(part2, "grace", order("grace", "cg", t0 + 2 * hour_ms));
    c(part2, "erin", add("erin", "ce", "sku-7", 1, t0 + 2 * day_ms));  // after reminder 2
    // Malformed records: each must reach the DLQ byte for byte, with its reason.
    c(part2, "mallory", R"({"type":"cart_item_added","event_id":"m1","ts":1)");
    dlq.push_back({"mallory", "malformed"});
    c(part2, "mallory",
      fmt::format(R"({{"type":"cart_cleared","event_id":"m2","ts":{},"customer_id":"mallory"}})",
                  t0));
    dlq.push_back({"mallory", "cart_id"});
    c(part2, "mallory",
      fmt::format(
          R"({{"type":"cart_item_added","event_id":"m3","ts":{},"customer_id":"mallory","cart_id":"x","sku":"s","quantity":"two","unit_price":1,"currency":"EUR"}})",
          t0));
    dlq.push_back({"mallory", "quantity"});
    c(part2, "mallory",
      fmt::format(R"({{"type":"cart_teleported","event_id":"m4","ts":{},"customer_id":"mallory"}})",
                  t0));
    dlq.push_back({"mallory", "cart_teleported"});
    c(part2, "mallory", simple("cart_cleared", "eve", "cx", t0));  // key disagrees with body
    dlq.push_back({"mallory", "customer_id"});
    c(part2, "mallory",
      fmt::format(
          R"({{"type":"cart_cleared","event_id":"m6","ts":{},"customer_id":"mallory","cart_id":"{}"}})",
          t0, std::string(5000, 'x')));
    dlq.push_back({"mallory", "byte"});
    // Heartbeats: a later checkout of an unknown cart per customer moves each partition's
    // watermark past every due reminder without touching the carts.
    for (const char* who : {"alice", "bob", "carol", "dave", "erin", "frank", "grace"})
      c(part2, who, simple("checkout_started", who, "heartbeat", t0 + 4 * day_ms));
    // Clickstream traffic is consumed too. A task's watermark is the minimum over the
    // partitions it has heard from, so this click comes with the heartbeats.
    part2.push_back(
        {clicks, "alice",
         fmt::format(
             R"({{"type":"page_view","event_id":"pv-1","ts":{},"customer_id":"alice","session_id":"s1"}})",
             t0 + 4 * day_ms)});
    valid += part2.size() - dlq.size();
    for (const auto* part : {&part1, &part2})
      for (const auto& in : *part)
        if (in.key != "mallory" &&
            in.value.find(R"("type":"cart_item_added")") != std::string::npos)
          ++sku_signals;
    sku_signals += 2;  // bob's and grace's single-line orders

    reminders = {
        {"alice", 1, t0 + 5 * min_ms + hour_ms, {"sku-1", "sku-2"}, ""},
        {"alice", 2, t0 + 5 * min_ms + day_ms, {"sku-1", "sku-2"}, "COMEBACK10"},
        {"erin", 1, t0 + hour_ms, {"sku-4"}, ""},
        {"erin", 2, t0 + 90 * min_ms + day_ms, {"sku-4", "sku-5"}, "COMEBACK10"},
        {"grace", 1, t0 + hour_ms, {"sku-6"}, ""},
    };
  }

  [[nodiscard]] std::size_t total() const { return part1.size() + part2.size(); }
};

}  // namespace herald::testing

#include "herald/actors/traffic.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace herald::actors {

traffic_generator::traffic_generator(traffic_config config) : config_(config), rng_(config.seed) {}

std::uint32_t traffic_generator::pick_sku() {
  // Inverse-CDF of a power law: a few SKUs are popular, most are long tail.
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double x = std::pow(u(rng_), 2.5);
  return static_cast<std::uint32_t>(x * config_.skus);
}

double traffic_generator::price_of(std::uint32_t sku) {
  const double frac = static_cast<double>((sku * 2654435761ULL) % 10'007) / 10'007.0;
  return std::round(std::exp(2.5 + frac * 3.0) * 100) / 100;
}

std::string traffic_generator::sku_name(std::uint32_t sku) const {
  return fmt::format("sku-{}", sku);
}

std::int64_t traffic_generator::level(std::uint32_t sku, std::int64_t at_ms) {
  auto it = stock_.find(sku);
  if (it != stock_.end()) return it->second;
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const std::int64_t initial =
      u(rng_) < config_.sold_out_share ? 0 : 1 + static_cast<std::int64_t>(u(rng_) * 40);
  set_level(sku, initial, at_ms);
  return initial;
}

void traffic_generator::set_level(std::uint32_t sku, std::int64_t level, std::int64_t at_ms) {
  stock_[sku] = level;
  if (level == 0) sold_out_.push_back(sku);
  schemas::event ev;
  ev.type = schemas::event_type::stock_level;
  ev.sku = sku_name(sku);
  ev.location = "wh-1";
  ev.available = level;
  push(at_ms, std::move(ev));
}

void traffic_generator::push(std::int64_t at_ms, schemas::event ev) {
  ev.ts_ms = at_ms;
  due_.push(step{at_ms, seq_++, std::move(ev)});
}

void traffic_generator::start_journey(std::int64_t now_ms) {
  using schemas::event_type;
  const std::uint64_t j = journeys_++;
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::uniform_int_distribution<std::int64_t> secs(5'000, 90'000);
  schemas::event base;
  base.customer_id = fmt::format("cust-{}", (j * 2654435761ULL) % config_.customers);
  base.session_id = fmt::format("sess-{}", j);
  base.cart_id = fmt::format("cart-{}", j);
  base.currency = "EUR";
  base.anonymous = u(rng_) < config_.anonymous_share;
  const bool bot = u(rng_) < config_.bot_share;
  if (bot) base.customer_id = fmt::format("bot-{}", j);
  std::int64_t t = now_ms;
  if (!sold_out_.empty() && u(rng_) < config_.restock_chance) {
    const std::size_t i = static_cast<std::size_t>(u(rng_) * sold_out_.size()) % sold_out_.size();
    const std::uint32_t sku = sold_out_[i];
    sold_out_[i] = sold_out_.back();
    sold_out_.pop_back();
    if (stock_[sku] == 0) set_level(sku, 5 + static_cast<std::int64_t>(u(rng_) * 30), t);
  }

  schemas::event pv = base;
  pv.type = event_type::page_view;
  pv.url = "/";
  push(t, pv);
  if (bot) {  // a scraper: product page after product page, a second apart
    for (int i = 0; i < config_.bot_views; ++i) {
      schemas::event v = base;
      v.type = event_type::product_view;
      const std::uint32_t sku = pick_sku();
      v.sku = sku_name(sku);
      v.price = price_of(sku);
      push(t += 1'000, v);
    }
    return;
  }
  const int views = 1 + static_cast<int>(u(rng_) * 4);
  std::vector<schemas::order_line> lines;
  for (int i = 0; i < views; ++i) {
    schemas::event v = base;
    v.type = event_type::product_view;
    const std::uint32_t sku = pick_sku();
    v.sku = sku_name(sku);
    v.price = price_of(sku);
    t += secs(rng_);
    push(t, v);
    if (level(sku, t) == 0) {  // sold out: some ask to be told when it is back
      if (!base.anonymous && u(rng_) < 0.5) {
        schemas::event nm = base;
        nm.type = event_type::notify_me;
        nm.sku = v.sku;
        t += secs(rng_);
        push(t, nm);
      }
      continue;
    }
    if (u(rng_) < 0.45 || (i == views - 1 && lines.empty())) {
      schemas::event add = base;
      add.type = event_type::cart_item_added;
      add.sku = v.sku;
      add.quantity = 1 + static_cast<int>(u(rng_) * u(rng_) * 3);
      add.unit_price = v.price;
      t += secs(rng_);
      push(t, add);
      lines.push_back({add.sku, add.quantity, add.unit_price, {}});
    }
  }
  const double outcome = u(rng_);
  schemas::event e = base;
  if (lines.empty()) return;  // everything viewed was sold out
  if (outcome < 0.35) {       // buys
    e.type = event_type::checkout_started;
    t += secs(rng_);
    push(t, e);
    e.type = event_type::order_placed;
    e.order_id = fmt::format("order-{}", j);
    e.lines = lines;
    e.total = 0;
    for (const auto& l : lines) e.total += static_cast<double>(l.quantity) * l.unit_price;
    t += secs(rng_) * 3;
    push(t, e);
    for (const auto& l : lines) {  // the warehouse ships: stock goes down
      const auto sku = static_cast<std::uint32_t>(std::stoul(l.sku.substr(4)));
      set_level(sku, std::max<std::int64_t>(0, stock_[sku] - l.quantity), t + 1000);
    }
  } else if (outcome < 0.45) {  // clears the cart
    e.type = event_type::cart_cleared;
    t += secs(rng_) * 10;
    push(t, e);
  } else if (outcome < 0.50) {  // removes every item
    for (const auto& l : lines) {
      e.type = event_type::cart_item_removed;
      e.sku = l.sku;
      e.quantity = 0;
      t += secs(rng_);
      push(t, e);
    }
  } else if (outcome < 0.62) {  // comes back after the first reminder, adds, abandons again
    e.type = event_type::cart_item_added;
    e.sku = sku_name(pick_sku());
    e.quantity = 1;
    e.unit_price = 19.99;
    t += 2 * 3'600'000 + secs(rng_) * 20;
    push(t, e);
  } else if (outcome < 0.70) {  // comes back after the first reminder and buys
    e.type = event_type::order_placed;
    e.order_id = fmt::format("order-{}", j);
    e.lines = lines;
    e.total = 0;
    for (const auto& l : lines) e.total += static_cast<double>(l.quantity) * l.unit_price;
    t += 3 * 3'600'000 + secs(rng_) * 20;
    push(t, e);
  }  // else: abandons
}

traffic_record traffic_generator::next(std::int64_t now_ms) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  ++events_;
  if (u(rng_) < config_.malformed_share) return malformed(now_ms);
  if (due_.empty() || due_.top().at_ms > now_ms) start_journey(now_ms);
  step s = due_.top();
  due_.pop();
  return encode(s.ev);
}

traffic_record traffic_generator::encode(const schemas::event& ev) {
  using schemas::event_type;
  traffic_record r;
  r.topic = schemas::topic_of(ev.type);
  const auto type = schemas::to_string(ev.type);
  const std::string id = fmt::format("ev-{}", events_);
  auto& v = r.value;
  if (ev.type == event_type::stock_level) {
    r.key = ev.sku;
    v = fmt::format(
        R"({{"type":"stock_level","event_id":"{}","ts":{},"sku":"{}","location":"{}","available":{}}})",
        id, ev.ts_ms, ev.sku, ev.location, ev.available);
    return r;
  }
  r.key = ev.customer_id;
  v = fmt::format(R"({{"type":"{}","event_id":"{}","ts":{},"customer_id":"{}")", type, id, ev.ts_ms,
                  ev.customer_id);
  switch (ev.type) {
    case event_type::page_view:
      fmt::format_to(std::back_inserter(v), R"(,"session_id":"{}","url":"{}")", ev.session_id,
                     ev.url);
      break;
    case event_type::product_view:
      fmt::format_to(std::back_inserter(v), R"(,"session_id":"{}","sku":"{}","price":{})",
                     ev.session_id, ev.sku, ev.price);
      break;
    case event_type::cart_item_added:
      fmt::format_to(std::back_inserter(v),
                     R"(,"cart_id":"{}","sku":"{}","quantity":{},"unit_price":{},"currency":"{}")",
                     ev.cart_id, ev.sku, ev.quantity, ev.unit_price, ev.currency);
      break;
    case event_type::notify_me:
    case event_type::wishlist_add:
      fmt::format_to(std::back_inserter(v), R"(,"sku":"{}")", ev.sku);
      break;
    case event_type::cart_item_removed:
      fmt::format_to(std::back_inserter(v), R"(,"cart_id":"{}","sku":"{}")", ev.cart_id, ev.sku);
      break;
    case event_type::cart_cleared:
    case event_type::checkout_started:
      fmt::format_to(std::back_inserter(v), R"(,"cart_id":"{}")", ev.cart_id);
      break;
    case event_type::order_placed: {
      fmt::format_to(std::back_inserter(v), R"(,"order_id":"{}","cart_id":"{}","lines":[)",
                     ev.order_id, ev.cart_id);
      for (std::size_t i = 0; i < ev.lines.size(); ++i)
        fmt::format_to(std::back_inserter(v), R"({}{{"sku":"{}","quantity":{},"unit_price":{}}})",
                       i ? "," : "", ev.lines[i].sku, ev.lines[i].quantity, ev.lines[i].unit_price);
      fmt::format_to(std::back_inserter(v), R"(],"total":{},"currency":"{}")", ev.total,
                     ev.currency);
      break;
    }
    default:
      break;
  }
  if (ev.anonymous && r.topic == schemas::topic_kind::carts) v += R"(,"anonymous":true)";
  v += '}';
  return r;
}

traffic_record traffic_generator::malformed(std::int64_t now_ms) {
  traffic_record r;
  r.topic = schemas::topic_kind::carts;
  r.malformed = true;
  r.key = fmt::format("cust-{}", events_ % config_.customers);
  switch (events_ % 4) {
    case 0:  // truncated JSON
      r.value =
          fmt::format(R"({{"type":"cart_item_added","event_id":"bad-{}","ts":{})", events_, now_ms);
      break;
    case 1:  // missing cart_id
      r.value =
          fmt::format(R"({{"type":"cart_cleared","event_id":"bad-{}","ts":{},"customer_id":"{}"}})",
                      events_, now_ms, r.key);
      break;
    case 2:  // wrong type
      r.value = fmt::format(
          R"({{"type":"cart_item_added","event_id":"bad-{}","ts":{},"customer_id":"{}","cart_id":"x","sku":"s","quantity":"two","unit_price":1,"currency":"EUR"}})",
          events_, now_ms, r.key);
      break;
    default:  // unknown event type
      r.value = fmt::format(
          R"({{"type":"cart_teleported","event_id":"bad-{}","ts":{},"customer_id":"{}"}})", events_,
          now_ms, r.key);
      break;
  }
  return r;
}

}  // namespace herald::actors

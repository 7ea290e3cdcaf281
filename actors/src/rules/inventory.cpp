#include "herald/actors/rules/inventory.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include "herald/actors/rules/stock_levels.hpp"
#include "herald/state/bytes.hpp"

namespace herald::rules {
namespace {

// v2 adds the price (views and cart adds feed the SKU's anomaly detectors); v1 is still read.
constexpr std::uint8_t sku_signal_version = 3;
constexpr std::uint8_t sku_state_version = 1;
constexpr std::string_view top_up_timer = "t";
constexpr std::int64_t day_ms = 86'400'000;

constexpr std::uint8_t flag_known = 1;
constexpr std::uint8_t flag_low_alerted = 2;
constexpr std::uint8_t flag_out_alerted = 4;
constexpr std::uint8_t flag_threshold = 8;
constexpr std::uint8_t flag_all = flag_known | flag_low_alerted | flag_out_alerted | flag_threshold;

// Floor division, so events before the epoch still fall into the right day.
std::int64_t day_of(std::int64_t ts_ms) noexcept {
  std::int64_t d = ts_ms / day_ms;
  if (ts_ms % day_ms < 0) --d;
  return d;
}

// The sales window ends at the newest day this SKU has seen (a sale, a stock level or the
// current event), so a late event cannot pull it back.
std::int64_t newest_day(const sku_state& s, std::int64_t day) noexcept {
  if (!s.sales.empty()) day = std::max(day, s.sales.back().day);
  for (const auto& l : s.locations) day = std::max(day, day_of(l.ts_ms));
  return day;
}

// floor(ratio x available), at most the number of waiters: no more can ever be outstanding,
// and it keeps a huge ratio from overflowing the conversion.
std::int64_t notify_cap(double ratio, std::int64_t available, std::size_t waiters) noexcept {
  const double wanted = std::floor(ratio * static_cast<double>(available));
  if (!(wanted > 0)) return 0;  // also NaN
  const auto most = static_cast<std::int64_t>(waiters);
  return wanted >= static_cast<double>(most) ? most : static_cast<std::int64_t>(wanted);
}

bool waits_before(const waiter& a, const waiter& b) noexcept {
  return std::tie(a.requested_ms, a.customer_id) < std::tie(b.requested_ms, b.customer_id);
}

void keep_earliest(std::int64_t& slot, std::int64_t candidate) noexcept {
  if (slot == 0 || candidate < slot) slot = candidate;
}

}  // namespace

std::string_view to_string(inventory_suppression s) noexcept {
  switch (s) {
    case inventory_suppression::subscription_expired:
      return "subscription_expired";
    case inventory_suppression::bought:
      return "bought";
    case inventory_suppression::renotify_interval:
      return "renotify_interval";
    case inventory_suppression::sold_out:
      return "sold_out";
  }
  return "unknown";
}

// ---- codecs ---------------------------------------------------------------------------------

void sku_signal::encode(std::string& out) const {
  state::byte_writer w(out);
  w.u8(sku_signal_version);
  w.u8(static_cast<std::uint8_t>(type));
  w.str(sku);
  w.str(customer_id);
  w.svarint(quantity);
  w.svarint(ts_ms);
  w.str(event_id);
  w.f64(price);
  w.str(cart_id);
}

bool sku_signal::decode(std::string_view in, sku_signal& out) {
  state::byte_reader r(in);
  std::uint8_t version = 0, type = 0;
  // Version 1 had no price, 2 no cart id (records still in the topic after an upgrade).
  if (!r.u8(version) || version < 1 || version > sku_signal_version || !r.u8(type)) return false;
  if (type < static_cast<std::uint8_t>(kind::notify_me) ||
      type > static_cast<std::uint8_t>(kind::watermark))
    return false;
  out.type = static_cast<kind>(type);
  out.price = 0;
  out.cart_id.clear();
  if (!r.str(out.sku) || !r.str(out.customer_id) || !r.integer(out.quantity) ||
      !r.integer(out.ts_ms) || !r.str(out.event_id))
    return false;
  return (version < 2 || r.f64(out.price)) && (version < 3 || r.str(out.cart_id)) && r.done();
}

void sku_state::encode(std::string& out) const {
  state::byte_writer w(out);
  w.u8(sku_state_version);
  w.varint(locations.size());
  for (const auto& l : locations) {
    w.str(l.location);
    w.svarint(l.available);
    w.svarint(l.ts_ms);
  }
  w.svarint(available);
  w.u8(static_cast<std::uint8_t>((known ? flag_known : 0) | (low_alerted ? flag_low_alerted : 0) |
                                 (out_alerted ? flag_out_alerted : 0) |
                                 (threshold ? flag_threshold : 0)));
  if (threshold) w.svarint(*threshold);
  w.str(restock_id);
  w.varint(sales.size());
  for (const auto& d : sales) {
    w.svarint(d.day);
    w.svarint(d.units);
  }
  w.varint(waiters.size());
  for (const auto& x : waiters) {
    w.str(x.customer_id);
    w.svarint(x.requested_ms);
    w.svarint(x.notified_ms);
    w.str(x.notified_restock);
  }
  w.svarint(timer_ms);
  w.varint(buyers.size());
  for (const auto& b : buyers) {
    w.str(b.customer_id);
    w.svarint(b.bought_ms);
  }
}

bool sku_state::decode(std::string_view in, sku_state& out) {
  state::byte_reader r(in);
  std::uint8_t version = 0, flags = 0;
  std::uint64_t n = 0;
  // Every element takes at least one byte, so a count above the input size is corrupt (and
  // must not drive a huge allocation).
  if (!r.u8(version) || version != sku_state_version || !r.varint(n) || n > in.size()) return false;
  out.locations.resize(n);
  for (auto& l : out.locations)
    if (!r.str(l.location) || !r.integer(l.available) || !r.integer(l.ts_ms)) return false;
  if (!r.integer(out.available) || !r.u8(flags) || (flags & ~flag_all) != 0) return false;
  out.known = (flags & flag_known) != 0;
  out.low_alerted = (flags & flag_low_alerted) != 0;
  out.out_alerted = (flags & flag_out_alerted) != 0;
  out.threshold.reset();
  if ((flags & flag_threshold) != 0) {
    std::int64_t t = 0;
    if (!r.integer(t)) return false;
    out.threshold = t;
  }
  if (!r.str(out.restock_id) || !r.varint(n) || n > in.size()) return false;
  out.sales.resize(n);
  for (auto& d : out.sales)
    if (!r.integer(d.day) || !r.integer(d.units)) return false;
  if (!r.varint(n) || n > in.size()) return false;
  out.waiters.resize(n);
  for (auto& x : out.waiters)
    if (!r.str(x.customer_id) || !r.integer(x.requested_ms) || !r.integer(x.notified_ms) ||
        !r.str(x.notified_restock))
      return false;
  if (!r.integer(out.timer_ms) || !r.varint(n) || n > in.size()) return false;
  out.buyers.resize(n);
  for (auto& b : out.buyers)
    if (!r.str(b.customer_id) || !r.integer(b.bought_ms)) return false;
  return r.done();
}

// ---- operator -------------------------------------------------------------------------------

inventory_operator::inventory_operator(inventory_config config) : config_(std::move(config)) {}

void inventory_operator::on_stock(const schemas::event& ev, keyed_state<sku_state>& skus,
                                  timer_service& timers, inventory_effects& effects) {
  if (ev.type != schemas::event_type::stock_level) return;
  const std::string_view sku = ev.sku;
  sku_state& s = skus.get_or_create(sku);
  const std::int64_t previous = s.available;
  // Per-location last writer wins by event time: a late event must not undo a newer level.
  std::int64_t total = 0;
  if (!apply_stock_level(s.locations, ev.location, ev.available, ev.ts_ms, total)) return;
  const bool was_known = s.known;
  s.available = total;
  s.known = true;
  if (ev.low_stock_threshold) s.threshold = ev.low_stock_threshold;

  const std::int64_t now = ev.ts_ms;
  expire_requests(s, now, effects);
  trim_sales(s, day_of(now));
  alert(ev, s, effects);

  if (s.available == 0) {
    end_restock(sku, s, timers, effects);
    expire_requests(s, now, effects);  // those kept only for the restock that just ended
  } else {
    // A SKU never seen before counts as having been out of stock only when someone is
    // waiting for it: otherwise its first level is just the starting point, not a restock.
    const bool from_zero = previous == 0 && (was_known || !s.waiters.empty());
    if (s.restock_id.empty() && from_zero)
      s.restock_id = ev.event_id.empty() ? "@" + std::to_string(ev.ts_ms) : ev.event_id;
    top_up(sku, s, now, timers, effects);
  }
  skus.mark_dirty(sku);
}

void inventory_operator::on_signal(const sku_signal& sig, keyed_state<sku_state>& skus,
                                   timer_service& timers, inventory_effects& effects) {
  using kind = sku_signal::kind;
  if (sig.type != kind::notify_me && sig.type != kind::wishlist_add && sig.type != kind::sold)
    return;
  const std::string_view sku = sig.sku;
  sku_state& s = skus.get_or_create(sku);
  const std::int64_t now = sig.ts_ms;
  // Before adding: a customer whose old request has expired starts a fresh one.
  expire_requests(s, now, effects);
  if (!s.index.built) {
    s.index.ids.clear();
    for (const auto& w : s.waiters) s.index.ids.insert(w.customer_id);
    s.index.built = true;
  }
  auto it = s.index.ids.count(sig.customer_id) == 0
                ? s.waiters.end()
                : std::find_if(s.waiters.begin(), s.waiters.end(),
                               [&](const waiter& w) { return w.customer_id == sig.customer_id; });
  if (sig.type == kind::sold) {
    if (it != s.waiters.end()) {
      s.index.ids.erase(it->customer_id);
      s.waiters.erase(it);
      effects.suppressed(inventory_suppression::bought);
    }
    record_sale(s, sig.ts_ms, sig.quantity);
    remember_buyer(s, sig.customer_id, sig.ts_ms);
  } else if (bought_since(s, sig.customer_id, sig.ts_ms)) {
    effects.suppressed(inventory_suppression::bought);  // asked before buying; arrived after
  } else if (it == s.waiters.end()) {
    waiter w;
    w.customer_id = sig.customer_id;
    w.requested_ms = sig.ts_ms;
    s.index.ids.insert(w.customer_id);
    s.waiters.insert(std::upper_bound(s.waiters.begin(), s.waiters.end(), w, waits_before),
                     std::move(w));
  } else if (sig.ts_ms < it->requested_ms) {
    // Asking again never moves a customer back in the queue; a late-arriving earlier request
    // moves them forward.
    it->requested_ms = sig.ts_ms;
    std::sort(s.waiters.begin(), s.waiters.end(), waits_before);
  }
  top_up(sku, s, now, timers, effects);
  skus.mark_dirty(sku);
}

void inventory_operator::on_timer(std::string_view sku, std::int64_t fire_ms,
                                  std::string_view payload, keyed_state<sku_state>& skus,
                                  timer_service& timers, inventory_effects& effects) {
  sku_state* s = skus.find(sku);
  if (s == nullptr || payload != top_up_timer) return;
  if (s->timer_ms != fire_ms) {
    // Stale. The SKU's own timer is set again (a no-op when it exists): a restore under
    // at-least-once can bring the SKU back one commit ahead of its timers.
    if (s->timer_ms != 0) timers.schedule(s->timer_ms, sku, top_up_timer);
    return;
  }
  s->timer_ms = 0;  // fired: nothing to cancel any more
  expire_requests(*s, fire_ms, effects);
  top_up(sku, *s, fire_ms, timers, effects);
  skus.mark_dirty(sku);
}

void inventory_operator::expire_requests(sku_state& s, std::int64_t now,
                                         inventory_effects& effects) const {
  // Customers notified in the running restock stay until it ends: dropping them would let a
  // fresh request get them a second notification of the same restock.
  // Oldest request first: when the oldest has not expired, none has (the common case, O(1)).
  if (s.waiters.empty() || s.waiters.front().requested_ms + config_.subscription_max_age_ms > now)
    return;
  std::erase_if(s.waiters, [&](const waiter& w) {
    const bool in_restock = !s.restock_id.empty() && w.notified_restock == s.restock_id;
    if (in_restock || w.requested_ms + config_.subscription_max_age_ms > now) return false;
    effects.suppressed(inventory_suppression::subscription_expired);
    s.index.ids.erase(w.customer_id);
    return true;
  });
}

void inventory_operator::alert(const schemas::event& ev, sku_state& s,
                               inventory_effects& effects) const {
  const std::int64_t threshold = s.threshold.value_or(config_.default_low_stock_threshold);
  // Hysteresis: each alert fires once per crossing and re-arms only once the level is back on
  // the other side, so a level hovering around the threshold does not repeat it.
  if (s.available >= threshold) s.low_alerted = false;
  if (s.available > 0) s.out_alerted = false;
  const bool out = s.available == 0 && !s.out_alerted;
  const bool low = s.available < threshold && !s.low_alerted;
  if (!out && !low) return;
  // Reaching 0 is also a crossing of the threshold: the merchant gets the stronger alert only.
  if (s.available < threshold) s.low_alerted = true;
  if (out) s.out_alerted = true;

  schemas::stock_alert msg;
  msg.out_of_stock = out;
  msg.notification_id = schemas::make_id(out ? "out_of_stock" : "low_stock", ev.sku, ev.event_id);
  msg.ts_ms = ev.ts_ms;
  msg.sku = ev.sku;
  msg.available = s.available;
  msg.threshold = threshold;
  std::int64_t units = 0;
  for (const auto& d : s.sales) units += d.units;
  if (units > 0 && config_.velocity_window_days > 0) {
    const double per_day = static_cast<double>(units) / config_.velocity_window_days;
    msg.units_sold_per_day = per_day;
    msg.days_of_cover = static_cast<double>(s.available) / per_day;
  }
  effects.emit(std::move(msg));
}

void inventory_operator::end_restock(std::string_view sku, sku_state& s, timer_service& timers,
                                     inventory_effects& effects) const {
  if (s.restock_id.empty()) return;
  // Counted once per restock, not per waiter: the metric says how often stock ran out before
  // the waitlist was served. The waiters stay for the next restock.
  const bool unserved = std::any_of(s.waiters.begin(), s.waiters.end(), [&](const waiter& w) {
    return w.notified_restock != s.restock_id;
  });
  if (unserved) effects.suppressed(inventory_suppression::sold_out);
  s.restock_id.clear();
  set_timer(sku, s, 0, timers);
}

void inventory_operator::top_up(std::string_view sku, sku_state& s, std::int64_t now,
                                timer_service& timers, inventory_effects& effects) const {
  std::int64_t next_ms = 0;
  if (!s.restock_id.empty() && s.available > 0) {
    auto outstanding_at = [&](const waiter& w) {
      return w.notified_restock == s.restock_id && w.notified_ms + config_.response_window_ms > now;
    };
    std::int64_t outstanding = std::count_if(s.waiters.begin(), s.waiters.end(), outstanding_at);
    const std::int64_t cap = notify_cap(config_.notify_ratio, s.available, s.waiters.size());
    std::int64_t eligible_ms = 0;  // earliest end of a renotify interval that held someone back
    for (auto& w : s.waiters) {
      if (outstanding >= cap) break;
      if (w.notified_restock == s.restock_id) continue;
      if (w.notified_ms != 0 && now - w.notified_ms < config_.renotify_interval_ms) {
        // Counted per top-up that passes over them (each is a notification held back), not
        // once per customer.
        effects.suppressed(inventory_suppression::renotify_interval);
        keep_earliest(eligible_ms, w.notified_ms + config_.renotify_interval_ms);
        continue;
      }
      schemas::back_in_stock msg;
      msg.notification_id =
          schemas::make_id("back_in_stock", w.customer_id, std::string(sku) + '/' + s.restock_id);
      msg.ts_ms = now;
      msg.customer_id = w.customer_id;
      msg.sku = std::string(sku);
      msg.available = s.available;
      effects.emit(std::move(msg));
      w.notified_ms = now;
      w.notified_restock = s.restock_id;
      ++outstanding;
    }
    // Wake up when the next slot frees or the next held-back customer becomes eligible, but
    // only while someone is still waiting for this restock.
    const bool waiting = std::any_of(s.waiters.begin(), s.waiters.end(), [&](const waiter& w) {
      return w.notified_restock != s.restock_id;
    });
    if (waiting) {
      next_ms = eligible_ms;
      for (const auto& w : s.waiters)
        if (outstanding_at(w)) keep_earliest(next_ms, w.notified_ms + config_.response_window_ms);
    }
  }
  set_timer(sku, s, next_ms, timers);
}

void inventory_operator::record_sale(sku_state& s, std::int64_t ts_ms, std::int64_t units) const {
  const std::int64_t day = day_of(ts_ms);
  trim_sales(s, day);
  if (units <= 0 || config_.velocity_window_days <= 0) return;
  if (day <= newest_day(s, day) - config_.velocity_window_days) return;  // before the window
  auto it =
      std::lower_bound(s.sales.begin(), s.sales.end(), day,
                       [](const sku_state::daily_sales& d, std::int64_t v) { return d.day < v; });
  if (it == s.sales.end() || it->day != day) it = s.sales.insert(it, {day, 0});
  it->units += units;
}

void inventory_operator::trim_sales(sku_state& s, std::int64_t day) const {
  const std::int64_t newest = newest_day(s, day);
  std::erase_if(s.sales, [&](const sku_state::daily_sales& d) {
    return d.day <= newest - config_.velocity_window_days;
  });
}

void inventory_operator::remember_buyer(sku_state& s, const std::string& customer,
                                        std::int64_t ts_ms) const {
  auto b = std::find_if(s.buyers.begin(), s.buyers.end(),
                        [&](const auto& x) { return x.customer_id == customer; });
  if (b == s.buyers.end())
    s.buyers.push_back({customer, ts_ms});
  else
    b->bought_ms = std::max(b->bought_ms, ts_ms);
  // Older purchases cannot outlive the requests they would cancel; the cap bounds hot SKUs.
  std::int64_t newest = 0;
  for (const auto& x : s.buyers) newest = std::max(newest, x.bought_ms);
  std::erase_if(s.buyers, [&](const auto& x) {
    return x.bought_ms + config_.subscription_max_age_ms <= newest;
  });
  if (s.buyers.size() > config_.max_remembered_buyers) {
    std::sort(s.buyers.begin(), s.buyers.end(),
              [](const auto& x, const auto& y) { return x.bought_ms > y.bought_ms; });
    s.buyers.resize(config_.max_remembered_buyers);
  }
}

bool inventory_operator::bought_since(const sku_state& s, const std::string& customer,
                                      std::int64_t ts_ms) {
  return std::any_of(s.buyers.begin(), s.buyers.end(), [&](const auto& x) {
    return x.customer_id == customer && x.bought_ms >= ts_ms;
  });
}

void inventory_operator::set_timer(std::string_view sku, sku_state& s, std::int64_t at_ms,
                                   timer_service& timers) {
  if (s.timer_ms == at_ms) return;
  if (s.timer_ms != 0) timers.cancel(s.timer_ms, sku);
  s.timer_ms = at_ms;
  if (at_ms != 0) timers.schedule(at_ms, sku, top_up_timer);
}

}  // namespace herald::rules

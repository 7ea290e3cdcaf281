#include "herald/actors/rules/abandoned_cart.hpp"

#include <algorithm>

#include "herald/state/bytes.hpp"
#include "herald/state/keys.hpp"

namespace herald::rules {
namespace {

// Version 3: every cart of the customer, and the finished ones. Version 2 (one cart, each
// line's currency) and version 1 (one cart, one currency) are read.
constexpr std::uint8_t customer_carts_version = 3;
// A reminder timer's key is customer + '\0' + cart id (unique per cart); its payload "r" +
// cart id. Timers of versions 1 and 2 have the customer as key and payload "r": the cart
// whose timer is due then. The housekeeping timer: the customer, payload "p".
constexpr char reminder_timer = 'r';
constexpr std::string_view purge_timer = "p";

std::string reminder_key(std::string_view customer, std::string_view cart_id) {
  std::string k(customer);
  k.push_back('\0');
  k.append(cart_id);
  return k;
}

void write_cart(state::byte_writer& w, const cart_state& c) {
  w.str(c.cart_id);
  w.str(c.currency);
  w.varint(c.lines.size());
  for (const auto& l : c.lines) {
    w.str(l.sku);
    w.svarint(l.quantity);
    w.f64(l.unit_price);
    w.str(l.currency);
  }
  w.svarint(c.last_activity_ms);
  w.str(c.last_event_id);
  w.svarint(c.reminders_sent);
  w.u8(static_cast<std::uint8_t>((c.anonymous ? 1 : 0) | (c.closed ? 2 : 0) | (c.bot ? 4 : 0)));
  w.svarint(c.timer_ms);
}

bool read_cart(state::byte_reader& r, std::uint8_t version, std::size_t limit, cart_state& c) {
  std::uint64_t n = 0;
  std::uint8_t flags = 0;
  if (!r.str(c.cart_id) || !r.str(c.currency) || !r.varint(n) || n > limit) return false;
  c.lines.resize(n);
  for (auto& l : c.lines) {
    if (!r.str(l.sku) || !r.integer(l.quantity) || !r.f64(l.unit_price)) return false;
    l.currency.clear();
    if (version >= 2 && !r.str(l.currency)) return false;
    if (version == 1) l.currency = c.currency;  // one currency per cart then
  }
  if (!r.integer(c.last_activity_ms) || !r.str(c.last_event_id) || !r.integer(c.reminders_sent) ||
      !r.u8(flags) || !r.integer(c.timer_ms))
    return false;
  c.anonymous = (flags & 1) != 0;
  c.closed = (flags & 2) != 0;
  c.bot = (flags & 4) != 0;
  return true;
}

}  // namespace

std::string_view to_string(suppression s) noexcept {
  switch (s) {
    case suppression::ordered:
      return "ordered";
    case suppression::cart_cleared:
      return "cart_cleared";
    case suppression::cart_emptied:
      return "cart_emptied";
    case suppression::anonymous:
      return "anonymous";
    case suppression::max_reminders:
      return "max_reminders";
    case suppression::out_of_stock:
      return "out_of_stock";
    case suppression::bot:
      return "bot";
    case suppression::too_many_carts:
      return "too_many_carts";
  }
  return "unknown";
}

cart_state* customer_carts::find(std::string_view cart_id) {
  for (auto& c : carts)
    if (c.cart_id == cart_id) return &c;
  return nullptr;
}

void customer_carts::encode(std::string& out) const {
  state::byte_writer w(out);
  w.u8(customer_carts_version);
  w.varint(carts.size());
  for (const auto& c : carts) write_cart(w, c);
  w.varint(finished.size());
  for (const auto& f : finished) {
    w.varint(f.id_hash);
    w.varint((static_cast<std::uint64_t>(std::max(f.reminders_sent, 0)) << 1) |
             (f.ordered ? 1u : 0u));
    w.svarint(f.until_ms);
  }
  w.svarint(purge_ms);
}

bool customer_carts::decode(std::string_view in, customer_carts& out) {
  state::byte_reader r(in);
  std::uint8_t version = 0;
  if (!r.u8(version) || version < 1 || version > customer_carts_version) return false;
  out.carts.clear();
  out.finished.clear();
  if (version < 3) {
    // One cart; its purge timer was the customer's.
    cart_state& c = out.carts.emplace_back();
    return read_cart(r, version, in.size(), c) && r.integer(out.purge_ms) && r.done();
  }
  std::uint64_t n = 0;
  if (!r.varint(n) || n > in.size()) return false;
  out.carts.resize(n);
  for (auto& c : out.carts)
    if (!read_cart(r, version, in.size(), c)) return false;
  if (!r.varint(n) || n > in.size()) return false;
  out.finished.resize(n);
  for (auto& f : out.finished) {
    std::uint64_t v = 0;
    if (!r.varint(f.id_hash) || !r.varint(v) || !r.integer(f.until_ms)) return false;
    f.reminders_sent = static_cast<std::int32_t>(v >> 1);
    f.ordered = (v & 1) != 0;
  }
  return r.integer(out.purge_ms) && r.done();
}

abandoned_cart_operator::abandoned_cart_operator(abandoned_cart_config config)
    : config_(std::move(config)) {}

bool abandoned_cart_operator::on_event(const schemas::event& ev, keyed_state<customer_carts>& carts,
                                       timer_service& timers, cart_effects& effects,
                                       const audience_view& audience) {
  using schemas::event_type;
  const std::string_view customer = ev.customer_id;
  switch (ev.type) {
    case event_type::cart_item_added: {
      customer_carts& c = carts.get_or_create(customer);
      cart_state* cart = open(customer, c, ev.cart_id, timers, effects);
      if (cart == nullptr) {  // a late event of an ordered cart
        carts.mark_dirty(customer);
        return true;
      }
      // The cart's currency is the latest add's (the storefront's); each line keeps its own.
      if (!ev.currency.empty()) cart->currency = ev.currency;
      auto line = std::find_if(cart->lines.begin(), cart->lines.end(),
                               [&](const auto& l) { return l.sku == ev.sku; });
      if (line == cart->lines.end()) {
        cart->lines.push_back({ev.sku, ev.quantity, ev.unit_price, cart->currency});
      } else {
        line->quantity += ev.quantity;
        line->unit_price = ev.unit_price;
        line->currency = cart->currency;
      }
      cart->anonymous = ev.anonymous;
      touch(*cart, ev, audience);
      arm(customer, *cart, timers, effects);
      settle(customer, c, timers);
      carts.mark_dirty(customer);
      return true;
    }
    case event_type::cart_item_removed:
    case event_type::cart_cleared:
    case event_type::checkout_started: {
      customer_carts* c = carts.find(customer);
      cart_state* cart = c == nullptr ? nullptr : c->find(ev.cart_id);
      if (cart == nullptr || cart->closed) return true;
      if (ev.type == event_type::cart_item_removed) {
        auto line = std::find_if(cart->lines.begin(), cart->lines.end(),
                                 [&](const auto& l) { return l.sku == ev.sku; });
        if (line != cart->lines.end()) {
          if (ev.quantity <= 0 || ev.quantity >= line->quantity)
            cart->lines.erase(line);
          else
            line->quantity -= ev.quantity;
        }
      } else if (ev.type == event_type::cart_cleared) {
        cart->lines.clear();
      }
      touch(*cart, ev, audience);
      if (!cart->lines.empty())
        arm(customer, *cart, timers, effects);
      else
        disarm(customer, *cart, timers, effects,
               ev.type == event_type::cart_cleared ? suppression::cart_cleared
                                                   : suppression::cart_emptied);
      settle(customer, *c, timers);
      carts.mark_dirty(customer);
      return true;
    }
    case event_type::order_placed: {
      // The customer just bought: the cart the order names is done, and no cart touched
      // before the order is reminded for that activity.
      customer_carts* c = carts.find(customer);
      if (c == nullptr) return true;
      for (auto& cart : c->carts) {
        if (cart.closed) continue;
        const bool named = !ev.cart_id.empty() && cart.cart_id == ev.cart_id;
        if (!named && cart.last_activity_ms > ev.ts_ms) continue;
        disarm(customer, cart, timers, effects, suppression::ordered);
        if (named || ev.cart_id.empty()) {
          cart.closed = true;
          cart.last_activity_ms = std::max(cart.last_activity_ms, ev.ts_ms);
        }
      }
      settle(customer, *c, timers);
      carts.mark_dirty(customer);
      return true;
    }
    default:
      return false;
  }
}

cart_state* abandoned_cart_operator::open(std::string_view customer, customer_carts& c,
                                          std::string_view cart_id, timer_service& timers,
                                          cart_effects& effects) {
  if (cart_state* cart = c.find(cart_id)) return cart->closed ? nullptr : cart;
  cart_state fresh;
  fresh.cart_id = std::string(cart_id);
  // A cart that comes back after its retention continues its count.
  const std::uint64_t h = state::hash64(cart_id);
  auto f = std::find_if(c.finished.begin(), c.finished.end(),
                        [&](const finished_cart& x) { return x.id_hash == h; });
  if (f != c.finished.end()) {
    if (f->ordered) return nullptr;
    fresh.reminders_sent = f->reminders_sent;
    c.finished.erase(f);
  }
  // Room for it: the least recently active cart goes first.
  while (!c.carts.empty() && c.carts.size() >= std::max<std::size_t>(config_.max_carts, 1)) {
    std::size_t oldest = 0;
    for (std::size_t i = 1; i < c.carts.size(); ++i)
      if (c.carts[i].last_activity_ms < c.carts[oldest].last_activity_ms) oldest = i;
    disarm(customer, c.carts[oldest], timers, effects, suppression::too_many_carts);
    finish(c, oldest, c.carts[oldest].last_activity_ms);
  }
  return &c.carts.emplace_back(std::move(fresh));
}

void abandoned_cart_operator::finish(customer_carts& c, std::size_t i, std::int64_t now_ms) const {
  const cart_state& cart = c.carts[i];
  if (cart.reminders_sent > 0 || cart.closed) {
    if (c.finished.size() >= customer_carts::max_finished) c.finished.erase(c.finished.begin());
    c.finished.push_back({state::hash64(cart.cart_id), cart.reminders_sent, cart.closed,
                          now_ms + config_.remember_ms});
  }
  c.carts.erase(c.carts.begin() + static_cast<std::ptrdiff_t>(i));
}

void abandoned_cart_operator::on_timer(std::string_view key, std::int64_t fire_ms,
                                       std::string_view payload, keyed_state<customer_carts>& carts,
                                       timer_service& timers, cart_effects& effects,
                                       const stock_view& stock, const audience_view& audience,
                                       std::int64_t now_ms) {
  now_ms = std::max(now_ms, fire_ms);
  if (payload == purge_timer) {
    customer_carts* c = carts.find(key);
    if (c == nullptr) return;
    if (c->purge_ms != fire_ms) {                                            // stale
      if (c->purge_ms != 0) timers.schedule(c->purge_ms, key, purge_timer);  // see below
      return;
    }
    c->purge_ms = 0;
    if (settle(key, *c, timers, fire_ms))
      carts.erase(key);
    else
      carts.mark_dirty(key);
    return;
  }
  if (payload.empty() || payload[0] != reminder_timer) return;
  const std::string_view cart_id = payload.substr(1);
  std::string_view customer = key;
  if (!cart_id.empty()) {
    if (key.size() < cart_id.size() + 1) return;
    customer = key.substr(0, key.size() - cart_id.size() - 1);
  }
  customer_carts* c = carts.find(customer);
  if (c == nullptr) return;
  cart_state* cart = nullptr;
  for (auto& x : c->carts)
    if (cart_id.empty() ? x.timer_ms == fire_ms : x.cart_id == cart_id) cart = &x;
  if (cart == nullptr) return;
  if (cart->timer_ms != fire_ms) {
    // Stale: the cart's timer moved since this one was set. Its current one is set again (a
    // no-op when it exists). Under at-least-once a crash can leave the cart's changelog one
    // commit ahead of the timers' (a reminder sent, the next one armed, its timer not yet in
    // the changelog): the restored cart then waits for a timer that only this repairs.
    if (cart->timer_ms != 0)
      timers.schedule(cart->timer_ms, reminder_key(customer, cart->cart_id),
                      std::string(1, reminder_timer) + cart->cart_id);
    return;
  }
  remind(customer, *cart, fire_ms, now_ms, timers, effects, stock, audience);
  settle(customer, *c, timers);
  carts.mark_dirty(customer);
}

void abandoned_cart_operator::remind(std::string_view customer, cart_state& cart_ref,
                                     std::int64_t fire_ms, std::int64_t now_ms,
                                     timer_service& timers, cart_effects& effects,
                                     const stock_view& stock, const audience_view& audience) {
  cart_state* cart = &cart_ref;
  cart->timer_ms = 0;
  if (cart->anonymous) {
    effects.suppressed(suppression::anonymous);
  } else if (!cart->closed && !cart->lines.empty() &&
             (cart->bot || audience.is_bot(customer, fire_ms))) {
    effects.suppressed(suppression::bot);
  } else if (!cart->closed && !cart->lines.empty()) {
    // Never promote what cannot be bought: out-of-stock lines are left out.
    std::vector<schemas::order_line> lines;
    for (const auto& l : cart->lines) {
      const auto available = stock.available(l.sku, fire_ms);
      if (!available || *available > 0) lines.push_back(l);
    }
    if (lines.empty()) {
      effects.suppressed(suppression::out_of_stock);
    } else {
      const int number = ++cart->reminders_sent;
      const reminder_step& step = config_.steps[static_cast<std::size_t>(number - 1)];
      schemas::cart_reminder msg;
      msg.notification_id = schemas::make_id(
          "abandoned_cart", customer,
          cart->cart_id + '/' + cart->last_event_id + '/' + std::to_string(number));
      msg.ts_ms = fire_ms;
      msg.customer_id = std::string(customer);
      msg.cart_id = cart->cart_id;
      msg.reminder_number = number;
      // Never add different currencies: the value is that of the lines in the cart's
      // currency; a line priced in another says so and is not counted.
      for (auto& l : lines) {
        if (l.currency.empty() || l.currency == cart->currency) {
          msg.cart_value += static_cast<double>(l.quantity) * l.unit_price;
          l.currency.clear();
        }
      }
      msg.lines = std::move(lines);
      msg.currency = cart->currency;
      msg.coupon = step.coupon;
      effects.emit(std::move(msg));
      if (static_cast<std::size_t>(cart->reminders_sent) < config_.steps.size()) {
        arm(customer, *cart, timers, effects);
        // A later step must fire later than this one even when configured with a shorter
        // delay, and, when catching up, keep its spacing from this one (no burst).
        if (cart->timer_ms != 0 && cart->timer_ms <= now_ms) {
          const std::int64_t spacing =
              config_.steps[static_cast<std::size_t>(number)].delay_ms - step.delay_ms;
          const std::string key = reminder_key(customer, cart->cart_id);
          timers.cancel(cart->timer_ms, key);
          cart->timer_ms =
              now_ms > fire_ms ? now_ms + std::max<std::int64_t>(spacing, 1) : fire_ms + 1;
          timers.schedule(cart->timer_ms, key, std::string(1, reminder_timer) + cart->cart_id);
        }
      }
    }
  }
}

void abandoned_cart_operator::touch(cart_state& cart, const schemas::event& ev,
                                    const audience_view& audience) {
  if (audience.is_bot(ev.customer_id, ev.ts_ms)) cart.bot = true;
  // Out-of-order events must not move the inactivity clock backwards.
  if (ev.ts_ms >= cart.last_activity_ms) {
    cart.last_activity_ms = ev.ts_ms;
    cart.last_event_id = ev.event_id;
  }
}

void abandoned_cart_operator::arm(std::string_view customer, cart_state& cart,
                                  timer_service& timers, cart_effects& effects) {
  const std::string key = reminder_key(customer, cart.cart_id);
  if (cart.timer_ms != 0) {
    timers.cancel(cart.timer_ms, key);
    cart.timer_ms = 0;
  }
  if (cart.closed || cart.lines.empty()) return;
  const auto sent = static_cast<std::size_t>(cart.reminders_sent);
  if (sent >= config_.steps.size()) {
    effects.suppressed(suppression::max_reminders);
    return;
  }
  cart.timer_ms = cart.last_activity_ms + config_.steps[sent].delay_ms;
  timers.schedule(cart.timer_ms, key, std::string(1, reminder_timer) + cart.cart_id);
}

void abandoned_cart_operator::disarm(std::string_view customer, cart_state& cart,
                                     timer_service& timers, cart_effects& effects,
                                     suppression reason) {
  if (cart.timer_ms == 0) return;
  timers.cancel(cart.timer_ms, reminder_key(customer, cart.cart_id));
  cart.timer_ms = 0;
  effects.suppressed(reason);
}

bool abandoned_cart_operator::settle(std::string_view customer, customer_carts& c,
                                     timer_service& timers, std::int64_t now_ms) const {
  // A cart with no reminder pending is kept in full for the retention after its last
  // activity, then remembered compactly (when reminded or ordered) until its time is up.
  for (std::size_t i = c.carts.size(); i-- > 0;)
    if (c.carts[i].timer_ms == 0 && c.carts[i].last_activity_ms + config_.retention_ms <= now_ms)
      finish(c, i, c.carts[i].last_activity_ms + config_.retention_ms);
  std::erase_if(c.finished, [&](const finished_cart& f) { return f.until_ms <= now_ms; });
  // One housekeeping timer per customer, at the earliest of those times.
  std::int64_t next = 0;
  auto earliest = [&](std::int64_t t) { next = next == 0 ? t : std::min(next, t); };
  for (const auto& cart : c.carts)
    if (cart.timer_ms == 0) earliest(cart.last_activity_ms + config_.retention_ms);
  for (const auto& f : c.finished) earliest(f.until_ms);
  if (c.purge_ms != next) {
    if (c.purge_ms != 0) timers.cancel(c.purge_ms, customer);
    c.purge_ms = next;
    if (next != 0) timers.schedule(next, customer, purge_timer);
  }
  return c.carts.empty() && c.finished.empty();
}

}  // namespace herald::rules

#include "herald/actors/rules/abandoned_cart.hpp"

#include <algorithm>

#include "herald/state/bytes.hpp"

namespace herald::rules {
namespace {

// Version 2: each line's currency.
constexpr std::uint8_t cart_state_version = 2;
constexpr std::string_view reminder_timer = "r";
constexpr std::string_view purge_timer = "p";

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
  }
  return "unknown";
}

void cart_state::encode(std::string& out) const {
  state::byte_writer w(out);
  w.u8(cart_state_version);
  w.str(cart_id);
  w.str(currency);
  w.varint(lines.size());
  for (const auto& l : lines) {
    w.str(l.sku);
    w.svarint(l.quantity);
    w.f64(l.unit_price);
    w.str(l.currency);
  }
  w.svarint(last_activity_ms);
  w.str(last_event_id);
  w.svarint(reminders_sent);
  w.u8(static_cast<std::uint8_t>((anonymous ? 1 : 0) | (closed ? 2 : 0) | (bot ? 4 : 0)));
  w.svarint(timer_ms);
  w.svarint(purge_ms);
}

bool cart_state::decode(std::string_view in, cart_state& out) {
  state::byte_reader r(in);
  std::uint8_t version = 0, flags = 0;
  std::uint64_t n = 0;
  if (!r.u8(version) || version < 1 || version > cart_state_version) return false;
  if (!r.str(out.cart_id) || !r.str(out.currency) || !r.varint(n) || n > in.size()) return false;
  out.lines.resize(n);
  for (auto& l : out.lines) {
    if (!r.str(l.sku) || !r.integer(l.quantity) || !r.f64(l.unit_price)) return false;
    l.currency.clear();
    if (version >= 2 && !r.str(l.currency)) return false;
    if (version == 1) l.currency = out.currency;  // one currency per cart then
  }
  if (!r.integer(out.last_activity_ms) || !r.str(out.last_event_id) ||
      !r.integer(out.reminders_sent) || !r.u8(flags) || !r.integer(out.timer_ms) ||
      !r.integer(out.purge_ms) || !r.done())
    return false;
  out.anonymous = (flags & 1) != 0;
  out.closed = (flags & 2) != 0;
  out.bot = (flags & 4) != 0;
  return true;
}

abandoned_cart_operator::abandoned_cart_operator(abandoned_cart_config config)
    : config_(std::move(config)) {}

bool abandoned_cart_operator::on_event(const schemas::event& ev, keyed_state<cart_state>& carts,
                                       timer_service& timers, cart_effects& effects,
                                       const audience_view& audience) {
  using schemas::event_type;
  const std::string_view customer = ev.customer_id;
  switch (ev.type) {
    case event_type::cart_item_added: {
      cart_state& cart = carts.get_or_create(customer);
      if (cart.closed && cart.cart_id == ev.cart_id) return true;  // late event of an ordered cart
      if (cart.cart_id != ev.cart_id) {
        // A new cart replaces the previous one: its count starts again, its timers go.
        if (cart.timer_ms != 0) timers.cancel(cart.timer_ms, customer);
        if (cart.purge_ms != 0) timers.cancel(cart.purge_ms, customer);
        cart = cart_state{};
        cart.cart_id = ev.cart_id;
      }
      // The cart's currency is the latest add's (the storefront's); each line keeps its own.
      if (!ev.currency.empty()) cart.currency = ev.currency;
      auto line = std::find_if(cart.lines.begin(), cart.lines.end(),
                               [&](const auto& l) { return l.sku == ev.sku; });
      if (line == cart.lines.end()) {
        cart.lines.push_back({ev.sku, ev.quantity, ev.unit_price, cart.currency});
      } else {
        line->quantity += ev.quantity;
        line->unit_price = ev.unit_price;
        line->currency = cart.currency;
      }
      cart.anonymous = ev.anonymous;
      touch(cart, ev, audience);
      arm(customer, cart, timers, effects);
      carts.mark_dirty(customer);
      return true;
    }
    case event_type::cart_item_removed: {
      cart_state* cart = carts.find(customer);
      if (cart == nullptr || cart->closed || cart->cart_id != ev.cart_id) return true;
      auto line = std::find_if(cart->lines.begin(), cart->lines.end(),
                               [&](const auto& l) { return l.sku == ev.sku; });
      if (line != cart->lines.end()) {
        if (ev.quantity <= 0 || ev.quantity >= line->quantity)
          cart->lines.erase(line);
        else
          line->quantity -= ev.quantity;
      }
      touch(*cart, ev, audience);
      if (cart->lines.empty())
        disarm(customer, *cart, timers, effects, suppression::cart_emptied);
      else
        arm(customer, *cart, timers, effects);
      carts.mark_dirty(customer);
      return true;
    }
    case event_type::cart_cleared: {
      cart_state* cart = carts.find(customer);
      if (cart == nullptr || cart->closed || cart->cart_id != ev.cart_id) return true;
      cart->lines.clear();
      touch(*cart, ev, audience);
      disarm(customer, *cart, timers, effects, suppression::cart_cleared);
      carts.mark_dirty(customer);
      return true;
    }
    case event_type::checkout_started: {
      cart_state* cart = carts.find(customer);
      if (cart == nullptr || cart->closed || cart->cart_id != ev.cart_id) return true;
      touch(*cart, ev, audience);
      arm(customer, *cart, timers, effects);
      carts.mark_dirty(customer);
      return true;
    }
    case event_type::order_placed: {
      // Whatever cart the order came from, the customer just bought: never remind the open
      // cart after that.
      cart_state* cart = carts.find(customer);
      if (cart == nullptr || cart->closed) return true;
      disarm(customer, *cart, timers, effects, suppression::ordered);
      cart->closed = true;
      cart->last_activity_ms = std::max(cart->last_activity_ms, ev.ts_ms);
      settle(customer, *cart, timers);
      carts.mark_dirty(customer);
      return true;
    }
    default:
      return false;
  }
}

void abandoned_cart_operator::on_timer(std::string_view customer, std::int64_t fire_ms,
                                       std::string_view payload, keyed_state<cart_state>& carts,
                                       timer_service& timers, cart_effects& effects,
                                       const stock_view& stock, const audience_view& audience,
                                       std::int64_t now_ms) {
  now_ms = std::max(now_ms, fire_ms);
  cart_state* cart = carts.find(customer);
  if (cart == nullptr) return;
  if (payload == purge_timer) {
    if (cart->purge_ms == fire_ms) carts.erase(customer);
    return;
  }
  if (payload != reminder_timer || cart->timer_ms != fire_ms) return;  // stale
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
          timers.cancel(cart->timer_ms, customer);
          cart->timer_ms =
              now_ms > fire_ms ? now_ms + std::max<std::int64_t>(spacing, 1) : fire_ms + 1;
          timers.schedule(cart->timer_ms, customer, reminder_timer);
        }
      }
    }
  }
  settle(customer, *cart, timers);
  carts.mark_dirty(customer);
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
  if (cart.timer_ms != 0) {
    timers.cancel(cart.timer_ms, customer);
    cart.timer_ms = 0;
  }
  if (cart.closed || cart.lines.empty()) {
    settle(customer, cart, timers);
    return;
  }
  const auto sent = static_cast<std::size_t>(cart.reminders_sent);
  if (sent >= config_.steps.size()) {
    effects.suppressed(suppression::max_reminders);
  } else {
    cart.timer_ms = cart.last_activity_ms + config_.steps[sent].delay_ms;
    timers.schedule(cart.timer_ms, customer, reminder_timer);
  }
  settle(customer, cart, timers);
}

void abandoned_cart_operator::disarm(std::string_view customer, cart_state& cart,
                                     timer_service& timers, cart_effects& effects,
                                     suppression reason) {
  if (cart.timer_ms != 0) {
    timers.cancel(cart.timer_ms, customer);
    cart.timer_ms = 0;
    effects.suppressed(reason);
  }
  settle(customer, cart, timers);
}

void abandoned_cart_operator::settle(std::string_view customer, cart_state& cart,
                                     timer_service& timers) {
  // Exactly one of (reminder timer, purge timer) is pending for every stored cart, so state
  // of carts that will never be reminded again is eventually dropped.
  if (cart.timer_ms != 0) {
    if (cart.purge_ms != 0) timers.cancel(cart.purge_ms, customer);
    cart.purge_ms = 0;
    return;
  }
  const std::int64_t purge_at = cart.last_activity_ms + config_.retention_ms;
  if (cart.purge_ms == purge_at) return;
  if (cart.purge_ms != 0) timers.cancel(cart.purge_ms, customer);
  cart.purge_ms = purge_at;
  timers.schedule(purge_at, customer, purge_timer);
}

}  // namespace herald::rules

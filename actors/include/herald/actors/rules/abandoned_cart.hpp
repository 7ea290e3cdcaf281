#pragma once
/// Abandoned-cart reminders (ARCHITECTURE.md "Rules").
///
/// Trigger: a known customer's cart stays non-empty with no order for `steps[n].delay_ms`
/// after its last cart activity (item added/removed, checkout started). Response: reminder
/// number n+1, with the step's coupon if any. Conditions, each counted as a suppression reason
/// when it stops a reminder that was due or pending:
/// - the customer ordered (order_placed), cleared or emptied the cart;
/// - the cart is anonymous (tracked, never reminded);
/// - every line is out of stock (the reminder leaves out out-of-stock lines; with none left it
///   is not sent, does not count, and new activity re-arms it);
/// - the customer is flagged as a bot (not sent, not counted);
/// - the cart already had `steps.size()` reminders (at most that many per cart, ever: new
///   activity re-arms the timer but never resets the count).
///
/// Owned by one task actor; single-threaded. State: one `cart_state` per customer.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "herald/actors/rules/context.hpp"
#include "herald/schemas/codec.hpp"
#include "herald/schemas/events.hpp"

namespace herald::rules {

/// One reminder of the sequence.
struct reminder_step {
  /// Inactivity after the cart's last activity before this reminder is due.
  std::int64_t delay_ms = 3'600'000;
  /// Coupon code carried by this reminder; empty = none.
  std::string coupon;
};

struct abandoned_cart_config {
  /// The reminder sequence; its length is the most reminders a cart ever gets.
  /// Default: 1 h without coupon, then 24 h with coupon "COMEBACK10".
  std::vector<reminder_step> steps = {{3'600'000, ""}, {86'400'000, "COMEBACK10"}};
  /// How long a finished cart (ordered, or all reminders sent) is remembered so that late or
  /// replayed events for it are recognised, then purged. Default: 7 days.
  std::int64_t retention_ms = 7 * 86'400'000LL;
};

/// Why a reminder was not sent. Bounded: a metrics label.
enum class suppression : std::uint8_t {
  ordered,        ///< customer placed an order while a reminder was pending
  cart_cleared,   ///< cart_cleared while a reminder was pending
  cart_emptied,   ///< last item removed while a reminder was pending
  anonymous,      ///< the cart cannot be contacted
  max_reminders,  ///< activity after the last allowed reminder
  out_of_stock,   ///< every line of the cart is out of stock
  bot,            ///< the customer is flagged as a bot
};
inline constexpr std::size_t suppression_count = 7;
[[nodiscard]] std::string_view to_string(suppression s) noexcept;

/// Per-customer cart state, persisted with a format version byte.
struct cart_state {
  std::string cart_id;
  std::string currency;
  std::vector<schemas::order_line> lines;
  std::int64_t last_activity_ms = 0;
  std::string last_event_id;  ///< event that last (re-)armed the timer: the reminder's trigger
  std::int32_t reminders_sent = 0;
  bool anonymous = false;
  bool closed = false;        ///< ordered (or finished): later events of this cart ignored
  bool bot = false;           ///< touched while its customer was flagged as a bot: never reminded
  std::int64_t timer_ms = 0;  ///< pending reminder timer, 0 = none
  std::int64_t purge_ms = 0;  ///< pending purge timer, 0 = none

  void encode(std::string& out) const;
  static bool decode(std::string_view in, cart_state& out);
  friend bool operator==(const cart_state&, const cart_state&) = default;
};

/// What the operator did, for the task's metrics and outputs.
class cart_effects {
 public:
  virtual ~cart_effects() = default;
  virtual void emit(schemas::cart_reminder&& reminder) = 0;
  virtual void suppressed(suppression reason) = 0;
};

class abandoned_cart_operator {
 public:
  explicit abandoned_cart_operator(abandoned_cart_config config = {});

  /// Applies one carts-topic event. Other event types are ignored (returns false). A cart
  /// touched while `audience` flags its customer as a bot is never reminded, even once the
  /// flag has lapsed.
  bool on_event(const schemas::event& ev, keyed_state<cart_state>& carts, timer_service& timers,
                cart_effects& effects, const audience_view& audience = no_audience_view{});
  /// A timer of this operator fired (the watermark passed `fire_ms`). `stock` tells which
  /// lines were out of stock at `fire_ms`. `now_ms` is when the firing happens, as event time
  /// (the task passes the wall clock for live data; default `fire_ms`): when a task catches up
  /// (after an outage) and the next step is already due by then, that step is pushed to
  /// `now_ms` + the steps' spacing, so a cart never gets its reminders at once.
  void on_timer(std::string_view customer_id, std::int64_t fire_ms, std::string_view payload,
                keyed_state<cart_state>& carts, timer_service& timers, cart_effects& effects,
                const stock_view& stock, const audience_view& audience = no_audience_view{},
                std::int64_t now_ms = 0);

  [[nodiscard]] const abandoned_cart_config& config() const noexcept { return config_; }

 private:
  static void touch(cart_state& cart, const schemas::event& ev, const audience_view& audience);
  void arm(std::string_view customer, cart_state& cart, timer_service& timers,
           cart_effects& effects);
  void disarm(std::string_view customer, cart_state& cart, timer_service& timers,
              cart_effects& effects, suppression reason);
  void settle(std::string_view customer, cart_state& cart, timer_service& timers);

  abandoned_cart_config config_;
};

}  // namespace herald::rules

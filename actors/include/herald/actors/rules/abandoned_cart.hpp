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
///   activity re-arms the timer but never resets the count);
/// - the customer opened more than `max_carts` carts: the least recently active one is
///   finished (`too_many_carts`).
///
/// Each cart of a customer is its own flow: its own timer, count and reminders. A cart with no
/// reminder pending is kept in full for `retention_ms` after its last activity (late events of
/// it are recognised), then, if it was reminded or ordered, remembered compactly (its id's
/// hash, count and whether it was ordered) for `remember_ms` more: a cart id that comes back
/// within that time continues its count, so "at most N per cart, ever" holds for a year
/// (default) after the cart was last touched.
///
/// An order closes the cart it names (later events of it are ignored) and stops the pending
/// reminders of every other cart touched before it (those carts stay open: new activity
/// re-arms them); an order naming no cart closes every cart touched before it.
///
/// Owned by one task actor; single-threaded. State: one `customer_carts` per customer.

#include <cstdint>
#include <limits>
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
  /// How long a cart with no reminder pending (ordered, emptied, all reminders sent) is kept
  /// in full after its last activity, so that late or replayed events of it are recognised.
  /// Default: 7 days.
  std::int64_t retention_ms = 7 * 86'400'000LL;
  /// Most carts kept per customer; opening another finishes the least recently active one.
  /// Default: 4.
  std::size_t max_carts = 4;
  /// How long a reminded or ordered cart is remembered compactly after its retention ended:
  /// the horizon of "at most steps.size() reminders per cart, ever". Default: 365 days.
  std::int64_t remember_ms = 365 * 86'400'000LL;
};

/// Why a reminder was not sent. Bounded: a metrics label.
enum class suppression : std::uint8_t {
  ordered,         ///< customer placed an order while a reminder was pending
  cart_cleared,    ///< cart_cleared while a reminder was pending
  cart_emptied,    ///< last item removed while a reminder was pending
  anonymous,       ///< the cart cannot be contacted
  max_reminders,   ///< activity after the last allowed reminder
  out_of_stock,    ///< every line of the cart is out of stock
  bot,             ///< the customer is flagged as a bot
  too_many_carts,  ///< the customer opened more than max_carts carts since this one
};
inline constexpr std::size_t suppression_count = 8;
[[nodiscard]] std::string_view to_string(suppression s) noexcept;

/// One cart of a customer.
struct cart_state {
  std::string cart_id;
  std::string currency;
  std::vector<schemas::order_line> lines;
  std::int64_t last_activity_ms = 0;
  std::string last_event_id;  ///< event that last (re-)armed the timer: the reminder's trigger
  std::int32_t reminders_sent = 0;
  bool anonymous = false;
  bool closed = false;        ///< ordered: later events of this cart ignored
  bool bot = false;           ///< touched while its customer was flagged as a bot: never reminded
  std::int64_t timer_ms = 0;  ///< pending reminder timer, 0 = none

  friend bool operator==(const cart_state&, const cart_state&) = default;
};

/// A cart past its retention, remembered so it never gets more reminders than allowed.
struct finished_cart {
  std::uint64_t id_hash = 0;  ///< state::hash64 of the cart id
  std::int32_t reminders_sent = 0;
  bool ordered = false;
  std::int64_t until_ms = 0;  ///< forgotten then (event time)

  friend bool operator==(const finished_cart&, const finished_cart&) = default;
};

/// Per-customer state, persisted with a format version byte (v1 and v2 held one cart).
struct customer_carts {
  std::vector<cart_state> carts;        ///< at most max_carts
  std::vector<finished_cart> finished;  ///< oldest first, at most `max_finished`
  std::int64_t purge_ms = 0;            ///< pending housekeeping timer, 0 = none

  static constexpr std::size_t max_finished = 64;

  [[nodiscard]] cart_state* find(std::string_view cart_id);
  void encode(std::string& out) const;
  static bool decode(std::string_view in, customer_carts& out);
  friend bool operator==(const customer_carts&, const customer_carts&) = default;
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
  bool on_event(const schemas::event& ev, keyed_state<customer_carts>& carts, timer_service& timers,
                cart_effects& effects, const audience_view& audience = no_audience_view{});
  /// A timer of this operator fired (the watermark passed `fire_ms`). `stock` tells which
  /// lines were out of stock at `fire_ms`. `now_ms` is when the firing happens, as event time
  /// (the task passes the wall clock for live data; default `fire_ms`): when a task catches up
  /// (after an outage) and the next step is already due by then, that step is pushed to
  /// `now_ms` + the steps' spacing, so a cart never gets its reminders at once.
  void on_timer(std::string_view customer_id, std::int64_t fire_ms, std::string_view payload,
                keyed_state<customer_carts>& carts, timer_service& timers, cart_effects& effects,
                const stock_view& stock, const audience_view& audience = no_audience_view{},
                std::int64_t now_ms = 0);

  [[nodiscard]] const abandoned_cart_config& config() const noexcept { return config_; }

 private:
  static void touch(cart_state& cart, const schemas::event& ev, const audience_view& audience);
  // The cart `cart_id` of `c`, opened when new (or when it comes back from `finished`, with
  // its count); nullptr when it was ordered (its events are ignored).
  cart_state* open(std::string_view customer, customer_carts& c, std::string_view cart_id,
                   timer_service& timers, cart_effects& effects);
  void arm(std::string_view customer, cart_state& cart, timer_service& timers,
           cart_effects& effects);
  void disarm(std::string_view customer, cart_state& cart, timer_service& timers,
              cart_effects& effects, suppression reason);
  // Moves carts[i] to `finished` (when it was reminded or ordered) and removes it.
  void finish(customer_carts& c, std::size_t i, std::int64_t now_ms) const;
  // Housekeeping: drops what is past its time as of `now_ms`, then schedules the next
  // housekeeping timer. True when nothing is left (the customer's state may go).
  bool settle(std::string_view customer, customer_carts& c, timer_service& timers,
              std::int64_t now_ms = std::numeric_limits<std::int64_t>::min()) const;
  // A reminder timer of `cart` fired: the reminder (or its suppression), the next step armed.
  void remind(std::string_view customer, cart_state& cart, std::int64_t fire_ms,
              std::int64_t now_ms, timer_service& timers, cart_effects& effects,
              const stock_view& stock, const audience_view& audience);

  abandoned_cart_config config_;
};

}  // namespace herald::rules

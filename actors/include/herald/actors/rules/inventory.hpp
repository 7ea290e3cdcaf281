#pragma once
/// Inventory rules of the SKU task family (ARCHITECTURE.md "Rules"):
///
/// Back in stock: customers who asked to be notified (notify_me) or wish-listed a SKU are told
/// when its available quantity goes from 0 to > 0 (a *restock*). Oldest request first; at most
/// floor(notify_ratio × available) notifications of the current restock are outstanding at a
/// time (a notification is outstanding for `response_window_ms`, or until the customer buys);
/// the rest are notified as outstanding ones end, re-checked on every stock, order and timer
/// event while stock lasts; nothing once available is 0 again. Each customer at most once per
/// restock and at most once per `renotify_interval_ms` (stock flapping 0 -> n -> 0 -> n must
/// not nag); customers who bought the SKU leave its waitlist; requests older than
/// `subscription_max_age_ms` expire.
///
/// Low / out of stock (to the merchant): available dropping below the SKU's threshold (the
/// stock event's `low_stock_threshold`, else the configured default) gives one `low_stock`
/// alert per crossing (re-armed once available is back at or above the threshold); reaching 0
/// gives one `out_of_stock` (re-armed above 0). Alerts carry units sold per day over the
/// trailing `velocity_window_days` and days of cover, when there were sales.
///
/// A SKU's available quantity is the sum over its locations of the latest stock_level.
/// Plain C++: owned by one SKU task, single-threaded. State: one `sku_state` per SKU.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "herald/actors/rules/context.hpp"
#include "herald/schemas/codec.hpp"
#include "herald/schemas/events.hpp"

namespace herald::rules {

struct inventory_config {
  /// Threshold when stock events carry none: low stock is strictly below it. Default: 5.
  std::int64_t default_low_stock_threshold = 5;
  /// Outstanding back-in-stock notifications per available unit. Default: 2.0.
  double notify_ratio = 2.0;
  /// How long a notification counts as outstanding (the customer's time to act). Default: 24 h.
  std::int64_t response_window_ms = 86'400'000;
  /// Least time between two notifications of one customer for one SKU. Default: 72 h.
  std::int64_t renotify_interval_ms = 3 * 86'400'000LL;
  /// Age after which a waitlist request expires. Default: 30 days.
  std::int64_t subscription_max_age_ms = 30 * 86'400'000LL;
  /// Days of sales used for units sold per day. Default: 7.
  int velocity_window_days = 7;
  /// Most recent buyers remembered per SKU (see sku_state::buyers). Default: 10 000.
  std::size_t max_remembered_buyers = 10'000;
};

/// What customer tasks tell SKU tasks, re-keyed by SKU through Kafka (a repartition topic).
struct sku_signal {
  enum class kind : std::uint8_t {
    notify_me = 1,     ///< customer asked to be told when the SKU is back in stock
    wishlist_add = 2,  ///< customer wish-listed the SKU (also waits for a restock)
    sold = 3,          ///< customer bought `quantity` units (an order line)
    view = 4,          ///< customer viewed the SKU at `price` (demand and price detectors)
    cart_add = 5,      ///< customer added `quantity` at `price` (demand and quantity detectors)
    /// Not a signal: the upstream customer task `quantity` (its partition) has reached event
    /// time `ts_ms` (its watermark), sent to every partition; `sku` is empty.
    watermark = 6,
  };
  kind type = kind::notify_me;
  std::string sku;
  std::string customer_id;
  std::int64_t quantity = 0;  ///< sold only
  std::int64_t ts_ms = 0;
  std::string event_id;  ///< the originating event (with the line index for orders)
  double price = 0;      ///< view, cart_add
  std::string cart_id;   ///< cart_add (the cart-quantity flag's evidence)

  /// Binary, with a format version byte (an internal topic, not the public contract).
  void encode(std::string& out) const;
  [[nodiscard]] static bool decode(std::string_view in, sku_signal& out);
  friend bool operator==(const sku_signal&, const sku_signal&) = default;
};

/// One waiting customer of a SKU.
struct waiter {
  std::string customer_id;
  std::int64_t requested_ms = 0;  ///< oldest request wins on duplicates
  std::int64_t notified_ms = 0;   ///< last back-in-stock notification, 0 = never
  std::string notified_restock;   ///< restock id of that notification
  friend bool operator==(const waiter&, const waiter&) = default;
};

/// Per-SKU state, persisted with a format version byte.
struct sku_state {
  struct location_level {
    std::string location;
    std::int64_t available = 0;
    std::int64_t ts_ms = 0;  ///< of the latest stock_level applied (older ones are ignored)
    friend bool operator==(const location_level&, const location_level&) = default;
  };
  struct daily_sales {
    std::int64_t day = 0;  ///< ts_ms / 86 400 000
    std::int64_t units = 0;
    friend bool operator==(const daily_sales&, const daily_sales&) = default;
  };
  std::vector<location_level> locations;
  std::int64_t available = 0;             ///< sum over locations
  bool known = false;                     ///< a stock_level has been seen
  std::optional<std::int64_t> threshold;  ///< from the latest stock event that carried one
  bool low_alerted = false;
  bool out_alerted = false;
  std::string restock_id;          ///< event id that started the current restock; empty = none
  std::vector<daily_sales> sales;  ///< trailing window, oldest first
  std::vector<waiter> waiters;     ///< oldest request first
  /// Recent buyers (customer, latest purchase time), so a waitlist request that was made before
  /// the purchase but arrives after it (requests and orders travel on different topics) is not
  /// added back. Kept for subscription_max_age_ms, at most `max_remembered_buyers`.
  struct buyer {
    std::string customer_id;
    std::int64_t bought_ms = 0;
    friend bool operator==(const buyer&, const buyer&) = default;
  };
  std::vector<buyer> buyers;
  /// Not persisted: the customer ids of `waiters`, so a request costs a hash lookup instead of
  /// a scan of a waitlist that may hold 100k customers. Rebuilt on first use after decode.
  struct waiter_index {
    std::unordered_set<std::string> ids;
    bool built = false;
    friend bool operator==(const waiter_index&, const waiter_index&) { return true; }
  };
  waiter_index index;
  std::int64_t timer_ms = 0;  ///< pending top-up timer (earliest outstanding expiry), 0 = none

  void encode(std::string& out) const;
  [[nodiscard]] static bool decode(std::string_view in, sku_state& out);
  friend bool operator==(const sku_state&, const sku_state&) = default;
};

/// Why a back-in-stock notification was not sent or a waiter left. Bounded: a metrics label.
enum class inventory_suppression : std::uint8_t {
  subscription_expired,  ///< the request was older than subscription_max_age_ms
  bought,                ///< the customer bought the SKU (left the waitlist)
  renotify_interval,     ///< notified too recently (stock flapping)
  sold_out,              ///< stock ran out before this waiter's turn
};
inline constexpr std::size_t inventory_suppression_count = 4;
[[nodiscard]] std::string_view to_string(inventory_suppression s) noexcept;

class inventory_effects {
 public:
  virtual ~inventory_effects() = default;
  virtual void emit(schemas::back_in_stock&& msg) = 0;
  virtual void emit(schemas::stock_alert&& msg) = 0;
  virtual void suppressed(inventory_suppression reason) = 0;
};

class inventory_operator {
 public:
  explicit inventory_operator(inventory_config config = {});

  /// A stock_level event (key = sku).
  void on_stock(const schemas::event& ev, keyed_state<sku_state>& skus, timer_service& timers,
                inventory_effects& effects);
  /// A signal re-keyed by SKU.
  void on_signal(const sku_signal& sig, keyed_state<sku_state>& skus, timer_service& timers,
                 inventory_effects& effects);
  /// The top-up timer of `sku` fired: outstanding notifications ended, notify the next ones.
  void on_timer(std::string_view sku, std::int64_t fire_ms, std::string_view payload,
                keyed_state<sku_state>& skus, timer_service& timers, inventory_effects& effects);

  [[nodiscard]] const inventory_config& config() const noexcept { return config_; }

 private:
  void expire_requests(sku_state& s, std::int64_t now, inventory_effects& effects) const;
  void alert(const schemas::event& ev, sku_state& s, inventory_effects& effects) const;
  void end_restock(std::string_view sku, sku_state& s, timer_service& timers,
                   inventory_effects& effects) const;
  void top_up(std::string_view sku, sku_state& s, std::int64_t now, timer_service& timers,
              inventory_effects& effects) const;
  void record_sale(sku_state& s, std::int64_t ts_ms, std::int64_t units) const;
  void trim_sales(sku_state& s, std::int64_t day) const;
  void remember_buyer(sku_state& s, const std::string& customer, std::int64_t ts_ms) const;
  [[nodiscard]] static bool bought_since(const sku_state& s, const std::string& customer,
                                         std::int64_t ts_ms);
  static void set_timer(std::string_view sku, sku_state& s, std::int64_t at_ms,
                        timer_service& timers);

  inventory_config config_;
};

}  // namespace herald::rules

#include "herald/actors/rules/shipments.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include "herald/state/bytes.hpp"

namespace herald::rules {
namespace {

// v2 adds the shipment_late flag and timer, v3 the fulfilment_stalled flag and timer; v1 and
// v2 are still read.
constexpr std::uint8_t shipment_state_version = 3;
constexpr std::uint8_t lane_stats_version = 1;
constexpr char key_separator = '\x1f';
// Timer kinds: the payload, and the suffix of the timer key.
constexpr char delay_timer = 'd';
constexpr char stuck_timer = 's';
constexpr char hold_timer = 'h';
constexpr char purge_timer = 'p';
constexpr char late_timer = 'l';
constexpr char stall_timer = 'f';

constexpr std::uint8_t flag_created = 1;
constexpr std::uint8_t flag_stall_flagged = 2;
constexpr std::uint8_t flag_all = flag_created | flag_stall_flagged;

constexpr double hour_ms = static_cast<double>(shipment_config::hour_ms);

char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

// Progress along the delivery; exception has none (it can be left for any status).
int rank(shipment_status s) noexcept {
  switch (s) {
    case shipment_status::info_received:
      return 0;
    case shipment_status::picked_up:
      return 1;
    case shipment_status::in_transit:
      return 2;
    case shipment_status::out_for_delivery:
      return 3;
    case shipment_status::failed_attempt:
    case shipment_status::available_for_pickup:
      return 4;
    case shipment_status::delivered:
    case shipment_status::returned_to_sender:
      return 5;
    case shipment_status::exception:
      break;
  }
  return -1;
}

// Whether a scan older than the last applied one still says something new. An older exception
// has since been left behind, and nothing older beats a newer exception.
bool moves_forward(shipment_status from, shipment_status to) noexcept {
  if (from == shipment_status::exception || to == shipment_status::exception) return false;
  return rank(to) > rank(from);
}

std::string timer_key(std::string_view id, char kind) {
  std::string key;
  key.reserve(id.size() + 2);
  key.append(id);
  key.push_back(key_separator);
  key.push_back(kind);
  return key;
}

void set_timer(std::string_view id, char kind, std::int64_t& slot, std::int64_t at_ms,
               timer_service& timers) {
  if (slot == at_ms) return;
  const std::string key = timer_key(id, kind);
  if (slot != 0) timers.cancel(slot, key);
  slot = at_ms;
  if (at_ms != 0) timers.schedule(at_ms, key, std::string_view(&kind, 1));
}

bool held_before(const shipment_state::held_scan& a, const shipment_state::held_scan& b) noexcept {
  return std::tie(a.ts_ms, a.event_id) < std::tie(b.ts_ms, b.event_id);
}

const std::array<std::int64_t, lane_stats::bucket_count>& upper_edges() {
  static const auto edges = [] {
    std::array<std::int64_t, lane_stats::bucket_count> e{};
    for (std::size_t i = 0; i < e.size(); ++i)
      e[i] = std::llround(
          std::ldexp(std::pow(2.0, static_cast<double>(i % 4) / 4.0), static_cast<int>(i / 4)) *
          hour_ms);
    return e;
  }();
  return edges;
}

}  // namespace

// ---- names ----------------------------------------------------------------------------------

std::string_view to_string(shipment_status s) noexcept {
  switch (s) {
    case shipment_status::info_received:
      return "info_received";
    case shipment_status::picked_up:
      return "picked_up";
    case shipment_status::in_transit:
      return "in_transit";
    case shipment_status::out_for_delivery:
      return "out_for_delivery";
    case shipment_status::failed_attempt:
      return "failed_attempt";
    case shipment_status::available_for_pickup:
      return "available_for_pickup";
    case shipment_status::delivered:
      return "delivered";
    case shipment_status::exception:
      return "exception";
    case shipment_status::returned_to_sender:
      return "returned_to_sender";
  }
  return "unknown";
}

std::optional<shipment_status> parse_shipment_status(std::string_view s) noexcept {
  for (std::size_t i = 0; i < shipment_status_count; ++i) {
    const auto status = static_cast<shipment_status>(i);
    if (to_string(status) == s) return status;
  }
  return std::nullopt;
}

bool is_final(shipment_status s) noexcept {
  return s == shipment_status::delivered || s == shipment_status::returned_to_sender;
}

std::string_view to_string(shipment_suppression s) noexcept {
  switch (s) {
    case shipment_suppression::duplicate_scan:
      return "duplicate_scan";
    case shipment_suppression::out_of_order_scan:
      return "out_of_order_scan";
    case shipment_suppression::not_meaningful:
      return "not_meaningful";
    case shipment_suppression::after_final:
      return "after_final";
    case shipment_suppression::unknown_code:
      return "unknown_code";
    case shipment_suppression::undelivered_dropped:
      return "undelivered_dropped";
    case shipment_suppression::unknown_shipment_expired:
      return "unknown_shipment_expired";
    case shipment_suppression::held_overflow:
      return "held_overflow";
    case shipment_suppression::duplicate_created:
      return "duplicate_created";
  }
  return "unknown";
}

// ---- carrier mappings -----------------------------------------------------------------------

void carrier_mappings::add(std::string_view carrier, std::string_view code,
                           shipment_status status) {
  carriers[to_lower(carrier)][std::string(code)] = status;
}

std::optional<shipment_status> carrier_mappings::lookup(std::string_view carrier,
                                                        std::string_view code) const {
  auto in =
      [&](const std::map<std::string, shipment_status>& codes) -> std::optional<shipment_status> {
    auto it = codes.find(std::string(code));
    if (it == codes.end()) return std::nullopt;
    return it->second;
  };
  auto it = carriers.find(to_lower(carrier));
  // Mappings filled in directly (not through add) may keep the carrier's own spelling.
  if (it == carriers.end())
    it = std::find_if(carriers.begin(), carriers.end(),
                      [&](const auto& c) { return iequals(c.first, carrier); });
  if (it != carriers.end())
    if (auto s = in(it->second)) return s;
  auto any = carriers.find(std::string(any_carrier));
  if (any != carriers.end() && any != it) return in(any->second);
  return std::nullopt;
}

std::map<std::string, shipment_status> easypost_status_codes() {
  return {
      {"pre_transit", shipment_status::info_received},
      {"in_transit", shipment_status::in_transit},
      {"out_for_delivery", shipment_status::out_for_delivery},
      {"available_for_pickup", shipment_status::available_for_pickup},
      {"delivered", shipment_status::delivered},
      {"return_to_sender", shipment_status::returned_to_sender},
      {"failure", shipment_status::exception},
  };
}

std::string lane_key(std::string_view carrier, std::string_view origin,
                     std::string_view destination) {
  std::string key = to_lower(carrier);
  key.push_back('|');
  key.append(origin);
  key.push_back('|');
  key.append(destination);
  return key;
}

// ---- lane stats -----------------------------------------------------------------------------

std::int64_t lane_stats::bucket_upper_ms(std::size_t i) noexcept {
  const auto& edges = upper_edges();
  return edges[std::min(i, bucket_count - 1)];
}

std::size_t lane_stats::bucket_of(std::int64_t transit_ms) noexcept {
  const auto& edges = upper_edges();
  const auto it = std::upper_bound(edges.begin(), edges.end(), transit_ms);
  return std::min(static_cast<std::size_t>(it - edges.begin()), bucket_count - 1);
}

void lane_stats::add(std::int64_t transit_ms, std::uint64_t max_samples) {
  auto& c = counts[bucket_of(std::max<std::int64_t>(transit_ms, 0))];
  if (c == std::numeric_limits<std::uint32_t>::max()) return;
  ++c;
  ++samples;
  if (max_samples == 0 || samples < max_samples) return;
  // Forgetting half of everything keeps the shape while letting new deliveries weigh more;
  // buckets of a single old sample go.
  samples = 0;
  for (auto& n : counts) {
    n /= 2;
    samples += n;
  }
}

void lane_stats::merge(const lane_stats& other) noexcept {
  for (std::size_t i = 0; i < bucket_count; ++i) {
    const std::uint64_t n = std::min<std::uint64_t>(std::uint64_t{counts[i]} + other.counts[i],
                                                    std::numeric_limits<std::uint32_t>::max());
    samples += n - counts[i];
    counts[i] = static_cast<std::uint32_t>(n);
  }
}

std::int64_t lane_stats::quantile_ms(double q) const noexcept {
  if (samples == 0) return 0;
  if (!(q > 0)) q = 0;  // also NaN
  if (q > 1) q = 1;
  const double target = q * static_cast<double>(samples);
  double below = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    if (counts[i] == 0) continue;
    const double n = counts[i];
    if (below + n >= target) {
      const double lo = i == 0 ? 0.0 : static_cast<double>(bucket_upper_ms(i - 1));
      const double hi = static_cast<double>(bucket_upper_ms(i));
      return std::llround(lo + (hi - lo) * ((target - below) / n));
    }
    below += n;
  }
  return bucket_upper_ms(bucket_count - 1);
}

void lane_stats::encode(std::string& out) const {
  state::byte_writer w(out);
  w.u8(lane_stats_version);
  const auto used = std::count_if(counts.begin(), counts.end(), [](auto n) { return n != 0; });
  w.varint(static_cast<std::uint64_t>(used));
  for (std::size_t i = 0; i < bucket_count; ++i) {
    if (counts[i] == 0) continue;
    w.u8(static_cast<std::uint8_t>(i));
    w.varint(counts[i]);
  }
}

bool lane_stats::decode(std::string_view in, lane_stats& out) {
  state::byte_reader r(in);
  std::uint8_t version = 0;
  std::uint64_t used = 0;
  if (!r.u8(version) || version != lane_stats_version || !r.varint(used) || used > bucket_count)
    return false;
  out.counts.fill(0);
  out.samples = 0;
  int previous = -1;
  for (std::uint64_t k = 0; k < used; ++k) {
    std::uint8_t i = 0;
    std::uint64_t n = 0;
    // Buckets ascend and are never empty: anything else was not written by encode.
    if (!r.u8(i) || i >= bucket_count || i <= previous || !r.varint(n) || n == 0 ||
        n > std::numeric_limits<std::uint32_t>::max())
      return false;
    previous = i;
    out.counts[i] = static_cast<std::uint32_t>(n);
    out.samples += n;
  }
  return r.done();
}

// ---- shipment state -------------------------------------------------------------------------

void shipment_state::encode(std::string& out) const {
  state::byte_writer w(out);
  w.u8(shipment_state_version);
  w.u8(static_cast<std::uint8_t>((created ? flag_created : 0) |
                                 (stall_flagged ? flag_stall_flagged : 0)));
  w.str(order_id);
  w.str(customer_id);
  w.str(carrier);
  w.str(origin);
  w.str(destination);
  w.svarint(created_ms);
  w.u8(static_cast<std::uint8_t>(status));
  w.svarint(last_scan_ms);
  w.svarint(deadline_ms);
  w.svarint(estimate_ts_ms);
  w.svarint(delay_notified_ms);
  w.svarint(stuck_threshold_ms);
  w.svarint(flagged_ms);
  w.svarint(flagged_scan_ms);
  w.varint(held.size());
  for (const auto& h : held) {
    w.str(h.event_id);
    w.svarint(h.ts_ms);
    w.u8(static_cast<std::uint8_t>(h.status));
    w.u8(h.estimated_delivery_ms ? 1 : 0);
    if (h.estimated_delivery_ms) w.svarint(*h.estimated_delivery_ms);
  }
  w.svarint(delay_timer_ms);
  w.svarint(stuck_timer_ms);
  w.svarint(hold_timer_ms);
  w.svarint(purge_timer_ms);
  w.svarint(late_flagged_ms);
  w.svarint(late_timer_ms);
  w.svarint(stall_timer_ms);
}

bool shipment_state::decode(std::string_view in, shipment_state& out) {
  state::byte_reader r(in);
  std::uint8_t version = 0, flags = 0, status = 0;
  if (!r.u8(version) || version < 1 || version > shipment_state_version || !r.u8(flags) ||
      (flags & ~flag_all) != 0)
    return false;
  out.late_flagged_ms = 0;
  out.late_timer_ms = 0;
  out.stall_timer_ms = 0;
  out.created = (flags & flag_created) != 0;
  out.stall_flagged = (flags & flag_stall_flagged) != 0;
  if (!r.str(out.order_id) || !r.str(out.customer_id) || !r.str(out.carrier) ||
      !r.str(out.origin) || !r.str(out.destination) || !r.integer(out.created_ms) ||
      !r.u8(status) || status >= shipment_status_count)
    return false;
  out.status = static_cast<shipment_status>(status);
  std::uint64_t n = 0;
  // Every held scan takes at least one byte, so a count above the input size is corrupt (and
  // must not drive a huge allocation).
  if (!r.integer(out.last_scan_ms) || !r.integer(out.deadline_ms) ||
      !r.integer(out.estimate_ts_ms) || !r.integer(out.delay_notified_ms) ||
      !r.integer(out.stuck_threshold_ms) || !r.integer(out.flagged_ms) ||
      !r.integer(out.flagged_scan_ms) || !r.varint(n) || n > in.size())
    return false;
  out.held.resize(n);
  for (auto& h : out.held) {
    std::uint8_t has_estimate = 0;
    if (!r.str(h.event_id) || !r.integer(h.ts_ms) || !r.u8(status) ||
        status >= shipment_status_count || !r.u8(has_estimate) || has_estimate > 1)
      return false;
    h.status = static_cast<shipment_status>(status);
    h.estimated_delivery_ms.reset();
    if (has_estimate != 0) {
      std::int64_t e = 0;
      if (!r.integer(e)) return false;
      h.estimated_delivery_ms = e;
    }
  }
  return r.integer(out.delay_timer_ms) && r.integer(out.stuck_timer_ms) &&
         r.integer(out.hold_timer_ms) && r.integer(out.purge_timer_ms) &&
         (version == 1 || (r.integer(out.late_flagged_ms) && r.integer(out.late_timer_ms))) &&
         (version < 3 || r.integer(out.stall_timer_ms)) && r.done();
}

// ---- operator -------------------------------------------------------------------------------

shipment_operator::shipment_operator(shipment_config config, const lane_view* shared)
    : config_(std::move(config)), shared_(shared) {}

void shipment_operator::on_event(const schemas::event& ev, keyed_state<shipment_state>& shipments,
                                 keyed_state<lane_stats>& lanes, timer_service& timers,
                                 shipment_effects& effects) {
  if (ev.type == schemas::event_type::shipment_created)
    on_created(ev, shipments, lanes, timers, effects);
  else if (ev.type == schemas::event_type::carrier_scan)
    on_scan(ev, shipments, lanes, timers, effects);
}

void shipment_operator::on_created(const schemas::event& ev, keyed_state<shipment_state>& shipments,
                                   keyed_state<lane_stats>& lanes, timer_service& timers,
                                   shipment_effects& effects) {
  const std::string_view id = ev.shipment_id;
  shipment_state& s = shipments.get_or_create(id);
  if (s.created) {
    effects.suppressed(shipment_suppression::duplicate_created);
    return;
  }
  s.created = true;
  s.order_id = ev.order_id;
  s.customer_id = ev.customer_id;
  s.carrier = ev.carrier;
  s.origin = ev.origin;
  s.destination = ev.destination;
  s.created_ms = ev.ts_ms;
  s.status = shipment_status::info_received;
  s.last_scan_ms = ev.ts_ms;
  s.estimate_ts_ms = ev.ts_ms;
  if (ev.promised_delivery_ms) {
    s.deadline_ms = *ev.promised_delivery_ms;
  } else {
    const lane_stats lane = lane_at(s, lanes, ev.ts_ms);
    const bool learned = lane.samples >= config_.min_lane_samples;
    s.deadline_ms = ev.ts_ms + (learned ? lane.quantile_ms(0.5) : config_.default_transit_ms);
  }
  set_timer(id, hold_timer, s.hold_timer_ms, 0, timers);
  // Scans that overtook the creation, replayed as if they had come after it.
  const std::vector<shipment_state::held_scan> held = std::move(s.held);
  s.held.clear();
  for (const auto& scan : held) apply_scan(id, s, scan, ev.ts_ms, lanes, effects);
  arm(id, s, ev.ts_ms, lanes, timers);
  shipments.mark_dirty(id);
}

void shipment_operator::on_scan(const schemas::event& ev, keyed_state<shipment_state>& shipments,
                                keyed_state<lane_stats>& lanes, timer_service& timers,
                                shipment_effects& effects) {
  const std::string_view id = ev.shipment_id;
  shipment_state* s = shipments.find(id);
  const std::string_view carrier =
      !ev.carrier.empty() || s == nullptr ? std::string_view(ev.carrier) : s->carrier;
  const auto status = config_.carriers.lookup(carrier, ev.status_code);
  if (!status) {
    // Valid input with a code nobody mapped yet: a configuration gap, not a DLQ case.
    effects.suppressed(shipment_suppression::unknown_code);
    return;
  }
  shipment_state::held_scan scan{ev.event_id, ev.ts_ms, *status, ev.estimated_delivery_ms};
  if (s == nullptr || !s->created) {
    if (s == nullptr) s = &shipments.get_or_create(id);
    hold(id, *s, std::move(scan), timers, effects);
    if (s->held.empty()) {
      set_timer(id, hold_timer, s->hold_timer_ms, 0, timers);
      shipments.erase(id);
    } else {
      shipments.mark_dirty(id);
    }
    return;
  }
  apply_scan(id, *s, scan, ev.ts_ms, lanes, effects);
  arm(id, *s, ev.ts_ms, lanes, timers);
  shipments.mark_dirty(id);
}

void shipment_operator::apply_scan(std::string_view id, shipment_state& s,
                                   const shipment_state::held_scan& scan, std::int64_t now,
                                   keyed_state<lane_stats>& lanes,
                                   shipment_effects& effects) const {
  const shipment_status previous = s.status;
  if (is_final(previous)) {
    effects.suppressed(scan.status == previous ? shipment_suppression::duplicate_scan
                                               : shipment_suppression::after_final);
    return;
  }
  const bool changed = scan.status != previous;
  // Only a strictly newer scan may move the status backwards (carriers do re-route parcels);
  // an older one may only fill in progress that was skipped.
  if (changed && scan.ts_ms <= s.last_scan_ms && !moves_forward(previous, scan.status)) {
    effects.suppressed(shipment_suppression::out_of_order_scan);
    return;
  }
  bool revised = false;
  if (scan.estimated_delivery_ms && !is_final(scan.status) && scan.ts_ms >= s.estimate_ts_ms) {
    s.estimate_ts_ms = scan.ts_ms;
    revised = *scan.estimated_delivery_ms != s.deadline_ms;
    s.deadline_ms = *scan.estimated_delivery_ms;
  }
  s.status = scan.status;
  // Any scan, a repeated status included, shows the parcel is moving: it restarts the stuck
  // clock.
  s.last_scan_ms = std::max(s.last_scan_ms, scan.ts_ms);
  if (scan.status == shipment_status::delivered && scan.ts_ms >= s.created_ms) {
    const std::string key = lane_key(s.carrier, s.origin, s.destination);
    lane_stats& lane = lanes.get_or_create(key);
    lane.add(scan.ts_ms - s.created_ms, config_.lane_max_samples);
    lanes.mark_dirty(key);
    effects.lane_learned(key, lane, std::max(scan.ts_ms, now));
  }
  if (revised || (changed && config_.notify_on.contains(scan.status))) {
    auto msg = message(id, s, scan.ts_ms);
    msg.notification_id = schemas::make_id("tracking", id, scan.event_id);
    msg.previous_status = std::string(to_string(previous));
    effects.emit(std::move(msg));
  } else {
    effects.suppressed(changed ? shipment_suppression::not_meaningful
                               : shipment_suppression::duplicate_scan);
  }
}

void shipment_operator::hold(std::string_view id, shipment_state& s,
                             shipment_state::held_scan&& scan, timer_service& timers,
                             shipment_effects& effects) const {
  const bool seen = std::any_of(s.held.begin(), s.held.end(),
                                [&](const auto& h) { return h.event_id == scan.event_id; });
  if (seen) {
    effects.suppressed(shipment_suppression::duplicate_scan);
    return;
  }
  s.held.insert(std::upper_bound(s.held.begin(), s.held.end(), scan, held_before), std::move(scan));
  // The oldest goes: newer scans say more about where the parcel is.
  while (s.held.size() > config_.max_held_scans) {
    s.held.erase(s.held.begin());
    effects.suppressed(shipment_suppression::held_overflow);
  }
  if (!s.held.empty())
    set_timer(id, hold_timer, s.hold_timer_ms, s.held.front().ts_ms + config_.hold_unknown_ms,
              timers);
}

void shipment_operator::expire_held(std::string_view id, shipment_state& s, std::int64_t now,
                                    keyed_state<shipment_state>& shipments, timer_service& timers,
                                    shipment_effects& effects) const {
  std::erase_if(s.held, [&](const auto& h) {
    if (h.ts_ms + config_.hold_unknown_ms > now) return false;
    effects.suppressed(shipment_suppression::unknown_shipment_expired);
    return true;
  });
  if (s.held.empty()) {
    set_timer(id, hold_timer, s.hold_timer_ms, 0, timers);
    shipments.erase(id);
    return;
  }
  set_timer(id, hold_timer, s.hold_timer_ms, s.held.front().ts_ms + config_.hold_unknown_ms,
            timers);
  shipments.mark_dirty(id);
}

void shipment_operator::on_timer(std::string_view key, std::int64_t fire_ms,
                                 std::string_view payload, keyed_state<shipment_state>& shipments,
                                 keyed_state<lane_stats>& lanes, timer_service& timers,
                                 shipment_effects& effects) {
  const auto sep = key.rfind(key_separator);
  if (sep == std::string_view::npos || payload.size() != 1 || key.substr(sep + 1) != payload)
    return;
  const std::string_view id = key.substr(0, sep);
  shipment_state* s = shipments.find(id);
  if (s == nullptr) return;
  // A firing that does not match the recorded pending time was moved or cancelled: stale. The
  // recorded one is set again (a no-op when it exists): a restore under at-least-once can
  // bring the shipment back one commit ahead of its timers, and only this repairs that.
  auto stale = [&](std::int64_t recorded) {
    if (recorded == fire_ms) return false;
    if (recorded != 0) timers.schedule(recorded, key, payload);
    return true;
  };
  switch (payload[0]) {
    case hold_timer:
      if (stale(s->hold_timer_ms)) return;
      s->hold_timer_ms = 0;
      expire_held(id, *s, fire_ms, shipments, timers, effects);
      return;
    case delay_timer:
      if (stale(s->delay_timer_ms) || !s->created) return;
      s->delay_timer_ms = 0;
      delay(id, *s, fire_ms, effects);
      break;
    case stuck_timer:
      if (stale(s->stuck_timer_ms) || !s->created) return;
      s->stuck_timer_ms = 0;
      stuck(id, *s, fire_ms, lanes, effects);
      break;
    case late_timer:
      if (stale(s->late_timer_ms) || !s->created) return;
      s->late_timer_ms = 0;
      late(id, *s, fire_ms, effects);
      break;
    case stall_timer:
      if (stale(s->stall_timer_ms) || !s->created) return;
      s->stall_timer_ms = 0;
      stalled(id, *s, fire_ms, effects);
      break;
    case purge_timer:
      if (stale(s->purge_timer_ms) || !s->created) return;
      s->purge_timer_ms = 0;
      // Scans since the timer was set push the purge out (arm re-sets it); checked lazily so a
      // scan costs no timer update.
      if (purge_at(*s) <= fire_ms) {
        if (!is_final(s->status)) effects.suppressed(shipment_suppression::undelivered_dropped);
        set_timer(id, delay_timer, s->delay_timer_ms, 0, timers);
        set_timer(id, stuck_timer, s->stuck_timer_ms, 0, timers);
        set_timer(id, late_timer, s->late_timer_ms, 0, timers);
        set_timer(id, stall_timer, s->stall_timer_ms, 0, timers);
        shipments.erase(id);
        return;
      }
      break;
    default:
      return;
  }
  arm(id, *s, fire_ms, lanes, timers);
  shipments.mark_dirty(id);
}

void shipment_operator::delay(std::string_view id, shipment_state& s, std::int64_t now,
                              shipment_effects& effects) const {
  if (is_final(s.status) || s.delay_notified_ms == s.deadline_ms) return;
  auto msg = message(id, s, now);
  msg.delayed = true;
  msg.notification_id = schemas::make_id("delivery_delayed", id, std::to_string(s.deadline_ms));
  effects.emit(std::move(msg));
  s.delay_notified_ms = s.deadline_ms;
}

namespace {

/// A shipment anomaly flag for `id`, its id from (kind, shipment, trigger), with the evidence
/// started by the shipment's carrier and status (the caller appends, then closes the object).
schemas::anomaly_flag shipment_flag(std::string_view kind, std::string_view id,
                                    std::int64_t trigger, std::int64_t now,
                                    const shipment_state& s) {
  schemas::anomaly_flag flag;
  flag.flag_id = schemas::make_id(kind, id, std::to_string(trigger));
  flag.ts_ms = now;
  flag.kind = std::string(kind);
  flag.entity_type = "shipment";
  flag.entity_id = std::string(id);
  std::string& e = flag.evidence_json;
  e = "{\"carrier\":";
  schemas::append_json_string(e, s.carrier);
  e += ",\"status\":";
  schemas::append_json_string(e, to_string(s.status));
  return flag;
}

}  // namespace

void shipment_operator::stuck(std::string_view id, shipment_state& s, std::int64_t now,
                              keyed_state<lane_stats>& lanes, shipment_effects& effects) const {
  if (is_final(s.status)) return;
  // The lane as known now: deliveries learned since the timer was set may have moved its
  // threshold (arm then sets the timer again).
  const lane_stats lane = lane_at(s, lanes, now);
  if (stuck_due(s, lane) > now) return;
  auto flag = shipment_flag("shipment_stuck", id, s.last_scan_ms, now, s);
  // Hours without a scan against the lane's threshold in hours: flagged when it is exceeded.
  flag.score = static_cast<double>(now - s.last_scan_ms) / hour_ms;
  flag.threshold = static_cast<double>(s.stuck_threshold_ms) / hour_ms;
  flag.window_ms = s.stuck_threshold_ms;
  flag.evidence_json += ",\"last_scan_ms\":" + std::to_string(s.last_scan_ms) +
                        ",\"lane_samples\":" + std::to_string(lane.samples) + "}";
  effects.emit(std::move(flag));
  s.flagged_ms = now;
  s.flagged_scan_ms = s.last_scan_ms;
}

namespace {

/// A flag scored in days since `since_ms` (also its trigger) against `threshold_ms`, with the
/// order id in its evidence (the caller appends, then closes the object).
schemas::anomaly_flag days_flag(std::string_view kind, std::string_view id, std::int64_t since_ms,
                                std::int64_t now, std::int64_t threshold_ms,
                                const shipment_state& s) {
  auto flag = shipment_flag(kind, id, since_ms, now, s);
  flag.score = static_cast<double>(now - since_ms) / shipment_config::day_ms;
  flag.threshold = static_cast<double>(threshold_ms) / shipment_config::day_ms;
  flag.window_ms = threshold_ms;
  flag.evidence_json += ",\"order_id\":";
  schemas::append_json_string(flag.evidence_json, s.order_id);
  return flag;
}

}  // namespace

void shipment_operator::late(std::string_view id, shipment_state& s, std::int64_t now,
                             shipment_effects& effects) const {
  if (is_final(s.status) || s.late_flagged_ms == s.deadline_ms) return;
  // Days late.
  auto flag = days_flag("shipment_late", id, s.deadline_ms, now, config_.late_after_ms, s);
  flag.evidence_json += ",\"deadline_ms\":" + std::to_string(s.deadline_ms) +
                        ",\"last_scan_ms\":" + std::to_string(s.last_scan_ms) + "}";
  effects.emit(std::move(flag));
  s.late_flagged_ms = s.deadline_ms;
}

void shipment_operator::stalled(std::string_view id, shipment_state& s, std::int64_t now,
                                shipment_effects& effects) const {
  if (s.stall_flagged || s.status != shipment_status::info_received) return;
  // Days waiting for the carrier.
  auto flag =
      days_flag("fulfilment_stalled", id, s.created_ms, now, config_.fulfilment_stall_ms, s);
  flag.evidence_json += ",\"created_ms\":" + std::to_string(s.created_ms) + "}";
  effects.emit(std::move(flag));
  s.stall_flagged = true;
}

void shipment_operator::arm(std::string_view id, shipment_state& s, std::int64_t now,
                            keyed_state<lane_stats>& lanes, timer_service& timers) const {
  const bool done = is_final(s.status);
  // Not picked up yet: the shop has not handed the parcel over (merchant-facing, once).
  const bool waiting = s.status == shipment_status::info_received;
  set_timer(id, stall_timer, s.stall_timer_ms,
            waiting && !s.stall_flagged && config_.fulfilment_stall_ms > 0
                ? s.created_ms + config_.fulfilment_stall_ms
                : 0,
            timers);
  set_timer(id, delay_timer, s.delay_timer_ms,
            !done && s.delay_notified_ms != s.deadline_ms ? s.deadline_ms : 0, timers);
  // One shipment_late per deadline: a revised estimate re-arms it for the new date.
  set_timer(
      id, late_timer, s.late_timer_ms,
      !done && config_.late_after_ms > 0 && s.deadline_ms != 0 && s.late_flagged_ms != s.deadline_ms
          ? s.deadline_ms + config_.late_after_ms
          : 0,
      timers);
  std::int64_t stuck_at = 0;
  // One flag per quiet spell: after a flag, only a new scan re-arms.
  const bool flagged_spell = s.flagged_ms != 0 && s.flagged_scan_ms == s.last_scan_ms;
  // Before pickup the parcel has not left: fulfilment_stalled, not shipment_stuck.
  if (!done && !flagged_spell && !waiting) {
    const lane_stats lane = lane_at(s, lanes, now);
    stuck_at = stuck_due(s, lane);
    // A lane the other partitions are still teaching: looked at again daily, so its learned
    // threshold applies within a day of being known.
    if (shared_ != nullptr && lane.samples < config_.min_lane_samples &&
        config_.lane_recheck_ms > 0)
      stuck_at = std::min(stuck_at, std::max(now, s.last_scan_ms) + config_.lane_recheck_ms);
  }
  set_timer(id, stuck_timer, s.stuck_timer_ms, stuck_at, timers);
  // Set once, pushed back lazily when it fires; made exact when the shipment reaches its
  // final status (the only time it can move earlier).
  const std::int64_t purge = purge_at(s);
  if (s.purge_timer_ms == 0 || (done && s.purge_timer_ms > purge))
    set_timer(id, purge_timer, s.purge_timer_ms, purge, timers);
}

std::int64_t shipment_operator::purge_at(const shipment_state& s) const noexcept {
  // A shipment still on its way is kept long after its last scan and its delivery date: a
  // quiet carrier is common (Olist orders go weeks between pickup and delivery), and its
  // delivery must still be told.
  if (is_final(s.status)) return s.last_scan_ms + config_.retention_ms;
  return std::max(s.last_scan_ms, s.deadline_ms) + config_.open_retention_ms;
}

std::int64_t shipment_operator::stuck_due(shipment_state& s,
                                          const lane_stats& lane) const noexcept {
  s.stuck_threshold_ms = stuck_threshold_ms(lane);
  std::int64_t due = s.last_scan_ms + s.stuck_threshold_ms + 1;  // quiet longer than the threshold
  // The rate limit defers the flag rather than dropping it, so a shipment that goes quiet
  // again soon after a flag is still flagged once the interval is over.
  if (s.flagged_ms != 0) due = std::max(due, s.flagged_ms + config_.anomaly_min_interval_ms);
  return due;
}

std::int64_t shipment_operator::stuck_threshold_ms(const lane_stats& lane) const noexcept {
  if (lane.samples < config_.min_lane_samples) return config_.stuck_default_ms;
  const double learned = config_.stuck_factor * static_cast<double>(lane.quantile_ms(0.95));
  // At least a millisecond: a zero threshold would flag every shipment as it is created.
  if (!(learned >= 1)) return 1;
  return std::llround(std::min(learned, 1e15));  // keeps a huge factor from overflowing
}

lane_stats shipment_operator::lane_at(const shipment_state& s, keyed_state<lane_stats>& lanes,
                                      std::int64_t before_ms) const {
  const std::string key = lane_key(s.carrier, s.origin, s.destination);
  lane_stats lane;
  if (const lane_stats* own = lanes.find(key)) lane = *own;
  if (shared_ != nullptr) shared_->add_shared(key, before_ms, lane);
  return lane;
}

schemas::tracking_notification shipment_operator::message(std::string_view id,
                                                          const shipment_state& s,
                                                          std::int64_t ts_ms) const {
  schemas::tracking_notification msg;
  msg.ts_ms = ts_ms;
  msg.customer_id = s.customer_id;
  msg.shipment_id = std::string(id);
  msg.order_id = s.order_id;
  msg.carrier = s.carrier;
  msg.status = std::string(to_string(s.status));
  msg.estimated_delivery_ms = s.deadline_ms;
  return msg;
}

}  // namespace herald::rules

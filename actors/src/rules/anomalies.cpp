#include "herald/actors/rules/anomalies.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

#include "herald/state/bytes.hpp"

namespace herald::rules {
namespace {

constexpr std::uint8_t bot_state_version = 1;
constexpr std::uint8_t count_sketch_version = 1;
// v3 drops v2's next_count (buckets close on the watermark, no events are held ahead of the
// open one); v1 and v2 are still read, a v2 next_count joining the open bucket's count.
constexpr std::uint8_t demand_state_version = 3;
constexpr std::uint8_t price_state_version = 1;
constexpr std::uint8_t cart_quantity_state_version = 1;
// Rings larger than this are corrupt input, not state this code wrote.
constexpr std::uint64_t max_ring = 4096;

// Builds a flat JSON object of numbers and plain strings (ids and rule names: no escaping
// needed beyond quotes and backslashes, which are escaped anyway).
class json_object {
 public:
  json_object& num(std::string_view k, double v) {
    key(k);
    if (!std::isfinite(v)) v = 0;
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
    return *this;
  }
  json_object& num(std::string_view k, std::int64_t v) {
    key(k);
    out_ += std::to_string(v);
    return *this;
  }
  json_object& str(std::string_view k, std::string_view v) {
    key(k);
    out_.push_back('"');
    for (char c : v) {
      if (c == '"' || c == '\\') out_.push_back('\\');
      if (static_cast<unsigned char>(c) < 0x20) continue;  // ids never carry control chars
      out_.push_back(c);
    }
    out_.push_back('"');
    return *this;
  }
  std::string done() {
    out_.push_back('}');
    return std::move(out_);
  }

 private:
  void key(std::string_view k) {
    if (out_.size() > 1) out_.push_back(',');
    out_.push_back('"');
    out_.append(k);
    out_.append("\":");
  }
  std::string out_ = "{";
};

// A flag may go out when the entity was never flagged or its last flag is far enough away in
// event time, on either side: an event applied out of order (late) must not be flagged within
// the interval before a later-dated flag either.
bool may_flag(std::int64_t last_flag_ms, std::int64_t now_ms, std::int64_t interval) noexcept {
  if (last_flag_ms == 0) return true;
  const std::int64_t gap = now_ms >= last_flag_ms ? now_ms - last_flag_ms : last_flag_ms - now_ms;
  return gap >= interval;
}

std::string trigger_of(const schemas::event& ev) {
  return ev.event_id.empty() ? "@" + std::to_string(ev.ts_ms) : ev.event_id;
}

// Median of a ring: copies into a stack buffer (rings are ~31 values), so the per-event cost
// is an nth_element, not an allocation.
template <class T>
double median_of(const std::vector<T>& values) {
  constexpr std::size_t small = 128;
  T buf[small];
  std::vector<T> heap;
  T* first = buf;
  if (values.size() > small) {
    heap = values;
    first = heap.data();
  } else {
    std::copy(values.begin(), values.end(), buf);
  }
  T* last = first + values.size();
  T* mid = first + values.size() / 2;
  std::nth_element(first, mid, last);
  if (values.size() % 2 == 1) return static_cast<double>(*mid);
  const T upper = *mid;
  const T lower = *std::max_element(first, mid);
  return (static_cast<double>(lower) + static_cast<double>(upper)) / 2.0;
}

void write_ring(state::byte_writer& w, const bounded_ring<std::int64_t>& r) {
  w.varint(r.values.size());
  for (auto v : r.values) w.svarint(v);
  w.svarint(r.next);
}

bool read_ring(state::byte_reader& r, bounded_ring<std::int64_t>& out) {
  std::uint64_t n = 0;
  if (!r.varint(n) || n > max_ring) return false;
  out.values.resize(n);
  for (auto& v : out.values)
    if (!r.integer(v)) return false;
  return r.integer(out.next) && (n == 0 || out.next < n);
}

schemas::anomaly_flag make_flag(std::string_view kind, std::string_view entity_type,
                                std::string_view entity_id, std::string_view trigger,
                                std::int64_t ts_ms) {
  schemas::anomaly_flag f;
  f.kind = std::string(kind);
  f.entity_type = std::string(entity_type);
  f.entity_id = std::string(entity_id);
  f.ts_ms = ts_ms;
  // The entity type is part of the entity: a customer and a session may share an id.
  std::string entity(entity_type);
  entity.push_back(':');
  entity.append(entity_id);
  f.flag_id = schemas::make_id(kind, entity, trigger);
  return f;
}

}  // namespace

// ---- codecs ---------------------------------------------------------------------------------

void bot_state::encode(std::string& out) const {
  state::byte_writer w(out);
  w.u8(bot_state_version);
  write_ring(w, times);
  w.svarint(bucket_start_ms);
  w.svarint(bucket_count);
  w.svarint(last_flag_ms);
  w.svarint(flagged_until_ms);
}

bool bot_state::decode(std::string_view in, bot_state& out) {
  state::byte_reader r(in);
  std::uint8_t version = 0;
  return r.u8(version) && version == bot_state_version && read_ring(r, out.times) &&
         r.integer(out.bucket_start_ms) && r.integer(out.bucket_count) &&
         r.integer(out.last_flag_ms) && r.integer(out.flagged_until_ms) && r.done();
}

void count_sketch::add(std::int64_t count) noexcept {
  const auto bin = static_cast<std::size_t>(std::clamp<std::int64_t>(count, 0, bins - 1));
  ++counts[bin];
  if (++total < max_total) return;
  total = 0;
  for (auto& c : counts) {
    c /= 2;
    total += c;
  }
}

std::int64_t count_sketch::median() const noexcept {
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < bins; ++i) {
    seen += counts[i];
    if (2 * seen >= total && seen > 0) return static_cast<std::int64_t>(i);
  }
  return 0;
}

std::int64_t count_sketch::mad() const noexcept {
  const auto med = static_cast<std::size_t>(median());
  std::uint64_t seen = 0;
  for (std::size_t d = 0; d < bins; ++d) {
    if (d == 0) {
      seen += counts[med];
    } else {
      if (med >= d) seen += counts[med - d];
      if (med + d < bins) seen += counts[med + d];
    }
    if (2 * seen >= total && seen > 0) return static_cast<std::int64_t>(d);
  }
  return 0;
}

void count_sketch::encode(std::string& out) const {
  state::byte_writer w(out);
  w.u8(count_sketch_version);
  for (auto c : counts) w.varint(c);
}

bool count_sketch::decode(std::string_view in, count_sketch& out) {
  state::byte_reader r(in);
  std::uint8_t version = 0;
  if (!r.u8(version) || version != count_sketch_version) return false;
  out.total = 0;
  for (auto& c : out.counts) {
    std::uint64_t v = 0;
    if (!r.varint(v) || v > max_total) return false;
    c = static_cast<std::uint32_t>(v);
    out.total += v;
  }
  return r.done();
}

void demand_state::encode(std::string& out) const {
  state::byte_writer w(out);
  w.u8(demand_state_version);
  w.u8(started ? 1 : 0);
  w.svarint(bucket_start_ms);
  w.svarint(count);
  w.f64(mean);
  w.f64(var);
  w.svarint(history);
  w.svarint(last_flag_ms);
}

bool demand_state::decode(std::string_view in, demand_state& out) {
  state::byte_reader r(in);
  std::uint8_t version = 0, started = 0;
  if (!r.u8(version) || version < 1 || version > demand_state_version || !r.u8(started) ||
      started > 1)
    return false;
  out.started = started == 1;
  std::int64_t ahead = 0;
  if (!(r.integer(out.bucket_start_ms) && r.integer(out.count) && r.f64(out.mean) &&
        r.f64(out.var) && r.integer(out.history) && r.integer(out.last_flag_ms) &&
        (version != 2 || r.integer(ahead)) && r.done()))
    return false;
  out.count += ahead;
  return true;
}

void price_state::encode(std::string& out) const {
  state::byte_writer w(out);
  w.u8(price_state_version);
  w.varint(prices.values.size());
  for (auto p : prices.values) w.f64(p);
  w.svarint(prices.next);
  w.svarint(last_flag_ms);
}

bool price_state::decode(std::string_view in, price_state& out) {
  state::byte_reader r(in);
  std::uint8_t version = 0;
  std::uint64_t n = 0;
  if (!r.u8(version) || version != price_state_version || !r.varint(n) || n > max_ring)
    return false;
  out.prices.values.resize(n);
  for (auto& p : out.prices.values)
    if (!r.f64(p)) return false;
  return r.integer(out.prices.next) && (n == 0 || out.prices.next < n) &&
         r.integer(out.last_flag_ms) && r.done();
}

void cart_quantity_state::encode(std::string& out) const {
  state::byte_writer w(out);
  w.u8(cart_quantity_state_version);
  write_ring(w, quantities);
  w.svarint(last_flag_ms);
}

bool cart_quantity_state::decode(std::string_view in, cart_quantity_state& out) {
  state::byte_reader r(in);
  std::uint8_t version = 0;
  return r.u8(version) && version == cart_quantity_state_version && read_ring(r, out.quantities) &&
         r.integer(out.last_flag_ms) && r.done();
}

// ---- bot_click_rate -------------------------------------------------------------------------

bot_detector::bot_detector(bot_config config) : config_(config) {}

std::int64_t bot_detector::expires_at(const bot_state& s) const noexcept {
  std::int64_t last = 0;
  for (const auto t : s.times.values) last = std::max(last, t);
  std::int64_t at = std::max(last + config_.window_ms, s.flagged_until_ms);
  if (s.last_flag_ms != 0) at = std::max(at, s.last_flag_ms + config_.min_interval_ms);
  return at;
}

void bot_detector::retire(const bot_state& s) {
  if (s.bucket_start_ms != 0) population_.add(s.bucket_count);
}

const bot_state* bot_detector::on_event(const schemas::event& ev, keyed_state<bot_state>& customers,
                                        anomaly_effects& effects) {
  if (ev.customer_id.empty()) return nullptr;
  return observe("customer", ev.customer_id, ev.ts_ms, trigger_of(ev), customers, effects);
}

const bot_state* bot_detector::on_session_event(const schemas::event& ev,
                                                keyed_state<bot_state>& sessions,
                                                anomaly_effects& effects) {
  if (ev.session_id.empty()) return nullptr;
  return observe("session", ev.session_id, ev.ts_ms, trigger_of(ev), sessions, effects);
}

const bot_state* bot_detector::observe(std::string_view entity_type, std::string_view entity_id,
                                       std::int64_t ts_ms, std::string_view trigger,
                                       keyed_state<bot_state>& states, anomaly_effects& effects) {
  bot_state& s = states.get_or_create(entity_id);
  const auto capacity = static_cast<std::size_t>(std::max(config_.absolute_limit, 0)) + 1;
  s.times.push(ts_ms, capacity);

  // Tumbling windows feed the population sketch: one sample per entity and window, so heavy
  // entities do not outweigh the many quiet ones in the baseline.
  if (s.bucket_start_ms == 0 || ts_ms >= s.bucket_start_ms + config_.window_ms) {
    retire(s);
    s.bucket_start_ms = ts_ms;
    s.bucket_count = 0;
  }
  ++s.bucket_count;

  // Counting over the ring (not arrival order) keeps slightly late events in their window.
  std::int64_t count = 0;
  for (auto t : s.times.values)
    if (t <= ts_ms && t > ts_ms - config_.window_ms) ++count;

  const bool absolute = count > config_.absolute_limit;
  double threshold = config_.absolute_limit;
  const std::int64_t med = population_.median(), mad = population_.mad();
  bool relative = false;
  if (!absolute && count >= config_.min_count &&
      static_cast<std::int64_t>(population_.total) >= config_.min_population) {
    const double baseline = static_cast<double>(std::max<std::int64_t>(med + mad, 1));
    const double rel = config_.baseline_factor * baseline;
    if (static_cast<double>(count) > rel) {
      relative = true;
      threshold = rel;
    }
  }
  if ((absolute || relative) && may_flag(s.last_flag_ms, ts_ms, config_.min_interval_ms)) {
    auto f = make_flag("bot_click_rate", entity_type, entity_id, trigger, ts_ms);
    f.score = static_cast<double>(count);
    f.threshold = threshold;
    f.window_ms = config_.window_ms;
    f.evidence_json = json_object{}
                          .num("events", count)
                          .str("rule", absolute ? "absolute" : "relative")
                          .num("baseline_median", med)
                          .num("baseline_mad", mad)
                          .num("population", static_cast<std::int64_t>(population_.total))
                          .done();
    s.last_flag_ms = std::max(s.last_flag_ms, ts_ms);
    s.flagged_until_ms = std::max(s.flagged_until_ms, ts_ms + config_.flagged_for_ms);
    effects.emit(std::move(f));
  }
  states.mark_dirty(entity_id);
  return &s;
}

// ---- demand_spike / traffic_spike -----------------------------------------------------------

demand_spike_detector::demand_spike_detector(demand_config config, std::string kind,
                                             std::string entity_type, std::string signal)
    : config_(config),
      kind_(std::move(kind)),
      entity_type_(std::move(entity_type)),
      signal_(std::move(signal)) {}

void demand_spike_detector::on_event(const schemas::event& ev, keyed_state<demand_state>& states,
                                     anomaly_effects& effects) {
  if (ev.type != schemas::event_type::product_view &&
      ev.type != schemas::event_type::cart_item_added)
    return;
  if (ev.sku.empty()) return;
  observe(ev.sku, ev.ts_ms, states, effects);
}

bool demand_spike_detector::observe(std::string_view key, std::int64_t ts_ms,
                                    keyed_state<demand_state>& states, anomaly_effects& effects,
                                    std::int64_t weight) {
  demand_state& s = states.get_or_create(key);
  const std::int64_t bucket = config_.bucket_ms;
  if (!s.started) {
    s.started = true;
    s.bucket_start_ms = ts_ms - (((ts_ms % bucket) + bucket) % bucket);
  }
  // Closed buckets are final: an event of one (late beyond the watermark its task closed it
  // on) is counted by the task as late and left out, never added to another bucket.
  if (ts_ms < s.bucket_start_ms || weight <= 0) return false;
  close_until(key, s, ts_ms, effects);
  const bool below = s.count < config_.min_volume;
  s.count += weight;
  states.mark_dirty(key);
  return below && s.count >= config_.min_volume;
}

void demand_spike_detector::advance(std::string_view key, std::int64_t now_ms,
                                    keyed_state<demand_state>& states, anomaly_effects& effects) {
  demand_state* s = states.find(key);
  if (s == nullptr || !s->started) return;
  const std::int64_t before = s->bucket_start_ms;
  close_until(key, *s, now_ms, effects);
  if (s->bucket_start_ms != before) states.mark_dirty(key);
}

std::int64_t demand_spike_detector::closes_at(const demand_state& s) const noexcept {
  return s.bucket_start_ms + config_.bucket_ms;
}

void demand_spike_detector::close_until(std::string_view key, demand_state& s, std::int64_t now_ms,
                                        anomaly_effects& effects) const {
  if (now_ms < closes_at(s)) return;
  const std::int64_t bucket = config_.bucket_ms;
  // The open bucket, then the empty buckets of a gap, which pull the mean down like any quiet
  // period would; past a few dozen the EWMA has forgotten the old level anyway.
  const std::int64_t closed = (now_ms - s.bucket_start_ms) / bucket;
  const std::int64_t open_ms = s.bucket_start_ms + closed * bucket;
  close_bucket(key, s, effects);
  const std::int64_t empty = std::min<std::int64_t>(closed - 1, config_.max_gap_buckets);
  for (std::int64_t i = 0; i < empty; ++i) close_bucket(key, s, effects);
  s.bucket_start_ms = open_ms;
}

void demand_spike_detector::close_bucket(std::string_view key, demand_state& s,
                                         anomaly_effects& effects) const {
  const auto x = static_cast<double>(s.count);
  const double sd = std::max({std::sqrt(s.var), config_.sd_floor, std::sqrt(s.mean)});
  const double z = (x - s.mean) / sd;
  const std::int64_t end_ms = s.bucket_start_ms + config_.bucket_ms;
  if (s.history >= config_.min_history && s.count >= config_.min_volume &&
      z >= config_.z_threshold && x >= config_.min_ratio * s.mean &&
      may_flag(s.last_flag_ms, end_ms, config_.min_interval_ms)) {
    std::string trigger = signal_;
    if (!trigger.empty()) trigger.push_back('@');
    trigger.append(std::to_string(s.bucket_start_ms));
    auto f = make_flag(kind_, entity_type_, key, trigger, end_ms);
    f.score = z;
    f.threshold = config_.z_threshold;
    f.window_ms = config_.bucket_ms;
    json_object evidence;
    if (!signal_.empty()) evidence.str("signal", signal_);
    f.evidence_json = evidence.num("count", s.count)
                          .num("mean", s.mean)
                          .num("sd", sd)
                          .num("bucket_start_ms", s.bucket_start_ms)
                          .num("history", s.history)
                          .done();
    s.last_flag_ms = std::max(s.last_flag_ms, end_ms);
    effects.emit(std::move(f));
  }
  // The first bucket seeds the mean; seeding at 0 would make the first real level a spike.
  if (s.history == 0) {
    s.mean = x;
    s.var = 0;
  } else {
    const double diff = x - s.mean;
    const double a = config_.alpha;
    s.mean += a * diff;
    s.var = (1 - a) * (s.var + a * diff * diff);
  }
  if (s.history < 1'000'000) ++s.history;
  s.count = 0;
  s.bucket_start_ms = end_ms;
}

// ---- price_anomaly --------------------------------------------------------------------------

price_detector::price_detector(price_config config) : config_(config) {}

void price_detector::on_event(const schemas::event& ev, keyed_state<price_state>& skus,
                              anomaly_effects& effects) {
  if (ev.type != schemas::event_type::product_view || ev.sku.empty()) return;
  if (!(ev.price > 0) || !std::isfinite(ev.price)) return;  // unknown price
  price_state& s = skus.get_or_create(ev.sku);
  if (s.prices.values.size() >= config_.min_samples && !s.prices.values.empty()) {
    const double median = median_of(s.prices.values);
    const bool high = ev.price > config_.factor * median;
    const bool low = ev.price * config_.factor < median;
    if ((high || low) && median > 0 &&
        may_flag(s.last_flag_ms, ev.ts_ms, config_.min_interval_ms)) {
      auto f = make_flag("price_anomaly", "sku", ev.sku, trigger_of(ev), ev.ts_ms);
      f.score = high ? ev.price / median : median / ev.price;
      f.threshold = config_.factor;
      f.window_ms = 0;  // a count of samples, not a time window: see evidence
      f.evidence_json = json_object{}
                            .num("price", ev.price)
                            .num("median", median)
                            .num("samples", static_cast<std::int64_t>(s.prices.values.size()))
                            .str("direction", high ? "high" : "low")
                            .str("customer_id", ev.customer_id)
                            .done();
      s.last_flag_ms = std::max(s.last_flag_ms, ev.ts_ms);
      effects.emit(std::move(f));
    }
  }
  // Outliers enter the ring too: the median shrugs them off, and a real repricing becomes the
  // new normal after half the ring.
  s.prices.push(ev.price, config_.samples);
  skus.mark_dirty(ev.sku);
}

// ---- cart_quantity --------------------------------------------------------------------------

cart_quantity_detector::cart_quantity_detector(cart_quantity_config config) : config_(config) {}

void cart_quantity_detector::on_event(const schemas::event& ev,
                                      keyed_state<cart_quantity_state>& skus,
                                      anomaly_effects& effects) {
  if (ev.type != schemas::event_type::cart_item_added || ev.sku.empty() || ev.quantity <= 0) return;
  cart_quantity_state& s = skus.get_or_create(ev.sku);
  const bool absolute = ev.quantity > config_.absolute_limit;
  bool relative = false;
  double median = 0;
  if (s.quantities.values.size() >= config_.min_samples && !s.quantities.values.empty()) {
    median = median_of(s.quantities.values);
    relative = static_cast<double>(ev.quantity) > config_.factor * median;
  }
  if ((absolute || relative) && may_flag(s.last_flag_ms, ev.ts_ms, config_.min_interval_ms)) {
    auto f = make_flag("cart_quantity", "sku", ev.sku, trigger_of(ev), ev.ts_ms);
    if (absolute) {
      f.score = static_cast<double>(ev.quantity);
      f.threshold = static_cast<double>(config_.absolute_limit);
    } else {
      f.score = static_cast<double>(ev.quantity) / median;
      f.threshold = config_.factor;
    }
    f.window_ms = 0;  // a count of samples, not a time window: see evidence
    f.evidence_json = json_object{}
                          .num("quantity", ev.quantity)
                          .str("rule", absolute ? "absolute" : "relative")
                          .num("median", median)
                          .num("samples", static_cast<std::int64_t>(s.quantities.values.size()))
                          .str("customer_id", ev.customer_id)
                          .str("cart_id", ev.cart_id)
                          .done();
    s.last_flag_ms = std::max(s.last_flag_ms, ev.ts_ms);
    effects.emit(std::move(f));
  }
  s.quantities.push(ev.quantity, config_.samples);
  skus.mark_dirty(ev.sku);
}

}  // namespace herald::rules

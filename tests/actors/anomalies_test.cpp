#include "herald/actors/rules/anomalies.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "fakes.hpp"

namespace herald::rules {
namespace {

using test::fake_state;
using test::minute;
using test::t0;

struct recorded_effects final : anomaly_effects {
  std::vector<schemas::anomaly_flag> flags;
  void emit(schemas::anomaly_flag&& f) override { flags.push_back(std::move(f)); }
};

schemas::event click(std::string customer, std::int64_t ts, std::string id = {}) {
  schemas::event ev;
  ev.type = schemas::event_type::page_view;
  ev.customer_id = std::move(customer);
  ev.session_id = "s-" + ev.customer_id;
  ev.ts_ms = ts;
  ev.event_id = id.empty() ? ev.customer_id + "@" + std::to_string(ts) : std::move(id);
  return ev;
}

schemas::event view(std::string sku, std::int64_t ts, double price = 10.0) {
  schemas::event ev;
  ev.type = schemas::event_type::product_view;
  ev.customer_id = "c1";
  ev.sku = std::move(sku);
  ev.price = price;
  ev.ts_ms = ts;
  ev.event_id = "v@" + std::to_string(ts);
  return ev;
}

schemas::event cart_add(std::string sku, std::int64_t qty, std::int64_t ts) {
  schemas::event ev;
  ev.type = schemas::event_type::cart_item_added;
  ev.customer_id = "c1";
  ev.cart_id = "k1";
  ev.sku = std::move(sku);
  ev.quantity = qty;
  ev.unit_price = 5;
  ev.ts_ms = ts;
  ev.event_id = "a@" + std::to_string(ts);
  return ev;
}

template <class T>
std::string encoded(const T& v) {
  std::string out;
  v.encode(out);
  return out;
}

// ---- bot_click_rate -------------------------------------------------------------------------

TEST(BotDetectorTest, FlagsAboveAbsoluteLimitWithExactFields) {
  bot_detector bots;
  fake_state<bot_state> st;
  recorded_effects fx;
  for (int i = 0; i < 30; ++i) bots.on_event(click("c1", t0 + i * 1000), st, fx);
  EXPECT_TRUE(fx.flags.empty());
  bots.on_event(click("c1", t0 + 30'000, "e31"), st, fx);
  ASSERT_EQ(fx.flags.size(), 1u);
  const auto& f = fx.flags[0];
  EXPECT_EQ(f.kind, "bot_click_rate");
  EXPECT_EQ(f.entity_type, "customer");
  EXPECT_EQ(f.entity_id, "c1");
  EXPECT_EQ(f.ts_ms, t0 + 30'000);
  EXPECT_DOUBLE_EQ(f.score, 31);
  EXPECT_DOUBLE_EQ(f.threshold, 30);
  EXPECT_EQ(f.window_ms, 60'000);
  EXPECT_EQ(f.evidence_json,
            R"({"events":31,"rule":"absolute","baseline_median":0,"baseline_mad":0,)"
            R"("population":0})");
  EXPECT_EQ(f.flag_id, schemas::make_id("bot_click_rate", "customer:c1", "e31"));
  EXPECT_TRUE(st.values["c1"].is_bot(t0 + 30'000));
  EXPECT_FALSE(st.values["c1"].is_bot(t0 + 30'000 + bots.config().flagged_for_ms));
}

TEST(BotDetectorTest, SessionsAreFlaggedUnderTheirOwnEntityType) {
  bot_detector bots;
  fake_state<bot_state> st;
  recorded_effects fx;
  for (int i = 0; i < 31; ++i) bots.on_session_event(click("c1", t0 + i * 1000), st, fx);
  ASSERT_EQ(fx.flags.size(), 1u);
  EXPECT_EQ(fx.flags[0].entity_type, "session");
  EXPECT_EQ(fx.flags[0].entity_id, "s-c1");
}

// 300 customers with 2 events per window give a baseline of median 2, MAD 0.
void seed_population(bot_detector& bots, fake_state<bot_state>& st, recorded_effects& fx) {
  for (int c = 0; c < 300; ++c) {
    const std::string id = "p" + std::to_string(c);
    bots.on_event(click(id, t0), st, fx);
    bots.on_event(click(id, t0 + 1000), st, fx);
    bots.on_event(click(id, t0 + 61'000), st, fx);
  }
}

TEST(BotDetectorTest, FlagsAboveRelativeBaseline) {
  bot_config cfg;
  cfg.absolute_limit = 60;
  bot_detector bots(cfg);
  fake_state<bot_state> st;
  recorded_effects fx;
  seed_population(bots, st, fx);
  EXPECT_EQ(bots.population().median(), 2);
  EXPECT_EQ(bots.population().mad(), 0);
  for (int i = 0; i < 20; ++i) bots.on_event(click("bot", t0 + i * 1000), st, fx);
  EXPECT_TRUE(fx.flags.empty());  // 20 = 10 x 2 is not above
  bots.on_event(click("bot", t0 + 20'000), st, fx);
  ASSERT_EQ(fx.flags.size(), 1u);
  EXPECT_DOUBLE_EQ(fx.flags[0].score, 21);
  EXPECT_DOUBLE_EQ(fx.flags[0].threshold, 20);
  EXPECT_EQ(fx.flags[0].evidence_json,
            R"({"events":21,"rule":"relative","baseline_median":2,"baseline_mad":0,)"
            R"("population":300})");
}

TEST(BotDetectorTest, RelativeRuleNeedsMinimumCount) {
  bot_config cfg;
  cfg.absolute_limit = 60;
  cfg.baseline_factor = 2;  // threshold 4: only min_count stands between 19 events and a flag
  bot_detector bots(cfg);
  fake_state<bot_state> st;
  recorded_effects fx;
  seed_population(bots, st, fx);
  for (int i = 0; i < 19; ++i) bots.on_event(click("busy", t0 + i * 1000), st, fx);
  EXPECT_TRUE(fx.flags.empty());
  bots.on_event(click("busy", t0 + 19'000), st, fx);
  EXPECT_EQ(fx.flags.size(), 1u);
}

TEST(BotDetectorTest, NoFlagOnSteadyHumanTraffic) {
  // REES46's busiest real shopper: 8 events per minute, for an hour, with 300 like them.
  bot_detector bots;
  fake_state<bot_state> st;
  recorded_effects fx;
  for (int m = 0; m < 60; ++m)
    for (int c = 0; c < 300; ++c)
      for (int i = 0; i < 8; ++i)
        bots.on_event(click("c" + std::to_string(c), t0 + m * minute + i * 7000), st, fx);
  EXPECT_GE(bots.population().total, 200u);
  EXPECT_TRUE(fx.flags.empty());
}

TEST(BotDetectorTest, NoFlagOnSlowRamp) {
  bot_detector bots;
  fake_state<bot_state> st;
  recorded_effects fx;
  seed_population(bots, st, fx);
  // 1, 2, ... 19 events per minute: busier and busier, never bot-like.
  std::int64_t ts = t0 + 2 * minute;
  for (int rate = 1; rate < 20; ++rate, ts += minute)
    for (int i = 0; i < rate; ++i) bots.on_event(click("c", ts + i * (minute / rate)), st, fx);
  EXPECT_TRUE(fx.flags.empty());
}

TEST(BotDetectorTest, RateLimitedPerEntity) {
  bot_detector bots;
  fake_state<bot_state> st;
  recorded_effects fx;
  for (int i = 0; i < 500; ++i) bots.on_event(click("c1", t0 + i * 1000), st, fx);
  EXPECT_EQ(fx.flags.size(), 1u);  // 500 s < 10 min
  for (int i = 0; i < 100; ++i) bots.on_event(click("c1", t0 + 600'000 + i * 1000), st, fx);
  EXPECT_EQ(fx.flags.size(), 2u);
  EXPECT_NE(fx.flags[0].flag_id, fx.flags[1].flag_id);
}

TEST(BotDetectorTest, StateExpiresOnceNothingInItMatters) {
  bot_detector d;
  fake_state<bot_state> st;
  recorded_effects fx;
  // The state returned is the entity's; new on its first event only (the task arms the
  // expiry timer then).
  const bot_state* first = d.on_event(click("c1", t0), st, fx);
  ASSERT_EQ(first, &st.values["c1"]);
  EXPECT_TRUE(first->is_new());
  EXPECT_FALSE(d.on_event(click("c1", t0 + 5'000), st, fx)->is_new());
  EXPECT_EQ(d.on_event(click("", t0), st, fx), nullptr) << "no customer, no state";
  EXPECT_EQ(d.expires_at(st.values["c1"]), t0 + 5'000 + 60'000) << "the window after the last";
  // Retiring it gives the population its last window (2 events), as its next event would.
  const auto before = d.population().total;
  d.retire(st.values["c1"]);
  EXPECT_EQ(d.population().total, before + 1);
  EXPECT_EQ(d.population().median(), 2);
  // A flagged bot: kept while the flag is in force (1 h) and the rate limit runs (10 min).
  for (int i = 0; i < 40; ++i) d.on_event(click("bot", t0 + i * 100), st, fx);
  ASSERT_EQ(fx.flags.size(), 1u);
  const auto& b = st.values["bot"];
  EXPECT_EQ(d.expires_at(b), b.flagged_until_ms);
  EXPECT_GE(b.flagged_until_ms, b.last_flag_ms + 3'600'000);
}

TEST(BotDetectorTest, StateIsBounded) {
  bot_detector bots;
  fake_state<bot_state> st;
  recorded_effects fx;
  for (int i = 0; i < 100; ++i) bots.on_event(click("c1", t0 + i * 100), st, fx);
  const auto size = encoded(st.values["c1"]).size();
  for (int i = 100; i < 5000; ++i) bots.on_event(click("c1", t0 + i * 100), st, fx);
  EXPECT_EQ(st.values["c1"].times.values.size(), 31u);
  EXPECT_LE(encoded(st.values["c1"]).size(), size + 8);  // varints may widen, never grow
}

TEST(BotDetectorTest, CodecRoundTrips) {
  bot_detector bots;
  fake_state<bot_state> st;
  recorded_effects fx;
  for (int i = 0; i < 40; ++i) bots.on_event(click("c1", t0 + i * 1000), st, fx);
  const bot_state& s = st.values["c1"];
  bot_state back;
  ASSERT_TRUE(bot_state::decode(encoded(s), back));
  EXPECT_EQ(back, s);
  std::string bad = encoded(s);
  bad[0] = 9;
  EXPECT_FALSE(bot_state::decode(bad, back));
  EXPECT_FALSE(bot_state::decode(encoded(s).substr(0, 5), back));

  seed_population(bots, st, fx);
  count_sketch sk;
  ASSERT_TRUE(count_sketch::decode(encoded(bots.population()), sk));
  EXPECT_EQ(sk, bots.population());
}

TEST(BotDetectorTest, DeterministicIds) {
  auto run = [] {
    bot_detector bots;
    fake_state<bot_state> st;
    recorded_effects fx;
    for (int i = 0; i < 31; ++i) bots.on_event(click("c1", t0 + i * 1000), st, fx);
    return fx.flags.at(0).flag_id;
  };
  EXPECT_EQ(run(), run());
  EXPECT_EQ(run().size(), 32u);
}

TEST(AnomalySketchTest, MedianAndMad) {
  count_sketch sk;
  for (int c : {1, 1, 2, 2, 2, 3, 9}) sk.add(c);
  EXPECT_EQ(sk.median(), 2);
  EXPECT_EQ(sk.mad(), 1);
  for (int i = 0; i < 100'000; ++i) sk.add(i % 3);
  EXPECT_LT(sk.total, count_sketch::max_total);
}

// ---- demand_spike / traffic_spike -----------------------------------------------------------

constexpr std::int64_t bucket = 600'000;
constexpr std::int64_t base = t0 - t0 % bucket;

// `counts[i]` views of `sku` in bucket i, then closes the last bucket.
void feed(demand_spike_detector& d, fake_state<demand_state>& st, recorded_effects& fx,
          const std::vector<int>& counts, std::string_view sku = "s1") {
  for (std::size_t b = 0; b < counts.size(); ++b)
    for (int i = 0; i < counts[b]; ++i)
      d.on_event(view(std::string(sku), base + static_cast<std::int64_t>(b) * bucket + i), st, fx);
  d.advance(sku, base + static_cast<std::int64_t>(counts.size()) * bucket, st, fx);
}

TEST(DemandSpikeTest, FlagsSpikeWithExactFields) {
  demand_spike_detector d;
  fake_state<demand_state> st;
  recorded_effects fx;
  std::vector<int> counts(10, 30);
  counts.push_back(100);
  feed(d, st, fx, counts);
  ASSERT_EQ(fx.flags.size(), 1u);
  const auto& f = fx.flags[0];
  EXPECT_EQ(f.kind, "demand_spike");
  EXPECT_EQ(f.entity_type, "sku");
  EXPECT_EQ(f.entity_id, "s1");
  EXPECT_EQ(f.ts_ms, base + 11 * bucket);
  EXPECT_DOUBLE_EQ(f.score, 70 / std::sqrt(30.0));  // a constant history: Poisson floor
  EXPECT_DOUBLE_EQ(f.threshold, 4);
  EXPECT_EQ(f.window_ms, bucket);
  EXPECT_NE(f.evidence_json.find(R"({"count":100,"mean":30,"sd":5.477)"), std::string::npos)
      << f.evidence_json;
  EXPECT_NE(f.evidence_json.find(R"("history":10})"), std::string::npos) << f.evidence_json;
  EXPECT_EQ(f.flag_id,
            schemas::make_id("demand_spike", "sku:s1", std::to_string(base + 10 * bucket)));
}

TEST(DemandSpikeTest, OneOrderLineOfThousandsOfUnitsIsASpikeInUnits) {
  // Orders of a few units each bucket, then one line of 2 880 units: one event, but a spike
  // in the units ordered (the "units_ordered" signal weighs each line by its quantity).
  demand_spike_detector d({}, "demand_spike", "sku", "units_ordered");
  fake_state<demand_state> st;
  recorded_effects fx;
  for (int b = 0; b < 6; ++b)
    for (int i = 0; i < 5; ++i) (void)d.observe("s1", base + b * bucket + i, st, fx, 6);
  EXPECT_TRUE(fx.flags.empty()) << "30 units a bucket";
  EXPECT_TRUE(d.observe("s1", base + 6 * bucket, st, fx, 2880)) << "min_volume reached at once";
  d.advance("s1", base + 7 * bucket, st, fx);
  ASSERT_EQ(fx.flags.size(), 1u);
  EXPECT_NE(fx.flags[0].evidence_json.find(R"({"signal":"units_ordered","count":2880,"mean":30,)"),
            std::string::npos)
      << fx.flags[0].evidence_json;
  // Counted in events, the same line would have been one event: no flag.
  demand_spike_detector events;
  fake_state<demand_state> st2;
  recorded_effects fx2;
  for (int b = 0; b < 6; ++b)
    for (int i = 0; i < 5; ++i) (void)events.observe("s1", base + b * bucket + i, st2, fx2);
  (void)events.observe("s1", base + 6 * bucket, st2, fx2);
  events.advance("s1", base + 7 * bucket, st2, fx2);
  EXPECT_TRUE(fx2.flags.empty());
}

TEST(DemandSpikeTest, SpikeFlaggedByTheNextEventToo) {
  demand_spike_detector d;
  fake_state<demand_state> st;
  recorded_effects fx;
  std::vector<int> counts(5, 30);
  counts.push_back(100);
  for (std::size_t b = 0; b < counts.size(); ++b)
    for (int i = 0; i < counts[b]; ++i)
      d.on_event(view("s1", base + static_cast<std::int64_t>(b) * bucket + i), st, fx);
  EXPECT_TRUE(fx.flags.empty());  // the spike bucket is still open
  d.on_event(view("s1", base + 9 * bucket), st, fx);
  EXPECT_EQ(fx.flags.size(), 1u);
}

TEST(DemandSpikeTest, NoFlagOnSteadyTraffic) {
  demand_spike_detector d;
  fake_state<demand_state> st;
  recorded_effects fx;
  std::vector<int> counts;
  for (int b = 0; b < 100; ++b) counts.push_back(40 + (b * 7) % 13);  // 40..52, noisy
  feed(d, st, fx, counts);
  EXPECT_TRUE(fx.flags.empty());
  EXPECT_EQ(st.values["s1"].history, 100);
}

TEST(DemandSpikeTest, NoFlagOnSlowRamp) {
  demand_spike_detector d;
  fake_state<demand_state> st;
  recorded_effects fx;
  std::vector<int> counts;
  double c = 20;
  for (int b = 0; b < 40; ++b, c *= 1.1) counts.push_back(static_cast<int>(c));  // 20 -> ~800
  feed(d, st, fx, counts);
  EXPECT_TRUE(fx.flags.empty());
}

TEST(DemandSpikeTest, NeedsHistoryAndVolume) {
  demand_spike_detector d;
  fake_state<demand_state> st;
  recorded_effects fx;
  feed(d, st, fx, {30, 30, 200}, "young");     // 2 buckets of history only
  feed(d, st, fx, {1, 1, 1, 1, 15}, "quiet");  // z is large, the count is not
  EXPECT_TRUE(fx.flags.empty());
  demand_spike_detector d2;
  feed(d2, st, fx, {1, 1, 1, 1, 25}, "quiet2");
  EXPECT_EQ(fx.flags.size(), 1u);
}

TEST(DemandSpikeTest, BusySkuNeedsARatioNotJustAZScore) {
  // 563 against a steady 439: z = 124 / sqrt(439) = 5.9, but 1.3 x is no spike.
  demand_spike_detector d;
  fake_state<demand_state> st;
  recorded_effects fx;
  std::vector<int> counts(8, 439);
  counts.push_back(563);
  feed(d, st, fx, counts);
  EXPECT_TRUE(fx.flags.empty());
  demand_config loose;
  loose.min_ratio = 1;
  demand_spike_detector d2(loose);
  feed(d2, st, fx, counts, "s2");
  EXPECT_EQ(fx.flags.size(), 1u) << "the z-score alone would flag it";
}

TEST(DemandSpikeTest, RateLimitedPerSku) {
  demand_spike_detector d;
  fake_state<demand_state> st;
  recorded_effects fx;
  feed(d, st, fx, {30, 30, 30, 30, 200, 1000, 5000});
  EXPECT_EQ(fx.flags.size(), 1u);  // three spiking buckets within the hour
}

TEST(DemandSpikeTest, StateIsBoundedAndRoundTrips) {
  demand_spike_detector d;
  fake_state<demand_state> st;
  recorded_effects fx;
  auto run = [&](std::int64_t from, std::int64_t buckets) {
    for (std::int64_t b = from; b < from + buckets; ++b)
      for (int i = 0; i < 30; ++i) d.on_event(view("s1", base + b * bucket + i), st, fx);
  };
  run(0, 200);
  const auto size = encoded(st.values["s1"]).size();
  run(200, 2000);
  // Bucket 2199 is the open one: 2199 closed.
  EXPECT_EQ(st.values["s1"].history, 2199);
  // Only varint widths may change (the history counter), never the layout.
  EXPECT_LE(encoded(st.values["s1"]).size(), size + 2);
  demand_state back;
  ASSERT_TRUE(demand_state::decode(encoded(st.values["s1"]), back));
  EXPECT_EQ(back, st.values["s1"]);
  EXPECT_FALSE(demand_state::decode(encoded(st.values["s1"]).substr(1), back));
}

TEST(DemandSpikeTest, LongGapDoesNotLoopPerBucket) {
  demand_spike_detector d;
  fake_state<demand_state> st;
  recorded_effects fx;
  feed(d, st, fx, {30, 30, 30, 30});
  d.on_event(view("s1", base + 1'000'000 * bucket), st, fx);  // ~19 years later
  EXPECT_EQ(st.values["s1"].bucket_start_ms, base + 1'000'000 * bucket);
  EXPECT_EQ(st.values["s1"].count, 1);
  EXPECT_EQ(st.values["s1"].history, 4 + 1 + 64) << "4 full buckets, 1 closed empty, 64 of the gap";
  EXPECT_TRUE(fx.flags.empty());
}

TEST(DemandSpikeTest, BucketsCloseOnTimeAndLateEventsStayOut) {
  // The SKU task applies signals in event-time order up to its watermark: a bucket closes as
  // soon as time passes its end, and an event older than the open bucket (late beyond the
  // watermark) is left out, never added to another bucket's count.
  demand_spike_detector d;
  fake_state<demand_state> st;
  recorded_effects fx;
  for (std::int64_t b = 0; b < 10; ++b)
    for (int i = 0; i < 30; ++i) d.on_event(view("s1", base + b * bucket + i * 1000), st, fx);
  for (int i = 0; i < 50; ++i) d.on_event(view("s1", base + 10 * bucket + i * 1000), st, fx);
  EXPECT_EQ(st.values["s1"].bucket_start_ms, base + 10 * bucket);
  EXPECT_EQ(st.values["s1"].count, 50);
  EXPECT_EQ(d.closes_at(st.values["s1"]), base + 11 * bucket);
  d.advance("s1", d.closes_at(st.values["s1"]) - 1, st, fx);
  EXPECT_EQ(st.values["s1"].history, 10);
  d.advance("s1", d.closes_at(st.values["s1"]), st, fx);
  EXPECT_EQ(st.values["s1"].history, 11) << "bucket 10 closed with exactly its 50 events";
  EXPECT_DOUBLE_EQ(st.values["s1"].mean, 30 + 0.3 * 20);
  EXPECT_TRUE(fx.flags.empty()) << "z = 20 / sqrt(30) = 3.7, below 4";
  d.on_event(view("s1", base + 10 * bucket + 59'000), st, fx);  // late: bucket 10 is final
  EXPECT_EQ(st.values["s1"].count, 0);
  EXPECT_EQ(st.values["s1"].bucket_start_ms, base + 11 * bucket);
}

// A state as an older version could have written it.
demand_state older_state() {
  demand_state s;
  s.started = true;
  s.bucket_start_ms = base;
  s.count = 7;
  s.mean = 3;
  s.var = 1;
  s.history = 4;
  s.last_flag_ms = 0;
  return s;
}

TEST(DemandSpikeTest, ReadsVersionTwoStateWithEventsAhead) {
  std::string bytes = encoded(older_state());
  bytes[0] = 2;
  bytes.push_back(6);  // v2's next_count 3, zigzag
  demand_state back;
  ASSERT_TRUE(demand_state::decode(bytes, back));
  EXPECT_EQ(back.count, 10) << "v2 events ahead of the open bucket join its count";
  EXPECT_EQ(back.bucket_start_ms, base);
}

TEST(DemandSpikeTest, ReadsVersionOneState) {
  const demand_state s = older_state();
  std::string bytes = encoded(s);
  bytes[0] = 1;  // v1 has v3's layout
  demand_state back;
  ASSERT_TRUE(demand_state::decode(bytes, back));
  EXPECT_EQ(back, s);
  EXPECT_FALSE(demand_state::decode(bytes + std::string(1, '\0'), back));
}

TEST(DemandSpikeTest, TrafficSpikeOnRees46Surge) {
  // Events per 10 min in the REES46 October head: a collection gap, then the surge at 02:10.
  demand_spike_detector shop({}, "traffic_spike", "shop");
  fake_state<demand_state> st;
  recorded_effects fx;
  const std::vector<int> counts = {614, 415, 11, 23, 15, 17, 12, 20, 14, 19, 16, 13, 22, 535, 4170};
  for (std::size_t b = 0; b < counts.size(); ++b)
    for (int i = 0; i < counts[b]; ++i)
      shop.observe("shop", base + static_cast<std::int64_t>(b) * bucket + i * 100, st, fx);
  shop.advance("shop", base + static_cast<std::int64_t>(counts.size()) * bucket + 120'000, st, fx);
  ASSERT_EQ(fx.flags.size(), 1u);  // 535 flags; 4170 is within the rate limit
  EXPECT_EQ(fx.flags[0].kind, "traffic_spike");
  EXPECT_EQ(fx.flags[0].entity_type, "shop");
  EXPECT_EQ(fx.flags[0].ts_ms, base + 14 * bucket);
  EXPECT_GE(fx.flags[0].score, 4);
}

// ---- price_anomaly --------------------------------------------------------------------------

TEST(PriceAnomalyTest, FlagsHighPriceWithExactFields) {
  price_detector d;
  fake_state<price_state> st;
  recorded_effects fx;
  for (int i = 0; i < 10; ++i) d.on_event(view("s1", t0 + i, 100), st, fx);
  d.on_event(view("s1", t0 + 100, 301), st, fx);
  ASSERT_EQ(fx.flags.size(), 1u);
  const auto& f = fx.flags[0];
  EXPECT_EQ(f.kind, "price_anomaly");
  EXPECT_EQ(f.entity_id, "s1");
  EXPECT_DOUBLE_EQ(f.score, 3.01);
  EXPECT_DOUBLE_EQ(f.threshold, 3);
  EXPECT_EQ(f.window_ms, 0);
  EXPECT_EQ(f.evidence_json,
            R"({"price":301,"median":100,"samples":10,"direction":"high","customer_id":"c1"})");
  EXPECT_EQ(f.flag_id,
            schemas::make_id("price_anomaly", "sku:s1", "v@" + std::to_string(t0 + 100)));
}

TEST(PriceAnomalyTest, FlagsLowPrice) {
  price_detector d;
  fake_state<price_state> st;
  recorded_effects fx;
  for (int i = 0; i < 10; ++i) d.on_event(view("s1", t0 + i, 100), st, fx);
  d.on_event(view("s1", t0 + 100, 34), st, fx);  // 100 / 3 = 33.3: not below
  EXPECT_TRUE(fx.flags.empty());
  d.on_event(view("s1", t0 + 200, 25), st, fx);
  ASSERT_EQ(fx.flags.size(), 1u);
  EXPECT_DOUBLE_EQ(fx.flags[0].score, 4);
  EXPECT_NE(fx.flags[0].evidence_json.find(R"("direction":"low")"), std::string::npos);
}

TEST(PriceAnomalyTest, NeedsMinSamples) {
  price_detector d;
  fake_state<price_state> st;
  recorded_effects fx;
  for (int i = 0; i < 4; ++i) d.on_event(view("s1", t0 + i, 100), st, fx);
  d.on_event(view("s1", t0 + 10, 1000), st, fx);
  EXPECT_TRUE(fx.flags.empty());
}

TEST(PriceAnomalyTest, NoFlagOnSteadyOrSlowlyRisingPrices) {
  price_detector d;
  fake_state<price_state> st;
  recorded_effects fx;
  for (int i = 0; i < 200; ++i) d.on_event(view("steady", t0 + i, 95 + (i * 7) % 11), st, fx);
  double p = 10;
  for (int i = 0; i < 200; ++i, p *= 1.02) d.on_event(view("ramp", t0 + i, p), st, fx);
  EXPECT_TRUE(fx.flags.empty());
}

TEST(PriceAnomalyTest, RateLimitedBoundedAndRoundTrips) {
  price_detector d;
  fake_state<price_state> st;
  recorded_effects fx;
  for (int i = 0; i < 10; ++i) d.on_event(view("s1", t0 + i, 100), st, fx);
  d.on_event(view("s1", t0 + minute, 500), st, fx);
  d.on_event(view("s1", t0 + 2 * minute, 500), st, fx);
  EXPECT_EQ(fx.flags.size(), 1u);
  for (int i = 0; i < 1000; ++i) d.on_event(view("s1", t0 + 3 * minute + i, 100), st, fx);
  EXPECT_EQ(st.values["s1"].prices.values.size(), 31u);
  price_state back;
  ASSERT_TRUE(price_state::decode(encoded(st.values["s1"]), back));
  EXPECT_EQ(back, st.values["s1"]);
  EXPECT_FALSE(price_state::decode(encoded(st.values["s1"]).substr(0, 20), back));
  d.on_event(view("s1", t0 + 2 * 3'600'000, 500), st, fx);
  EXPECT_EQ(fx.flags.size(), 2u);
}

// ---- cart_quantity --------------------------------------------------------------------------

TEST(CartQuantityTest, FlagsAboveAbsoluteLimit) {
  cart_quantity_detector d;
  fake_state<cart_quantity_state> st;
  recorded_effects fx;
  d.on_event(cart_add("s1", 50, t0), st, fx);
  EXPECT_TRUE(fx.flags.empty());
  d.on_event(cart_add("s1", 51, t0 + 1), st, fx);
  ASSERT_EQ(fx.flags.size(), 1u);
  const auto& f = fx.flags[0];
  EXPECT_EQ(f.kind, "cart_quantity");
  EXPECT_EQ(f.entity_type, "sku");
  EXPECT_DOUBLE_EQ(f.score, 51);
  EXPECT_DOUBLE_EQ(f.threshold, 50);
  EXPECT_EQ(f.evidence_json,
            R"({"quantity":51,"rule":"absolute","median":0,"samples":1,"customer_id":"c1",)"
            R"("cart_id":"k1"})");
  EXPECT_EQ(f.flag_id, schemas::make_id("cart_quantity", "sku:s1", "a@" + std::to_string(t0 + 1)));
}

TEST(CartQuantityTest, FlagsAboveRelativeMedian) {
  cart_quantity_detector d;
  fake_state<cart_quantity_state> st;
  recorded_effects fx;
  for (int i = 0; i < 5; ++i) d.on_event(cart_add("s1", 2, t0 + i), st, fx);
  d.on_event(cart_add("s1", 20, t0 + 10), st, fx);  // 10 x 2 is not above
  EXPECT_TRUE(fx.flags.empty());
  d.on_event(cart_add("s1", 21, t0 + 20), st, fx);
  ASSERT_EQ(fx.flags.size(), 1u);
  EXPECT_DOUBLE_EQ(fx.flags[0].score, 10.5);
  EXPECT_DOUBLE_EQ(fx.flags[0].threshold, 10);
  EXPECT_NE(fx.flags[0].evidence_json.find(R"("rule":"relative","median":2,"samples":6)"),
            std::string::npos)
      << fx.flags[0].evidence_json;
}

TEST(CartQuantityTest, NoFlagOnSteadyOrSlowRamp) {
  cart_quantity_detector d;
  fake_state<cart_quantity_state> st;
  recorded_effects fx;
  for (int i = 0; i < 300; ++i) d.on_event(cart_add("steady", 1 + i % 3, t0 + i), st, fx);
  for (int q = 1; q <= 50; ++q) d.on_event(cart_add("ramp", q, t0 + q), st, fx);
  EXPECT_TRUE(fx.flags.empty());
}

TEST(CartQuantityTest, RateLimitedBoundedAndRoundTrips) {
  cart_quantity_detector d;
  fake_state<cart_quantity_state> st;
  recorded_effects fx;
  for (int i = 0; i < 1000; ++i) d.on_event(cart_add("s1", 100, t0 + i), st, fx);
  EXPECT_EQ(fx.flags.size(), 1u);
  EXPECT_EQ(st.values["s1"].quantities.values.size(), 31u);
  d.on_event(cart_add("s1", 100, t0 + 10 * minute), st, fx);
  EXPECT_EQ(fx.flags.size(), 2u);
  cart_quantity_state back;
  ASSERT_TRUE(cart_quantity_state::decode(encoded(st.values["s1"]), back));
  EXPECT_EQ(back, st.values["s1"]);
  std::string bad = encoded(st.values["s1"]);
  bad[0] = 2;
  EXPECT_FALSE(cart_quantity_state::decode(bad, back));
}

TEST(AnomalyRingTest, KeepsTheLastValues) {
  bounded_ring<std::int64_t> r;
  for (int i = 1; i <= 7; ++i) r.push(i, 3);
  std::vector<std::int64_t> v = r.values;
  std::sort(v.begin(), v.end());
  EXPECT_EQ(v, (std::vector<std::int64_t>{5, 6, 7}));
}

}  // namespace
}  // namespace herald::rules

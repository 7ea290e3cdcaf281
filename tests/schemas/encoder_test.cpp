#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>

#include "herald/schemas/codec.hpp"
#include "test_messages.hpp"

namespace herald::schemas {
namespace {

using json = nlohmann::json;

std::set<std::string> keys_of(const json& j) {
  std::set<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.insert(k);
  return keys;
}

json parse(const std::string& text) {
  // Throws (and so fails the test) on invalid JSON or invalid UTF-8.
  return json::parse(text);
}

TEST(EncoderTest, CartReminderFields) {
  const cart_reminder m = test::sample_cart_reminder();
  std::string out;
  const json j = parse(encode(m, out));
  EXPECT_EQ(keys_of(j), (std::set<std::string>{"type", "notification_id", "ts", "customer_id",
                                               "cart_id", "reminder_number", "lines", "cart_value",
                                               "currency", "coupon"}));
  EXPECT_EQ(j["type"], "cart_reminder");
  EXPECT_EQ(j["notification_id"], m.notification_id);
  EXPECT_EQ(j["ts"], 1700000000000);
  EXPECT_EQ(j["customer_id"], "cust-1");
  EXPECT_EQ(j["cart_id"], "cart-1");
  EXPECT_EQ(j["reminder_number"], 2);
  ASSERT_EQ(j["lines"].size(), 2U);
  EXPECT_EQ(j["lines"][0], (json{{"sku", "sku-1"}, {"quantity", 2}, {"unit_price", 9.5}}));
  EXPECT_EQ(j["lines"][1]["sku"], "sku-2");
  EXPECT_EQ(j["lines"][1]["quantity"], 1);
  EXPECT_EQ(j["lines"][1]["unit_price"].get<double>(), 20.0);
  EXPECT_EQ(j["cart_value"].get<double>(), 39.0);
  EXPECT_EQ(j["currency"], "EUR");
  EXPECT_EQ(j["coupon"], "COMEBACK10");
}

TEST(EncoderTest, CartReminderCompactExactText) {
  cart_reminder m;
  m.notification_id = "n1";
  m.ts_ms = 5;
  m.customer_id = "c";
  m.cart_id = "k";
  m.reminder_number = 1;
  m.lines = {{"a", 2, 1.25, {}}};
  m.cart_value = 2.5;
  m.currency = "EUR";
  std::string out;
  EXPECT_EQ(encode(m, out),
            R"({"type":"cart_reminder","notification_id":"n1","ts":5,"customer_id":"c",)"
            R"("cart_id":"k","reminder_number":1,"lines":[{"sku":"a","quantity":2,)"
            R"("unit_price":1.25}],"cart_value":2.5,"currency":"EUR"})");
}

TEST(EncoderTest, CouponOmittedWhenEmpty) {
  cart_reminder m = test::sample_cart_reminder();
  m.coupon.clear();
  std::string out;
  const json j = parse(encode(m, out));
  EXPECT_FALSE(j.contains("coupon"));
}

TEST(EncoderTest, CartReminderWithNoLines) {
  cart_reminder m = test::sample_cart_reminder();
  m.lines.clear();
  std::string out;
  const json j = parse(encode(m, out));
  EXPECT_TRUE(j["lines"].is_array());
  EXPECT_TRUE(j["lines"].empty());
}

TEST(EncoderTest, BackInStockFields) {
  const back_in_stock m = test::sample_back_in_stock();
  std::string out;
  const json j = parse(encode(m, out));
  EXPECT_EQ(keys_of(j), (std::set<std::string>{"type", "notification_id", "ts", "customer_id",
                                               "sku", "available"}));
  EXPECT_EQ(j["type"], "back_in_stock");
  EXPECT_EQ(j["notification_id"], m.notification_id);
  EXPECT_EQ(j["ts"], 1700000000001);
  EXPECT_EQ(j["customer_id"], "cust-1");
  EXPECT_EQ(j["sku"], "sku-1");
  EXPECT_EQ(j["available"], 12);
}

TEST(EncoderTest, LowStockFields) {
  const stock_alert m = test::sample_stock_alert(false);
  std::string out;
  const json j = parse(encode(m, out));
  EXPECT_EQ(keys_of(j),
            (std::set<std::string>{"type", "notification_id", "ts", "sku", "available", "threshold",
                                   "units_sold_per_day", "days_of_cover"}));
  EXPECT_EQ(j["type"], "low_stock");
  EXPECT_EQ(j["sku"], "sku-1");
  EXPECT_EQ(j["available"], 2);
  EXPECT_EQ(j["threshold"], 5);
  EXPECT_EQ(j["units_sold_per_day"].get<double>(), 4.0);
  EXPECT_EQ(j["days_of_cover"].get<double>(), 0.5);
}

TEST(EncoderTest, OutOfStockType) {
  std::string out;
  const json j = parse(encode(test::sample_stock_alert(true), out));
  EXPECT_EQ(j["type"], "out_of_stock");
  EXPECT_EQ(j["available"], 0);
}

TEST(EncoderTest, StockAlertOptionalNumbersOmitted) {
  stock_alert m = test::sample_stock_alert(false);
  m.units_sold_per_day.reset();
  m.days_of_cover.reset();
  std::string out;
  const json j = parse(encode(m, out));
  EXPECT_FALSE(j.contains("units_sold_per_day"));
  EXPECT_FALSE(j.contains("days_of_cover"));
}

TEST(EncoderTest, NonFiniteOptionalNumbersOmitted) {
  stock_alert m = test::sample_stock_alert(false);
  m.units_sold_per_day = std::numeric_limits<double>::quiet_NaN();
  m.days_of_cover = std::numeric_limits<double>::infinity();
  std::string out;
  const json j = parse(encode(m, out));
  EXPECT_FALSE(j.contains("units_sold_per_day"));
  EXPECT_FALSE(j.contains("days_of_cover"));
}

TEST(EncoderTest, NonFiniteRequiredNumbersAreNull) {
  anomaly_flag m = test::sample_anomaly();
  m.score = std::numeric_limits<double>::infinity();
  m.threshold = -std::numeric_limits<double>::infinity();
  std::string out;
  json j = parse(encode(m, out));
  EXPECT_TRUE(j["score"].is_null());
  EXPECT_TRUE(j["threshold"].is_null());

  cart_reminder r = test::sample_cart_reminder();
  r.cart_value = std::numeric_limits<double>::quiet_NaN();
  r.lines[0].unit_price = std::numeric_limits<double>::quiet_NaN();
  out.clear();
  j = parse(encode(r, out));
  EXPECT_TRUE(j["cart_value"].is_null());
  EXPECT_TRUE(j["lines"][0]["unit_price"].is_null());
}

TEST(EncoderTest, TrackingUpdateFields) {
  const tracking_notification m = test::sample_tracking(false);
  std::string out;
  const json j = parse(encode(m, out));
  EXPECT_EQ(keys_of(j), (std::set<std::string>{"type", "notification_id", "ts", "customer_id",
                                               "shipment_id", "order_id", "carrier", "status",
                                               "previous_status", "estimated_delivery"}));
  EXPECT_EQ(j["type"], "tracking_update");
  EXPECT_EQ(j["customer_id"], "cust-1");
  EXPECT_EQ(j["shipment_id"], "ship-1");
  EXPECT_EQ(j["order_id"], "ord-1");
  EXPECT_EQ(j["carrier"], "dhl");
  EXPECT_EQ(j["status"], "out_for_delivery");
  EXPECT_EQ(j["previous_status"], "in_transit");
  EXPECT_EQ(j["estimated_delivery"], 1700049600000);
}

TEST(EncoderTest, TrackingUpdateWithoutEstimateOmitsIt) {
  tracking_notification m = test::sample_tracking(false);
  m.estimated_delivery_ms.reset();
  std::string out;
  const json j = parse(encode(m, out));
  EXPECT_FALSE(j.contains("estimated_delivery"));
}

TEST(EncoderTest, DeliveryDelayedFields) {
  const tracking_notification m = test::sample_tracking(true);
  std::string out;
  const json j = parse(encode(m, out));
  EXPECT_EQ(keys_of(j),
            (std::set<std::string>{"type", "notification_id", "ts", "customer_id", "shipment_id",
                                   "order_id", "carrier", "estimated_delivery", "status"}));
  EXPECT_EQ(j["type"], "delivery_delayed");
  EXPECT_EQ(j["estimated_delivery"], 1700049600000);
  EXPECT_EQ(j["status"], "in_transit");
}

TEST(EncoderTest, DeliveryDelayedWithoutEstimateIsNull) {
  tracking_notification m = test::sample_tracking(true);
  m.estimated_delivery_ms.reset();
  std::string out;
  const json j = parse(encode(m, out));
  ASSERT_TRUE(j.contains("estimated_delivery"));
  EXPECT_TRUE(j["estimated_delivery"].is_null());
}

TEST(EncoderTest, AnomalyFields) {
  const anomaly_flag m = test::sample_anomaly();
  std::string out;
  const json j = parse(encode(m, out));
  EXPECT_EQ(keys_of(j),
            (std::set<std::string>{"type", "flag_id", "ts", "kind", "entity_type", "entity_id",
                                   "score", "threshold", "window_ms", "evidence"}));
  EXPECT_EQ(j["type"], "anomaly");
  EXPECT_EQ(j["flag_id"], m.flag_id);
  EXPECT_EQ(j["ts"], 1700000000004);
  EXPECT_EQ(j["kind"], "bot_click_rate");
  EXPECT_EQ(j["entity_type"], "customer");
  EXPECT_EQ(j["entity_id"], "cust-1");
  EXPECT_EQ(j["score"].get<double>(), 412.5);
  EXPECT_EQ(j["threshold"].get<double>(), 120.0);
  EXPECT_EQ(j["window_ms"], 60000);
  EXPECT_EQ(j["evidence"], (json{{"clicks", 412}, {"distinct_skus", 3}}));
  // Verbatim: the evidence text appears unchanged in the output.
  EXPECT_NE(out.find(R"("evidence":{"clicks":412,"distinct_skus":3})"), std::string::npos);
}

TEST(EncoderTest, EmptyEvidenceIsEmptyObject) {
  anomaly_flag m = test::sample_anomaly();
  m.evidence_json.clear();
  std::string out;
  const json j = parse(encode(m, out));
  EXPECT_EQ(j["evidence"], json::object());
  EXPECT_EQ(anomaly_flag{}.evidence_json, "{}");
}

TEST(EncoderTest, EncodeAppends) {
  std::string out = "prefix|";
  encode(test::sample_back_in_stock(), out);
  const std::size_t first_end = out.size();
  encode(test::sample_back_in_stock(), out);
  EXPECT_TRUE(out.starts_with("prefix|{"));
  EXPECT_EQ(out.substr(7, first_end - 7), out.substr(first_end));
  EXPECT_EQ(out.back(), '}');
}

TEST(EncoderTest, EveryMessageIsCompactJsonObject) {
  for (const auto& sample : test::encoded_samples()) {
    SCOPED_TRACE(sample.type);
    EXPECT_EQ(sample.json.front(), '{');
    EXPECT_EQ(sample.json.back(), '}');
    EXPECT_EQ(sample.json.find('\n'), std::string::npos);
    EXPECT_EQ(sample.json.find(": "), std::string::npos);
    const json j = parse(sample.json);
    EXPECT_EQ(j["type"], sample.type);
    // Re-serialising with nlohmann gives the same bytes: same order, no extra whitespace.
    EXPECT_EQ(nlohmann::ordered_json::parse(sample.json).dump(), sample.json);
  }
}

// ---- strings --------------------------------------------------------------------------------

std::string roundtrip_string(const std::string& s) {
  back_in_stock m = test::sample_back_in_stock();
  m.customer_id = s;
  std::string out;
  return parse(encode(m, out))["customer_id"].get<std::string>();
}

TEST(EncoderTest, EscapesQuotesBackslashesAndControls) {
  back_in_stock m = test::sample_back_in_stock();
  m.customer_id = "a\"b\\c/d\b\f\n\r\t";
  m.customer_id.push_back('\0');
  m.customer_id += "\x01\x1f\x7f";
  std::string out;
  encode(m, out);
  EXPECT_NE(out.find(R"("customer_id":"a\"b\\c/d\b\f\n\r\t\u0000\u0001\u001f)"
                     "\x7f\""),
            std::string::npos)
      << out;
  EXPECT_EQ(parse(out)["customer_id"].get<std::string>(), m.customer_id);
}

TEST(EncoderTest, EveryControlCharacterEscaped) {
  for (int c = 0; c < 0x20; ++c) {
    const std::string s(1, static_cast<char>(c));
    back_in_stock m = test::sample_back_in_stock();
    m.sku = s;
    std::string out;
    encode(m, out);
    for (char ch : out) EXPECT_GE(static_cast<unsigned char>(ch), 0x20) << c;
    EXPECT_EQ(parse(out)["sku"].get<std::string>(), s) << c;
  }
}

TEST(EncoderTest, Utf8PassedThrough) {
  const std::string s = "M\xC3\xBCnchen \xE2\x82\xAC \xF0\x9F\x98\x80 \xE4\xB8\xAD\xE6\x96\x87";
  back_in_stock m = test::sample_back_in_stock();
  m.customer_id = s;
  std::string out;
  encode(m, out);
  EXPECT_NE(out.find(s), std::string::npos) << "UTF-8 must not be \\u-escaped";
  EXPECT_EQ(roundtrip_string(s), s);
}

TEST(EncoderTest, InvalidUtf8BecomesReplacementCharacter) {
  const std::string replacement = "\xEF\xBF\xBD";
  EXPECT_EQ(roundtrip_string("a\xFF"
                             "b"),
            "a" + replacement + "b");
  EXPECT_EQ(roundtrip_string("\xC3"), replacement);                    // truncated sequence
  EXPECT_EQ(roundtrip_string("\xC0\xAF"), replacement + replacement);  // overlong '/'
  EXPECT_EQ(roundtrip_string("\xED\xA0\x80"),
            replacement + replacement + replacement);  // UTF-16 surrogate
  EXPECT_EQ(roundtrip_string("\xF4\x90\x80\x80"),
            replacement + replacement + replacement + replacement);  // above U+10FFFF
  EXPECT_EQ(roundtrip_string("\x80x"), replacement + "x");           // stray continuation
}

TEST(EncoderTest, RandomStringsRoundTrip) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 40, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    back_in_stock m = test::sample_back_in_stock();
    m.customer_id = s;
    std::string out;
    encode(m, out);
    const json j = parse(out);  // must always be valid JSON
    // ASCII (always valid UTF-8) comes back unchanged, control characters included.
    bool ascii = true;
    for (char c : s) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    if (ascii) {
      EXPECT_EQ(j["customer_id"].get<std::string>(), s);
    }
  }
}

// ---- numbers --------------------------------------------------------------------------------

TEST(EncoderTest, DoublesRoundTripExactly) {
  std::mt19937_64 rng(7);
  std::vector<double> values = {
      0.0,           -0.0, 0.1,  19.99, 1e-300, 5e-324, 1.7976931348623157e308,
      123456789.125, 1e21, 1e22, 3.0};
  for (int i = 0; i < 2000; ++i) {
    std::uint64_t bits = rng();
    double d = 0;
    std::memcpy(&d, &bits, sizeof d);
    if (std::isfinite(d)) values.push_back(d);
  }
  for (const double v : values) {
    anomaly_flag m = test::sample_anomaly();
    m.score = v;
    std::string out;
    const json j = parse(encode(m, out));
    ASSERT_TRUE(j["score"].is_number()) << out;
    EXPECT_EQ(j["score"].get<double>(), v) << out;
  }
}

TEST(EncoderTest, ShortestDoubleText) {
  anomaly_flag m = test::sample_anomaly();
  m.score = 0.1;
  m.threshold = 2.5;
  std::string out;
  encode(m, out);
  EXPECT_NE(out.find(R"("score":0.1,"threshold":2.5,)"), std::string::npos) << out;
}

TEST(EncoderTest, ExtremeIntegers) {
  back_in_stock m = test::sample_back_in_stock();
  m.available = std::numeric_limits<std::int64_t>::min();
  m.ts_ms = std::numeric_limits<std::int64_t>::max();
  std::string out;
  encode(m, out);
  EXPECT_NE(out.find(R"("ts":9223372036854775807)"), std::string::npos);
  EXPECT_NE(out.find(R"("available":-9223372036854775808)"), std::string::npos);
}

// ---- ids ------------------------------------------------------------------------------------

TEST(EncoderTest, MakeIdIsDeterministic) {
  EXPECT_EQ(make_id("cart_reminder", "cart-1", "evt-9/1"),
            make_id("cart_reminder", "cart-1", "evt-9/1"));
}

TEST(EncoderTest, MakeIdFormat) {
  for (const auto& id : {make_id("", "", ""), make_id("a", "b", "c"),
                         make_id("rule", std::string(10000, 'x'), "t")}) {
    ASSERT_EQ(id.size(), 32U);
    for (const char c : id) {
      EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << id;
    }
  }
}

TEST(EncoderTest, MakeIdPinnedValues) {
  // Ids are stored downstream for deduplication: a change here breaks every consumer's dedup
  // across an upgrade, so the values are pinned (and match the reference algorithm in
  // schemas/README.md).
  EXPECT_EQ(make_id("cart_reminder", "cart-1", "evt-9/1"), "365deeb363e0543f6aa0b553ba86af20");
  EXPECT_EQ(make_id("", "", ""), "8e407c410a523a931bd8f2ea76043619");
}

TEST(EncoderTest, MakeIdDiffers) {
  std::set<std::string> ids;
  ids.insert(make_id("cart_reminder", "cart-1", "evt-9/1"));
  ids.insert(make_id("cart_reminder", "cart-1", "evt-9/2"));
  ids.insert(make_id("cart_reminder", "cart-2", "evt-9/1"));
  ids.insert(make_id("back_in_stock", "cart-1", "evt-9/1"));
  // The separator keeps shifted boundaries apart.
  ids.insert(make_id("ab", "c", "d"));
  ids.insert(make_id("a", "bc", "d"));
  ids.insert(make_id("a", "b", "cd"));
  ids.insert(make_id("", "abc", "d"));
  EXPECT_EQ(ids.size(), 8U);
}

TEST(EncoderTest, MakeIdNoCollisionsInManyInputs) {
  std::set<std::string> ids;
  std::set<std::string> halves;
  for (int i = 0; i < 100000; ++i) {
    const std::string id =
        make_id("rule", "entity-" + std::to_string(i % 1000), "evt-" + std::to_string(i));
    ids.insert(id);
    halves.insert(id.substr(0, 16));
    halves.insert(id.substr(16) + "/lo");
  }
  EXPECT_EQ(ids.size(), 100000U);
  EXPECT_EQ(halves.size(), 200000U);  // each 64-bit lane alone is collision-free here too
}

}  // namespace
}  // namespace herald::schemas

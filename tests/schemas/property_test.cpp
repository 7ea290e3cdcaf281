// Randomised tests: the decoder must survive any byte sequence, and must read back exactly
// what a JSON library wrote, whatever the strings, numbers and field order.

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

#include "herald/schemas/codec.hpp"
#include "test_messages.hpp"
#include "test_records.hpp"

namespace herald::schemas {
namespace {

using test::json;

constexpr topic_kind all_topics[] = {topic_kind::clickstream, topic_kind::carts,
                                     topic_kind::inventory, topic_kind::shipments};

std::string mutate(std::string s, std::mt19937_64& rng) {
  static constexpr char raw[] = "{}[]\":,\\ \t\n0123456789-+.eEtrufalsn\x7f\xc3\xff\0";
  static const std::string interesting(raw, sizeof raw);  // keeps the trailing NUL bytes
  const auto pick = [&](std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng() % n); };
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < edits; ++i) {
    switch (rng() % 6) {
      case 0:  // flip bits of one byte
        if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1U << (rng() % 8));
        break;
      case 1:  // replace a byte with a random one
        if (!s.empty()) s[pick(s.size())] = static_cast<char>(rng() % 256);
        break;
      case 2:  // insert a JSON-significant byte
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(pick(s.size() + 1)),
                 interesting[pick(interesting.size())]);
        break;
      case 3:  // delete a byte
        if (!s.empty()) s.erase(pick(s.size()), 1);
        break;
      case 4:  // truncate
        s.resize(pick(s.size() + 1));
        break;
      case 5: {  // duplicate a slice somewhere else
        if (s.empty()) break;
        const std::size_t from = pick(s.size());
        const std::size_t len = pick(std::min<std::size_t>(16, s.size() - from) + 1);
        const std::string slice = s.substr(from, len);
        s.insert(pick(s.size() + 1), slice);
        break;
      }
    }
  }
  return s;
}

TEST(DecoderPropertyTest, RandomMutationsNeverCrash) {
  std::mt19937_64 rng(20240601);
  decoder d(4096);
  event e;
  const auto& specs = test::type_specs();
  int accepted = 0;
  int rejected = 0;
  for (int i = 0; i < 20000; ++i) {
    const auto& spec = specs[rng() % specs.size()];
    const json record =
        (rng() % 2) ? test::full_record(spec.type) : test::minimal_record(spec.type);
    const std::string key = test::key_for(spec.type, record);
    const std::string value = mutate(record.dump(), rng);
    // Mostly the record's own topic, sometimes another one.
    const topic_kind topic = (rng() % 4 == 0) ? all_topics[rng() % 4] : spec.topic;
    const decode_error err = d.decode(topic, key, value, e);
    if (err) {
      ++rejected;
      EXPECT_FALSE(err.message.empty());
    } else {
      ++accepted;
      ASSERT_EQ(err.code, decode_code::ok);
      EXPECT_EQ(topic_of(e.type), topic) << value;
      EXPECT_FALSE(e.event_id.empty()) << value;
      EXPECT_GE(e.ts_ms, 0) << value;
    }
  }
  // Both outcomes must actually occur, or the mutations are not exercising anything.
  EXPECT_GT(accepted, 100);
  EXPECT_GT(rejected, 1000);
}

TEST(DecoderPropertyTest, SyntaxVerdictMatchesReferenceParser) {
  // Whatever the mutation, the decoder calls a record malformed exactly when an independent
  // strict parser (nlohmann) cannot read it as one JSON object.
  std::mt19937_64 rng(11);
  decoder d;
  event e;
  const auto& specs = test::type_specs();
  int malformed = 0;
  for (int i = 0; i < 20000; ++i) {
    const auto& spec = specs[rng() % specs.size()];
    json record = test::full_record(spec.type);
    if (rng() % 2 == 0) record["extra"] = json{{"list", json::array({1, "two", nullptr, 3.5})}};
    const std::string value = mutate(record.dump(), rng);
    if (value.find('\0') != std::string::npos) {
      // A raw NUL is never valid JSON, but nlohmann takes it for the end of the input.
      EXPECT_EQ(d.decode(spec.topic, test::key_for(spec.type, record), value, e).code,
                decode_code::malformed_json);
      continue;
    }
    bool reference_ok = false;
    try {
      reference_ok = json::parse(value).is_object();
    } catch (const json::parse_error&) {
      reference_ok = false;
    } catch (const json::out_of_range&) {
      // nlohmann stops at a number beyond double range (1e400), which RFC 8259's grammar
      // allows, without looking at the rest: no verdict to compare against.
      continue;
    }
    const auto err = d.decode(spec.topic, test::key_for(spec.type, record), value, e);
    const bool decoder_malformed = err.code == decode_code::malformed_json;
    malformed += decoder_malformed ? 1 : 0;
    ASSERT_EQ(decoder_malformed, !reference_ok) << err.message << "\n" << value;
  }
  EXPECT_GT(malformed, 5000);
}

TEST(DecoderPropertyTest, RandomBytesNeverCrash) {
  std::mt19937_64 rng(99);
  decoder d(512);
  event e;
  for (int i = 0; i < 5000; ++i) {
    std::string value(rng() % 700, '\0');
    for (char& c : value) c = static_cast<char>(rng() % 256);
    if (rng() % 2 == 0 && !value.empty()) value.front() = '{';
    const auto err = d.decode(all_topics[rng() % 4], "k", value, e);
    EXPECT_TRUE(err);  // no random byte soup is a valid event
  }
}

TEST(DecoderPropertyTest, EncodedOutputsAreNotInputs) {
  decoder d;
  event e;
  for (const auto& sample : test::encoded_samples()) {
    for (const topic_kind topic : all_topics) {
      const auto err = d.decode(topic, "cust-1", sample.json, e);
      EXPECT_EQ(err.code, decode_code::unknown_type) << sample.type << ": " << err.message;
    }
  }
}

// Valid UTF-8 text with the characters that need escaping in JSON.
std::string random_text(std::mt19937_64& rng, bool non_empty) {
  static const std::vector<std::string> pieces = {"a",
                                                  "Z",
                                                  "0",
                                                  "-",
                                                  "_",
                                                  " ",
                                                  "\"",
                                                  "\\",
                                                  "/",
                                                  "\n",
                                                  "\t",
                                                  "\x01",
                                                  "\x1f",
                                                  "\x7f",
                                                  "\xC3\xA9",
                                                  "\xE2\x82\xAC",
                                                  "\xF0\x9F\x98\x80",
                                                  "\xE4\xB8\xAD",
                                                  "{",
                                                  "}",
                                                  ":",
                                                  ","};
  std::string s;
  const std::size_t n = (non_empty ? 1 : 0) + rng() % 24;
  for (std::size_t i = 0; i < n; ++i) s += pieces[rng() % pieces.size()];
  return s;
}

TEST(DecoderPropertyTest, RandomValidEventsRoundTrip) {
  std::mt19937_64 rng(7);
  decoder d;
  event e;
  for (int i = 0; i < 3000; ++i) {
    const std::string customer = random_text(rng, true);
    const std::string cart = random_text(rng, true);
    const std::string sku = random_text(rng, true);
    const std::string currency = random_text(rng, false);
    const std::string event_id = random_text(rng, true);
    const std::int64_t ts = static_cast<std::int64_t>(rng() >> 1);
    const std::int64_t quantity = 1 + static_cast<std::int64_t>(rng() % 1000000);
    const double price = static_cast<double>(rng() % 10000000) / 100.0;
    const bool anonymous = rng() % 2 == 0;

    std::vector<std::pair<std::string, json>> fields = {
        {"type", "cart_item_added"},
        {"event_id", event_id},
        {"ts", ts},
        {"customer_id", customer},
        {"cart_id", cart},
        {"sku", sku},
        {"quantity", quantity},
        {"unit_price", price},
        {"currency", currency},
        {"anonymous", anonymous},
        {"extra", json{{"nested", json::array({1, "x", nullptr})}}},
        {"more", random_text(rng, false)},
    };
    std::shuffle(fields.begin(), fields.end(), rng);
    json record = json::object();
    for (auto& [k, v] : fields) record[k] = v;
    // Pretty-printing sometimes, so whitespace between tokens is exercised too.
    const std::string text = (rng() % 3 == 0) ? record.dump(1) : record.dump();

    const auto err = d.decode(topic_kind::carts, customer, text, e);
    ASSERT_FALSE(err) << err.message << "\n" << text;
    EXPECT_EQ(e.type, event_type::cart_item_added);
    EXPECT_EQ(e.event_id, event_id);
    EXPECT_EQ(e.ts_ms, ts);
    EXPECT_EQ(e.customer_id, customer);
    EXPECT_EQ(e.cart_id, cart);
    EXPECT_EQ(e.sku, sku);
    EXPECT_EQ(e.quantity, quantity);
    EXPECT_EQ(e.unit_price, price);
    EXPECT_EQ(e.currency, currency);
    EXPECT_EQ(e.anonymous, anonymous);
  }
}

TEST(DecoderPropertyTest, RandomSequencesMatchFreshDecodes) {
  // One decoder and one event reused across a random mix of valid and broken records must
  // give exactly what a fresh decoder gives for each record.
  std::mt19937_64 rng(3);
  decoder reused_decoder;
  event reused;
  const auto& specs = test::type_specs();
  for (int i = 0; i < 2000; ++i) {
    const auto& spec = specs[rng() % specs.size()];
    json record = (rng() % 2) ? test::full_record(spec.type) : test::minimal_record(spec.type);
    std::string text = record.dump();
    if (rng() % 3 == 0) text = mutate(text, rng);
    const std::string key = test::key_for(spec.type, record);
    const auto err = reused_decoder.decode(spec.topic, key, text, reused);
    decoder fresh_decoder;
    event fresh;
    const auto fresh_err = fresh_decoder.decode(spec.topic, key, text, fresh);
    ASSERT_EQ(err.code, fresh_err.code) << text;
    ASSERT_EQ(err.message, fresh_err.message) << text;
    if (!err) test::expect_same_event(reused, fresh);
  }
}

}  // namespace
}  // namespace herald::schemas

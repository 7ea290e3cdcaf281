// The JSON Schema files in schemas/json are the machine-readable contract. These tests keep
// them in step with the code: every input schema agrees with what the decoder accepts and
// rejects, and every encoded output satisfies its output schema.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "herald/schemas/codec.hpp"
#include "test_messages.hpp"
#include "test_records.hpp"

#ifndef HERALD_SCHEMA_DIR
#error "HERALD_SCHEMA_DIR must name the schemas/json directory"
#endif

namespace herald::schemas {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const fs::path schema_dir{HERALD_SCHEMA_DIR};

json load(const fs::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

std::vector<fs::path> schema_files() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(schema_dir)) {
    if (entry.is_regular_file() && entry.path().string().ends_with(".schema.json")) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string stem_of(const fs::path& p) {
  std::string name = p.filename().string();
  return name.substr(0, name.size() - std::string(".schema.json").size());
}

// A small validator for the keywords these files use. Enough to hold the schemas and the code
// to each other; not a general JSON Schema implementation.
bool matches_type(const json& value, const std::string& type) {
  if (type == "string") return value.is_string();
  if (type == "integer") {
    return value.is_number_integer() ||
           (value.is_number_float() && std::trunc(value.get<double>()) == value.get<double>());
  }
  if (type == "number") return value.is_number();
  if (type == "boolean") return value.is_boolean();
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "null") return value.is_null();
  ADD_FAILURE() << "unsupported type keyword " << type;
  return false;
}

bool is_valid(const json& value, const json& schema, std::string& why, const std::string& at) {
  static const std::set<std::string> known = {
      "$schema",  "$id",      "title",      "description", "examples", "format",
      "type",     "const",    "enum",       "minimum",     "maximum",  "minLength",
      "minItems", "required", "properties", "items",       "anyOf",    "pattern"};
  for (const auto& [k, v] : schema.items()) {
    if (!known.contains(k)) {
      ADD_FAILURE() << "unsupported keyword " << k << " at " << at;
    }
  }
  const auto fail = [&](const std::string& reason) {
    why = at + ": " + reason;
    return false;
  };
  if (schema.contains("type")) {
    const json& t = schema["type"];
    bool ok = false;
    if (t.is_string()) {
      ok = matches_type(value, t.get<std::string>());
    } else {
      for (const auto& one : t) ok = ok || matches_type(value, one.get<std::string>());
    }
    if (!ok) return fail("type is not " + t.dump());
  }
  if (schema.contains("const") && value != schema["const"]) return fail("const");
  if (schema.contains("enum")) {
    bool found = false;
    for (const auto& e : schema["enum"]) found = found || e == value;
    if (!found) return fail("not in enum");
  }
  if (value.is_number()) {
    if (schema.contains("minimum") && value.get<double>() < schema["minimum"].get<double>()) {
      return fail("below minimum");
    }
    if (schema.contains("maximum") && value.get<double>() > schema["maximum"].get<double>()) {
      return fail("above maximum");
    }
  }
  if (value.is_string()) {
    if (schema.contains("minLength") &&
        value.get<std::string>().size() < schema["minLength"].get<std::size_t>()) {
      return fail("shorter than minLength");
    }
    if (schema.contains("pattern") &&
        !std::regex_search(value.get<std::string>(),
                           std::regex(schema["pattern"].get<std::string>()))) {
      return fail("does not match pattern");
    }
  }
  if (value.is_array()) {
    if (schema.contains("minItems") && value.size() < schema["minItems"].get<std::size_t>()) {
      return fail("fewer than minItems");
    }
    if (schema.contains("items")) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (!is_valid(value[i], schema["items"], why, at + "[" + std::to_string(i) + "]")) {
          return false;
        }
      }
    }
  }
  if (value.is_object()) {
    if (schema.contains("required")) {
      for (const auto& r : schema["required"]) {
        if (!value.contains(r.get<std::string>())) return fail("missing " + r.dump());
      }
    }
    if (schema.contains("properties")) {
      for (const auto& [k, sub] : schema["properties"].items()) {
        if (value.contains(k) && !is_valid(value[k], sub, why, at + "." + k)) return false;
      }
    }
  }
  if (schema.contains("anyOf")) {
    bool any = false;
    std::string ignored;
    for (const auto& alt : schema["anyOf"]) any = any || is_valid(value, alt, ignored, at);
    if (!any) return fail("matches no anyOf branch");
  }
  return true;
}

bool is_valid(const json& value, const json& schema, std::string& why) {
  return is_valid(value, schema, why, "$");
}

json input_schema(event_type type) {
  return load(schema_dir / "input" / (std::string(to_string(type)) + ".schema.json"));
}

// ---- the files themselves -------------------------------------------------------------------

TEST(SchemaFilesTest, EverySchemaFileParses) {
  const auto files = schema_files();
  ASSERT_EQ(files.size(), 12U + 7U);
  for (const auto& path : files) {
    SCOPED_TRACE(path.string());
    json schema;
    ASSERT_NO_THROW(schema = load(path));
    EXPECT_EQ(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    EXPECT_TRUE(schema["$id"].is_string());
    EXPECT_EQ(schema["type"], "object");
    EXPECT_EQ(schema["title"], stem_of(path));
    ASSERT_TRUE(schema["required"].is_array());
    ASSERT_TRUE(schema["properties"].is_object());
    for (const auto& r : schema["required"]) {
      EXPECT_TRUE(schema["properties"].contains(r.get<std::string>())) << r;
    }
    EXPECT_EQ(schema["properties"]["type"]["const"], stem_of(path));
  }
}

TEST(SchemaFilesTest, InputSchemaForEveryEventType) {
  for (const auto& spec : test::type_specs()) {
    const fs::path path =
        schema_dir / "input" / (std::string(to_string(spec.type)) + ".schema.json");
    EXPECT_TRUE(fs::exists(path)) << path;
  }
}

TEST(SchemaFilesTest, OutputSchemaForEveryMessageType) {
  for (const auto& sample : test::encoded_samples()) {
    const fs::path path = schema_dir / "output" / (sample.type + ".schema.json");
    EXPECT_TRUE(fs::exists(path)) << path;
  }
}

// ---- outputs --------------------------------------------------------------------------------

TEST(SchemaFilesTest, EveryOutputEncodingHasItsRequiredProperties) {
  for (const auto& sample : test::encoded_samples()) {
    SCOPED_TRACE(sample.type);
    const json schema = load(schema_dir / "output" / (sample.type + ".schema.json"));
    const json message = json::parse(sample.json);
    for (const auto& r : schema["required"]) {
      EXPECT_TRUE(message.contains(r.get<std::string>())) << "missing " << r;
    }
    // And nothing the schema does not document.
    for (const auto& [k, v] : message.items()) {
      EXPECT_TRUE(schema["properties"].contains(k)) << "undocumented " << k;
    }
    std::string why;
    EXPECT_TRUE(is_valid(message, schema, why)) << why << "\n" << sample.json;
  }
}

TEST(SchemaFilesTest, OutputsWithOptionalFieldsAbsentStillValid) {
  cart_reminder reminder = test::sample_cart_reminder();
  reminder.coupon.clear();
  stock_alert alert = test::sample_stock_alert(false);
  alert.units_sold_per_day.reset();
  alert.days_of_cover.reset();
  tracking_notification update = test::sample_tracking(false);
  update.estimated_delivery_ms.reset();
  update.previous_status.clear();
  tracking_notification delayed = test::sample_tracking(true);
  delayed.estimated_delivery_ms.reset();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"cart_reminder",
       [&] {
         std::string s;
         return encode(reminder, s);
       }()},
      {"low_stock",
       [&] {
         std::string s;
         return encode(alert, s);
       }()},
      {"tracking_update",
       [&] {
         std::string s;
         return encode(update, s);
       }()},
      {"delivery_delayed",
       [&] {
         std::string s;
         return encode(delayed, s);
       }()},
  };
  for (const auto& [type, text] : cases) {
    SCOPED_TRACE(text);
    std::string why;
    EXPECT_TRUE(
        is_valid(json::parse(text), load(schema_dir / "output" / (type + ".schema.json")), why))
        << why;
  }
}

// ---- inputs: schema and decoder agree -------------------------------------------------------

TEST(SchemaFilesTest, InputSchemaFieldListsMatchDecoder) {
  for (const auto& spec : test::type_specs()) {
    SCOPED_TRACE(std::string(to_string(spec.type)));
    const json schema = input_schema(spec.type);
    std::set<std::string> required;
    for (const auto& r : schema["required"]) required.insert(r.get<std::string>());
    std::set<std::string> expected_required = {"type", "event_id", "ts"};
    expected_required.insert(spec.required.begin(), spec.required.end());
    EXPECT_EQ(required, expected_required);

    std::set<std::string> optional;
    for (const auto& [k, v] : schema["properties"].items()) {
      if (!required.contains(k)) optional.insert(k);
    }
    EXPECT_EQ(optional, std::set<std::string>(spec.optional.begin(), spec.optional.end()));
  }
}

TEST(SchemaFilesTest, ValidRecordsSatisfyInputSchemas) {
  decoder d;
  event e;
  for (const auto& spec : test::type_specs()) {
    SCOPED_TRACE(std::string(to_string(spec.type)));
    const json schema = input_schema(spec.type);
    for (const auto& record : {test::full_record(spec.type), test::minimal_record(spec.type)}) {
      std::string why;
      EXPECT_TRUE(is_valid(json::parse(record.dump()), schema, why)) << why;
      EXPECT_FALSE(test::decode_record(d, spec.type, record, e));
    }
  }
}

TEST(SchemaFilesTest, SchemaAndDecoderRejectTheSameMutations) {
  decoder d;
  event e;
  for (const auto& spec : test::type_specs()) {
    const json schema = input_schema(spec.type);
    std::vector<std::string> fields = {"event_id", "ts"};
    fields.insert(fields.end(), spec.required.begin(), spec.required.end());
    fields.insert(fields.end(), spec.optional.begin(), spec.optional.end());
    for (const auto& f : fields) {
      const bool required =
          std::find(spec.optional.begin(), spec.optional.end(), f) == spec.optional.end();
      std::vector<std::pair<std::string, test::json>> mutations = {
          {"wrong type", test::wrong_type_value(f)}, {"null", nullptr}};
      if (f == "quantity") mutations.push_back({"zero", 0});
      if (f == "quantity" || f == "available" || f == "price" || f == "unit_price" ||
          f == "total" || f == "low_stock_threshold" || f == "ts") {
        mutations.push_back({"negative", -1});
      }
      if (f == "ts" || f == "promised_delivery" || f == "estimated_delivery") {
        mutations.push_back({"not a date", "2019-10-01 00:00:00 UTC"});
      }
      if (f == "event_id" || f.ends_with("_id") || f == "sku") mutations.push_back({"empty", ""});
      for (const auto& [what, value] : mutations) {
        SCOPED_TRACE(std::string(to_string(spec.type)) + "." + f + " " + what);
        test::json r = test::full_record(spec.type);
        r[f] = value;
        const bool expect_ok = what == "null" && !required;
        std::string why;
        EXPECT_EQ(is_valid(json::parse(r.dump()), schema, why), expect_ok) << why;
        // Keys follow the body so only the mutation itself is judged.
        const auto err = d.decode(spec.topic, test::key_for(spec.type, r), r.dump(), e);
        if (expect_ok) {
          EXPECT_FALSE(err) << err.message;
        } else {
          EXPECT_TRUE(err);
          EXPECT_TRUE(test::contains(err.message, f)) << err.message;
        }
      }
      if (required) {
        SCOPED_TRACE(std::string(to_string(spec.type)) + "." + f + " missing");
        test::json r = test::full_record(spec.type);
        r.erase(f);
        std::string why;
        EXPECT_FALSE(is_valid(json::parse(r.dump()), schema, why));
        EXPECT_EQ(d.decode(spec.topic, "cust-1", r.dump(), e).code, decode_code::missing_field);
      }
    }
  }
}

TEST(SchemaFilesTest, TimestampPatternMatchesDecoder) {
  const json schema = input_schema(event_type::cart_cleared);
  decoder d;
  event e;
  for (const std::string ts :
       {"2019-10-01T00:00:00Z", "2019-10-01T00:00:00.123+02:00", "2019-10-01 00:00:00z",
        "2019-10-01T00:00:00", "2019-10-01T00:00:00 UTC", "2019-10-01T00:00:00+0200"}) {
    SCOPED_TRACE(ts);
    test::json r = test::full_record(event_type::cart_cleared);
    r["ts"] = ts;
    std::string why;
    const bool schema_ok = is_valid(json::parse(r.dump()), schema, why);
    const bool decoder_ok = !test::decode_record(d, event_type::cart_cleared, r, e);
    EXPECT_EQ(schema_ok, decoder_ok) << why;
  }
}

}  // namespace
}  // namespace herald::schemas

#include "herald/actors/logging.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace herald::actors {
namespace {

TEST(LoggingTest, JsonLineEscapesEverythingAMessageCanHold) {
  const std::string msg = "quote \" backslash \\ newline \n tab \t bell \x07 utf-8 é";
  const auto line = json_log_line("2026-11-23T10:00:00.123Z", "warn", "", 42, msg);
  EXPECT_EQ(line.find('\n'), std::string::npos) << "one line per record";
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j.at("ts"), "2026-11-23T10:00:00.123Z");
  EXPECT_EQ(j.at("level"), "warn");
  EXPECT_EQ(j.at("logger"), "herald");
  EXPECT_EQ(j.at("thread"), 42);
  EXPECT_EQ(j.at("msg"), msg);
  // Bytes that are not UTF-8 (a broker's message, a customer's field) still give valid JSON.
  const auto bad = json_log_line("t", "info", "x", 1, "caf\xe9 \xff");
  EXPECT_EQ(nlohmann::json::parse(bad).at("msg"), "caf\uFFFD \uFFFD");
}

}  // namespace
}  // namespace herald::actors

#include "herald/actors/config.hpp"

#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include <gtest/gtest.h>

namespace herald::actors {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void TearDown() override { std::filesystem::remove(path_); }
  std::string write(const std::string& yaml) {
    std::ofstream(path_) << yaml;
    return path_.string();
  }
  /// The config_error message for `yaml`, or "" when it loads.
  std::string error_of(const std::string& yaml) {
    try {
      (void)load_config(write(yaml));
    } catch (const config_error& e) {
      return e.what();
    }
    return {};
  }
  std::filesystem::path path_ =
      std::filesystem::temp_directory_path() /
      ("herald-config-" + std::to_string(std::random_device{}()) + ".yaml");
};

constexpr const char* minimal = "kafka:\n  properties:\n    bootstrap.servers: k:9092\n";

TEST_F(ConfigTest, MinimalFileKeepsDefaults) {
  const app_config c = load_config(write(minimal));
  EXPECT_EQ(c.kafka.properties.at("bootstrap.servers"), "k:9092");
  EXPECT_EQ(c.kafka.group_id, "herald");
  EXPECT_EQ(c.topics.carts, "shop.carts");
  ASSERT_EQ(c.abandoned_cart.steps.size(), 2u);
  EXPECT_EQ(c.abandoned_cart.steps[0].delay_ms, 3'600'000);
  EXPECT_EQ(c.abandoned_cart.steps[1].coupon, "COMEBACK10");
}

TEST_F(ConfigTest, ReadsAllSections) {
  const app_config c = load_config(write(R"(
worker_threads: 3
kafka:
  group_id: shop-a
  session_timeout_ms: 6000
  max_in_flight: 1000
  resume_in_flight: 10
  properties:
    bootstrap.servers: k:9092
    security.protocol: SASL_SSL
topics: {carts: c, clickstream: k, cart_reminders: r, dlq: d}
state: {dir: /tmp/x, sync: true, cache_entries: 5}
task: {commit_interval_ms: 20, tick_interval_ms: 30, max_record_bytes: 2048, allowed_lateness_ms: 7, idle_timeout_ms: 0,
       max_future_ms: 3600000, min_event_time_ms: 1500000000000, max_wait_ms: 250, timer_grace_ms: 60000}
metrics: {listen: "127.0.0.1:1"}
rules:
  abandoned_cart:
    retention_ms: 999999999
    steps:
      - {delay_ms: 1000}
      - {delay_ms: 2000, coupon: X}
      - {delay_ms: 3000, coupon: Y}
)"));
  EXPECT_EQ(c.worker_threads, 3u);
  EXPECT_EQ(c.kafka.group_id, "shop-a");
  EXPECT_EQ(c.kafka.properties.at("security.protocol"), "SASL_SSL");
  EXPECT_EQ(c.topics.dlq, "d");
  EXPECT_TRUE(c.state.sync);
  EXPECT_EQ(c.task.watermark.allowed_lateness_ms, 7);
  EXPECT_EQ(c.task.watermark.idle_timeout_ms, 0);
  EXPECT_EQ(c.task.max_future_ms, 3'600'000);
  EXPECT_EQ(c.task.min_event_time_ms, 1'500'000'000'000);
  EXPECT_EQ(c.task.max_wait_ms, 250);
  EXPECT_EQ(c.task.timer_grace_ms, 60'000);
  EXPECT_EQ(c.metrics.listen, "127.0.0.1:1");
  ASSERT_EQ(c.abandoned_cart.steps.size(), 3u);
  EXPECT_EQ(c.abandoned_cart.steps[2].coupon, "Y");
}

TEST_F(ConfigTest, ErrorsNameTheKey) {
  EXPECT_NE(error_of(std::string(minimal) + "  bogus: 1\n").find("'kafka.bogus'"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(minimal) + "colour: red\n").find("'colour'"), std::string::npos);
  EXPECT_NE(
      error_of(std::string(minimal) + "task: {max_future_ms: 0}\n").find("'task.max_future_ms'"),
      std::string::npos);
  EXPECT_NE(
      error_of(std::string(minimal) + "task: {timer_grace_ms: -1}\n").find("'task.timer_grace_ms'"),
      std::string::npos);
  EXPECT_NE(error_of(std::string(minimal) + "task: {commit_interval_ms: soon}\n")
                .find("'task.commit_interval_ms'"),
            std::string::npos);
  EXPECT_NE(error_of("kafka: {group_id: g}\n").find("'kafka.properties.bootstrap.servers'"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(minimal) + "kafka_x: 1\n").find("kafka_x"), std::string::npos);
  EXPECT_NE(error_of(std::string(minimal) +
                     "rules: {abandoned_cart: {steps: [{delay_ms: 5000}, {delay_ms: 10}]}}\n")
                .find("'rules.abandoned_cart.steps[1].delay_ms'"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(minimal) + "rules: {abandoned_cart: {steps: [{delay: 5}]}}\n")
                .find("'rules.abandoned_cart.steps[0].delay'"),
            std::string::npos);
  EXPECT_NE(error_of("kafka: [1, 2\n").find("cannot read config"), std::string::npos);
}

TEST_F(ConfigTest, ReadsAnomalySettingsAndNamesBadOnes) {
  const app_config c = load_config(write(std::string(minimal) + R"(
rules:
  anomalies:
    bot: {window_ms: 30000, absolute_limit: 12, baseline_factor: 6.5, flagged_for_ms: 60000}
    demand: {bucket_ms: 300000, z_threshold: 5, min_volume: 40}
    traffic: {bucket_ms: 60000, min_history: 6}
    price: {samples: 11, min_samples: 3, factor: 2.5}
    cart_quantity: {absolute_limit: 99, factor: 20}
)"));
  const auto& a = c.anomalies;
  EXPECT_EQ(a.bot.window_ms, 30'000);
  EXPECT_EQ(a.bot.absolute_limit, 12);
  EXPECT_DOUBLE_EQ(a.bot.baseline_factor, 6.5);
  EXPECT_EQ(a.bot.flagged_for_ms, 60'000);
  EXPECT_EQ(a.bot.min_count, rules::bot_config{}.min_count) << "unset keys keep defaults";
  EXPECT_EQ(a.demand.bucket_ms, 300'000);
  EXPECT_DOUBLE_EQ(a.demand.z_threshold, 5);
  EXPECT_EQ(a.demand.min_volume, 40);
  EXPECT_EQ(a.traffic.bucket_ms, 60'000);
  EXPECT_EQ(a.traffic.min_history, 6);
  EXPECT_EQ(a.traffic.min_volume, rules::demand_config{}.min_volume);
  EXPECT_EQ(a.price.samples, 11u);
  EXPECT_EQ(a.price.min_samples, 3u);
  EXPECT_DOUBLE_EQ(a.price.factor, 2.5);
  EXPECT_EQ(a.cart_quantity.absolute_limit, 99);
  EXPECT_DOUBLE_EQ(a.cart_quantity.factor, 20);

  auto err = [&](const std::string& rules) {
    return error_of(std::string(minimal) + "rules: {anomalies: " + rules + "}\n");
  };
  EXPECT_NE(err("{bot: {window: 5}}").find("'rules.anomalies.bot.window'"), std::string::npos);
  EXPECT_NE(err("{spam: {}}").find("'rules.anomalies.spam'"), std::string::npos);
  EXPECT_NE(err("{demand: {alpha: high}}").find("'rules.anomalies.demand.alpha'"),
            std::string::npos);
  EXPECT_NE(err("{traffic: {lateness_ms: 60000}}").find("'rules.anomalies.traffic.lateness_ms'"),
            std::string::npos)
      << "buckets close on the watermark: the old lateness key is gone, not silently ignored";
  EXPECT_NE(err("{bot: {absolute_limit: 0}}").find("'rules.anomalies.bot.absolute_limit'"),
            std::string::npos);
  EXPECT_NE(
      err("{price: {samples: 4, min_samples: 5}}").find("'rules.anomalies.price.min_samples'"),
      std::string::npos);
  EXPECT_NE(err("{cart_quantity: {factor: 1}}").find("'rules.anomalies.cart_quantity.factor'"),
            std::string::npos);
}

TEST_F(ConfigTest, EnvironmentOverridesEveryKindOfKey) {
  const environment env = {
      {"HERALD_KAFKA__GROUP_ID", "shop-b"},
      {"HERALD_KAFKA__PROPERTIES__BOOTSTRAP_SERVERS", "k1:9092,k2:9092"},
      {"HERALD_KAFKA__PROPERTIES__SASL_PASSWORD", "p@ss: {not yaml"},
      {"HERALD_WORKER_THREADS", "6"},
      {"HERALD_STATE__SYNC", "true"},
      {"HERALD_RULES__ANOMALIES__BOT__WINDOW_MS", "30000"},
      {"HERALD_RULES__ABANDONED_CART__STEPS", "[{delay_ms: 1000}, {delay_ms: 5000, coupon: Z}]"},
      {"HERALD_LOG__FORMAT", "json"},
      {"HERALD_AVAILABILITY_BOOTSTRAP_TIMEOUT_MS", "5000"},
      {"HERALD_RULES__SHIPMENTS__RETENTION_MS", "86400000"},
      {"HERALD_RULES__SHIPMENTS__MAX_HELD_SCANS", "8"},
      {"PATH", "/usr/bin"},  // not Herald's
  };
  const auto r = check_config(write(std::string(minimal) + "kafka_x: 1\n"), env);
  ASSERT_EQ(r.errors.size(), 1u) << "only the file's bad key";
  const app_config c =
      load_config(write("kafka:\n  group_id: file\n  properties:\n"
                        "    bootstrap.servers: k:9092\n    client.id: from-file\n"),
                  env);
  EXPECT_EQ(c.kafka.group_id, "shop-b") << "the environment wins over the file";
  EXPECT_EQ(c.kafka.properties.at("bootstrap.servers"), "k1:9092,k2:9092");
  EXPECT_EQ(c.kafka.properties.at("client.id"), "from-file");
  EXPECT_EQ(c.kafka.properties.at("sasl.password"), "p@ss: {not yaml") << "verbatim";
  EXPECT_EQ(c.worker_threads, 6u);
  EXPECT_TRUE(c.state.sync);
  EXPECT_EQ(c.anomalies.bot.window_ms, 30'000);
  ASSERT_EQ(c.abandoned_cart.steps.size(), 2u);
  EXPECT_EQ(c.abandoned_cart.steps[1].coupon, "Z");
  EXPECT_EQ(c.log.format, "json");
  EXPECT_EQ(c.availability_bootstrap_timeout_ms, 5000);
  EXPECT_EQ(c.shipments.retention_ms, 86'400'000);
  EXPECT_EQ(c.shipments.max_held_scans, 8u);
  // Printing the config never shows the secret.
  for (const auto& [name, value] : redacted_properties(c))
    if (name == "sasl.password") {
      EXPECT_EQ(value, "***");
    }
}

TEST_F(ConfigTest, EveryProblemIsReportedWithItsKeyAndWhy) {
  const auto r = check_config(write(std::string(minimal) + R"(  grup_id: x
task: {commit_interval_ms: -5, tick_interval_ms: soon}
log: {level: loud}
rules:
  anomalies: {price: {factor: 0.5}}
)"),
                              {{"HERALD_RULES__INVENTORY__NOTIFY_RATIO", "0"},
                               {"HERALD_METRICS__LISTN", "x"},
                               {"HERALD_BAD____KEY", "1"}});
  const std::vector<std::string> expected = {
      "'kafka.grup_id': unknown key",
      "'task.tick_interval_ms': has the wrong type",
      "'task.commit_interval_ms': must be > 0",
      "'log.level': 'loud' is not one of",
      "'rules.anomalies.price.factor': must be > 1",
      "'rules.inventory.notify_ratio': must be > 0 (set by HERALD_RULES__INVENTORY__NOTIFY_RATIO)",
  };
  for (const auto& want : expected) {
    bool found = false;
    for (const auto& e : r.errors) found = found || e.find(want) != std::string::npos;
    EXPECT_TRUE(found) << "missing: " << want;
  }
  EXPECT_EQ(r.errors.size(), expected.size());
  // Variables that name no key may be another program's (a wrapper's HERALD_BIN): warnings,
  // listed by check-config, not reasons to refuse to start.
  ASSERT_EQ(r.warnings.size(), 2u);
  for (const char* want : {"HERALD_METRICS__LISTN: no configuration key 'metrics.listn'",
                           "HERALD_BAD____KEY: not a configuration key"}) {
    bool found = false;
    for (const auto& w : r.warnings) found = found || w.find(want) != std::string::npos;
    EXPECT_TRUE(found) << "missing warning: " << want;
  }
  // load_config throws with all of them, one per line.
  try {
    (void)load_config(path_.string(), {});
    FAIL() << "loaded an invalid config";
  } catch (const config_error& e) {
    EXPECT_NE(std::string(e.what()).find("kafka.grup_id"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("\n"), std::string::npos);
  }
}

TEST_F(ConfigTest, AnotherProgramsHeraldVariableIsAWarningNotAReasonToRefuse) {
  const auto r = check_config(write(minimal), {{"HERALD_BIN", "/opt/herald/bin/herald"},
                                               {"HERALD_KAFKA__GROUP_ID", "shop-c"}});
  EXPECT_TRUE(r.errors.empty()) << r.errors.front();
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("HERALD_BIN"), std::string::npos) << r.warnings[0];
  EXPECT_EQ(r.config.kafka.group_id, "shop-c") << "the real keys still apply";
  EXPECT_EQ(load_config(path_.string(), {{"HERALD_BIN", "x"}}).kafka.group_id,
            load_config(path_.string(), {}).kafka.group_id);
}

TEST_F(ConfigTest, SecretsAreAcceptedOnlyFromTheEnvironment) {
  const auto r = check_config(
      write(std::string(minimal) + "    sasl.password: hunter2\n" + "    ssl.key.password: x\n"),
      {});
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_NE(r.errors[0].find("HERALD_KAFKA__PROPERTIES__SASL_PASSWORD"), std::string::npos)
      << r.errors[0];
  for (const auto& e : r.errors) EXPECT_EQ(e.find("hunter2"), std::string::npos) << e;
  EXPECT_TRUE(is_secret_property("sasl.oauthbearer.client.secret"));
  EXPECT_FALSE(is_secret_property("sasl.username"));
}

TEST_F(ConfigTest, ShippedCarrierMappingsAreCompiledIn) {
  const app_config c = load_config(write(minimal));
  using rules::shipment_status;
  const auto& m = c.shipments.carriers;
  EXPECT_EQ(m.lookup("UPS", "D"), shipment_status::delivered);
  EXPECT_EQ(m.lookup("dhl", "WC"), shipment_status::out_for_delivery);
  EXPECT_EQ(m.lookup("Correios", "entregue"), shipment_status::delivered);
  EXPECT_EQ(m.lookup("easypost", "return_to_sender"), shipment_status::returned_to_sender);
  // EasyPost's vocabulary is the fallback for carriers relayed through it (USPS, ...).
  EXPECT_EQ(m.lookup("USPS", "out_for_delivery"), shipment_status::out_for_delivery);
  EXPECT_FALSE(m.lookup("easypost", "error").has_value()) << "not a parcel status";
}

TEST_F(ConfigTest, CarrierFilesAddMappingsAndBadOnesNameTheEntry) {
  const auto extra = std::filesystem::temp_directory_path() /
                     ("herald-carrier-" + std::to_string(std::random_device{}()) + ".yaml");
  std::ofstream(extra) << "carriers: [FedEx]\ncodes: {OD: out_for_delivery, DL: delivered}\n";
  const app_config c = load_config(write(std::string(minimal) +
                                         "rules:\n  shipments:\n"
                                         "    notify_on: [delivered]\n"
                                         "    carrier_files: ['" +
                                         extra.string() + "']\n"));
  EXPECT_EQ(c.shipments.carriers.lookup("fedex", "DL"), rules::shipment_status::delivered);
  EXPECT_EQ(c.shipments.notify_on,
            std::set<rules::shipment_status>{rules::shipment_status::delivered});
  std::ofstream(extra) << "carriers: [FedEx]\ncodes: {DL: teleported}\n";
  const std::string err = error_of(std::string(minimal) + "rules: {shipments: {carrier_files: ['" +
                                   extra.string() + "']}}\n");
  EXPECT_NE(err.find(".codes.DL"), std::string::npos) << err;
  EXPECT_NE(err.find("'teleported'"), std::string::npos) << err;
  EXPECT_NE(error_of(std::string(minimal) + "rules: {shipments: {notify_on: [arrived]}}\n")
                .find("'rules.shipments.notify_on[0]'"),
            std::string::npos);
  std::filesystem::remove(extra);
}

}  // namespace
}  // namespace herald::actors

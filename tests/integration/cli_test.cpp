// The herald binary as an operator runs it: `version`, `run` with a bad config, and
// `dev-kafka` + kcat + `herald run` + SIGTERM as separate processes.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "harness.hpp"

namespace herald::testing {
namespace {

/// Runs a shell command; returns (exit code, stdout+stderr).
std::pair<int, std::string> shell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), p) != nullptr) out += buf.data();
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

/// A child process whose stdout is a pipe.
struct child {
  pid_t pid = -1;
  FILE* out = nullptr;

  /// `env` is added to the environment; `with_stderr` also sends stderr (the logs) to `out`.
  explicit child(const std::vector<std::string>& argv,
                 const std::vector<std::pair<std::string, std::string>>& env = {},
                 bool with_stderr = false) {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    pid = ::fork();
    if (pid == 0) {
      for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      ::dup2(fds[1], 1);
      if (with_stderr) ::dup2(fds[1], 2);
      ::close(fds[0]);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out = ::fdopen(fds[0], "r");
  }
  std::string line() {
    std::array<char, 1024> buf{};
    return std::fgets(buf.data(), buf.size(), out) ? std::string(buf.data()) : std::string();
  }
  /// Sends `sig` and returns the exit code (-1 when killed by a signal).
  int stop(int sig = SIGTERM) {
    ::kill(pid, sig);
    int status = 0;
    ::waitpid(pid, &status, 0);
    std::fclose(out);
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  ~child() {
    if (pid > 0) stop(SIGKILL);
  }
};

TEST(CliTest, VersionPrintsTheVersion) {
  auto [code, out] = shell(HERALD_BIN " version");
  EXPECT_EQ(code, 0);
  EXPECT_EQ(out.rfind("herald ", 0), 0u) << out;
}

TEST(CliTest, RunRejectsABadConfigNamingTheKey) {
  temp_dir dir;
  const std::string path = dir.str() + "/bad.yaml";
  std::ofstream(path) << "kafka:\n  properties: {bootstrap.servers: 'x:1'}\n  group: oops\n";
  auto [code, out] = shell(fmt::format("{} run --config {}", HERALD_BIN, path));
  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("'kafka.group'"), std::string::npos) << out;
}

TEST(CliTest, CheckConfigNamesEveryBadKeyAndNeverPrintsSecrets) {
  temp_dir dir;
  const std::string bad = dir.str() + "/bad.yaml";
  std::ofstream(bad) << "kafka:\n  properties: {bootstrap.servers: 'x:1', sasl.password: s3cr3t}\n"
                        "  group: oops\ntask: {commit_interval_ms: 0}\n";
  auto [code, out] = shell(
      fmt::format("HERALD_RULES__ANOMALIES__BOT__WINDOW=5 {} check-config {}", HERALD_BIN, bad));
  EXPECT_EQ(code, 2) << out;
  for (const char* key :
       {"'kafka.group': unknown key", "'task.commit_interval_ms': must be > 0",
        "'kafka.properties.sasl.password': is a secret",
        "warning: environment variable HERALD_RULES__ANOMALIES__BOT__WINDOW: no configuration key "
        "'rules.anomalies.bot.window' (ignored)"})
    EXPECT_NE(out.find(key), std::string::npos) << key << " in\n" << out;
  EXPECT_NE(out.find("3 problems"), std::string::npos) << "the variable is a warning:\n" << out;
  EXPECT_EQ(out.find("s3cr3t"), std::string::npos) << out;

  const std::string good = dir.str() + "/good.yaml";
  std::ofstream(good) << "kafka:\n  properties: {bootstrap.servers: 'x:1', sasl.username: u}\n";
  auto [gcode, gout] =
      shell(fmt::format("HERALD_KAFKA__PROPERTIES__SASL_PASSWORD=hunter2 HERALD_KAFKA__GROUP_ID=g7 "
                        "{} check-config {}",
                        HERALD_BIN, good));
  EXPECT_EQ(gcode, 0) << gout;
  EXPECT_NE(gout.find("group g7"), std::string::npos) << gout;
  EXPECT_NE(gout.find("kafka sasl.password = ***"), std::string::npos) << gout;
  EXPECT_EQ(gout.find("hunter2"), std::string::npos) << gout;
}

// `herald run` on the cluster at `bootstrap` (Herald's topics with 2 partitions): kcat feeds
// it, it is live and ready, applies and dead-letters, logs JSON, and SIGTERM stops it cleanly.
// `group`: Herald's consumer group and application id (its changelog topics are named by it).
void herald_run_stops_cleanly_on_sigterm(const std::string& bootstrap, const std::string& group) {
  temp_dir dir;
  const int port = 20000 + static_cast<int>(::getpid() % 20000);
  const std::string cfg = dir.str() + "/herald.yaml";
  std::ofstream(cfg) << fmt::format(
      "kafka:\n  session_timeout_ms: 6000\n  properties: {{bootstrap.servers: '{}'}}\n"
      "state: {{dir: '{}/state'}}\nmetrics: {{listen: '127.0.0.1:{}'}}\n",
      bootstrap, dir.str(), port);
  const std::string events = dir.str() + "/events.txt";
  std::ofstream(events)
      << "ann|{\"type\":\"cart_item_added\",\"event_id\":\"e1\",\"ts\":1700000000000,"
         "\"customer_id\":\"ann\",\"cart_id\":\"k\",\"sku\":\"s\",\"quantity\":1,"
         "\"unit_price\":2,\"currency\":\"EUR\"}\n"
      << "ann|{\"type\":\"cart_item_added\"\n";
  auto [pcode, pout] =
      shell(fmt::format("kcat -b {} -P -t shop.carts -K '|' -l {}", bootstrap, events));
  ASSERT_EQ(pcode, 0) << pout;

  child herald({HERALD_BIN, "run", "--config", cfg},
               {{"HERALD_LOG__FORMAT", "json"}, {"HERALD_KAFKA__GROUP_ID", group}}, true);
  // Live at once; ready once the group assigned the tasks and they restored their state.
  EXPECT_TRUE(
      wait_for([&] { return http_get(port, "/healthz") == "ok\n"; }, std::chrono::seconds(30)));
  std::string ready;
  EXPECT_TRUE(wait_for(
      [&] {
        ready = http_get(port, "/readyz");
        return ready.starts_with("ready: ");
      },
      std::chrono::seconds(30)))
      << ready;
  EXPECT_EQ(ready, "ready: 6 tasks\n") << "2 customer, 2 SKU and 2 shipment partitions";
  EXPECT_EQ(http_get(port, "/nope"), "not found\n");
  std::string text;
  EXPECT_TRUE(wait_for(
      [&] {
        text = http_get(port, "/metrics");
        return metric_value(text, "herald_events_total", R"(result="dlq",topic="shop.carts")") ==
                   1 &&
               metric_value(text, "herald_events_total", R"(result="ok",topic="shop.carts")") == 1;
      },
      std::chrono::seconds(30)))
      << text;
  EXPECT_EQ(::kill(herald.pid, SIGTERM), 0);
  // Logs: one JSON object per line, with a level and the message (librdkafka's too).
  std::string line;
  int lines = 0;
  bool stopped = false, grouped = false;
  while (!(line = herald.line()).empty()) {
    ++lines;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << line;
    EXPECT_TRUE(j.contains("ts") && j.contains("level") && j.contains("msg")) << line;
    stopped = stopped || j.value("msg", "") == "herald stopped";
    grouped = grouped || j.value("msg", "").find("group '" + group + "'") != std::string::npos;
  }
  EXPECT_GT(lines, 3);
  EXPECT_TRUE(stopped);
  EXPECT_TRUE(grouped) << "HERALD_KAFKA__GROUP_ID applied";
  EXPECT_EQ(herald.stop(SIGTERM), 0) << "SIGTERM is a clean stop";
  auto [ccode, dlq] =
      shell(fmt::format("kcat -b {} -C -t herald.dlq -e -q -f '%k %h\\n'", bootstrap));
  EXPECT_EQ(ccode, 0);
  EXPECT_NE(dlq.find("herald.error=malformed JSON"), std::string::npos) << dlq;
}

TEST(CliTest, DevKafkaServesKcatAndHeraldRunStopsCleanlyOnSigterm) {
  child kafka({HERALD_BIN, "dev-kafka", "--partitions", "2"});
  std::string bootstrap = kafka.line();
  ASSERT_FALSE(bootstrap.empty());
  bootstrap.pop_back();  // newline
  auto [code, meta] = shell(fmt::format("kcat -b {} -L -m 5", bootstrap));
  ASSERT_EQ(code, 0) << meta;
  EXPECT_NE(meta.find("shop.carts"), std::string::npos) << meta;
  EXPECT_NE(meta.find("herald.dlq"), std::string::npos) << meta;
  // dev-kafka creates the changelog topics of the default application id, "herald".
  herald_run_stops_cleanly_on_sigterm(bootstrap, "herald");
  EXPECT_EQ(kafka.stop(SIGTERM), 0);
}

TEST(CliTest, HeraldRunOnARealBrokerStopsCleanlyOnSigterm) {
  if (!kafka_fixture::real()) GTEST_SKIP() << "dev-kafka's mock is the test above";
  kafka_fixture kafka(2);
  herald_run_stops_cleanly_on_sigterm(kafka.bootstrap_servers(), kafka.group());
}

}  // namespace
}  // namespace herald::testing

namespace herald::testing {
namespace {

// Cart reminders on the cluster at `bootstrap`: (customer, number) -> the ids it came with.
std::map<std::pair<std::string, int>, std::set<std::string>> reminder_ids(
    const std::string& bootstrap) {
  std::vector<streams::consumed_record> out;
  std::string error;
  EXPECT_TRUE(
      streams::read_topic({{"bootstrap.servers", bootstrap}}, "herald.cart-reminders", out, error))
      << error;
  std::map<std::pair<std::string, int>, std::set<std::string>> ids;
  for (const auto& r : out) {
    const auto j = nlohmann::json::parse(r.value);
    ids[{j.at("customer_id").get<std::string>(), j.at("reminder_number").get<int>()}].insert(
        j.at("notification_id").get<std::string>());
  }
  return ids;
}

// `herald run` killed with SIGKILL while it sends reminders, twice: restarted on its disk (a
// pod restarted), then on an empty one (a pod lost with its volume). Every cart gets both of
// its reminders; one sent again after a kill carries the same id.
void killed_herald_loses_no_reminder(const std::string& bootstrap, const std::string& group,
                                     int partitions) {
  constexpr int carts = 300;
  constexpr std::int64_t t0 = 1'700'000'000'000, hour = 3'600'000;
  temp_dir dir;
  const int port = 20000 + static_cast<int>((::getpid() + 7) % 20000);
  auto write_config = [&](const std::string& state) {
    const std::string cfg = dir.str() + "/herald-" + state + ".yaml";
    std::ofstream(cfg) << fmt::format(
        "kafka:\n  session_timeout_ms: 6000\n  group_id: '{}'\n"
        "  properties: {{bootstrap.servers: '{}'}}\n"
        "task: {{idle_timeout_ms: 0}}\n"
        "state: {{dir: '{}/{}'}}\nmetrics: {{listen: '127.0.0.1:{}'}}\n",
        group, bootstrap, dir.str(), state, port);
    return cfg;
  };
  const std::string on_disk = write_config("a"), fresh = write_config("b");
  std::string error;
  streams::sink_config sc;
  sc.properties["bootstrap.servers"] = bootstrap;
  sc.properties["partitioner"] = "murmur2_random";
  auto producer = streams::sink::create(sc, error);
  ASSERT_TRUE(producer) << error;
  auto heartbeat = [&](std::int64_t ts) {
    for (int p = 0; p < partitions; ++p)
      ASSERT_TRUE(producer->produce_to(
          "shop.carts", p, "hb",
          fmt::format(
              R"({{"type":"checkout_started","event_id":"hb-{}-{}","ts":{},"customer_id":"hb","cart_id":"none"}})",
              p, ts, ts)));
    ASSERT_TRUE(producer->flush(10'000));
  };
  auto metric = [&](const char* name, const char* labels) {
    return metric_value(http_get(port, "/metrics"), name, labels);
  };
  auto sent = [&](int number) {
    return metric("herald_cart_reminders_total",
                  number == 1 ? R"(reminder_number="1")" : R"(reminder_number="2")");
  };
  auto delivered = [&](int number) {
    int n = 0;
    for (const auto& [key, ids] : reminder_ids(bootstrap)) n += key.second == number ? 1 : 0;
    return n;
  };
  for (int i = 0; i < carts; ++i)
    ASSERT_TRUE(producer->produce(
        "shop.carts", fmt::format("c{}", i),
        fmt::format(
            R"({{"type":"cart_item_added","event_id":"add-{}","ts":{},"customer_id":"c{}","cart_id":"k{}","sku":"s","quantity":1,"unit_price":5,"currency":"EUR"}})",
            i, t0 + i, i, i)));
  heartbeat(t0 + 10 * 60'000);

  auto run = [&](const std::string& cfg) {
    return std::make_unique<child>(std::vector<std::string>{HERALD_BIN, "run", "--config", cfg});
  };
  auto herald = run(on_disk);
  ASSERT_TRUE(wait_for(
      [&] { return metric("herald_events_total", R"(result="ok",topic="shop.carts")") >= carts; },
      std::chrono::seconds(60)));
  heartbeat(t0 + 2 * hour);
  ASSERT_TRUE(wait_for([&] { return sent(1) >= 1; }, std::chrono::seconds(60)));
  herald->stop(SIGKILL);  // the pod dies mid-burst; its volume stays
  herald = run(on_disk);
  EXPECT_TRUE(wait_for([&] { return delivered(1) == carts; }, std::chrono::seconds(90)))
      << delivered(1) << " of " << carts << " first reminders";

  // Its carts reach their changelog...
  ASSERT_TRUE(wait_for(
      [&] {
        std::vector<streams::consumed_record> log;
        std::string e;
        return streams::read_topic({{"bootstrap.servers", bootstrap}}, group + "-carts-changelog",
                                   log, e) &&
               log.size() >= static_cast<std::size_t>(carts);
      },
      std::chrono::seconds(60)));
  heartbeat(t0 + 26 * hour);
  ASSERT_TRUE(wait_for([&] { return sent(2) >= 1; }, std::chrono::seconds(60)));
  herald->stop(SIGKILL);  // dies again, and this time its volume is gone
  herald = run(fresh);
  EXPECT_TRUE(wait_for([&] { return delivered(2) == carts; }, std::chrono::seconds(90)))
      << delivered(2) << " of " << carts << " second reminders";
  EXPECT_TRUE(wait_for([&] { return http_get(port, "/readyz").starts_with("ready: "); },
                       std::chrono::seconds(60)));
  EXPECT_GE(metric("herald_restores_total", R"(kind="full")"), 1)
      << "the empty disk is restored from the changelogs";
  EXPECT_GE(metric("herald_restored_records_total", ""), carts)
      << "the carts came from the changelog, not from reading the input again";
  EXPECT_EQ(herald->stop(SIGTERM), 0);

  const auto ids = reminder_ids(bootstrap);
  EXPECT_EQ(ids.size(), 2u * carts) << "each cart's two reminders, and nothing else";
  for (const auto& [key, set] : ids)
    EXPECT_EQ(set.size(), 1u) << key.first << " #" << key.second << ": sent again with a new id";
}

TEST(CliTest, HeraldKilledWithSigkillTwiceLosesNoReminder) {
  child kafka({HERALD_BIN, "dev-kafka", "--partitions", "2"});
  std::string bootstrap = kafka.line();
  ASSERT_FALSE(bootstrap.empty());
  bootstrap.pop_back();
  killed_herald_loses_no_reminder(bootstrap, "herald", 2);
  EXPECT_EQ(kafka.stop(SIGTERM), 0);
}

TEST(CliTest, HeraldKilledWithSigkillTwiceLosesNoReminderOnARealBroker) {
  if (!kafka_fixture::real()) GTEST_SKIP() << "dev-kafka's mock is the test above";
  kafka_fixture kafka(2);
  killed_herald_loses_no_reminder(kafka.bootstrap_servers(), kafka.group(), 2);
}

}  // namespace
}  // namespace herald::testing

// State that follows its partition (actors/changelog.hpp), through Kafka: a partition that
// moves to another instance brings its carts and timers along from the changelog topics, and
// one that comes back to its first owner catches up from the checkpoint instead of replaying
// the other owner's input from a stale offset.

#include <map>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "herald/actors/transactions.hpp"
#include "herald/state/db.hpp"
#include "herald/state/keys.hpp"
#include "herald/streams/admin.hpp"
#include "herald/streams/source.hpp"
#include "scenario.hpp"

namespace herald::testing {
namespace {

constexpr std::int64_t t0 = 1'700'000'000'000;

std::string cart_add(const std::string& customer, std::int64_t ts) {
  return fmt::format(
      R"({{"type":"cart_item_added","event_id":"add-{}","ts":{},"customer_id":"{}","cart_id":"cart-{}","sku":"sku-a","quantity":1,"unit_price":10,"currency":"EUR"}})",
      customer, ts, customer, customer);
}

double restores(actors::app& app, const char* kind) {
  return metric_value(http_get(app.metrics_port(), "/metrics"), "herald_restores_total",
                      fmt::format(R"(kind="{}")", kind));
}

bool ready(actors::app& app) {
  return http_get(app.metrics_port(), "/readyz").starts_with("ready: ");
}

// (customer, reminder number) -> how often it was sent, and every id seen.
std::map<std::pair<std::string, int>, int> reminders(kafka_fixture& kafka,
                                                     std::set<std::string>* ids = nullptr) {
  std::map<std::pair<std::string, int>, int> out;
  for (const auto& r : kafka.read("herald.cart-reminders")) {
    const auto j = nlohmann::json::parse(r.value);
    ++out[{j.at("customer_id").get<std::string>(), j.at("reminder_number").get<int>()}];
    if (ids != nullptr) ids->insert(j.at("notification_id").get<std::string>());
  }
  return out;
}

// An instance on `dir` opens ann's cart at t0 (its reminder due an hour later) and stops.
void open_cart(kafka_fixture& kafka, const std::string& dir) {
  actors::app a(kafka.config(dir));
  ASSERT_EQ(a.start(), "");
  kafka.produce("shop.carts", "ann", cart_add("ann", t0));
  kafka.heartbeat(t0 + 10 * min_ms, 1);
  kafka.flush();
  ASSERT_TRUE(wait_for([&] { return processed(a) == 3; }));
  a.stop();
  EXPECT_EQ(a.probe().reminders_total(), 0u);
}

// A cart opened on instance A, whose partition then moves to instance B (a fresh disk: a pod
// replaced with its volume), is reminded by B after an hour; when the partition comes back to
// A, A catches up from its checkpoint and sends the second reminder, and nothing twice.
TEST(ChangelogTest, ACartFollowsItsPartitionToAnotherInstanceAndBack) {
  kafka_fixture kafka(1);
  temp_dir a_dir, b_dir;
  open_cart(kafka, a_dir.str());
  {
    actors::app b(kafka.config(b_dir.str()));
    ASSERT_EQ(b.start(), "");
    ASSERT_TRUE(wait_for([&] { return ready(b); }));
    EXPECT_GE(restores(b, "full"), 1) << "B has no local state: restored from the beginning";
    EXPECT_GT(b.probe().restored_records_total(), 0u);
    kafka.heartbeat(t0 + 2 * hour_ms, 1);
    kafka.flush();
    ASSERT_TRUE(wait_for([&] { return b.probe().reminders_total() == 1; }))
        << "the cart and its timer came along";
    b.stop();
  }
  actors::app a(kafka.config(a_dir.str()));
  ASSERT_EQ(a.start(), "");
  ASSERT_TRUE(wait_for([&] { return ready(a); }));
  EXPECT_GE(restores(a, "catch_up"), 1) << "A's checkpoint is behind what B wrote";
  EXPECT_EQ(restores(a, "full"), 0) << "A stopped cleanly: its checkpoint is exact";
  kafka.heartbeat(t0 + 26 * hour_ms, 1);
  kafka.flush();
  ASSERT_TRUE(wait_for([&] { return a.probe().reminders_total() == 1; }));
  a.stop();
  EXPECT_EQ(a.probe().reminders_total(), 1u) << "A did not replay B's range from its old offset";
  std::set<std::string> ids;
  const auto got = reminders(kafka, &ids);
  const std::map<std::pair<std::string, int>, int> want = {{{"ann", 1}, 1}, {{"ann", 2}, 1}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(ids.size(), 2u);
}

// Two instances share four partitions; one leaves while carts wait for their reminders. Its
// partitions move to the other, which restores them while it keeps running its own: every
// cart gets its reminder exactly once.
TEST(ChangelogTest, WhenAnInstanceLeavesItsPartitionsAreRestoredByTheOtherAndNothingIsLost) {
  constexpr int partitions = 4;
  constexpr int customers = 40;
  kafka_fixture kafka(partitions);
  temp_dir a_dir, b_dir;
  actors::app a(kafka.config(a_dir.str()));
  ASSERT_EQ(a.start(), "");
  auto b = std::make_unique<actors::app>(kafka.config(b_dir.str()));
  ASSERT_EQ(b->start(), "");
  ASSERT_TRUE(wait_for([&] {
    return a.assigned_tasks() + b->assigned_tasks() == 3 * partitions && a.assigned_tasks() > 0 &&
           b->assigned_tasks() > 0 && ready(a) && ready(*b);
  })) << "A "
      << a.assigned_tasks() << " tasks, B " << b->assigned_tasks();
  for (int i = 0; i < customers; ++i) {
    const std::string who = fmt::format("c{}", i);
    kafka.produce("shop.carts", who, cart_add(who, t0 + i));
  }
  kafka.heartbeat(t0 + 10 * min_ms, partitions);
  kafka.flush();
  ASSERT_TRUE(wait_for([&] { return processed(a) + processed(*b) == customers + 2 * partitions; }));
  b->stop();
  b.reset();
  ASSERT_TRUE(wait_for([&] { return a.assigned_tasks() == 3 * partitions && ready(a); }));
  // A held every task until B joined: it catches up from the checkpoints of then.
  EXPECT_GE(restores(a, "full") + restores(a, "catch_up"), 1);
  kafka.heartbeat(t0 + 2 * hour_ms, partitions);
  kafka.flush();
  ASSERT_TRUE(wait_for([&] { return a.probe().reminders_total() == customers; }))
      << a.probe().reminders_total() << " reminders";
  a.stop();
  const auto got = reminders(kafka);
  EXPECT_EQ(got.size(), static_cast<std::size_t>(customers));
  for (const auto& [key, n] : got) EXPECT_EQ(n, 1) << key.first << " #" << key.second;
}

double transactions(actors::app& app, const char* result) {
  return metric_value(http_get(app.metrics_port(), "/metrics"), "herald_transactions_total",
                      fmt::format(R"(result="{}")", result));
}

// Exactly-once, the default on a real broker: a transaction that cannot commit (the reminders'
// topic refuses their records for a while) is aborted, and every task is rewound to its
// committed state, restored from its changelogs and fed its input again from the committed
// offsets. Once the topic takes them, every cart gets its reminder exactly once, and nothing of
// the aborted transactions is read.
TEST(ChangelogTest, AnAbortedTransactionRewindsTheTasksAndNothingIsSentTwiceOrLost) {
  constexpr int partitions = 2;
  constexpr int customers = 20;
  kafka_fixture kafka(partitions);
  if (kafka.mock()) GTEST_SKIP() << "the mock cluster runs at-least-once (no transactions)";
  temp_dir dir;
  actors::app app(kafka.config(dir.str()));
  ASSERT_EQ(app.start(), "");
  for (int i = 0; i < customers; ++i) {
    const std::string who = fmt::format("c{}", i);
    kafka.produce("shop.carts", who, cart_add(who, t0 + i));
  }
  kafka.heartbeat(t0 + 10 * min_ms, partitions);
  kafka.flush();
  ASSERT_TRUE(wait_for([&] { return processed(app) == customers + 2 * partitions; }));
  ASSERT_TRUE(wait_for([&] { return transactions(app, "committed") >= 1; }));
  const streams::kafka_properties props{{"bootstrap.servers", kafka.bootstrap_servers()}};
  std::string error;
  // A reminder's record batch is larger than 200 bytes; the transaction markers (about 80)
  // still fit, so the broker can end the aborted transactions.
  ASSERT_TRUE(
      streams::alter_topic(props, "herald.cart-reminders", {{"max.message.bytes", "200"}}, error))
      << error;
  kafka.heartbeat(t0 + 2 * hour_ms, partitions);  // the reminders fall due
  kafka.flush();
  ASSERT_TRUE(
      wait_for([&] { return transactions(app, "aborted") >= 1; }, std::chrono::seconds(60)));
  EXPECT_TRUE(wait_for([&] { return restores(app, "full") >= 1; }))
      << "a rewound task restores its committed state";
  // (The broker's default; the aborted transactions' markers are written once it takes them.)
  ASSERT_TRUE(streams::alter_topic(props, "herald.cart-reminders",
                                   {{"max.message.bytes", "1048588"}}, error))
      << error;
  ASSERT_TRUE(
      wait_for([&] { return reminders(kafka).size() == customers; }, std::chrono::seconds(90)))
      << reminders(kafka).size() << " carts reminded";
  app.stop();
  std::set<std::string> ids;
  const auto got = reminders(kafka, &ids);
  EXPECT_EQ(got.size(), static_cast<std::size_t>(customers));
  for (const auto& [key, n] : got) EXPECT_EQ(n, 1) << key.first << " #" << key.second;
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(customers));
}

// A task stops (a clean stop, a revoke) once its final transaction settled; the next one may
// already have asked it to commit. It handed the producer nothing since: that transaction
// commits without it. One that stops while it hands a commit over still aborts it (part of
// that commit may be in the transaction). Before, either one aborted it, and so rewound every
// task of the instance: at 3M customers a clean stop's last transaction aborted and the
// restart restored every changelog from its beginning.
TEST(ChangelogTest, ATaskThatStopsAfterItsFinalTransactionDoesNotAbortTheNextOne) {
  kafka_fixture kafka(1);
  if (kafka.mock()) GTEST_SKIP() << "the mock cluster runs at-least-once (no transactions)";
  struct no_listener final : streams::source_listener {
    void on_assigned(const std::vector<state::task_id>&) override {}
    std::optional<std::int64_t> resume_offset(state::task_id, const std::string&) override {
      return std::nullopt;
    }
    void on_revoked(const std::vector<state::task_id>&) override {}
    void on_batch(streams::record_batch&&) override {}
  } listener;
  std::string error;
  streams::source_config scfg;
  scfg.properties["bootstrap.servers"] = kafka.bootstrap_servers();
  scfg.properties["group.id"] = kafka.group();
  scfg.topics = {{"shop.carts", schemas::topic_kind::carts, state::family::customer}};
  auto consumer = streams::source::create(scfg, listener, error);  // never started
  ASSERT_TRUE(consumer) << error;
  streams::sink_config pcfg;
  pcfg.properties["bootstrap.servers"] = kafka.bootstrap_servers();
  pcfg.transactional_id = kafka.group() + "-txn";
  auto producer = streams::sink::create(pcfg, error);
  ASSERT_TRUE(producer) << error;
  actors::transactions::options o;
  o.sink = producer.get();
  o.interval_ms = 3'600'000;  // a transaction only when hurried: each step below is one
  actors::transactions txn(o);
  txn.start(*consumer);
  auto a = txn.join({}, "customer/0");
  auto b = txn.join({}, "customer/1");
  // Asked to commit for `epoch`: a task's poll says so once the transaction began.
  auto asked = [&](actors::transactions::member& m, std::uint64_t epoch) {
    return wait_for([&] { return txn.poll(m).commit_for == epoch; });
  };
  txn.hurry();
  ASSERT_TRUE(asked(*a, 1));
  ASSERT_TRUE(asked(*b, 1));
  txn.prepared(*a, 1, {});
  txn.prepared(*b, 1, {});
  ASSERT_TRUE(wait_for([&] { return txn.committed_total() == 1; }));
  // Transaction 2 asks both; `a` stops (its final transaction, 1, settled), `b` commits.
  txn.hurry();
  ASSERT_TRUE(asked(*a, 2));
  ASSERT_TRUE(asked(*b, 2));
  txn.leave(a, /*clean=*/true);
  txn.prepared(*b, 2, {});
  ASSERT_TRUE(wait_for([&] { return txn.committed_total() == 2; }));
  EXPECT_EQ(txn.aborted_total(), 0U);
  // Transaction 3: `b` stops while it hands a commit over: the transaction aborts.
  txn.hurry();
  ASSERT_TRUE(asked(*b, 3));
  txn.leave(b, /*clean=*/false);
  EXPECT_TRUE(wait_for([&] { return txn.aborted_total() == 1; }));
  EXPECT_EQ(txn.committed_total(), 2U);
  txn.stop();
}

// A backlog under exactly-once (the default on a real broker): each task takes at most
// task.max_uncommitted_records between two of its commits, then waits for the next
// transaction, which lets it take more. 100 instead of the production 50 000, so that a small
// backlog meets the bound many times over: the whole backlog is still applied, and every cart
// gets its reminder exactly once.
TEST(ChangelogTest, ABacklogUnderTheBoundOfUncommittedRecordsIsAppliedExactlyOnce) {
  constexpr int customers = 1500;
  kafka_fixture kafka(2);
  temp_dir dir;
  for (int i = 0; i < customers; ++i) {
    const std::string who = fmt::format("c{}", i);
    kafka.produce("shop.carts", who, cart_add(who, t0 + i));
  }
  kafka.heartbeat(t0 + 10 * min_ms, 2);
  kafka.flush();
  auto config = kafka.config(dir.str());
  config.task.max_uncommitted_records = 100;
  actors::app a(config);
  ASSERT_EQ(a.start(), "");
  ASSERT_TRUE(wait_for([&] { return processed(a) == customers + 4; })) << processed(a);
  kafka.heartbeat(t0 + 2 * hour_ms, 2);
  kafka.flush();
  ASSERT_TRUE(wait_for([&] { return a.probe().reminders_total() == customers; }))
      << a.probe().reminders_total() << " reminders";
  EXPECT_EQ(transactions(a, "aborted"), 0);
  a.stop();
  const auto got = reminders(kafka);
  EXPECT_EQ(got.size(), static_cast<std::size_t>(customers));
  for (const auto& [key, n] : got) EXPECT_EQ(n, 1) << key.first << " #" << key.second;
}

// A stored cart that no longer decodes (a disk that returns other bytes) is not taken for an
// absent one: the error is counted, the task stops before it commits anything read wrongly,
// and it is restarted from its changelogs. The reminder goes out once, as if nothing happened.
TEST(ChangelogTest, AStoredCartThatCannotBeDecodedIsRestoredFromItsChangelog) {
  kafka_fixture kafka(1);
  temp_dir dir;
  open_cart(kafka, dir.str());
  {
    std::unique_ptr<state::db> db;
    state::db_options o;
    o.path = dir.str();
    ASSERT_TRUE(state::db::open(o, db).ok());
    auto batch = db->batch();
    batch.put(state::store::carts, state::entity_key({state::family::customer, 0}, "ann"),
              "\xee not a cart");
    ASSERT_TRUE(db->write(batch).ok());
  }
  actors::app a(kafka.config(dir.str()));
  ASSERT_EQ(a.start(), "");
  kafka.heartbeat(t0 + 2 * hour_ms, 1);
  kafka.flush();
  ASSERT_TRUE(wait_for([&] { return reminders(kafka).size() == 1; }, std::chrono::seconds(60)));
  const std::string m = http_get(a.metrics_port(), "/metrics");
  EXPECT_EQ(metric_value(m, "herald_state_errors_total", R"(kind="decode",store="carts")"), 1);
  EXPECT_GE(restores(a, "full"), 1) << "the task was restored from its changelogs";
  a.stop();
  const std::map<std::pair<std::string, int>, int> want = {{{"ann", 1}, 1}};
  EXPECT_EQ(reminders(kafka), want);
}

// A changelog topic whose partition count is not its tasks' cannot hold their state: Herald
// refuses to start and names the topic.
TEST(ChangelogTest, AChangelogTopicWithTheWrongPartitionCountIsRefusedAtStart) {
  kafka_fixture kafka(2);
  temp_dir dir;
  auto c = kafka.config(dir.str());
  c.kafka.group_id = fmt::format("mismatch-{}", ::getpid());
  const std::string wrong = c.kafka.group_id + "-carts-changelog";
  if (auto* mock = kafka.mock()) {
    for (const auto& spec : actors::changelog_topics(c.kafka.group_id, {0, 2, 2, 2}))
      mock->create_topic(spec.name, spec.name == wrong ? 3 : spec.partitions);
  } else {
    const streams::kafka_properties props{{"bootstrap.servers", kafka.bootstrap_servers()}};
    std::string error;
    ASSERT_TRUE(streams::delete_topics(props, {wrong}, error)) << error;
    ASSERT_TRUE(streams::create_topics(props, {{wrong, 3, -1, {{"cleanup.policy", "compact"}}}},
                                       false, error))
        << error;
  }
  actors::app app(c);
  const std::string err = app.start();
  EXPECT_NE(err.find("changelog topic '" + wrong + "' has 3 partitions"), std::string::npos) << err;
  if (!kafka.mock()) {
    std::string error;
    (void)streams::delete_topics({{"bootstrap.servers", kafka.bootstrap_servers()}}, {wrong},
                                 error);
  }
}

}  // namespace
}  // namespace herald::testing

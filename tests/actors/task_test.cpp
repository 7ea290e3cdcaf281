// A customer-family task driven directly (no consumer group): real RocksDB state and a producer
// into the mock cluster. Covers what a crash at each point of the commit protocol leaves behind.

#include "herald/actors/task.hpp"

#include "herald/actors/rules/inventory.hpp"
#include "herald/actors/transactions.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <nlohmann/json.hpp>

#include "herald/state/bytes.hpp"
#include "herald/streams/dlq.hpp"
#include "herald/streams/mock_cluster.hpp"
#include "herald/streams/topic_reader.hpp"

namespace herald::actors {
namespace {

constexpr std::int64_t t0 = 1'700'000'000'000;
constexpr std::int64_t hour = 3'600'000;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class CustomerTaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    cluster_ = streams::mock_cluster::start(1, error);
    ASSERT_TRUE(cluster_) << error;
    for (const char* t : {"shop.clickstream", "shop.carts", "herald.cart-reminders", "herald.dlq",
                          "herald.sku-signals", "herald.anomalies"})
      cluster_->create_topic(t, 1);
    streams::sink_config sc;
    sc.properties["bootstrap.servers"] = cluster_->bootstrap_servers();
    sink_ = streams::sink::create(sc, error);
    ASSERT_TRUE(sink_) << error;
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("herald-task-test-{}-{}", ::getpid(), std::random_device{}());
    config_.kafka.properties["bootstrap.servers"] = cluster_->bootstrap_servers();
    config_.task.watermark.idle_timeout_ms = 0;
    config_.task.commit_interval_ms = 1'000'000;  // commits only when the test says so
    probe_ =
        std::make_unique<metrics>(std::vector<std::string>{"shop.clickstream", "shop.carts"}, 2);
    open_db();
  }
  void TearDown() override {
    // Delivery callbacks count into probe_, destroyed before sink_: let them finish first.
    if (sink_) sink_->flush(10'000);
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  void open_db() {
    db_.reset();
    state::db_options o;
    o.path = dir_.string();
    ASSERT_TRUE(state::db::open(o, db_).ok());
    env_.db = db_.get();
    env_.sink = sink_.get();
    env_.probe = probe_.get();
    env_.config = &config_;
    env_.topics = {{"shop.clickstream", schemas::topic_kind::clickstream, state::family::customer},
                   {"shop.carts", schemas::topic_kind::carts, state::family::customer}};
  }

  std::unique_ptr<task> make_task() {
    auto t = std::make_unique<task>(env_, state::task_id{state::family::customer, 0});
    t->start();
    return t;
  }

  static std::string add(const std::string& c, std::int64_t ts) {
    return fmt::format(
        R"({{"type":"cart_item_added","event_id":"{}-{}","ts":{},"customer_id":"{}","cart_id":"k-{}","sku":"s","quantity":1,"unit_price":3,"currency":"EUR"}})",
        c, ts, ts, c, c);
  }

  /// Feeds carts-topic (topic index 1; clickstream: 0) records with consecutive offsets
  /// starting at `offset`.
  void feed(task& t, std::int64_t offset,
            const std::vector<std::pair<std::string, std::string>>& kv, std::uint16_t topic = 1) {
    streams::record_batch b;
    b.task = t.id();
    for (const auto& [k, v] : kv) b.records.push_back({k, v, offset++, 0, topic});
    // The wall clock is real: event times are checked against it (task.max_future_ms).
    t.process(b, wall_ms());
  }

  std::vector<streams::consumed_record> read(const std::string& topic) {
    sink_->flush(10'000);
    std::vector<streams::consumed_record> out;
    std::string error;
    EXPECT_TRUE(streams::read_topic({{"bootstrap.servers", cluster_->bootstrap_servers()}}, topic,
                                    out, error))
        << error;
    return out;
  }

  std::unique_ptr<streams::mock_cluster> cluster_;
  std::unique_ptr<streams::sink> sink_;
  std::filesystem::path dir_;
  app_config config_;
  std::unique_ptr<metrics> probe_;
  std::unique_ptr<state::db> db_;
  task_env env_;
};

TEST_F(CustomerTaskTest, ResumesFromCommittedOffsetsWithCartsAndTimersIntact) {
  {
    auto task = make_task();
    EXPECT_FALSE(task->resume_offset("shop.carts").has_value());
    feed(*task, 0, {{"ann", add("ann", t0)}});
    task->shutdown(0);
  }
  open_db();  // a new process on the same state directory
  auto task = make_task();
  EXPECT_EQ(task->resume_offset("shop.carts"), 1);
  EXPECT_EQ(task->watermark(), t0);
  feed(*task, 1, {{"bob", add("bob", t0 + 2 * hour)}});  // moves the watermark past ann's timer
  task->shutdown(0);
  const auto out = read("herald.cart-reminders");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].key, "ann");
}

static std::string view(const std::string& c, std::int64_t ts) {
  return fmt::format(
      R"({{"type":"page_view","event_id":"pv-{}-{}","ts":{},"customer_id":"{}","session_id":"s"}})",
      c, ts, ts, c);
}

TEST_F(CustomerTaskTest, ARecordAheadOfTheOtherTopicWaitsAndTimersDueBeforeItFireFirst) {
  auto task = make_task();
  feed(*task, 0, {{"zed", view("zed", t0)}}, /*clickstream*/ 0);
  // Ann's cart, then her checkout two hours later, read while the clickstream is at t0.
  feed(*task, 0, {{"ann", add("ann", t0)}});
  feed(
      *task, 1,
      {{"ann",
        fmt::format(
            R"({{"type":"checkout_started","event_id":"co","ts":{},"customer_id":"ann","cart_id":"k-ann"}})",
            t0 + 2 * hour)}});
  EXPECT_EQ(task->queued(), 1u) << "the checkout waits for the clickstream to reach its time";
  EXPECT_EQ(task->watermark(), t0);
  EXPECT_EQ(probe_->waiting_total(), 1u);
  // The clickstream reaches t0 + 3 h: the reminder due at t0 + 1 h (fired after the 2 min
  // grace) goes before the checkout is applied, as an event-time-ordered feed has it; the
  // click now waits for the carts partition (at t0 + 2 h).
  feed(*task, 1, {{"zed", view("zed", t0 + 3 * hour)}}, 0);
  EXPECT_EQ(task->stream_time(), t0 + 2 * hour) << "the checkout was applied";
  EXPECT_EQ(task->queued(), 1u);
  EXPECT_EQ(task->watermark(), t0 + 2 * hour);
  task->shutdown(0);
  const auto out = read("herald.cart-reminders");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(out[0].value).at("ts"), t0 + hour);
}

// A partition comes back to an instance that owned it before: librdkafka still has the high
// watermark it saw then, below where the state (restored from the changelog) resumes. That
// stale figure must not count as "read to its end": the carts partition still holds Ann's
// order, and a click far ahead must wait for it instead of firing her reminder first.
TEST_F(CustomerTaskTest, AStaleHighWatermarkFromAnEarlierAssignmentDoesNotReleaseAnInput) {
  config_.task.watermark.idle_timeout_ms = 30'000;  // production default: inputs awaited at start
  {
    auto task = make_task();
    feed(*task, 0, {{"zed", view("zed", t0)}}, 0);
    feed(*task, 0, {{"ann", add("ann", t0)}});
    task->shutdown(0);
  }
  open_db();  // the next ownership, on the state the first one left
  env_.offsets = [](std::uint16_t, std::int32_t, std::int64_t& lo, std::int64_t& hi) {
    lo = 0;
    hi = 1;  // cached by librdkafka during the first ownership: nothing past the resume point
    return true;
  };
  auto task = make_task();
  feed(*task, 1, {{"zed", view("zed", t0 + 3 * hour)}}, 0);
  EXPECT_EQ(task->watermark(), t0) << "the carts partition is not known to be read to its end";
  feed(
      *task, 1,
      {{"ann",
        fmt::format(
            R"({{"type":"order_placed","event_id":"o-ann","ts":{},"customer_id":"ann","cart_id":"k-ann","order_id":"o1","total":3,"currency":"EUR","lines":[{{"sku":"s","quantity":1,"unit_price":3}}]}})",
            t0 + hour / 2)},
       {"bob", add("bob", t0 + 4 * hour)}});
  EXPECT_EQ(task->watermark(), t0 + 3 * hour);
  task->shutdown(0);
  EXPECT_TRUE(read("herald.cart-reminders").empty()) << "Ann ordered before her reminder was due";
}

// At-least-once: a task that took task.max_uncommitted_records since its last commit commits
// at once instead of at the interval, so one commit never holds an unbounded backlog.
TEST_F(CustomerTaskTest, AtLeastOnceATaskCommitsOnceItTookMaxUncommittedRecords) {
  config_.task.max_uncommitted_records = 3;
  auto task = make_task();
  feed(*task, 0, {{"ann", add("ann", t0)}, {"bob", add("bob", t0 + 1)}});
  EXPECT_FALSE(task->resume_offset("shop.carts").has_value()) << "within the bound: no commit";
  feed(*task, 2, {{"cy", add("cy", t0 + 2)}});
  EXPECT_EQ(task->resume_offset("shop.carts"), 3);
  task->shutdown(0);
}

// Exactly-once: a task that took task.max_uncommitted_records since its last commit takes no
// more until it commits for the next transaction, so a backlog the tasks apply faster than the
// producer ships their changelogs cannot grow each transaction past the broker's transaction
// timeout. (That the commit lets the held records in again: ChangelogTest, on a real broker.)
TEST_F(CustomerTaskTest, UnderExactlyOnceATaskHoldsRecordsPastMaxUncommittedUntilItCommits) {
  config_.task.max_uncommitted_records = 2;
  transactions::options o;
  o.sink = sink_.get();
  transactions txn(o);  // never started: no transaction asks the task to commit
  env_.txn = &txn;
  auto task = make_task();
  feed(*task, 0, {{"ann", add("ann", t0)}});
  feed(*task, 1, {{"bob", add("bob", t0 + 1)}});
  EXPECT_EQ(task->watermark(), t0 + 1);
  feed(*task, 2, {{"cy", add("cy", t0 + hour)}});
  task->tick(wall_ms());
  EXPECT_EQ(task->watermark(), t0 + 1) << "held: the task took its bound";
  task.reset();
  env_.txn = nullptr;
}

// A watermark jump that makes many timers due at once (a restart after a day: every open
// cart's reminder) fires them commit by commit, at most task.max_uncommitted_records each, so
// one commit's outputs and state stay bounded; the records after them wait their turn.
TEST_F(CustomerTaskTest, ManyTimersDueAtOnceFireAtMostMaxUncommittedRecordsPerCommit) {
  config_.task.max_uncommitted_records = 4;
  auto task = make_task();
  feed(*task, 0, {{"zed", view("zed", t0)}}, 0);
  std::vector<std::pair<std::string, std::string>> carts;
  for (int i = 0; i < 20; ++i) carts.emplace_back(fmt::format("c{:02}", i), "");
  for (int i = 0; i < 20; ++i) carts[i].second = add(carts[i].first, t0 + i);
  feed(*task, 0, carts);  // 21 records: past the bound, committed at once
  ASSERT_TRUE(task->resume_offset("shop.carts").has_value());
  // Both inputs reach t0 + 3 h: 20 reminders (and the timers before them) fall due before
  // the two records at that time.
  feed(*task, 20, {{"zz", add("zz", t0 + 3 * hour)}});
  feed(*task, 1, {{"zed", view("zed", t0 + 3 * hour)}}, 0);
  EXPECT_LE(probe_->reminders_total(), 2u) << "the room the two records left in the commit";
  EXPECT_EQ(task->queued(), 2u) << "the records wait behind the timers due before them";
  // Each tick fires what is left of one commit's room, commits, and fires one more commit's.
  int ticks = 0;
  while (task->queued() > 0 && ticks < 50) {
    task->tick(wall_ms());
    ++ticks;
    EXPECT_LE(probe_->reminders_total(), 2u + 8u * static_cast<unsigned>(ticks)) << ticks;
  }
  EXPECT_GE(ticks, 3);
  EXPECT_EQ(probe_->reminders_total(), 20u);
  EXPECT_EQ(task->queued(), 0u) << "once the due timers have fired, the records are applied";
  EXPECT_EQ(task->stream_time(), t0 + 3 * hour);
  task->shutdown(0);
  const auto out = read("herald.cart-reminders");
  ASSERT_EQ(out.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(out[i].key, carts[i].first) << "in event-time order";
}

// herald_watermark_seconds{family="customer"} as scraped (NaN when absent or without tasks).
double watermark_gauge(const metrics& probe) {
  const std::string text = probe.scrape();
  const std::string key = "\nherald_watermark_seconds{family=\"customer\"} ";
  const auto pos = text.find(key);
  return pos == std::string::npos ? std::nan("") : std::stod(text.substr(pos + key.size()));
}

TEST_F(CustomerTaskTest, TheWatermarkGaugeShowsWhatIsCommittedUpToAWaitingRecord) {
  auto task = make_task();
  EXPECT_TRUE(std::isnan(watermark_gauge(*probe_)));
  feed(*task, 0, {{"zed", view("zed", t0)}}, 0);
  feed(*task, 0, {{"ann", add("ann", t0 + 2 * hour)}});
  task->commit(wall_ms());
  EXPECT_EQ(watermark_gauge(*probe_), static_cast<double>(t0 / 1000));
  // The clicks reach t0 + 3 h: the cart is applied, the click at t0 + 3 h waits for the carts
  // partition. Shown once committed.
  feed(*task, 1, {{"zed", view("zed", t0 + 3 * hour)}}, 0);
  EXPECT_EQ(watermark_gauge(*probe_), static_cast<double>(t0 / 1000));
  task->commit(wall_ms());
  EXPECT_EQ(watermark_gauge(*probe_), static_cast<double>((t0 + 2 * hour) / 1000));
  task->shutdown(0);
  task.reset();
  EXPECT_TRUE(std::isnan(watermark_gauge(*probe_))) << "no customer task on this instance";
}

TEST_F(CustomerTaskTest, HeadTimestampFirstAcrossTheTopicsUpToTheWatermark) {
  auto task = make_task();
  feed(*task, 0, {{"zed", view("zed", t0)}}, 0);
  // One batch, carts listed first: the task applies the click at t0 + 100 and the cart at
  // t0 + 500; the click at t0 + 1000 is past the carts partition's time and waits for it.
  streams::record_batch b;
  b.task = task->id();
  b.records.push_back({"bob", add("bob", t0 + 500), 0, 0, 1});
  b.records.push_back({"zed", view("zed", t0 + 100), 1, 0, 0});
  b.records.push_back({"zed", view("zed", t0 + 1000), 2, 0, 0});
  task->process(b, wall_ms());
  EXPECT_EQ(task->watermark(), t0 + 500);
  EXPECT_EQ(task->stream_time(), t0 + 500);
  EXPECT_EQ(task->queued(), 1u);
  feed(*task, 1, {{"bob", add("bob", t0 + 2000)}});
  EXPECT_EQ(task->queued(), 1u) << "now the cart waits for the clickstream";
  EXPECT_EQ(task->stream_time(), t0 + 1000);
  task->shutdown(0);
}

TEST_F(CustomerTaskTest, ARemindersDueTimeSurvivesAChangeOfTheTimerGrace) {
  {
    auto task = make_task();  // the default 2 min grace
    feed(*task, 0, {{"ann", add("ann", t0)}});
    task->shutdown(0);
  }
  config_.task.timer_grace_ms = 0;  // the operator changes it before the restart
  open_db();
  auto task = make_task();
  feed(*task, 1, {{"bob", add("bob", t0 + 2 * hour)}});
  task->shutdown(0);
  const auto out = read("herald.cart-reminders");
  ASSERT_EQ(out.size(), 1u) << "scheduled under the old grace, still ann's reminder";
  EXPECT_EQ(out[0].key, "ann");
  EXPECT_EQ(nlohmann::json::parse(out[0].value).at("ts"), t0 + hour);
}

TEST_F(CustomerTaskTest, IdleCustomersBotStateIsErased) {
  auto bot_keys = [&] {
    std::vector<std::string> out;
    EXPECT_TRUE(db_->scan(state::store::detectors, "", std::string(16, '\xff'),
                          [&](std::string_view key, std::string_view) {
                            for (const char* who : {"ann", "bob", "carl"})
                              if (key.ends_with(std::string("b") + who)) out.emplace_back(who);
                            return true;
                          })
                    .ok());
    return out;
  };
  auto task = make_task();
  feed(*task, 0, {{"ann", add("ann", t0)}, {"bob", add("bob", t0 + 1000)}});
  task->commit(0);
  EXPECT_EQ(bot_keys(), (std::vector<std::string>{"ann", "bob"}));
  // An hour later nothing about ann's or bob's click rate matters any more.
  feed(*task, 2, {{"carl", add("carl", t0 + hour)}});
  task->shutdown(0);
  EXPECT_EQ(bot_keys(), (std::vector<std::string>{"carl"}));
}

TEST_F(CustomerTaskTest, DetectorSignalsAreProducedAfterTheCommitWithoutTheOutbox) {
  auto task = make_task();
  feed(*task, 0, {{"ann", add("ann", t0)}});
  EXPECT_TRUE(read("herald.sku-signals").empty()) << "nothing leaves before the commit";
  std::size_t outbox = 0;
  task->commit(0);
  // The cart add's signal went straight to the producer: the outbox holds nothing for it.
  EXPECT_TRUE(db_->scan(state::store::outbox, "", std::string(16, '\xff'),
                        [&](std::string_view, std::string_view) {
                          ++outbox;
                          return true;
                        })
                  .ok());
  EXPECT_EQ(outbox, 0u);
  const auto out = read("herald.sku-signals");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].key, "s");
  rules::sku_signal sig;
  ASSERT_TRUE(rules::sku_signal::decode(out[0].value, sig));
  EXPECT_EQ(sig.type, rules::sku_signal::kind::cart_add);
  EXPECT_EQ(sig.customer_id, "ann");
  EXPECT_EQ(sig.price, 3);
  task->shutdown(0);
}

TEST_F(CustomerTaskTest, CrashBeforeCommitReprocessesAndEmitsOnce) {
  {
    auto task = make_task();
    feed(*task, 0, {{"ann", add("ann", t0)}, {"bob", add("bob", t0 + 2 * hour)}});
    // Crash: nothing committed, nothing produced.
  }
  EXPECT_TRUE(read("herald.cart-reminders").empty());
  open_db();
  auto task = make_task();
  EXPECT_FALSE(task->resume_offset("shop.carts").has_value()) << "offsets must not run ahead";
  feed(*task, 0, {{"ann", add("ann", t0)}, {"bob", add("bob", t0 + 2 * hour)}});
  task->shutdown(0);
  EXPECT_EQ(read("herald.cart-reminders").size(), 1u);
}

TEST_F(CustomerTaskTest, CrashAfterCommitBeforeAcknowledgementResendsTheSameId) {
  std::string first_id;
  {
    auto task = make_task();
    feed(*task, 0, {{"ann", add("ann", t0)}, {"bob", add("bob", t0 + 2 * hour)}});
    task->commit(0);  // committed and produced, acknowledgement never recorded
  }
  auto out = read("herald.cart-reminders");
  ASSERT_EQ(out.size(), 1u);
  first_id = nlohmann::json::parse(out[0].value).at("notification_id");
  open_db();
  {
    auto task = make_task();  // start() re-produces the unacknowledged outbox
    EXPECT_EQ(task->resume_offset("shop.carts"), 2);
    task->shutdown(0);
  }
  out = read("herald.cart-reminders");
  ASSERT_EQ(out.size(), 2u) << "at-least-once: the unacknowledged record is sent again";
  EXPECT_EQ(nlohmann::json::parse(out[1].value).at("notification_id"), first_id)
      << "with the same deterministic id, so downstream can dedupe";
  open_db();
  { make_task()->shutdown(0); }
  EXPECT_EQ(read("herald.cart-reminders").size(), 2u) << "acknowledged: not sent a third time";
}

// A producer queue that is full holds the task's outputs in sequence order and every batch
// that comes meanwhile (the task applies none of them), until the producer takes them again;
// then all go, in order, and nothing blocks the caller.
TEST_F(CustomerTaskTest, AFullProducerQueueHoldsOutputsAndBatchesInOrderUntilItDrains) {
  std::string error;
  streams::sink_config sc;
  sc.properties["bootstrap.servers"] = cluster_->bootstrap_servers();
  sc.properties["queue.buffering.max.messages"] = "1";
  sc.queue_full_wait_ms = 0;  // as the app's
  auto tiny = streams::sink::create(sc, error);
  ASSERT_TRUE(tiny) << error;
  env_.sink = tiny.get();
  rd_kafka_mock_broker_set_down(cluster_->handle(), 1);  // nothing leaves the queue
  auto task = make_task();
  auto bad = [](int i) { return fmt::format("not json {}", i); };
  feed(*task, 0, {{"ann", bad(0)}});
  task->commit(wall_ms());  // dead letter 0 fills the queue
  feed(*task, 1, {{"ann", bad(1)}});
  task->commit(wall_ms());  // dead letter 1 waits
  for (int i = 2; i < 5; ++i) feed(*task, i, {{"ann", bad(i)}});
  EXPECT_EQ(probe_->events_total(event_result::dlq), 2u) << "held batches are not applied";
  rd_kafka_mock_broker_set_up(cluster_->handle(), 1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (probe_->events_total(event_result::dlq) < 5 &&
         std::chrono::steady_clock::now() < deadline) {
    task->tick(wall_ms());
    task->commit(wall_ms());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(probe_->events_total(event_result::dlq), 5u);
  task->shutdown(wall_ms());
  env_.sink = sink_.get();
  std::vector<std::string> values;
  for (const auto& r : read("herald.dlq")) values.push_back(r.value);
  EXPECT_EQ(values, (std::vector<std::string>{bad(0), bad(1), bad(2), bad(3), bad(4)}));
  EXPECT_EQ(task->resume_offset("shop.carts"), 5);
  tiny->flush(10'000);
}

TEST_F(CustomerTaskTest, AnOutputKafkaRejectsForGoodIsDroppedCountedAndLeavesTheOutbox) {
  // A producer that takes at most 1000 bytes a record: the reminder of a 40-line cart is more.
  std::string error;
  streams::sink_config sc;
  sc.properties["bootstrap.servers"] = cluster_->bootstrap_servers();
  sc.properties["message.max.bytes"] = "1000";
  auto small = streams::sink::create(sc, error);
  ASSERT_TRUE(small) << error;
  env_.sink = small.get();
  {
    auto task = make_task();
    std::vector<std::pair<std::string, std::string>> adds;
    for (int i = 0; i < 40; ++i)
      adds.emplace_back(
          "ann",
          fmt::format(
              R"({{"type":"cart_item_added","event_id":"a{}","ts":{},"customer_id":"ann","cart_id":"k","sku":"sku-{}","quantity":1,"unit_price":3,"currency":"EUR"}})",
              i, t0 + i * 60'000, i));  // a minute apart: a shopper, not a scraper
    feed(*task, 0, adds);
    // Both topics reach t0 + 3 h: the 1 h reminder is due.
    feed(*task, 0, {{"zed", view("zed", t0 + 3 * hour)}}, 0);
    feed(
        *task, 40,
        {{"zed",
          fmt::format(
              R"({{"type":"checkout_started","event_id":"co","ts":{},"customer_id":"zed","cart_id":"none"}})",
              t0 + 3 * hour)}});
    EXPECT_EQ(probe_->reminders_total(), 1u);
    task->shutdown(0);  // returns: nothing is left waiting for an acknowledgement
  }
  const std::string text = probe_->scrape();
  EXPECT_NE(text.find("\nherald_outputs_dropped_total 1"), std::string::npos) << text;
  auto again = make_task();  // the outbox is empty: nothing to re-send
  again->shutdown(0);
  env_.sink = sink_.get();
  EXPECT_TRUE(read("herald.cart-reminders").empty());
}

// Records a SKU task deferred in earlier formats are applied once the watermark passes them:
// v1 named the input by its topic, v0 (written by the SKU processor itself) held a stock
// level's key and value, or a signal's record value alone.
TEST_F(CustomerTaskTest, RecordsDeferredInEarlierFormatsAreStillApplied) {
  cluster_->create_topic("shop.inventory", 1);
  cluster_->create_topic("herald.restock-alerts", 1);
  env_.topics = {{"shop.inventory", schemas::topic_kind::inventory, state::family::sku},
                 {"herald.sku-signals", schemas::topic_kind::inventory, state::family::sku, true}};
  env_.upstream_tasks = 1;
  const state::task_id sku0{state::family::sku, 0};
  auto level = [](const char* sku, int available) {
    return fmt::format(
        R"({{"type":"stock_level","event_id":"st-{}","ts":{},"sku":"{}","location":"wh","available":{}}})",
        sku, t0, sku, available);
  };
  {
    state::task_state ts(*db_, sku0);
    std::string v1;
    state::byte_writer w1(v1);
    w1.str("shop.inventory");
    w1.str("sku-z");
    w1.str(level("sku-z", 1));
    ts.schedule_new(t0, "dkst-sku-z", v1);
    std::string v0_stock;
    state::byte_writer w0(v0_stock);
    w0.str("sku-x");
    w0.str(level("sku-x", 2));
    ts.schedule_new(t0, "dkst-sku-x", v0_stock);
    rules::sku_signal sold;  // 14 units of sku-x, a second before its level
    sold.type = rules::sku_signal::kind::sold;
    sold.sku = "sku-x";
    sold.customer_id = "ann";
    sold.quantity = 14;
    sold.ts_ms = t0 - 1000;
    sold.event_id = "o-1#0";
    std::string v0_signal;
    sold.encode(v0_signal);
    ts.schedule_new(t0 - 1000, "dso-1#0", v0_signal);
    std::vector<state::outbox_record> out;
    ASSERT_TRUE(ts.commit(out).ok());
  }
  auto t = std::make_unique<task>(env_, sku0);
  t->start();
  // The upstream customer task's watermark marker moves the SKU task past them.
  rules::sku_signal marker;
  marker.type = rules::sku_signal::kind::watermark;
  marker.quantity = 0;
  marker.ts_ms = t0 + hour;
  std::string value;
  marker.encode(value);
  streams::record_batch b;
  b.task = sku0;
  b.records.push_back({"", value, 0, 0, 1});
  t->process(b, wall_ms());
  t->shutdown(0);
  std::map<std::string, nlohmann::json> alerts;
  for (const auto& r : read("herald.restock-alerts"))
    alerts[r.key] = nlohmann::json::parse(r.value);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts["sku-z"].at("type"), "low_stock");
  EXPECT_EQ(alerts["sku-x"].at("type"), "low_stock");
  EXPECT_DOUBLE_EQ(alerts["sku-x"].value("units_sold_per_day", 0.0), 2.0) << "the v0 sale counts";
}

TEST_F(CustomerTaskTest, BadRecordsGoToTheDeadLetterTopicAndProcessingGoesOn) {
  auto task = make_task();
  feed(*task, 10,
       {{"ann", "{not json"},
        {"ann", add("ann", t0)},
        {"ann", R"({"type":"cart_item_added","event_id":"x","ts":1,"customer_id":"ann"})"},
        {"zed", add("zed", t0 + 2 * hour)}});
  task->shutdown(0);
  const auto dlq = read("herald.dlq");
  ASSERT_EQ(dlq.size(), 2u);
  EXPECT_EQ(dlq[0].value, "{not json");
  EXPECT_EQ(dlq[0].header(std::string(streams::dlq_offset_header)), "10");
  EXPECT_EQ(dlq[1].header(std::string(streams::dlq_offset_header)), "12");
  EXPECT_EQ(dlq[1].header(std::string(streams::dlq_topic_header)), "shop.carts");
  EXPECT_EQ(dlq[1].header(std::string(streams::dlq_partition_header)), "0");
  EXPECT_NE(dlq[1].header(std::string(streams::dlq_error_header)).find("cart_id"),
            std::string::npos);
  EXPECT_EQ(read("herald.cart-reminders").size(), 1u);
  EXPECT_EQ(probe_->events_total(event_result::dlq), 2u);
  EXPECT_EQ(probe_->events_total(event_result::ok), 2u);
}

}  // namespace
}  // namespace herald::actors

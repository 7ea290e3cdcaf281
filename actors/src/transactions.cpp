#include "herald/actors/transactions.hpp"

#include <pthread.h>

#include <algorithm>
#include <chrono>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "herald/actors/metrics.hpp"
#include "herald/streams/kafka_config.hpp"

namespace herald::actors {

transactions::transactions(options o) : opts_(std::move(o)) {}

transactions::~transactions() {
  stop();
}

void transactions::start(const streams::source& consumer) {
  consumer_ = &consumer;
  thread_ = std::thread([this] { run(); });
}

void transactions::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<transactions::member> transactions::join(std::function<void()> wake,
                                                         std::string name) {
  auto m = std::make_shared<member>();
  m->wake = std::move(wake);
  m->name = std::move(name);
  std::lock_guard<std::mutex> lock(mutex_);
  // While the tasks are rewound (or after a fatal error) a new task has seen nothing
  // committed since: it must not commit either (its revoke, part of the rewind, is near).
  m->corrupt = rewinding_ || fatal_;
  members_.push_back(m);
  return m;
}

void transactions::leave(const std::shared_ptr<member>& m, bool clean) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    m->left = true;
    m->left_clean = clean;
    members_.erase(std::remove(members_.begin(), members_.end(), m), members_.end());
  }
  cv_.notify_all();
}

transactions::order transactions::poll(member& m) {
  std::lock_guard<std::mutex> lock(mutex_);
  order o;
  o.corrupt = m.corrupt;
  if (m.settled != 0) {
    o.settled = m.settled;
    o.committed = m.committed;
    m.settled = 0;
  }
  if (!m.corrupt && m.asked > m.prepared) o.commit_for = m.asked;
  return o;
}

void transactions::prepared(member& m, std::uint64_t epoch,
                            std::vector<streams::txn_offset>&& offsets, bool complete) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    m.prepared = epoch;
    m.complete = complete;
    m.offsets = std::move(offsets);
  }
  cv_.notify_all();
}

void transactions::hurry() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    hurry_ = true;
  }
  cv_.notify_all();
}

std::uint64_t transactions::committed_total() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return committed_;
}

std::uint64_t transactions::aborted_total() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return aborted_;
}

void transactions::run() {
  ::pthread_setname_np(::pthread_self(), "herald.txn");
  // One transaction per interval from start to start (as Kafka Streams' commit.interval.ms),
  // not an interval of rest after each: a record waits at most one interval, plus the cycle,
  // for its transaction. A cycle longer than the interval is followed by the next at once.
  auto next = std::chrono::steady_clock::now() + std::chrono::milliseconds(opts_.interval_ms);
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait_until(lock, next, [&] { return hurry_ || (stop_ && members_.empty()); });
      if (stop_ && members_.empty()) return;
      hurry_ = false;
    }
    next = std::chrono::steady_clock::now() + std::chrono::milliseconds(opts_.interval_ms);
    cycle();
  }
}

streams::txn_result transactions::retrying(const std::function<streams::txn_result()>& call,
                                           std::chrono::steady_clock::time_point deadline) {
  // A retriable failure (a timeout while the broker is away) must be retried with the same
  // call: librdkafka resumes it, and refuses any other (an abort) meanwhile. The broker
  // itself aborts a transaction older than transaction.timeout.ms, which ends the retries
  // with an abortable error. `deadline` bounds only a stop with no task left to wait for.
  for (bool warned = false;;) {
    streams::txn_result r = call();
    if (r.status != streams::txn_status::retry) return r;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stop_ && members_.empty() && std::chrono::steady_clock::now() >= deadline) {
        r.status = streams::txn_status::fatal;
        return r;
      }
    }
    if (!warned) spdlog::warn("transaction: {}; trying again until the broker answers", r.error);
    warned = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void transactions::fail_all(bool fatal) {
  std::vector<std::function<void()>> wakes;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& m : members_) {
      m->corrupt = true;
      if (m->prepared == epoch_) {
        m->settled = epoch_;
        m->committed = false;
      }
      wakes.push_back(m->wake);
    }
    if (fatal) {
      fatal_ = true;
    } else {
      rewinding_ = true;
    }
    ++aborted_;
  }
  if (opts_.probe != nullptr) opts_.probe->add_transaction(false, 0);
  for (auto& w : wakes)
    if (w) w();
  if (!fatal && opts_.rewind)
    opts_.rewind([this] {
      std::lock_guard<std::mutex> lock(mutex_);
      rewinding_ = false;
    });
}

void transactions::cycle() {
  std::vector<std::shared_ptr<member>> in;
  std::vector<std::function<void()>> wakes;
  std::uint64_t epoch = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (rewinding_ || fatal_) return;
    for (auto& m : members_)
      if (!m->corrupt) in.push_back(m);
    if (in.empty()) return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  if (auto r = opts_.sink->begin_transaction(); !r) {
    spdlog::error("transaction: cannot begin one: {}", r.error);
    if (r.status == streams::txn_status::fatal) fail_all(true);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    epoch = ++epoch_;
    for (auto& m : in) {
      m->asked = epoch;
      wakes.push_back(m->wake);
    }
  }
  for (auto& w : wakes)
    if (w) w();
  // Every task commits for it (or leaves): only then may the transaction end, so nothing a
  // task produces for it is left out.
  std::vector<streams::txn_offset> offsets;
  bool incomplete = false;
  std::string why;  // the first task that made it incomplete, and how
  {
    std::unique_lock<std::mutex> lock(mutex_);
    for (bool warned = false;;) {
      const bool all = std::all_of(in.begin(), in.end(), [&](const std::shared_ptr<member>& m) {
        return m->left || m->prepared == epoch;
      });
      if (all) break;
      if (!cv_.wait_for(lock, std::chrono::seconds(10),
                        [&] {
                          return std::all_of(in.begin(), in.end(),
                                             [&](const std::shared_ptr<member>& m) {
                                               return m->left || m->prepared == epoch;
                                             });
                        }) &&
          !warned) {
        warned = true;
        spdlog::warn("transaction {}: waiting for tasks to commit for it for 10 s", epoch);
      }
    }
    // A task that left after it committed for this transaction still has its offsets in it.
    // One that left without committing for it may have produced part of a commit: the
    // transaction must not keep that part, unless it produced nothing since its last one (it
    // stopped once its final transaction settled, as this one began: a clean stop or a
    // revoke).
    for (auto& m : in) {
      const bool part = m->prepared == epoch;
      if (part)
        for (auto& o : m->offsets) offsets.push_back(std::move(o));
      if (part && m->complete) continue;
      if (!part && m->left && m->left_clean) continue;
      if (!incomplete)
        why = fmt::format("task {} {}", m->name.empty() ? "?" : m->name,
                          part ? "could not hand all of its commit to the producer"
                               : "stopped before it committed for it");
      incomplete = true;
    }
  }
  const auto deadline = t0 + std::chrono::milliseconds(opts_.transaction_timeout_ms);
  streams::txn_result r;
  if (incomplete) r = {streams::txn_status::abort, why};
  if (r)
    r = retrying(
        [&] { return opts_.sink->send_offsets(offsets, *consumer_, opts_.call_timeout_ms); },
        deadline);
  if (r)
    r = retrying([&] { return opts_.sink->commit_transaction(opts_.call_timeout_ms); }, deadline);
  if (r) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& m : in) {
      if (m->left) continue;
      m->settled = epoch;
      m->committed = true;
    }
    ++committed_;
  } else if (r.status == streams::txn_status::abort) {
    spdlog::error(
        "transaction {} aborted ({}): every task is rewound to its committed state and applies "
        "what it had applied since again",
        epoch, r.error);
    // An abort the coordinator cannot finish within another transaction timeout leaves the
    // producer unusable: that is fatal, the process restarts.
    const streams::txn_result a = retrying(
        [&] { return opts_.sink->abort_transaction(opts_.call_timeout_ms); },
        std::chrono::steady_clock::now() + std::chrono::milliseconds(opts_.transaction_timeout_ms));
    fail_all(!a);
    if (!a && a.status != streams::txn_status::fatal)  // (librdkafka reported a fatal one)
      streams::raise_fatal("transaction " + std::to_string(epoch) +
                           " can be neither committed nor aborted: " + a.error);
    return;
  } else {
    spdlog::critical("transaction {}: the producer can commit nothing more: {}", epoch, r.error);
    fail_all(true);
    return;
  }
  if (opts_.probe != nullptr)
    opts_.probe->add_transaction(
        true, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  for (auto& m : in)
    if (m->wake) m->wake();
}

}  // namespace herald::actors

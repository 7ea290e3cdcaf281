#pragma once
// A fresh RocksDB directory per test, removed afterwards.

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include <unistd.h>

#include "herald/state/db.hpp"
#include "herald/state/task_state.hpp"

namespace herald::state::test {

class temp_db : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("herald-state-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
            info->test_suite_name() + "." + info->name());
    std::filesystem::remove_all(dir_);
    reopen();
  }

  void TearDown() override {
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Closes the database (anything not written is gone, as after a crash) and opens it again.
  void reopen() {
    db_.reset();
    db_options o;
    o.path = dir_.string();
    o.block_cache_bytes = 8u << 20;
    ASSERT_TRUE(db::open(o, db_).ok());
  }

  std::filesystem::path dir_;
  std::unique_ptr<db> db_;
};

/// A temp_db with one task_state on it, which `restart` drops (uncommitted changes with it)
/// and reopens as a new process would.
class temp_task : public temp_db {
 protected:
  explicit temp_task(task_id task) : task_(task) {}
  void SetUp() override {
    temp_db::SetUp();
    ts_ = std::make_unique<task_state>(*db_, task_);
  }
  void TearDown() override {
    ts_.reset();
    temp_db::TearDown();
  }
  void commit() {
    std::vector<outbox_record> out;
    ASSERT_TRUE(ts_->commit(out).ok());
  }
  void restart() {
    ts_.reset();
    reopen();
    ts_ = std::make_unique<task_state>(*db_, task_);
    ASSERT_TRUE(ts_->read_error().ok());
  }

  task_id task_;
  std::unique_ptr<task_state> ts_;
};

}  // namespace herald::state::test

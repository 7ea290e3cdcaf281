#pragma once
// A fresh RocksDB directory per test, removed afterwards.

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include <unistd.h>

#include "herald/state/db.hpp"

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

}  // namespace herald::state::test

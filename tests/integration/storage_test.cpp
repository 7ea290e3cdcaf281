// Storage faults through Kafka: the state directory's file system full while Herald
// processes. Below state::db::reserved_bytes free the tasks commit nothing (RocksDB, once it
// meets a full disk, refuses every write until resumed): a task then takes no more input (its
// offsets do not move), counts herald_state_errors_total{kind="no_space"}, and tries again
// every tick. Once space returns it commits, and every input is applied and every output sent.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "herald/state/db.hpp"
#include "tracking_workload.hpp"

namespace herald::testing {
namespace {

// A tmpfs of `mib` MiB mounted on a fresh directory (root only), unmounted at the end.
class small_disk {
 public:
  small_disk(const std::string& path, int mib) : path_(path) {
    std::filesystem::create_directories(path_);
    mounted_ = std::system(fmt::format("mount -t tmpfs -o size={}m herald-test '{}' 2>/dev/null",
                                       mib, path_)
                               .c_str()) == 0;
  }
  ~small_disk() {
    if (mounted_) (void)std::system(fmt::format("umount -l '{}'", path_).c_str());
  }
  [[nodiscard]] bool mounted() const { return mounted_; }

  /// Writes a file until the file system refuses, then gives `leave` bytes back: what a disk
  /// that filled up into Herald's reserve looks like. Returns the file's size.
  std::size_t fill(std::size_t leave) {
    fd_ = ::open((path_ + "/filler").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd_ < 0) return 0;
    const std::vector<char> block(64 * 1024, 'x');
    std::size_t total = 0;
    for (std::size_t size = block.size(); size > 0;) {
      const ssize_t n = ::write(fd_, block.data(), size);
      if (n > 0) {
        total += static_cast<std::size_t>(n);
      } else if (errno == ENOSPC) {
        size /= 2;  // the last few pages too
      } else {
        break;
      }
    }
    total = total > leave ? total - leave : 0;
    if (::ftruncate(fd_, static_cast<off_t>(total)) != 0) return 0;
    return total;
  }
  /// Space returns.
  void release() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    std::filesystem::remove(path_ + "/filler");
  }

 private:
  std::string path_;
  bool mounted_ = false;
  int fd_ = -1;
};

double no_space_errors(actors::app& app) {
  return metric_value(http_get(app.metrics_port(), "/metrics"), "herald_state_errors_total",
                      R"(kind="no_space",store="all")");
}

// The disk fills while Herald processes: commits fail and are counted, the tasks hold their
// input; once space returns nothing is lost, nothing is applied twice.
TEST(StorageTest, AFullStateDiskPausesTheTasksAndOnceSpaceReturnsNothingIsLost) {
  kafka_fixture kafka(3);
  temp_dir dir;
  // Room for RocksDB's files (about 75 MiB with their preallocations) and the reserve.
  small_disk disk(dir.str() + "/state", 256);
  if (!disk.mounted()) GTEST_SKIP() << "mounting a size-limited tmpfs needs root";
  const tracking_workload w(300);
  const bool exactly_once = kafka_fixture::real();  // the production default on each cluster
  actors::app app(kafka.config(dir.str() + "/state"));
  ASSERT_EQ(app.start(), "");
  const std::size_t half = w.records.size() / 2;
  w.produce(kafka, 0, half);
  ASSERT_TRUE(wait_for([&] { return processed(app) >= half; }));

  // Half the reserve left: Herald stops writing before RocksDB meets a full disk. (A disk that
  // fills faster than Herald looks, every 100 ms, can still fail a RocksDB write: see
  // docs/operations.md, "A full disk".)
  ASSERT_GT(disk.fill(state::db::reserved_bytes / 2), 0u);
  w.produce(kafka, half, w.records.size());
  ASSERT_TRUE(wait_for([&] { return no_space_errors(app) > 0; }))
      << "a commit on a full disk is refused and counted";
  // Held while the disk is full: not every input's output is out.
  EXPECT_LT(tracking_workload::delivered(kafka), w.outputs());

  disk.release();
  ASSERT_TRUE(wait_for([&] { return processed(app) >= w.records.size(); }));
  ASSERT_TRUE(wait_for([&] { return tracking_workload::delivered(kafka) >= w.outputs(); }));
  w.check(kafka, app, exactly_once);
  app.stop();
}

}  // namespace
}  // namespace herald::testing

// Kafka's default partitioner: Java's murmur2 test vectors, and agreement with the partition
// librdkafka's murmur2_random producer (Herald's sink) actually picks.

#include "herald/streams/partitioner.hpp"

#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "herald/streams/mock_cluster.hpp"
#include "herald/streams/sink.hpp"
#include "herald/streams/topic_reader.hpp"

namespace herald::streams {
namespace {

TEST(PartitionerTest, Murmur2MatchesKafkasTestVectors) {
  // org.apache.kafka.common.utils.UtilsTest#testMurmur2
  EXPECT_EQ(murmur2("21"), -973932308);
  EXPECT_EQ(murmur2("foobar"), -790332482);
  EXPECT_EQ(murmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(murmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(murmur2("abc"), 479470107);
}

TEST(PartitionerTest, AgreesWithTheProducersPartitioner) {
  std::string error;
  auto cluster = mock_cluster::start(1, error);
  ASSERT_TRUE(cluster) << error;
  constexpr int partitions = 7;
  cluster->create_topic("t", partitions);
  sink_config sc;
  sc.properties["bootstrap.servers"] = cluster->bootstrap_servers();
  auto producer = sink::create(sc, error);
  ASSERT_TRUE(producer) << error;
  std::vector<std::string> keys = {"", "a", "sku-1", "customer-42", std::string(300, 'x')};
  for (int i = 0; i < 200; ++i) keys.push_back(fmt::format("k{}", i * 7919));
  for (const auto& k : keys) ASSERT_TRUE(producer->produce("t", k, "v"));
  ASSERT_TRUE(producer->flush(10'000));
  std::vector<consumed_record> out;
  ASSERT_TRUE(read_topic({{"bootstrap.servers", cluster->bootstrap_servers()}}, "t", out, error))
      << error;
  ASSERT_EQ(out.size(), keys.size());
  for (const auto& r : out) EXPECT_EQ(default_partition(r.key, partitions), r.partition) << r.key;
}

}  // namespace
}  // namespace herald::streams

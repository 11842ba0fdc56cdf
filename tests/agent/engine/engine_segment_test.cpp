#include "agent/engine/engine_segment.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "agent/engine/activation_stats.hpp"

namespace slimcache::agent::engine {
namespace {

std::string unique_name(const char* what) { return std::string("slimcache-test-") + what + "-" + std::to_string(::getpid()); }

class EngineSegmentTest : public ::testing::Test {
 protected:
  void TearDown() override { EngineSegment::remove(m_name); }
  std::string m_name = unique_name("engine");
};

TEST_F(EngineSegmentTest, RecordsCountersAndSetsThatTheDaemonReads) {
  auto daemon = EngineSegment::create(m_name, {4, 16, 64, "tiny"});
  ASSERT_TRUE(daemon.has_value()) << daemon.error().message;
  auto sut = EngineSegment::open(m_name);
  ASSERT_TRUE(sut.has_value()) << sut.error().message;
  const std::uint16_t a[] = {1, 5};
  const std::uint16_t b[] = {5, 9};
  EXPECT_EQ(sut->record(0, a), RecordResult::k_recorded);
  EXPECT_EQ(sut->record(3, b), RecordResult::k_recorded);
  const auto counters = daemon->counters();
  EXPECT_EQ(counters[0 * 16 + 1], 1u);
  EXPECT_EQ(counters[0 * 16 + 5], 1u);
  EXPECT_EQ(counters[3 * 16 + 9], 1u);
  std::uint64_t cursor = 0;
  std::vector<std::pair<std::uint32_t, std::vector<std::uint16_t>>> seen;
  const auto lost = daemon->read_sets(&cursor, [&](std::uint32_t l, std::span<const std::uint16_t> ids) {
    seen.emplace_back(l, std::vector<std::uint16_t>(ids.begin(), ids.end()));
  });
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(cursor, 2u);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].first, 3u);
  EXPECT_EQ(seen[1].second, (std::vector<std::uint16_t>{5, 9}));
  EXPECT_EQ(sut->model(), "tiny");
}

TEST_F(EngineSegmentTest, RejectsOutOfRangeRecordsAndCountsThem) {
  auto sut = EngineSegment::create(m_name, {2, 8, 16, "m"});
  ASSERT_TRUE(sut.has_value());
  const std::uint16_t bad_expert[] = {8};
  const std::uint16_t ok[] = {7};
  EXPECT_EQ(sut->record(2, ok), RecordResult::k_rejected);
  EXPECT_EQ(sut->record(0, bad_expert), RecordResult::k_rejected);
  EXPECT_EQ(sut->record(0, {}), RecordResult::k_rejected);
  EXPECT_EQ(sut->dropped(), 3u);
  EXPECT_EQ(sut->recorded(), 0u);
}

TEST_F(EngineSegmentTest, AReaderThatFallsBehindTheRingCountsLostSets) {
  auto sut = EngineSegment::create(m_name, {1, 8, 4, "m"});
  ASSERT_TRUE(sut.has_value());
  const std::uint16_t s[] = {3};
  for (int i = 0; i < 10; ++i) sut->record(0, s);
  std::uint64_t cursor = 0;
  int delivered = 0;
  const auto lost = sut->read_sets(&cursor, [&](std::uint32_t, std::span<const std::uint16_t>) { ++delivered; });
  EXPECT_EQ(delivered, 4);
  EXPECT_EQ(lost, 6u);
  EXPECT_EQ(sut->counters()[3], 10u);  // counters never lose anything
}

TEST_F(EngineSegmentTest, ConcurrentWritersLoseNoCounts) {
  auto sut = EngineSegment::create(m_name, {2, 32, 1024, "m"});
  ASSERT_TRUE(sut.has_value());
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      auto mine = EngineSegment::open(m_name);
      ASSERT_TRUE(mine.has_value());
      for (int i = 0; i < 5000; ++i) {
        const std::uint16_t ids[] = {static_cast<std::uint16_t>(t), static_cast<std::uint16_t>(16 + t)};
        mine->record(static_cast<std::uint32_t>(i % 2), ids);
      }
    });
  }
  for (auto& w : writers) w.join();
  const auto c = sut->counters();
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(c[static_cast<std::size_t>(t)] + c[32 + static_cast<std::size_t>(t)], 5000u);
  }
  EXPECT_EQ(sut->recorded(), 20000u);
}

TEST_F(EngineSegmentTest, PublishedHoldersAreSeenByAnotherProcess) {
  auto daemon = EngineSegment::create(m_name, {2, 4, 16, "m"});
  ASSERT_TRUE(daemon.has_value());
  std::vector<HolderInfo> rows(8);
  rows[1 * 4 + 2] = {layout::k_peer, {1, 0}};
  rows[0] = {layout::k_local_disk, {}};
  daemon->publish_holders({{"n0", "127.0.0.1:7948"}, {"n1", "127.0.0.2:7948"}}, rows);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto engine = EngineSegment::open(m_name);
    Location loc;
    const bool ok = engine && engine->locate(1, 2, loc) && loc.where == layout::k_peer && loc.holders == 2 &&
                    std::string(loc.nodes[0].name) == "n1" && std::string(loc.nodes[1].address) == "127.0.0.1:7948";
    Location disk;
    const bool ok2 = engine && engine->locate(0, 0, disk) && disk.where == layout::k_local_disk;
    ::_exit(ok && ok2 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  Location out;
  EXPECT_FALSE(daemon->locate(2, 0, out));
}

TEST_F(EngineSegmentTest, OpenFailsClearlyWithoutADaemon) {
  auto sut = EngineSegment::open(m_name + "-missing");
  ASSERT_FALSE(sut.has_value());
  EXPECT_NE(sut.error().message.find("is slimcached running"), std::string::npos);
}

TEST(ActivationStats, MarginalsAreDecayedSharesOfTokens) {
  ActivationStats sut(1, 4, 2, {/*half_life_s=*/10.0, /*sets_per_layer=*/3});
  // 10 tokens choosing {0,1}.
  sut.fold_counters(std::vector<std::uint64_t>{10, 10, 0, 0}, 0.0);
  auto s = sut.snapshot();
  EXPECT_DOUBLE_EQ(s[0].marginals[0], 1.0);
  EXPECT_DOUBLE_EQ(s[0].marginals[2], 0.0);
  // One half-life later, 10 tokens choosing {2,3}: old counts weigh 5, new 10.
  sut.fold_counters(std::vector<std::uint64_t>{10, 10, 10, 10}, 10.0);
  s = sut.snapshot();
  EXPECT_NEAR(s[0].marginals[0], 5.0 / 15.0, 1e-12);
  EXPECT_NEAR(s[0].marginals[2], 10.0 / 15.0, 1e-12);
  EXPECT_NEAR(sut.tokens(0), 15.0, 1e-12);
}

TEST(ActivationStats, KeepsOnlyTheMostRecentValidSets) {
  ActivationStats sut(1, 8, 2, {10.0, 2});
  const std::uint16_t a[] = {1, 2}, b[] = {3, 4}, c[] = {6, 5}, dup[] = {7, 7}, wrong_k[] = {1}, out_of_range[] = {1, 9};
  sut.add_set(0, a);
  sut.add_set(0, b);
  sut.add_set(0, c);
  sut.add_set(0, dup);
  sut.add_set(0, wrong_k);
  sut.add_set(0, out_of_range);
  const auto s = sut.snapshot();
  ASSERT_EQ(s[0].sets.size(), 4u);
  std::multiset<std::uint16_t> ids(s[0].sets.begin(), s[0].sets.end());
  EXPECT_EQ(ids, (std::multiset<std::uint16_t>{3, 4, 5, 6}));
  EXPECT_EQ(s[0].weights.size(), 2u);
}

TEST(ActivationStats, UnobservedLayersAreUniformAndDriftMeasuresChange) {
  ActivationStats sut(2, 4, 1, {10.0, 4});
  auto before = sut.snapshot();
  EXPECT_DOUBLE_EQ(before[1].marginals[3], 0.25);
  sut.fold_counters(std::vector<std::uint64_t>{4, 0, 0, 0, 0, 0, 0, 4}, 1.0);
  auto after = sut.snapshot();
  // Layer 0: uniform -> all on expert 0: TV 0.75; layer 1: uniform -> all on 3: 0.75.
  EXPECT_NEAR(ActivationStats::drift(before, after), 0.75, 1e-12);
  EXPECT_DOUBLE_EQ(ActivationStats::drift(after, after), 0.0);
}

TEST(ActivationStats, ARestartedEngineSegmentDoesNotProduceNegativeCounts) {
  ActivationStats sut(1, 2, 1, {0.0, 1});
  sut.fold_counters(std::vector<std::uint64_t>{100, 0}, 0.0);
  sut.fold_counters(std::vector<std::uint64_t>{3, 1}, 1.0);
  const auto s = sut.snapshot();
  EXPECT_NEAR(s[0].marginals[0], 103.0 / 104.0, 1e-12);
}

}  // namespace
}  // namespace slimcache::agent::engine

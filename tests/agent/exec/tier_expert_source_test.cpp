// TierExpertSource over a real memory tier: resident experts are leased zero-copy and pinned
// while leased; a miss goes through the load hook (the daemon's cache), is pinned by the
// source's own lease and the daemon-side pin is dropped; a missing segment means no model.
#include "agent/exec/tier_expert_source.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>

#include "agent/cache/memory_tier.hpp"
#include "tests/agent/exec/generated_expert.hpp"

namespace slimcache::agent::exec {
namespace {

class TierExpertSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    m_expert = testing::generate_expert(ExpertKind::k_swiglu, WeightDtype::k_bf16, 32, 16, 55);
    cache::MemoryTierOptions options{m_name, "tier-model", 2, 4, 1u << 20, m_expert.payload.size(), 8};
    m_tier = cache::MemoryTier::create(options, m_clock).value();
    ASSERT_TRUE(load(0, 1).has_value());
  }

  Expected<void, cache::CacheError> load(std::uint32_t layer, std::uint32_t expert) {
    return m_tier->load(layer, expert, [this](std::span<std::byte> slot) -> Expected<std::size_t, cache::CacheError> {
      std::copy(m_expert.payload.data(), m_expert.payload.data() + m_expert.payload.size(), slot.begin());
      return m_expert.payload.size();
    });
  }

  TierExpertSource make_source() {
    return TierExpertSource(
        m_name, m_clock, std::chrono::seconds(30),
        [this](std::uint32_t layer, std::uint32_t expert) -> Expected<void, SourceError> {
          ++m_loads;
          if (layer == 1 && expert == 3) return Unexpected(SourceError{ExpertStatus::k_not_found, "not on disk"});
          auto loaded = load(layer, expert);
          if (!loaded) return Unexpected(SourceError{ExpertStatus::k_failed, loaded.error().message});
          return {};
        },
        [this](std::uint32_t, std::uint32_t) { ++m_unloads; });
  }

  std::string m_name = "slimcache-tiersrc-" + std::to_string(::getpid());
  platform::ManualClock m_clock;
  testing::GeneratedExpert m_expert;
  std::unique_ptr<cache::MemoryTier> m_tier;
  std::atomic<int> m_loads{0};
  std::atomic<int> m_unloads{0};
};

TEST_F(TierExpertSourceTest, LeasesAResidentExpertZeroCopyAndPinsItWhileLeased) {
  auto sut = make_source();
  EXPECT_EQ(sut.model(), "tier-model");
  EXPECT_EQ(sut.num_layers(), 2u);
  EXPECT_EQ(sut.num_experts(), 4u);
  {
    auto lease = sut.acquire(0, 1);
    ASSERT_TRUE(lease.has_value()) << lease.error().message;
    EXPECT_EQ(lease->served(), ServedFrom::k_memory);
    ASSERT_EQ(lease->bytes().size(), m_expert.payload.size());
    EXPECT_TRUE(std::equal(lease->bytes().begin(), lease->bytes().end(), m_expert.payload.data()));
    EXPECT_EQ(m_tier->pin_count(0, 1), 1u);
    EXPECT_FALSE(m_tier->evict(0, 1).has_value());  // pinned: the daemon cannot evict it
  }
  EXPECT_EQ(m_tier->pin_count(0, 1), 0u);
  EXPECT_EQ(m_loads.load(), 0);
}

TEST_F(TierExpertSourceTest, LoadsAMissThroughTheHookAndDropsTheDaemonPinOnceItHoldsItsOwn) {
  auto sut = make_source();
  auto lease = sut.acquire(1, 2);
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(lease->served(), ServedFrom::k_local_disk);
  EXPECT_EQ(m_loads.load(), 1);
  EXPECT_EQ(m_unloads.load(), 1);
  EXPECT_EQ(m_tier->pin_count(1, 2), 1u);
  auto missing = sut.acquire(1, 3);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().status, ExpertStatus::k_not_found);
}

TEST(TierExpertSource, HasNoModelUntilTheSegmentExists) {
  platform::ManualClock clock;
  TierExpertSource sut("slimcache-tiersrc-none-" + std::to_string(::getpid()), clock, std::chrono::seconds(30),
                       [](std::uint32_t, std::uint32_t) -> Expected<void, SourceError> { return {}; },
                       [](std::uint32_t, std::uint32_t) {});
  EXPECT_EQ(sut.model(), "");
  auto lease = sut.acquire(0, 0);
  ASSERT_FALSE(lease.has_value());
  EXPECT_EQ(lease.error().status, ExpertStatus::k_not_found);
}

}  // namespace
}  // namespace slimcache::agent::exec

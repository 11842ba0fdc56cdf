// DiskTier::put_many: a batch made durable with one directory sync, all or nothing, and the
// same crash guarantees as put (tests/agent/cache/disk_tier_test.cpp's crash test, batched).
#include "agent/cache/disk_tier.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "platform/fault_injection_env.hpp"
#include "platform/mem_env.hpp"
#include "tests/agent/cache/disk_tier_support.hpp"

namespace slimcache::agent::cache {
namespace {

using platform::FaultInjectionEnv;
using platform::MemEnv;
using platform::PowerLossMode;

using testing::key;
using testing::open_tier;
using testing::payload;

TEST(DiskTierBatch, StoresEveryExpertOfTheBatchAndTheySurviveAReopen) {
  MemEnv env;
  std::vector<std::vector<std::byte>> data;
  for (std::uint64_t i = 0; i < 8; ++i) data.push_back(payload(i + 1, 500 + i));
  std::vector<PutItem> items;
  for (std::uint32_t i = 0; i < 8; ++i) items.push_back({key(i / 4, i % 4), data[i]});
  {
    auto sut = open_tier(env);
    auto stored = sut->put_many(items);
    ASSERT_TRUE(stored.has_value()) << stored.error().message;
    EXPECT_EQ(stored->size(), 8U);
    EXPECT_EQ(sut->inventory().size(), 8U);
  }
  env.power_loss(PowerLossMode::k_drop_unsynced);
  auto reopened = open_tier(env);
  for (std::uint32_t i = 0; i < 8; ++i) {
    auto read = reopened->read(key(i / 4, i % 4));
    ASSERT_TRUE(read.has_value()) << read.error().message;
    EXPECT_TRUE(*read == data[i]);
  }
  EXPECT_TRUE(env.list_dir("/node/experts/tmp")->empty());
}

TEST(DiskTierBatch, SyncsTheDirectoryOncePerBatchNotOncePerBlob) {
  MemEnv base;
  FaultInjectionEnv single_env(base);
  MemEnv base2;
  FaultInjectionEnv batch_env(base2);
  std::vector<std::vector<std::byte>> data;
  for (std::uint64_t i = 0; i < 16; ++i) data.push_back(payload(100 + i, 256));
  std::vector<PutItem> items;
  for (std::uint32_t i = 0; i < 16; ++i) items.push_back({key(0, i), data[i]});
  auto single = open_tier(single_env);
  auto sut = open_tier(batch_env);
  const auto single_start = single_env.calls();
  const auto batch_start = batch_env.calls();

  for (const auto& item : items) ASSERT_TRUE(single->put(item.key, item.payload).has_value());
  ASSERT_TRUE(sut->put_many(items).has_value());

  // Per blob: create, 2 appends, sync, close, rename; put adds a directory sync each.
  EXPECT_EQ(single_env.calls() - single_start, 16U * 7);
  EXPECT_EQ(batch_env.calls() - batch_start, 16U * 6 + 1);
}

TEST(DiskTierBatch, ABatchOverTheBudgetStoresNothing) {
  MemEnv env;
  auto sut = open_tier(env, 3 * (k_blob_header_size + 1000));
  const auto a = payload(1, 1000), b = payload(2, 1000), c = payload(3, 1000), d = payload(4, 1000);
  ASSERT_TRUE(sut->put(key(0, 0), a).has_value());
  const std::vector<PutItem> items{{key(0, 1), b}, {key(0, 2), c}, {key(0, 3), d}};

  auto stored = sut->put_many(items);

  ASSERT_FALSE(stored.has_value());
  EXPECT_EQ(stored.error().code, CacheErrc::k_budget_exceeded);
  EXPECT_EQ(sut->inventory().size(), 1U);
  EXPECT_EQ(env.list_dir("/node/experts/blobs")->size(), 1U);
}

TEST(DiskTierBatch, AFullDiskMidBatchLeavesNoBlobOfTheBatch) {
  MemEnv env;
  auto sut = open_tier(env);
  ASSERT_TRUE(sut->put(key(0, 0), payload(1, 1000)).has_value());
  env.set_capacity(3500);
  const auto b = payload(2, 1000), c = payload(3, 1000), d = payload(4, 1000);
  const std::vector<PutItem> items{{key(0, 1), b}, {key(0, 2), c}, {key(0, 3), d}};

  auto stored = sut->put_many(items);

  ASSERT_FALSE(stored.has_value());
  EXPECT_EQ(stored.error().code, CacheErrc::k_disk_full);
  EXPECT_EQ(env.list_dir("/node/experts/blobs")->size(), 1U);
  EXPECT_TRUE(env.list_dir("/node/experts/tmp")->empty());
  EXPECT_EQ(sut->inventory().size(), 1U);
}

TEST(DiskTierBatch, TwoItemsOfOneKeyOrOneContentAreRefused) {
  MemEnv env;
  auto sut = open_tier(env);
  const auto a = payload(1, 100), b = payload(2, 100);

  auto same_key = sut->put_many(std::vector<PutItem>{{key(0, 1), a}, {key(0, 1), b}});
  auto same_content = sut->put_many(std::vector<PutItem>{{key(0, 1), a}, {key(0, 2), a}});

  ASSERT_FALSE(same_key.has_value());
  EXPECT_EQ(same_key.error().code, CacheErrc::k_invalid_argument);
  ASSERT_FALSE(same_content.has_value());
  EXPECT_EQ(same_content.error().code, CacheErrc::k_invalid_argument);
  EXPECT_TRUE(sut->inventory().empty());
}

// The crash test of put, with batches: the process dies at call n, power is lost, the tier is
// reopened. Every key serves its last acknowledged state, or (after a failed batch) the
// state before or after that batch; nothing corrupt is ever served.
TEST(DiskTierBatchCrash, NoCorruptExpertServedAndNoAcknowledgedBatchLost) {
  using State = std::optional<std::vector<std::byte>>;
  constexpr std::uint32_t k_keys = 6;
  std::mt19937_64 rng(77);
  std::vector<std::vector<std::pair<std::uint32_t, std::uint64_t>>> batches;  // (expert, seed)
  for (int b = 0; b < 6; ++b) {
    std::vector<std::pair<std::uint32_t, std::uint64_t>> batch;
    for (std::uint32_t e = 0; e < k_keys; ++e)
      if (rng() % 2 == 0) batch.emplace_back(e, rng());
    batches.push_back(batch);
  }
  auto run = [&](DiskTier& tier, std::map<std::uint32_t, std::vector<State>>* allowed) {
    for (const auto& batch : batches) {
      std::vector<std::vector<std::byte>> data;
      std::vector<PutItem> items;
      for (const auto& [e, seed] : batch) data.push_back(payload(seed, 64 + seed % 1500));
      for (std::size_t i = 0; i < batch.size(); ++i) items.push_back({key(0, batch[i].first), data[i]});
      const bool ok = tier.put_many(items).has_value();
      if (allowed == nullptr) continue;
      for (std::size_t i = 0; i < batch.size(); ++i) {
        auto& states = (*allowed)[batch[i].first];
        if (ok) {
          states = {State{data[i]}};
        } else {
          states.push_back(State{data[i]});
        }
      }
    }
  };
  std::uint64_t total_calls = 0;
  {
    MemEnv base;
    FaultInjectionEnv env(base);
    auto sut = open_tier(env);
    const auto start = env.calls();
    run(*sut, nullptr);
    total_calls = env.calls() - start;
  }
  ASSERT_GT(total_calls, 40U);
  for (std::uint64_t crash = 0; crash <= total_calls; ++crash) {
    SCOPED_TRACE("crash at call " + std::to_string(crash) + " of " + std::to_string(total_calls) + " (seed 77)");
    MemEnv base;
    FaultInjectionEnv env(base);
    std::map<std::uint32_t, std::vector<State>> allowed;
    for (std::uint32_t e = 0; e < k_keys; ++e) allowed[e] = {std::nullopt};
    {
      auto sut = open_tier(env);
      ASSERT_NE(sut, nullptr);
      env.fail_from(env.calls() + crash, crash % 3 == 0 ? platform::EnvErrc::k_no_space : platform::EnvErrc::k_io);
      run(*sut, &allowed);
    }
    env.power_loss(crash % 2 == 0 ? PowerLossMode::k_drop_unsynced : PowerLossMode::k_torn_writes, crash);
    env.clear_faults();
    auto sut = open_tier(env);
    ASSERT_NE(sut, nullptr);
    EXPECT_TRUE(sut->open_report().quarantined.empty());
    for (const auto& [expert, states] : allowed) {
      auto read = sut->read(key(0, expert));
      ASSERT_TRUE(read.has_value() || read.error().code == CacheErrc::k_not_found) << read.error().message;
      const State served = read ? State{*read} : State{};
      EXPECT_NE(std::find(states.begin(), states.end(), served), states.end())
          << "expert " << expert << " served a state nobody wrote (" << (served ? "present" : "absent") << ")";
    }
  }
}

}  // namespace
}  // namespace slimcache::agent::cache

#include "agent/cache/disk_tier.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

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

TEST(DiskTier, StoresAndReadsBackAnExpertNamedByItsSha256) {
  MemEnv env;
  auto sut = open_tier(env);
  const auto data = payload(1, 1000);
  auto stored = sut->put(key(3, 7), data);
  ASSERT_TRUE(stored.has_value()) << stored.error().message;
  EXPECT_EQ(stored->path, "/node/experts/blobs/" + to_hex(sha256_of(data)) + ".blob");
  EXPECT_EQ(sut->used_bytes(), k_blob_header_size + 1000);
  auto read = sut->read(key(3, 7));
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(*read, data);
  std::vector<std::byte> dest(2000);
  auto n = sut->read_into(key(3, 7), dest);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 1000U);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), dest.begin()));
}

TEST(DiskTier, RebuildsTheIndexFromDiskOnOpen) {
  MemEnv env;
  {
    auto sut = open_tier(env);
    ASSERT_TRUE(sut->put(key(0, 1), payload(1, 300)).has_value());
    ASSERT_TRUE(sut->put(key(2, 5), payload(2, 500)).has_value());
    ASSERT_TRUE(sut->put(key(0, 1), payload(3, 200)).has_value());  // replaced
  }
  env.power_loss();
  auto sut = open_tier(env);
  EXPECT_EQ(sut->open_report().blobs, 2U);
  EXPECT_TRUE(sut->open_report().quarantined.empty());
  EXPECT_EQ(*sut->read(key(0, 1)), payload(3, 200));
  EXPECT_EQ(*sut->read(key(2, 5)), payload(2, 500));
  EXPECT_EQ(sut->used_bytes(), 2 * k_blob_header_size + 700);
}

TEST(DiskTier, OnlyOneOwnerPerDirectory) {
  MemEnv env;
  auto first = open_tier(env);
  auto second = DiskTier::open(env, {"/node/experts", 1 << 20});
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, CacheErrc::k_busy);
}

TEST(DiskTier, QuarantinesABlobThatFailsVerificationOnOpen) {
  MemEnv env;
  std::string path;
  {
    auto sut = open_tier(env);
    path = sut->put(key(1, 1), payload(1, 400))->path;
    ASSERT_TRUE(sut->put(key(1, 2), payload(2, 400)).has_value());
  }
  ASSERT_TRUE(env.corrupt_byte(path, k_blob_header_size + 123));
  auto sut = open_tier(env);
  ASSERT_EQ(sut->open_report().quarantined.size(), 1U);
  EXPECT_EQ(sut->open_report().quarantined[0].file, path);
  EXPECT_NE(sut->open_report().quarantined[0].reason.find("mismatch"), std::string::npos);
  EXPECT_EQ(sut->read(key(1, 1)).error().code, CacheErrc::k_not_found);
  EXPECT_TRUE(sut->read(key(1, 2)).has_value());
  auto in_quarantine = env.list_dir("/node/experts/quarantine");
  ASSERT_TRUE(in_quarantine.has_value());
  EXPECT_EQ(in_quarantine->size(), 1U);
}

TEST(DiskTier, ACorruptBlobIsNeverServedAndIsQuarantinedOnRead) {
  MemEnv env;
  auto sut = open_tier(env);
  const auto path = sut->put(key(4, 4), payload(4, 800))->path;
  ASSERT_TRUE(env.corrupt_byte(path, k_blob_header_size + 799));
  auto read = sut->read(key(4, 4));
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, CacheErrc::k_corrupt);
  EXPECT_FALSE(sut->find(key(4, 4)).has_value());
  EXPECT_EQ(sut->quarantined().size(), 1U);
  EXPECT_EQ(sut->used_bytes(), 0U);
}

TEST(DiskTier, EnforcesTheBudget) {
  MemEnv env;
  auto sut = open_tier(env, 2 * (k_blob_header_size + 100));
  ASSERT_TRUE(sut->put(key(0, 0), payload(1, 100)).has_value());
  ASSERT_TRUE(sut->put(key(0, 1), payload(2, 100)).has_value());
  auto over = sut->put(key(0, 2), payload(3, 100));
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error().code, CacheErrc::k_budget_exceeded);
  // Replacing within the budget is fine: the old blob's room counts as free.
  EXPECT_TRUE(sut->put(key(0, 1), payload(4, 100)).has_value());
  ASSERT_TRUE(sut->remove(key(0, 0)).has_value());
  EXPECT_TRUE(sut->put(key(0, 2), payload(3, 100)).has_value());
}

TEST(DiskTier, AFullDiskIsAnErrorAndLeavesNoPartialBlob) {
  MemEnv env;
  auto sut = open_tier(env);
  ASSERT_TRUE(sut->put(key(0, 0), payload(1, 1000)).has_value());
  env.set_capacity(1500);
  auto full = sut->put(key(0, 1), payload(2, 1000));
  ASSERT_FALSE(full.has_value());
  EXPECT_EQ(full.error().code, CacheErrc::k_disk_full);
  EXPECT_EQ(env.list_dir("/node/experts/blobs")->size(), 1U);
  EXPECT_TRUE(env.list_dir("/node/experts/tmp")->empty());
  EXPECT_FALSE(sut->find(key(0, 1)).has_value());
}

// Crash tests: the process "dies" at call n (every later call fails), power is lost (unsynced
// data dropped or torn), and the tier is reopened. For every key, what is served must be one
// of the states the caller could expect: exactly the last successful put; or, after a failed
// operation, the state before or after it. Nothing corrupt is ever served.
TEST(DiskTierCrash, NoCorruptExpertServedAndNoReportedWriteLost) {
  using State = std::optional<std::vector<std::byte>>;  // nullopt: absent
  // The workload, fixed: puts, replacements and removals (evictions) over 5 keys.
  struct Op {
    bool remove;
    std::uint32_t expert;
    std::uint64_t seed;
  };
  std::mt19937_64 rng(2024);
  std::vector<Op> ops;
  for (int i = 0; i < 24; ++i) ops.push_back({rng() % 4 == 0, static_cast<std::uint32_t>(rng() % 5), rng()});

  // Calls a fault-free run makes, to spread the crash points over all of them.
  std::uint64_t total_calls = 0;
  {
    MemEnv base;
    FaultInjectionEnv env(base);
    auto sut = open_tier(env);
    const auto start = env.calls();
    for (const auto& op : ops) {
      if (op.remove) {
        (void)sut->remove(key(0, op.expert));
      } else {
        (void)sut->put(key(0, op.expert), payload(op.seed, 64 + op.seed % 2000));
      }
    }
    total_calls = env.calls() - start;
  }
  ASSERT_GT(total_calls, 50U);

  for (std::uint64_t crash = 0; crash <= total_calls; ++crash) {
    SCOPED_TRACE("crash at call " + std::to_string(crash) + " of " + std::to_string(total_calls));
    MemEnv base;
    FaultInjectionEnv env(base);
    std::map<std::uint32_t, std::vector<State>> allowed;
    for (std::uint32_t e = 0; e < 5; ++e) allowed[e] = {std::nullopt};
    {
      auto sut = open_tier(env);
      ASSERT_NE(sut, nullptr);
      env.fail_from(env.calls() + crash, crash % 3 == 0 ? platform::EnvErrc::k_no_space : platform::EnvErrc::k_io);
      for (const auto& op : ops) {
        const State after = op.remove ? State{} : State{payload(op.seed, 64 + op.seed % 2000)};
        const bool ok = op.remove ? sut->remove(key(0, op.expert)).has_value()
                                  : sut->put(key(0, op.expert), *after).has_value();
        auto& states = allowed[op.expert];
        if (ok) {
          states = {after};
        } else if (!(op.remove && states.size() == 1 && !states[0])) {
          states.push_back(after);  // removing an absent key fails and changes nothing
        }
      }
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

#pragma once
// Shared by the disk tier tests: seeded payloads, expert keys and a tier on an Env.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "agent/cache/disk_tier.hpp"

namespace slimcache::agent::cache::testing {

inline std::vector<std::byte> payload(std::uint64_t seed, std::size_t size) {
  std::mt19937_64 rng(seed);
  std::vector<std::byte> out(size);
  for (auto& b : out) b = static_cast<std::byte>(rng());
  return out;
}

inline ExpertKey key(std::uint32_t layer, std::uint32_t expert) { return {"olmoe", layer, expert}; }

// A tier at /node/experts with full verification; nullptr (and a test failure) if it fails.
inline std::unique_ptr<DiskTier> open_tier(platform::Env& env, std::uint64_t budget = 1 << 20) {
  auto tier = DiskTier::open(env, {"/node/experts", budget, VerifyMode::k_full});
  EXPECT_TRUE(tier.has_value()) << (tier ? "" : tier.error().message);
  return tier ? std::move(*tier) : nullptr;
}

}  // namespace slimcache::agent::cache::testing

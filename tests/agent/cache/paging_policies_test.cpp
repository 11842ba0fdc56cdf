#include "agent/cache/paging_policies.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "agent/cache/slim_policy.hpp"
#include "tests/agent/cache/paging_test_support.hpp"

namespace slimcache::agent::cache {
namespace {

using testing::make_classic;
using testing::make_sequence;
using testing::run;

// Hand-worked, capacity 3, requests 0 1 2 0 3 0 4 1:
// LRU evicts 1 (for 3), 2 (for 4), 3 (for 1): misses 0 1 2 3 4 1.
TEST(LruPolicy, EvictsTheLeastRecentlyUsedPage) {
  const auto stats = run(make_classic(5, {0, 1, 2, 0, 3, 0, 4, 1}), "lru", 3);
  EXPECT_EQ(stats.misses, 6U);
  EXPECT_EQ(stats.cold_misses, 5U);
  EXPECT_EQ(stats.requests, 8U);
}

// FIFO evicts 0 (for 3) although it was just used, then 1 (for 0), 2 (for 4), 3 (for 1).
TEST(FifoPolicy, EvictsInLoadOrderIgnoringHits) {
  EXPECT_EQ(run(make_classic(5, {0, 1, 2, 0, 3, 0, 4, 1}), "fifo", 3).misses, 7U);
}

// Capacity 2, requests 0 0 0 1 2 1 3 2: LFU keeps 0 (count 3) and thrashes the other slot;
// LRU evicts 0 for 2 and keeps 1 for its next use.
TEST(LfuPolicy, KeepsTheMostFrequentPage) {
  const auto seq = make_classic(4, {0, 0, 0, 1, 2, 1, 3, 2});
  EXPECT_EQ(run(seq, "lfu", 2).misses, 6U);
  EXPECT_EQ(run(seq, "lru", 2).misses, 5U);
}

// Capacity 3, 0 1 2 0 3 0 4 1: every page enters referenced, so the hand clears all bits and
// evicts 0 for 3, then 1 for 0, 2 for 4 and 3 for 1.
TEST(ClockPolicy, GivesReferencedPagesASecondChance) {
  EXPECT_EQ(run(make_classic(5, {0, 1, 2, 0, 3, 0, 4, 1}), "clock", 3).misses, 7U);
  // 0 1 2 3 (evicts 0, hand on 1), 1 (hit: referenced again), 4: the hand clears 1's bit and
  // takes 2, so the last 1 hits. FIFO evicts 1 for 4 and misses it.
  const auto seq = make_classic(5, {0, 1, 2, 3, 1, 4, 1});
  EXPECT_EQ(run(seq, "clock", 3).misses, 5U);
  EXPECT_EQ(run(seq, "fifo", 3).misses, 6U);
}

// Capacity 3, 0 1 2 3 4 3: 3 is marked in the phase that starts at 3, so marking never
// evicts it for 4 and the last request hits, whatever the seed. Random does evict it for
// some seeds.
TEST(MarkingPolicy, NeverEvictsAPageMarkedInTheCurrentPhase) {
  const auto seq = make_classic(5, {0, 1, 2, 3, 4, 3});
  bool random_evicted_it = false;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    EXPECT_EQ(run(seq, "marking", 3, seed).misses, 5U) << "seed " << seed;
    random_evicted_it |= run(seq, "random", 3, seed).misses == 6U;
  }
  EXPECT_TRUE(random_evicted_it);
}

TEST(RandomPolicy, IsDeterministicForASeed) {
  std::mt19937_64 rng(7);
  std::vector<std::vector<std::vector<std::size_t>>> tokens;
  for (int t = 0; t < 200; ++t) tokens.push_back({{rng() % 10}});
  const auto seq = make_sequence(10, tokens);
  for (std::string_view name : {"random", "marking"}) {
    EXPECT_EQ(run(seq, name, 4, 42).misses, run(seq, name, 4, 42).misses) << name;
  }
}

// Two layers, 4 pages: layer 0 asks 0 1 2 0, layer 1 asks its expert 0 every time.
// Per-layer quota 2: layer 0 misses 4 times, layer 1 once; global LRU shares the room and
// hits the last 0.
TEST(LruPerLayerPolicy, KeepsEachLayerInsideItsQuota) {
  const auto seq = make_sequence(4, {{{0}, {0}}, {{1}, {0}}, {{2}, {0}}, {{0}, {0}}});
  EXPECT_EQ(run(seq, "lru-per-layer", 4).misses, 5U);
  EXPECT_EQ(run(seq, "lru", 4).misses, 4U);
}

TEST(LruPerLayerPolicy, RejectsAQuotaSmallerThanTopK) {
  const auto seq = make_sequence(4, {{{0, 1}, {0, 1}}});
  auto sut = make_policy("lru-per-layer");
  ASSERT_TRUE(sut.has_value());
  const auto stats = replay(seq, **sut, {3, 0});
  ASSERT_FALSE(stats.has_value());
  EXPECT_EQ(stats.error().code, CacheErrc::k_invalid_argument);
  EXPECT_NE(stats.error().message.find("per layer"), std::string::npos);
}

// Two layers, capacity 3, tokens (0,0) (1,0) (0,1) (1,1) as (layer 0 expert, layer 1 expert).
// At token 2 layer 1, layer 0's expert 1 and layer 1's expert 0 both have age 1 in rounds of
// their own layer; layer 1 comes back last, so LLRU evicts layer 1's expert 0 and hits
// layer 0's expert 1 next. LRU evicts layer 0's expert 1 (older in absolute time) and misses.
TEST(LlruPolicy, CountsAgeInRoundsOfThePagesOwnLayer) {
  const auto seq = make_sequence(4, {{{0}, {0}}, {{1}, {0}}, {{0}, {1}}, {{1}, {1}}});
  EXPECT_EQ(run(seq, "llru", 3).misses, 4U);
  EXPECT_EQ(run(seq, "lru", 3).misses, 5U);
}

// Capacity 2: 0 0 0 0 1 2 0: slim keeps the frequent 0 when 2 arrives, LRU evicts it.
TEST(SlimPolicy, KeepsFrequentPagesOverRecentOnes) {
  const auto seq = make_classic(3, {0, 0, 0, 0, 1, 2, 0});
  auto sut = make_slim_policy(SlimParams{.decay = 0.8, .prefetch = 0});
  const auto stats = replay(seq, *sut, {2, 0});
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->misses, 3U);
  EXPECT_EQ(run(seq, "lru", 2).misses, 4U);
}

// Layer 1 always asks the expert layer 0 asked (two alternating experts). Once slim has seen
// the pattern it loads layer 1's expert ahead, so its demand misses drop below llru's; the
// prefetches are counted apart and the total loads include them.
TEST(SlimPolicy, PrefetchesTheLikelyNextLayerExperts) {
  std::vector<std::vector<std::vector<std::size_t>>> tokens;
  for (std::size_t t = 0; t < 40; ++t) tokens.push_back({{t % 2 * 2}, {t % 2 * 2}, {3 - t % 2}});
  // Capacity 4 with top-1 leaves room for prefetching (more than 3 * top_k).
  const auto seq = make_sequence(4, tokens);
  const auto slim = run(seq, "slim", 4);
  const auto llru = run(seq, "llru", 4);
  EXPECT_GT(slim.prefetch_loads, 0U);
  EXPECT_LT(slim.misses, llru.misses);
  EXPECT_EQ(slim.total_loads(), slim.misses + slim.prefetch_loads);
}

TEST(PagingPolicies, EveryPolicyRejectsACacheSmallerThanTopK) {
  const auto seq = make_sequence(8, {{{0, 1, 2}, {3, 4, 5}}});
  for (std::string_view name : policy_names()) {
    auto sut = make_policy(name);
    ASSERT_TRUE(sut.has_value()) << name;
    const auto stats = replay(seq, **sut, {2, 0});
    ASSERT_FALSE(stats.has_value()) << name;
    EXPECT_EQ(stats.error().code, CacheErrc::k_invalid_argument) << name;
    EXPECT_NE(stats.error().message.find("top-K"), std::string::npos) << name << ": " << stats.error().message;
  }
}

TEST(PagingPolicies, UnknownNameIsAnErrorListingTheKnownOnes) {
  const auto sut = make_policy("mru");
  ASSERT_FALSE(sut.has_value());
  EXPECT_NE(sut.error().message.find("llru"), std::string::npos);
}

// Exhaustive optimum of demand paging with set requests: the cheapest sequence of
// resident sets (each holds the requested set, fits the capacity and only gains requested
// pages). Demand paging loses nothing against prefetching schedules for misses counted
// this way, so this is the offline optimum.
std::size_t brute_force_misses(const RequestSequence& seq, std::size_t capacity) {
  const std::size_t n = seq.geometry.num_pages();
  std::map<std::uint32_t, std::size_t> best{{0U, 0U}};
  for (std::size_t s = 0; s < seq.num_steps(); ++s) {
    std::uint32_t need = 0;
    for (PageId p : seq.set(s)) need |= 1U << p;
    std::map<std::uint32_t, std::size_t> next;
    for (const auto& [state, cost] : best) {
      const std::size_t loads = static_cast<std::size_t>(std::popcount(need & ~state));
      const std::uint32_t keepable = state & ~need;
      // Every subset of the kept pages that fits next to the requested set.
      for (std::uint32_t keep = keepable;; keep = (keep - 1) & keepable) {
        const std::uint32_t result = keep | need;
        if (static_cast<std::size_t>(std::popcount(result)) <= capacity) {
          auto [it, inserted] = next.emplace(result, cost + loads);
          if (!inserted) it->second = std::min(it->second, cost + loads);
        }
        if (keep == 0) break;
      }
    }
    best = std::move(next);
  }
  (void)n;
  std::size_t out = SIZE_MAX;
  for (const auto& [state, cost] : best) out = std::min(out, cost);
  return out;
}

TEST(BeladyPolicy, MatchesExhaustiveSearchOnTinySequences) {
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    std::mt19937_64 rng(seed);
    const std::size_t layers = 1 + rng() % 3;
    const std::size_t experts = 2 + rng() % 3;
    const std::size_t k = 1 + rng() % std::min<std::size_t>(2, experts - 1);
    const std::size_t tokens_n = 3 + rng() % 5;
    std::vector<std::vector<std::vector<std::size_t>>> tokens(tokens_n);
    for (auto& token : tokens) {
      for (std::size_t l = 0; l < layers; ++l) {
        std::vector<std::size_t> ids(experts);
        for (std::size_t e = 0; e < experts; ++e) ids[e] = e;
        std::shuffle(ids.begin(), ids.end(), rng);
        ids.resize(k);
        token.push_back(ids);
      }
    }
    const auto seq = make_sequence(experts, tokens);
    const std::size_t capacity = k + rng() % (layers * experts - k + 1);
    const auto stats = run(seq, "belady", capacity);
    EXPECT_EQ(stats.misses, brute_force_misses(seq, capacity))
        << "seed " << seed << " capacity " << capacity << " layers " << layers << " experts " << experts << " k " << k;
  }
}

// Every online policy stays valid (never evicts the pinned set: the simulator would fail the
// replay) and never beats the offline optimum on demand misses without prefetching.
TEST(PagingPolicies, NoDemandPolicyBeatsBeladyOnRandomSequences) {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::vector<std::vector<std::size_t>>> tokens(60);
    for (auto& token : tokens) {
      for (std::size_t l = 0; l < 4; ++l) {
        std::vector<std::size_t> ids(8);
        for (std::size_t e = 0; e < 8; ++e) ids[e] = e;
        std::shuffle(ids.begin(), ids.begin() + 5, rng);  // skewed: experts 5..7 never asked
        ids.resize(2);
        token.push_back(ids);
      }
    }
    const auto seq = make_sequence(8, tokens);
    for (std::size_t capacity : {8U, 12U}) {
      const auto optimum = run(seq, "belady", capacity).misses;
      for (std::string_view name : policy_names()) {
        const auto stats = run(seq, name, capacity, seed);
        EXPECT_EQ(stats.requests, 60U * 4U * 2U) << name;
        EXPECT_LE(stats.cold_misses, stats.misses) << name;
        if (stats.prefetch_loads == 0) {
          EXPECT_GE(stats.misses, optimum) << name << " seed " << seed;
        }
        EXPECT_GE(stats.total_loads(), stats.cold_misses) << name;
      }
    }
  }
}

}  // namespace
}  // namespace slimcache::agent::cache

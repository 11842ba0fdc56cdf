#include "agent/cache/paging_simulator.hpp"

#include <gtest/gtest.h>

#include <set>

#include "config/trace_reader.hpp"
#include "tests/agent/cache/paging_test_support.hpp"
#include "tests/test_support.hpp"

namespace slimcache::agent::cache {
namespace {

using testing::make_classic;
using testing::make_sequence;
using testing::run;

TEST(RequestSequence, NumbersPagesLayerMajor) {
  solver::RoutingTrace trace;
  trace.num_layers = 2;
  trace.top_k = 2;
  trace.num_experts = 5;
  trace.ids = {0, 4, 1, 3, /* token 1 */ 2, 4, 0, 1};
  const auto sut = to_request_sequence(trace);
  EXPECT_EQ(sut.num_steps(), 4U);
  EXPECT_EQ(sut.pages, (std::vector<PageId>{0, 4, 6, 8, 2, 4, 5, 6}));
  EXPECT_EQ(sut.layer(3), 1U);
}

TEST(Replay, CountsColdMissesOnceAndWarmupIsNotCounted) {
  const auto seq = make_classic(4, {0, 1, 2, 3, 0, 1, 2, 3});
  const auto all = run(seq, "lru", 4);
  EXPECT_EQ(all.misses, 4U);
  EXPECT_EQ(all.cold_misses, 4U);
  auto sut = make_policy("lru");
  ASSERT_TRUE(sut.has_value());
  const auto warm = replay(seq, **sut, {4, 4});
  ASSERT_TRUE(warm.has_value());
  EXPECT_EQ(warm->requests, 4U);
  EXPECT_EQ(warm->misses, 0U);
}

TEST(Replay, CapacityForFractionRoundsAndNeverReturnsZero) {
  const PagingGeometry g{16, 64, 8};
  EXPECT_EQ(capacity_for_fraction(g, 0.25), 256U);
  EXPECT_EQ(capacity_for_fraction(g, 0.0), 1U);
}

// The targets, on the real OLMoE trace (cold misses included): llru never misses more
// than lru; the default misses at least 10% less than llru at 0.12, 0.25, 0.5 and never more.
TEST(ReplayOnOlmoeTrace, LlruAndTheDefaultMeetTheirTargets) {
  SLIM_REQUIRE_TRACE(path, "olmoe-decode/trace_olmoe_299.jsonl");
  auto trace = config::read_trace_file(path.string());
  ASSERT_TRUE(trace.has_value()) << trace.error().to_string();
  const auto seq = to_request_sequence(*trace);
  for (double fraction : {0.05, 0.12, 0.25, 0.5, 0.75}) {
    const std::size_t capacity = capacity_for_fraction(seq.geometry, fraction);
    const auto lru = run(seq, "lru", capacity);
    const auto llru = run(seq, "llru", capacity);
    const auto slim = run(seq, "slim", capacity);
    EXPECT_LE(llru.misses, lru.misses) << "fraction " << fraction;
    EXPECT_LE(slim.misses, llru.misses) << "fraction " << fraction;
    if (fraction == 0.12 || fraction == 0.25 || fraction == 0.5) {
      EXPECT_LE(static_cast<double>(slim.misses), 0.9 * static_cast<double>(llru.misses)) << "fraction " << fraction;
    }
  }
}

}  // namespace
}  // namespace slimcache::agent::cache

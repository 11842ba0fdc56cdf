#include "agent/gossip/node_state.hpp"

#include <gtest/gtest.h>

#include <random>

namespace slimcache::agent::gossip {
namespace {

Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }

// Moves what `to` lacks from `from` through deltas of at most `message_budget` bytes.
std::size_t sync(StateStore& from, StateStore& to, std::size_t message_budget, std::vector<StateStore::Change>& changed) {
  std::size_t messages = 0;
  for (int round = 0; round < 1000; ++round) {
    auto deltas = from.deltas_for(to.digest_all(), message_budget, message_budget * 4);
    if (deltas.empty()) break;
    for (const auto& d : deltas) {
      (void)to.apply(d, changed);
      ++messages;
    }
  }
  return messages;
}

TEST(StateStore, LocalValueIsReadableAndVersioned) {
  StateStore sut("a", 1024);
  (void)sut.set_local("budget", bytes_of("10GiB"));
  EXPECT_EQ(sut.get("a", "budget"), bytes_of("10GiB"));
  EXPECT_EQ(sut.watermark("a"), 1u);
  (void)sut.set_local("budget", bytes_of("12GiB"));
  EXPECT_EQ(sut.get("a", "budget"), bytes_of("12GiB"));
  EXPECT_EQ(sut.watermark("a"), 2u);
}

TEST(StateStore, LargeValueTravelsInChunksWithinTheMessageBudget) {
  // One client's activation statistics for DeepSeek-V3: 58 layers x 256 experts x 2 bytes.
  std::mt19937_64 rng(58256);
  Bytes stats(58 * 256 * 2);
  for (auto& b : stats) b = static_cast<std::uint8_t>(rng());
  StateStore owner("client", 1024), sut("peer", 1024);
  sut.add_owner("client");
  (void)owner.set_local("activation/deepseek-v3", stats);

  std::vector<StateStore::Change> changed;
  for (const auto& d : owner.deltas_for(sut.digest_all(), 1300, 1 << 20)) EXPECT_LE(encode_message(d).size(), 1300u);
  const std::size_t messages = sync(owner, sut, 1300, changed);

  EXPECT_GE(messages, stats.size() / 1300);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].key, "activation/deepseek-v3");
  EXPECT_EQ(sut.get("client", "activation/deepseek-v3"), stats);
}

TEST(StateStore, ARestartedOwnerStartingAboveItsOldVersionsIsHeard) {
  StateStore old_a("a", 1024);
  StateStore sut("b", 1024);
  sut.add_owner("a");
  std::vector<StateStore::Change> changed;
  for (int i = 0; i < 5; ++i) (void)old_a.set_local("epoch", bytes_of("old" + std::to_string(i)));
  (void)sync(old_a, sut, 1300, changed);
  ASSERT_EQ(sut.get("a", "epoch"), bytes_of("old4"));

  StateStore restarted("a", 1024, 1000);  // a new process, peers not told
  (void)restarted.set_local("epoch", bytes_of("new"));
  (void)sync(restarted, sut, 1300, changed);
  StateStore from_zero("a", 1024);  // what happened before: numbered from 1 again
  (void)from_zero.set_local("epoch", bytes_of("lost"));
  (void)sync(from_zero, sut, 1300, changed);

  EXPECT_EQ(sut.get("a", "epoch"), bytes_of("new"));
  EXPECT_EQ(sut.watermark("a"), 1001u);
}

TEST(StateStore, LostDeltaDoesNotAdvanceTheWatermark) {
  StateStore owner("o", 16), sut("s", 16);
  sut.add_owner("o");
  (void)owner.set_local("k", Bytes(64, 1));  // 4 chunks, versions 1..4
  auto deltas = owner.deltas_for(sut.digest_all(), 80, 1 << 20);  // one chunk per message
  ASSERT_GE(deltas.size(), 2u);
  std::vector<StateStore::Change> changed;
  (void)sut.apply(deltas[1], changed);  // deltas[0] lost
  EXPECT_EQ(sut.watermark("o"), 0u);
  EXPECT_TRUE(sut.wants_anything());
  EXPECT_FALSE(sut.get("o", "k").has_value());
  sync(owner, sut, 80, changed);
  EXPECT_EQ(sut.watermark("o"), owner.watermark("o"));
  EXPECT_EQ(sut.get("o", "k"), Bytes(64, 1));
  EXPECT_FALSE(sut.wants_anything());
}

TEST(StateStore, NewerGenerationReplacesTheOldValueOnlyWhenComplete) {
  StateStore owner("o", 16), sut("s", 16);
  sut.add_owner("o");
  std::vector<StateStore::Change> changed;
  (void)owner.set_local("k", bytes_of("first-value-of-32-bytes-abcdefgh"));
  sync(owner, sut, 1 << 20, changed);
  (void)owner.set_local("k", bytes_of("second-value-of-32-bytes-abcdefg"));
  auto deltas = owner.deltas_for(sut.digest_all(), 80, 1 << 20);
  ASSERT_GE(deltas.size(), 2u);
  (void)sut.apply(deltas[0], changed);
  EXPECT_EQ(sut.get("o", "k"), bytes_of("first-value-of-32-bytes-abcdefgh"));  // half of the new one is not enough
  sync(owner, sut, 80, changed);
  EXPECT_EQ(sut.get("o", "k"), bytes_of("second-value-of-32-bytes-abcdefg"));
}

TEST(StateStore, DeltasServeEveryOwnerFairlyUnderATightBudget) {
  StateStore sut("relay", 512);
  StateStore peer("peer", 512);
  for (const char* o : {"big", "small"}) {
    sut.add_owner(o);
    peer.add_owner(o);
  }
  StateStore big("big", 512), small("small", 512);
  (void)big.set_local("stats", Bytes(20000, 3));
  (void)small.set_local("budget", bytes_of("1GiB"));
  std::vector<StateStore::Change> changed;
  sync(big, sut, 1 << 20, changed);
  sync(small, sut, 1 << 20, changed);

  // One exchange with room for two messages: the small owner is not starved by the big one.
  auto deltas = sut.deltas_for(peer.digest_all(), 600, 1200);
  bool small_served = false;
  for (const auto& d : deltas) small_served |= d.owner == "small";
  EXPECT_TRUE(small_served);
}

TEST(StateStore, DigestExchangeFindsWhatEachSideLacks) {
  StateStore a("a", 64), b("b", 64);
  a.add_owner("b");
  b.add_owner("a");
  (void)a.set_local("x", bytes_of("1"));
  auto behind = b.behind(a.digest_all());
  ASSERT_EQ(behind.size(), 1u);
  EXPECT_EQ(behind[0].owner_id, owner_id("a"));
  EXPECT_EQ(behind[0].version, 0u);
  EXPECT_TRUE(b.wants_anything());
  EXPECT_NE(a.summary(), b.summary());
  std::vector<StateStore::Change> changed;
  for (const auto& d : a.deltas_for(behind, 1 << 20, 1 << 20)) (void)b.apply(d, changed);
  EXPECT_EQ(a.summary(), b.summary());
}

TEST(StateStore, DeltasAboutUnknownOwnersOrOurselvesAreIgnored) {
  StateStore sut("s", 64);
  std::vector<StateStore::Change> changed;
  EXPECT_EQ(sut.apply(StateDelta{"stranger", 0, 1, {StateEntry{"k", 1, 1, 0, 1, bytes_of("v")}}}, changed), 0u);
  EXPECT_EQ(sut.apply(StateDelta{"s", 0, 9, {StateEntry{"k", 9, 9, 0, 1, bytes_of("v")}}}, changed), 0u);
  EXPECT_FALSE(sut.get("s", "k").has_value());
}

TEST(StateStore, InactiveOwnersLeaveTheSummaryAndDigests) {
  StateStore a("a", 64), sut("s", 64);
  sut.add_owner("a");
  (void)a.set_local("k", bytes_of("v"));
  std::vector<StateStore::Change> changed;
  sync(a, sut, 1 << 20, changed);
  const std::uint64_t with = sut.summary();
  sut.set_active("a", false);
  EXPECT_NE(sut.summary(), with);
  EXPECT_EQ(sut.digest_all().size(), 1u);  // only ourselves
  sut.set_active("a", true);
  EXPECT_EQ(sut.summary(), with);
}

}  // namespace
}  // namespace slimcache::agent::gossip

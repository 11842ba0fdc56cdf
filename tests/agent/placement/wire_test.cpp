#include "agent/placement/wire.hpp"

#include <gtest/gtest.h>

namespace slimcache::agent::placement {
namespace {

const ModelShape k_shape{3, 6, 2};

TEST(PlacementWire, StatsRoundTripKeepsTheHeaviestSets) {
  ClientStatsValue v;
  v.tokens_per_s = 12.5;
  for (int l = 0; l < 3; ++l) {
    solver::LayerStats s;
    s.marginals = {0.5, 0.25, 0.125, 0.0625, 0.0625, 0.0};
    s.sets = {0, 1, 2, 3, 0, 4};
    s.weights = {1.0, 5.0, 2.0};
    v.layers.push_back(s);
  }

  auto sut = decode_stats(encode(v, 2), k_shape);

  ASSERT_TRUE(sut.has_value()) << sut.error().message;
  EXPECT_DOUBLE_EQ(sut->tokens_per_s, 12.5);
  ASSERT_EQ(sut->layers.size(), 3u);
  EXPECT_EQ(sut->layers[1].marginals, v.layers[1].marginals);
  EXPECT_EQ(sut->layers[1].sets, (std::vector<solver::ExpertId>{2, 3, 0, 4}));  // weight 1 dropped, order kept
  EXPECT_EQ(sut->layers[1].weights, (std::vector<double>{5.0, 2.0}));
}

TEST(PlacementWire, StatsWithAnIdOutsideTheLayerAreRefused) {
  const std::string text =
      R"({"rate":1,"layers":[{"p":[],"s":[[0,6]],"w":[1]},{"p":[],"s":[],"w":[]},{"p":[],"s":[],"w":[]}]})";

  auto sut = decode_stats(text, k_shape);

  ASSERT_FALSE(sut.has_value());
  EXPECT_NE(sut.error().message.find("out of range"), std::string::npos) << sut.error().message;
}

TEST(PlacementWire, StatsForAnotherNumberOfLayersAreRefused) {
  auto sut = decode_stats(R"({"rate":1,"layers":[]})", k_shape);

  EXPECT_FALSE(sut.has_value());
}

TEST(PlacementWire, PlacementRoundTripSortsAndRejectsRepeats) {
  PlacementValue v{7, "abcd", {5, 1, 17}, 0.25, 3.5};

  auto sut = decode_placement(encode(v), k_shape);

  ASSERT_TRUE(sut.has_value()) << sut.error().message;
  EXPECT_EQ(sut->epoch, 7u);
  EXPECT_EQ(sut->digest, "abcd");
  EXPECT_EQ(sut->experts, (std::vector<std::uint32_t>{1, 5, 17}));
  EXPECT_FALSE(decode_placement(R"({"epoch":1,"experts":[1,1]})", k_shape).has_value());
  EXPECT_FALSE(decode_placement(R"({"epoch":1,"experts":[18]})", k_shape).has_value());
  EXPECT_FALSE(decode_placement(R"({"epoch":-1,"experts":[]})", k_shape).has_value());
}

TEST(PlacementWire, LongTextIsCutAtACharacterAndStaysEncodable) {
  // A fuzz finding: a 200-byte cut through a multi-byte character made encode() throw.
  const std::string cause = std::string(199, 'x') + "\u00e9tail";

  auto sut = decode_epoch(encode(EpochValue{3, cause}));

  ASSERT_TRUE(sut.has_value()) << sut.error().message;
  EXPECT_EQ(sut->cause, std::string(199, 'x'));
  EXPECT_NO_THROW((void)encode(*sut));
  auto placement = decode_placement(R"({"epoch":1,"digest":"\u00e9\u00e9","experts":[]})", k_shape);
  ASSERT_TRUE(placement.has_value());
  EXPECT_EQ(placement->digest, "");
}

TEST(PlacementWire, HoldingsBitmapRoundTrips) {
  HoldingsValue v{{0, 3, 4, 17}, true, 7947, 7948};

  auto sut = decode_holdings(encode(v, k_shape), k_shape);

  ASSERT_TRUE(sut.has_value()) << sut.error().message;
  EXPECT_EQ(sut->experts, v.experts);
  EXPECT_TRUE(sut->origin);
  EXPECT_EQ(sut->transfer_port, 7947);
  EXPECT_EQ(sut->execution_port, 7948);
}

TEST(PlacementWire, HoldingsOfAnotherModelSizeAreRefused) {
  HoldingsValue v{{1}, false, 1, 2};
  const ModelShape bigger{4, 6, 2};

  EXPECT_FALSE(decode_holdings(encode(v, bigger), k_shape).has_value());
  EXPECT_FALSE(decode_holdings(R"({"bitmap":"zzzzz","transfer_port":1,"execution_port":2})", k_shape).has_value());
  EXPECT_FALSE(decode_holdings("[1,2]", k_shape).has_value());
  EXPECT_FALSE(decode_epoch("{").has_value());
}

}  // namespace
}  // namespace slimcache::agent::placement

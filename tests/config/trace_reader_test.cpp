#include "config/trace_reader.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "tests/test_support.hpp"

namespace slimcache::config {
namespace {

Expected<solver::RoutingTrace, TraceError> parse(const std::string& text) {
  std::istringstream in(text);
  return read_trace(in, "t.jsonl");
}

TEST(TraceReader, ReadsTokensLayersAndSets) {
  auto sut = parse("{\"tok\":1,\"layers\":[[0,3],[1,2]]}\n\n{\"tok\":2,\"layers\":[[4,0],[2,5]]}\n");
  ASSERT_TRUE(sut.has_value()) << sut.error().to_string();
  EXPECT_EQ(sut->num_tokens(), 2u);
  EXPECT_EQ(sut->num_layers, 2u);
  EXPECT_EQ(sut->top_k, 2u);
  EXPECT_EQ(sut->num_experts, 6u);
  EXPECT_EQ(sut->set(1, 1)[0], 2);
  EXPECT_EQ(sut->set(1, 1)[1], 5);
}

TEST(TraceReader, ReportsTheLineOfMalformedJson) {
  auto sut = parse("{\"layers\":[[0]]}\n{\"layers\":[[0]\n");
  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().line, 2u);
  EXPECT_NE(sut.error().to_string().find("t.jsonl:2"), std::string::npos);
}

TEST(TraceReader, RejectsInconsistentShapes) {
  EXPECT_EQ(parse("{\"layers\":[[0,1]]}\n{\"layers\":[[0,1],[2,3]]}\n").error().line, 2u);
  EXPECT_EQ(parse("{\"layers\":[[0,1]]}\n{\"layers\":[[0]]}\n").error().line, 2u);
}

TEST(TraceReader, RejectsBadIds) {
  EXPECT_FALSE(parse("{\"layers\":[[0,-1]]}").has_value());
  EXPECT_FALSE(parse("{\"layers\":[[0,70000]]}").has_value());
  EXPECT_FALSE(parse("{\"layers\":[[1,1]]}").has_value());
  EXPECT_FALSE(parse("{\"layers\":[[\"a\"]]}").has_value());
  EXPECT_FALSE(parse("[1,2]").has_value());
  EXPECT_FALSE(parse("").has_value());
}

TEST(TraceReader, ReadsTheRealOlmoeTrace) {
  SLIM_REQUIRE_TRACE(path, "olmoe-decode/trace_olmoe_299.jsonl");
  auto sut = read_trace_file(path.string());
  ASSERT_TRUE(sut.has_value()) << sut.error().to_string();
  EXPECT_EQ(sut->num_tokens(), 299u);
  EXPECT_EQ(sut->num_layers, 16u);
  EXPECT_EQ(sut->top_k, 8u);
  EXPECT_EQ(sut->num_experts, 64u);
}

}  // namespace
}  // namespace slimcache::config

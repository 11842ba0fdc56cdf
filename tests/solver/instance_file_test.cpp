#include "config/instance_file.hpp"

#include <gtest/gtest.h>

#include "config/trace_reader.hpp"
#include "solver/algorithms.hpp"
#include "solver/synthetic.hpp"
#include "tests/solver/tiny_instances.hpp"
#include "tests/test_support.hpp"

namespace slimcache::config {
namespace {

using solver::Instance;

const char* k_small = R"(
format = "slimcache-instance"
version = 1
[model]
name = "t"
layers = 2
experts = 3
top_k = 2
expert_bytes = 10
hidden_state_bytes = 100.0
[[nodes]]
name = "a"
budget_bytes = 20
exec_s = 0.001
[[clients]]
name = "c"
node = "a"
fallback_s = [0.05, 0.06]
[[stats]]
client = "c"
layer = 0
sets = [[0, 1], [1, 2]]
[[stats]]
client = "c"
layer = 1
sets = [[0, 2]]
weights = [2.0]
)";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  return text.replace(pos, from.size(), to);
}

TEST(InstanceFile, ReadsAHandWrittenFile) {
  auto sut = read_instance(k_small, "small.toml");
  ASSERT_TRUE(sut.has_value()) << sut.error().to_string();
  EXPECT_EQ(sut->num_layers(), 2u);
  EXPECT_EQ(sut->clients[0].node, std::optional<std::size_t>(0));
  EXPECT_EQ(sut->stat(0, 1).weights, std::vector<double>{2.0});
  EXPECT_EQ(sut->link(0, 0).bandwidth_bytes_per_s, 0.0);  // no [[links]]: unreachable (but local)
}

TEST(InstanceFile, WrittenFileReadsBackIdentically) {
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    const Instance in = solver::testing::tiny_instance(seed, {1 + seed % 3, solver::testing::Sizes::mixed, 2});
    const std::string text = write_instance(in, "seed " + std::to_string(seed));
    auto sut = read_instance(text, "roundtrip.toml");
    ASSERT_TRUE(sut.has_value()) << "seed " << seed << ": " << sut.error().to_string();
    EXPECT_EQ(sut->expert_bytes, in.expert_bytes);
    EXPECT_EQ(sut->nodes[0].exec_s, in.nodes[0].exec_s);
    EXPECT_EQ(sut->nodes.back().budget_bytes, in.nodes.back().budget_bytes);
    EXPECT_EQ(sut->clients[1].fallback_s, in.clients[1].fallback_s);
    EXPECT_EQ(sut->clients[1].node, in.clients[1].node);
    for (std::size_t i = 0; i < in.links.size(); ++i) {
      EXPECT_EQ(sut->links[i].rtt_s, in.links[i].bandwidth_bytes_per_s > 0 ? in.links[i].rtt_s : 0.0);
      EXPECT_EQ(sut->links[i].bandwidth_bytes_per_s, in.links[i].bandwidth_bytes_per_s);
    }
    for (std::size_t i = 0; i < in.stats.size(); ++i) {
      EXPECT_EQ(sut->stats[i].sets, in.stats[i].sets);
      EXPECT_EQ(sut->stats[i].weights, in.stats[i].weights);
    }
  }
}

TEST(InstanceFile, MalformedTomlNamesTheFileAndLine) {
  auto sut = read_instance("[model]\nlayers = = 3\n", "bad.toml");
  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().file, "bad.toml");
  EXPECT_EQ(sut.error().line, 2u);
  EXPECT_NE(sut.error().to_string().find("bad.toml:2"), std::string::npos);
}

TEST(InstanceFile, TopKLargerThanTheExpertsIsRejectedAtItsLine) {
  auto sut = read_instance(replaced(k_small, "top_k = 2", "top_k = 4"), "k.toml");
  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().key, "model.top_k");
  EXPECT_EQ(sut.error().line, 8u);  // the raw string starts with a newline
}

TEST(InstanceFile, NegativeOrMissingBudgetIsRejected) {
  auto negative = read_instance(replaced(k_small, "budget_bytes = 20", "budget_bytes = -5"), "neg.toml");
  ASSERT_FALSE(negative.has_value());
  EXPECT_EQ(negative.error().key, "nodes[0].budget_bytes");
  EXPECT_NE(negative.error().message.find("negative"), std::string::npos);
  auto missing = read_instance(replaced(k_small, "budget_bytes = 20", ""), "missing.toml");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().key, "nodes[0].budget_bytes");
}

TEST(InstanceFile, StatisticsForALayerThatDoesNotExistAreRejected) {
  auto sut = read_instance(replaced(k_small, "layer = 1", "layer = 7"), "layer.toml");
  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().key, "stats[1].layer");
  EXPECT_GT(sut.error().line, 0u);
  EXPECT_NE(sut.error().message.find("does not exist"), std::string::npos);
}

TEST(InstanceFile, UnknownNodeNameIsRejected) {
  auto sut = read_instance(replaced(k_small, "node = \"a\"", "node = \"zz\""), "node.toml");
  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().key, "clients[0].node");
}

TEST(InstanceFile, BudgetTooSmallForAnythingIsNotAnError) {
  auto in = read_instance(replaced(k_small, "budget_bytes = 20", "budget_bytes = 3"), "tiny.toml");
  ASSERT_TRUE(in.has_value());
  auto problem = solver::build_problem(*in);
  auto sut = solver::solve(*problem, solver::Algorithm::sgd_fast);
  ASSERT_TRUE(sut.has_value());
  EXPECT_EQ(sut->reduction_s, 0.0);
}

TEST(TraceStatistics, OlmoeTraceGivesAValidInstanceAndSgdFastBeatsEveryBaseline) {
  SLIM_REQUIRE_TRACE(path, "olmoe-decode/trace_olmoe_299.jsonl");
  auto trace = read_trace_file(path.string());
  ASSERT_TRUE(trace.has_value()) << trace.error().to_string();
  solver::GeneratorOptions g;
  g.nodes = 4;
  g.clients = 2;
  g.budget_fraction = 0.25;
  g.samples_per_layer = 128;
  auto in = solver::generate_instance(*solver::find_model_preset("olmoe-1b-7b"), g, &*trace);
  ASSERT_TRUE(in.has_value()) << in.error().message;
  auto problem = solver::build_problem(*in);
  ASSERT_TRUE(problem.has_value()) << problem.error().to_string();
  auto sut = solver::solve(*problem, solver::Algorithm::sgd_fast);
  ASSERT_TRUE(sut.has_value());
  for (auto a : {solver::Algorithm::random, solver::Algorithm::popularity, solver::Algorithm::popularity_distinct,
                 solver::Algorithm::layer_uniform, solver::Algorithm::greedy_marginal}) {
    auto base = solver::solve(*problem, a);
    EXPECT_GE(sut->reduction_s, base->reduction_s) << solver::algorithm_name(a);
  }
}

}  // namespace
}  // namespace slimcache::config

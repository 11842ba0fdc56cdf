#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/cli/cli.hpp"

namespace slimcache::agent::cli {
namespace {

// Runs `slimctl replay ARGS...`, capturing stdout and stderr.
struct Run {
  int exit_code = -1;
  std::string out;
  std::string err;
};

Run run_replay(std::vector<std::string> args) {
  CLI::App app;
  Context ctx;
  add_replay_command(app, ctx);
  std::vector<const char*> argv = {"slimctl", "replay"};
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out;
  std::ostringstream err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  Run r;
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
    r.exit_code = ctx.exit_code;
  } catch (const CLI::ParseError& e) {
    r.exit_code = k_exit_bad_input;
  }
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

std::string write_trace(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name + "-" + std::to_string(::getpid()) + ".jsonl";
  std::ofstream(path) << text;
  return path;
}

TEST(ReplayCommand, PrintsOneJsonObjectWithEveryPolicy) {
  std::string text;
  for (int t = 0; t < 30; ++t)
    text += "{\"tok\": " + std::to_string(t) + ", \"layers\": [[" + std::to_string(t % 3) + ", 3], [" +
            std::to_string(t % 4) + ", 4]]}\n";
  const auto path = write_trace("replay-ok", text);
  const auto r = run_replay({"--trace", path, "--cache-pages", "4", "--json"});
  ASSERT_EQ(r.exit_code, k_exit_ok) << r.err;
  const auto json = nlohmann::json::parse(r.out);
  EXPECT_EQ(json["default_policy"], "slim");
  EXPECT_EQ(json["capacity_pages"], 4);
  ASSERT_EQ(json["policies"].size(), 10U);
  for (const auto& p : json["policies"]) {
    EXPECT_EQ(p["requests"], 30 * 2 * 2) << p["name"];
    EXPECT_GE(p["misses"].get<int>(), p["cold_misses"].get<int>()) << p["name"];
    EXPECT_TRUE(p.contains("miss_ratio"));
    EXPECT_TRUE(p.contains("ratio_to_belady"));
  }
}

TEST(ReplayCommand, AMalformedLineIsReportedWithItsNumberAndExitsNonZero) {
  const auto path = write_trace("replay-bad", "{\"tok\": 1, \"layers\": [[0, 1], [2, 3]]}\n{\"tok\": 2, \"layers\": [[0, 1]\n");
  const auto r = run_replay({"--trace", path, "--cache-pages", "4"});
  EXPECT_EQ(r.exit_code, k_exit_bad_input);
  EXPECT_NE(r.err.find(path + ":2:"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(ReplayCommand, ACacheSmallerThanTopKIsAClearError) {
  const auto path = write_trace("replay-small", "{\"tok\": 1, \"layers\": [[0, 1, 2], [2, 3, 4]]}\n");
  const auto r = run_replay({"--trace", path, "--cache-pages", "2", "--policy", "llru"});
  EXPECT_EQ(r.exit_code, k_exit_bad_input);
  EXPECT_NE(r.err.find("top-K"), std::string::npos) << r.err;
}

TEST(ReplayCommand, NeedsACacheSize) {
  const auto path = write_trace("replay-nosize", "{\"tok\": 1, \"layers\": [[0], [1]]}\n");
  EXPECT_EQ(run_replay({"--trace", path}).exit_code, k_exit_bad_input);
  EXPECT_EQ(run_replay({"--trace", path, "--cache-pages", "2", "--cache-fraction", "0.5"}).exit_code, k_exit_bad_input);
}

}  // namespace
}  // namespace slimcache::agent::cli

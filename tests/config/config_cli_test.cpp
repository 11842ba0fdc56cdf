// `slimctl config ...` run in-process through CLI11 (tests link libraries, not executables).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/cli/cli.hpp"
#include "config/daemon_config.hpp"

namespace slimcache::agent::cli {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

CliRun slimctl(const std::string& args) {
  CLI::App app{"slimctl"};
  Context ctx;
  add_config_command(app, ctx);
  std::ostringstream out;
  std::ostringstream err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  CliRun run;
  try {
    app.parse(args, false);
    run.exit_code = ctx.exit_code;
  } catch (const CLI::ParseError& e) {
    run.exit_code = app.exit(e, out, err) == 0 ? 0 : k_exit_bad_input;
  }
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

class ConfigCli : public ::testing::Test {
 protected:
  ConfigCli() {
    static int counter = 0;
    m_dir = fs::temp_directory_path() / ("slimcache-cli-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(m_dir);
    // Automatic directories must not depend on who runs the test.
    write("base.toml", "[node]\nname = \"n1\"\nstate_dir = \"/tmp/slimcache-test-state\"\n"
                       "[admin]\nsocket_path = \"/tmp/slimcache-test-state/admin.sock\"\n");
  }
  ~ConfigCli() override {
    std::error_code ec;
    fs::remove_all(m_dir, ec);
  }
  fs::path write(const std::string& name, const std::string& text) {
    const fs::path p = m_dir / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p;
  }
  fs::path m_dir;
};

TEST_F(ConfigCli, AValidFileExitsZeroWithASummary) {
  const CliRun sut = slimctl("config check " + (m_dir / "base.toml").string());
  EXPECT_EQ(sut.exit_code, k_exit_ok) << sut.err;
  EXPECT_THAT(sut.out, HasSubstr("configuration is valid"));
  EXPECT_THAT(sut.out, HasSubstr("n1 (server, client)"));
  EXPECT_TRUE(sut.err.empty());
}

TEST_F(ConfigCli, ReportsEveryErrorWithFileLineColumnAndKeyAndExitsTwo) {
  const auto file = write("bad.toml", "[node]\nname = \"a b\"\n[gossip]\nprobe_intervall = \"1s\"\n");
  const CliRun sut = slimctl("config check " + file.string());
  EXPECT_EQ(sut.exit_code, k_exit_bad_input);
  EXPECT_THAT(sut.err, HasSubstr(file.string() + ":2:8: node.name: "));
  EXPECT_THAT(sut.err, HasSubstr(file.string() + ":4:1: gossip.probe_intervall: unknown key"));
  EXPECT_THAT(sut.err, HasSubstr("2 errors"));
}

TEST_F(ConfigCli, JsonListsTheErrorsForScripts) {
  const auto file = write("bad.toml", "[metrics]\nport = -1\n");
  const CliRun sut = slimctl("config check --json " + file.string());
  EXPECT_EQ(sut.exit_code, k_exit_bad_input);
  const auto json = nlohmann::json::parse(sut.out);
  EXPECT_FALSE(json["valid"].get<bool>());
  ASSERT_EQ(json["errors"].size(), 1u);
  EXPECT_EQ(json["errors"][0]["file"], file.string());
  EXPECT_EQ(json["errors"][0]["line"], 2);
  EXPECT_EQ(json["errors"][0]["column"], 8);
  EXPECT_EQ(json["errors"][0]["key"], "metrics.port");
}

TEST_F(ConfigCli, JsonOfAValidConfigCarriesTheEffectiveConfig) {
  const CliRun sut = slimctl("config check --json " + (m_dir / "base.toml").string());
  EXPECT_EQ(sut.exit_code, k_exit_ok);
  const auto json = nlohmann::json::parse(sut.out);
  EXPECT_TRUE(json["valid"].get<bool>());
  EXPECT_EQ(json["config"]["node"]["name"], "n1");
  EXPECT_EQ(json["config"]["gossip"]["probe_interval"], "1s");
}

TEST_F(ConfigCli, ShowPrintsTheEffectiveConfigWhichIsItselfValid) {
  write("conf.d/10-debug.toml", "[logging]\nlevel = \"debug\"\n");
  const CliRun sut = slimctl("config check --show --drop-in " + (m_dir / "conf.d").string() + " " +
                          (m_dir / "base.toml").string());
  ASSERT_EQ(sut.exit_code, k_exit_ok) << sut.err;
  EXPECT_THAT(sut.out, HasSubstr("level = \"debug\""));
  const auto shown = write("shown.toml", sut.out);
  EXPECT_EQ(slimctl("config check " + shown.string()).exit_code, k_exit_ok);
}

TEST_F(ConfigCli, AMissingDropInDirectoryIsBadInput) {
  const CliRun sut = slimctl("config check --drop-in " + (m_dir / "none").string() + " " + (m_dir / "base.toml").string());
  EXPECT_EQ(sut.exit_code, k_exit_bad_input);
  EXPECT_THAT(sut.err, HasSubstr("drop-in directory"));
}

TEST_F(ConfigCli, ExamplePrintsTheExampleFile) {
  const CliRun sut = slimctl("config example");
  EXPECT_EQ(sut.exit_code, k_exit_ok);
  EXPECT_EQ(sut.out, config::format_example());
}

TEST_F(ConfigCli, ReferencePrintsOneRowPerKey) {
  const CliRun sut = slimctl("config reference");
  EXPECT_EQ(sut.exit_code, k_exit_ok);
  for (const auto& f : config::daemon_config_schema()) EXPECT_THAT(sut.out, HasSubstr("| `" + std::string(f.key) + "` |"));
}

}  // namespace
}  // namespace slimcache::agent::cli

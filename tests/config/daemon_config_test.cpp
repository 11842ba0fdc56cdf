#include "config/daemon_config.hpp"
#include "config/toml_text.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace slimcache::config {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

Environment test_env() {
  Environment env;
  env.hostname = "pi-07.lab.example";
  env.is_root = false;
  env.vars["HOME"] = "/home/tester";
  return env;
}

Expected<DaemonConfig, ConfigErrors> parse(const std::string& text, const Environment& env = test_env()) {
  return parse_daemon_config({{"main.toml", text}}, env);
}

std::string all_errors(const ConfigErrors& errors) {
  std::string out;
  for (const auto& e : errors) out += e.to_string() + "\n";
  return out;
}

// The only error of a config that must fail with exactly one error.
ConfigError single_error(const std::string& text) {
  auto sut = parse(text);
  if (sut.has_value()) {
    ADD_FAILURE() << "expected an error for:\n" << text;
    return {};
  }
  EXPECT_EQ(sut.error().size(), 1u) << all_errors(sut.error());
  return sut.error().front();
}

// A scratch directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    m_path = fs::temp_directory_path() /
             ("slimcache-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(m_path);
    fs::create_directories(m_path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(m_path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const fs::path& path() const { return m_path; }
  fs::path write(const std::string& name, const std::string& text, mode_t mode = 0600) const {
    const fs::path p = m_path / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    ::chmod(p.c_str(), mode);
    return p;
  }

 private:
  fs::path m_path;
};

// ---------------------------------------------------------------- defaults
TEST(DaemonConfig, NoSourcesGiveASingleLoopbackNodeOnDefaults) {
  auto sut = parse_daemon_config({}, test_env());
  ASSERT_TRUE(sut.has_value()) << all_errors(sut.error());
  EXPECT_EQ(sut->node.name, "pi-07");
  EXPECT_EQ(sut->node.state_dir, "/home/tester/.local/state/slimcache");
  EXPECT_EQ(sut->node.data_dir, "/home/tester/.local/state/slimcache/experts");
  EXPECT_EQ(sut->network.bind_address, "127.0.0.1");
  EXPECT_EQ(sut->network.advertise_address, "127.0.0.1");
  EXPECT_TRUE(sut->cluster.seeds.empty());
  EXPECT_FALSE(sut->metrics.enabled);
  EXPECT_EQ(sut->gossip.timing, *gossip_profile("lan"));
  EXPECT_TRUE(sut->source_files.empty());
}

TEST(DaemonConfig, AutomaticDirectoriesFollowSystemdThenRootThenXdg) {
  Environment env = test_env();
  env.vars["STATE_DIRECTORY"] = "/var/lib/slimcache:/var/lib/other";
  env.vars["RUNTIME_DIRECTORY"] = "/run/slimcache";
  auto systemd = parse("", env);
  ASSERT_TRUE(systemd.has_value());
  EXPECT_EQ(systemd->node.state_dir, "/var/lib/slimcache");
  EXPECT_EQ(systemd->admin.socket_path, "/run/slimcache/admin.sock");

  Environment root = test_env();
  root.is_root = true;
  auto as_root = parse("", root);
  ASSERT_TRUE(as_root.has_value());
  EXPECT_EQ(as_root->node.state_dir, "/var/lib/slimcache");
  EXPECT_EQ(as_root->admin.socket_path, "/run/slimcache/admin.sock");

  Environment xdg = test_env();
  xdg.vars["XDG_STATE_HOME"] = "/x/state";
  xdg.vars["XDG_RUNTIME_DIR"] = "/run/user/1000";
  auto user = parse("", xdg);
  ASSERT_TRUE(user.has_value());
  EXPECT_EQ(user->node.state_dir, "/x/state/slimcache");
  EXPECT_EQ(user->admin.socket_path, "/run/user/1000/slimcache/admin.sock");
}

TEST(DaemonConfig, NoUsableDefaultStateDirectoryIsAnError) {
  Environment env;
  env.vars.clear();
  auto sut = parse("", env);
  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().front().key, "node.state_dir");
}

// ---------------------------------------------------------------- errors
TEST(DaemonConfig, SyntaxErrorsCarryFileLineAndColumn) {
  auto sut = parse("[node]\nname = \"a\"\nroles = [\"server\"\n");
  ASSERT_FALSE(sut.has_value());
  const ConfigError& e = sut.error().front();
  EXPECT_EQ(e.file, "main.toml");
  EXPECT_GE(e.line, 3u);
  EXPECT_GT(e.column, 0u);
  EXPECT_THAT(e.to_string(), ::testing::StartsWith("main.toml:" + std::to_string(e.line) + ":"));
}

TEST(DaemonConfig, UnknownKeysAreErrorsWithASuggestion) {
  const ConfigError e = single_error("[gossip]\nprobe_timout = \"1s\"\n");
  EXPECT_EQ(e.key, "gossip.probe_timout");
  EXPECT_EQ(e.line, 2u);
  EXPECT_EQ(e.column, 1u);
  EXPECT_THAT(e.message, HasSubstr("unknown key"));
  EXPECT_THAT(e.message, HasSubstr("gossip.probe_timeout"));
}

TEST(DaemonConfig, UnknownSectionsAndTopLevelKeysAreErrors) {
  EXPECT_THAT(single_error("[bogus]\nx = 1\n").message, HasSubstr("unknown section [bogus]"));
  EXPECT_THAT(single_error("verbose = true\n").message, HasSubstr("unknown key"));
  EXPECT_THAT(single_error("node = 3\n").message, HasSubstr("expected a table"));
}

TEST(DaemonConfig, EveryErrorIsReportedNotOnlyTheFirst) {
  auto sut = parse(
      "[node]\nname = \"bad name\"\n[network]\ngossip_port = 70000\n[gossip]\nfanout = 3\n"
      "[logging]\nlevel = \"loud\"\n");
  ASSERT_FALSE(sut.has_value());
  ASSERT_EQ(sut.error().size(), 4u) << all_errors(sut.error());
  EXPECT_EQ(sut.error()[0].key, "node.name");
  EXPECT_EQ(sut.error()[1].key, "network.gossip_port");
  EXPECT_EQ(sut.error()[2].key, "gossip.fanout");
  EXPECT_EQ(sut.error()[3].key, "logging.level");
  EXPECT_EQ(sut.error()[3].line, 8u);
  EXPECT_EQ(sut.error()[3].column, 9u);
}

TEST(DaemonConfig, WrongTypesAreNamed) {
  EXPECT_THAT(single_error("[node]\nname = 3\n").message, HasSubstr("expected a string, got an integer"));
  EXPECT_THAT(single_error("[metrics]\nenabled = \"yes\"\n").message, HasSubstr("expected true or false"));
  EXPECT_THAT(single_error("[network]\ngossip_port = \"7946\"\n").message, HasSubstr("expected an integer"));
  EXPECT_THAT(single_error("[cluster]\nseeds = \"a:1\"\n").message, HasSubstr("expected an array of strings"));
  EXPECT_THAT(single_error("[cluster]\nseeds = [1]\n").message, HasSubstr("found an integer"));
  EXPECT_THAT(single_error("[placement]\nepsilon = true\n").message, HasSubstr("expected a number"));
  EXPECT_THAT(single_error("[budgets]\ndisk = true\n").message, HasSubstr("expected a size"));
  EXPECT_THAT(single_error("[gossip]\nprobe_interval = 1000\n").message, HasSubstr("expected a duration"));
  EXPECT_THAT(single_error("[admin]\nmode = true\n").message, HasSubstr("expected an octal mode"));
}

TEST(DaemonConfig, IntegerFloatAndPortBoundsAreEnforced) {
  EXPECT_THAT(single_error("[gossip]\ngossip_fanout = 0\n").message, HasSubstr("between 1 and 64"));
  EXPECT_THAT(single_error("[gossip]\nmax_packet_size = 1500\n").message, HasSubstr("between 512 and 1400"));
  EXPECT_THAT(single_error("[network]\ntransfer_port = -1\n").message, HasSubstr("between 0 and 65535"));
  EXPECT_THAT(single_error("[placement]\nepsilon = 0.9\n").message, HasSubstr("between 0.001 and 0.5"));
  EXPECT_THAT(single_error("[placement]\ndrift_threshold = nan\n").message, HasSubstr("between 0 and 1"));
  auto ok = parse("[placement]\nmigration_weight = 2\n");  // an integer is a valid float
  ASSERT_TRUE(ok.has_value()) << all_errors(ok.error());
  EXPECT_EQ(ok->placement.migration_weight, 2.0);
}

TEST(DaemonConfig, SizesTakeUnitsAndRespectBounds) {
  auto sut = parse("[budgets]\ndisk = \"4GiB\"\nmemory = \"512MB\"\n");
  ASSERT_TRUE(sut.has_value()) << all_errors(sut.error());
  EXPECT_EQ(sut->budgets.disk, 4ull << 30);
  EXPECT_EQ(sut->budgets.memory, 512'000'000ull);
  EXPECT_THAT(single_error("[budgets]\ndisk = \"4 parsecs\"\n").message, HasSubstr("unknown unit"));
  EXPECT_THAT(single_error("[budgets]\ndisk = \"17TiB\"\n").message, HasSubstr("between 0 and 16TiB"));
  EXPECT_THAT(single_error("[budgets]\ndisk = -5\n").message, HasSubstr("negative"));
  EXPECT_THAT(single_error("[budgets]\ndisk = \"0.5B\"\n").message, HasSubstr("whole number"));
}

TEST(DaemonConfig, DurationsTakeUnitsAndRespectBounds) {
  auto sut = parse("[gossip]\nprobe_interval = \"30s500ms\"\nprobe_timeout = \"1.5s\"\n");
  ASSERT_TRUE(sut.has_value()) << all_errors(sut.error());
  EXPECT_EQ(sut->gossip.timing.probe_interval, Millis{30'500});
  EXPECT_EQ(sut->gossip.timing.probe_timeout, Millis{1'500});
  EXPECT_THAT(single_error("[gossip]\nprobe_interval = \"10\"\n").message, HasSubstr("missing unit"));
  EXPECT_THAT(single_error("[gossip]\nprobe_interval = \"10y\"\n").message, HasSubstr("unknown unit"));
  EXPECT_THAT(single_error("[gossip]\nprobe_interval = \"2h\"\n").message, HasSubstr("between 100ms and 1m"));
}

TEST(DaemonConfig, AdminModeRefusesAccessForOthers) {
  auto sut = parse("[admin]\nmode = \"0640\"\n");
  ASSERT_TRUE(sut.has_value()) << all_errors(sut.error());
  EXPECT_EQ(sut->admin.mode, 0640u);
  EXPECT_THAT(single_error("[admin]\nmode = 0o666\n").message, HasSubstr("others"));
  EXPECT_THAT(single_error("[admin]\nmode = 0o460\n").message, HasSubstr("owner read and write"));
  EXPECT_THAT(single_error("[admin]\nmode = \"rw\"\n").message, HasSubstr("octal"));
}

TEST(DaemonConfig, StringsNamesPathsAndAddressesAreChecked) {
  EXPECT_THAT(single_error("[node]\nname = \"a b\"\n").message, HasSubstr("only letters"));
  EXPECT_THAT(single_error("[node]\nstate_dir = \"var/lib\"\n").message, HasSubstr("absolute"));
  EXPECT_THAT(single_error("[network]\nbind_address = \"localhost\"\n").message, HasSubstr("IPv4 or IPv6"));
  EXPECT_THAT(single_error("[cluster]\nlabel = \"" + std::string(256, 'x') + "\"\n").message,
              HasSubstr("longer than 255"));
  EXPECT_THAT(single_error("[security]\nkeyring_files = [\"keys\"]\n").message, HasSubstr("absolute"));
}

TEST(DaemonConfig, EnumsAndEnumListsAcceptOnlyTheirChoices) {
  EXPECT_THAT(single_error("[cache]\npolicy = \"belady\"\n").message, HasSubstr("is not one of"));
  EXPECT_THAT(single_error("[node]\nroles = [\"server\", \"server\"]\n").message, HasSubstr("listed twice"));
  EXPECT_THAT(single_error("[node]\nroles = []\n").message, HasSubstr("between 1 and 2 entries"));
  EXPECT_THAT(single_error("[node]\nroles = [\"gpu\"]\n").message, HasSubstr("\"gpu\""));
}

TEST(DaemonConfig, SeedsMustBeHostAndPort) {
  auto sut = parse("[cluster]\nseeds = [\"10.0.0.2:7946\", \"pi-02.lan:7946\", \"[fe80::1]:7946\"]\n");
  ASSERT_TRUE(sut.has_value()) << all_errors(sut.error());
  EXPECT_EQ(sut->cluster.seeds.size(), 3u);
  EXPECT_THAT(single_error("[cluster]\nseeds = [\"10.0.0.2\"]\n").message, HasSubstr("no port"));
  EXPECT_THAT(single_error("[cluster]\nseeds = [\"10.0.0.2:0\"]\n").message, HasSubstr("between 1 and 65535"));
  EXPECT_THAT(single_error("[cluster]\nseeds = [\"fe80::1:7946\"]\n").message, HasSubstr("[address]:port"));
  const ConfigError e = single_error("[cluster]\nseeds = [\"a:1\",\n  \"b\"]\n");
  EXPECT_EQ(e.line, 3u);  // the bad item, not the key
}

TEST(DaemonConfig, RemainingBoundsAndFormatsAreChecked) {
  EXPECT_THAT(single_error("[cluster]\nlabel = \"a\\u0001b\"\n").message, HasSubstr("control characters"));
  EXPECT_THAT(single_error("[node]\nname = \"" + std::string(65, 'n') + "\"\n").message, HasSubstr("longer than 64"));
  EXPECT_THAT(single_error("[admin]\nsocket_path = \"/" + std::string(107, 's') + "\"\n").message,
              HasSubstr("longer than 107"));
  EXPECT_THAT(single_error("[admin]\nmode = 0o1770\n").message, HasSubstr("not a permission mode"));
  EXPECT_THAT(single_error("[budgets]\ndisk = \"20000000TB\"\n").message, HasSubstr("too large"));
  EXPECT_THAT(single_error("[cluster]\nseeds = [\"[::1]7946\"]\n").message, HasSubstr("[address]:port"));
  EXPECT_THAT(single_error("[cluster]\nseeds = [\"[zz]:7946\"]\n").message, HasSubstr("not an IPv6 address"));
  EXPECT_THAT(single_error("[cluster]\nseeds = [\"a b:7946\"]\n").message, HasSubstr("not a host name"));
  EXPECT_THAT(single_error("[cluster]\nseeds = [\"a:http\"]\n").message, HasSubstr("not a port number"));
  EXPECT_THAT(single_error("[cluster]\nseeds = [" + [] {
    std::string items;
    for (int i = 0; i < 65; ++i) items += std::string(i ? ", " : "") + "\"h:" + std::to_string(i + 1) + "\"";
    return items;
  }() + "]\n").message, HasSubstr("between 0 and 64 entries"));
}

TEST(DaemonConfig, ATooLongAutomaticSocketPathMustBeSet) {
  Environment env = test_env();
  env.vars["XDG_RUNTIME_DIR"] = "/run/" + std::string(100, 'u');
  auto sut = parse("", env);
  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().front().key, "admin.socket_path");
  EXPECT_THAT(sut.error().front().message, HasSubstr("set it"));
}

// ---------------------------------------------------------------- cross-checks
TEST(DaemonConfig, CrossChecksNameTheKeyThatWasSet) {
  const ConfigError timeout = single_error("[gossip]\nprobe_timeout = \"2s\"\n");
  EXPECT_EQ(timeout.key, "gossip.probe_timeout");
  EXPECT_EQ(timeout.line, 2u);
  EXPECT_THAT(single_error("[budgets]\ndisk = \"1GiB\"\nmemory = \"2GiB\"\n").message, HasSubstr("exceeds the disk"));
  EXPECT_THAT(single_error("[network]\ntransfer_port = 7946\n").message, HasSubstr("network.gossip_port"));
  EXPECT_THAT(single_error("[metrics]\naddress = \"10.0.0.1\"\n").message, HasSubstr("loopback"));
  EXPECT_THAT(single_error("[network]\nbind_address = \"0.0.0.0\"\n").message, HasSubstr("security.keyring_files"));
  EXPECT_THAT(single_error("[node]\nstate_dir = \"/a\"\ndata_dir = \"/a\"\n").message, HasSubstr("differ"));
  EXPECT_EQ(single_error("[metrics]\nenabled = true\nport = 7948\n").key, "metrics.port");
}

TEST(DaemonConfig, AValueThatFailedDoesNotCauseASecondMisleadingError) {
  // probe_interval is invalid, so the default 1s must not be compared with the 2s timeout.
  const ConfigError e = single_error("[gossip]\nprobe_interval = \"forever\"\nprobe_timeout = \"2s\"\n");
  EXPECT_EQ(e.key, "gossip.probe_interval");
}

TEST(DaemonConfig, PortZeroMeansAnyAndMayRepeat) {
  auto sut = parse("[network]\ngossip_port = 0\ntransfer_port = 0\nexecution_port = 0\n");
  EXPECT_TRUE(sut.has_value()) << all_errors(sut.error());
}

// ---------------------------------------------------------------- profiles and drop-ins
TEST(DaemonConfig, ProfilePresetsMatchMemberlist) {
  auto sut = parse("[gossip]\nprofile = \"wan\"\n");
  ASSERT_TRUE(sut.has_value()) << all_errors(sut.error());
  EXPECT_EQ(sut->gossip.timing.probe_interval, Millis{5000});
  EXPECT_EQ(sut->gossip.timing.probe_timeout, Millis{3000});
  EXPECT_EQ(sut->gossip.timing.suspicion_multiplier, 6u);
  EXPECT_EQ(gossip_profile("local")->probe_timeout, Millis{200});
  EXPECT_EQ(gossip_profile("lan")->gossip_fanout, 3u);
  EXPECT_EQ(gossip_profile("mars"), nullptr);
}

TEST(DaemonConfig, OverridesWinOverAProfileSetInALaterFile) {
  auto sut = parse_daemon_config(
      {{"main.toml", "[gossip]\nprobe_interval = \"7s\"\n"}, {"config.d/10.toml", "[gossip]\nprofile = \"wan\"\n"}},
      test_env());
  ASSERT_TRUE(sut.has_value()) << all_errors(sut.error());
  EXPECT_EQ(sut->gossip.profile, "wan");
  EXPECT_EQ(sut->gossip.timing.probe_interval, Millis{7000});
  EXPECT_EQ(sut->gossip.timing.probe_timeout, Millis{3000});
}

TEST(DaemonConfig, LaterSourcesOverrideKeysAndReplaceArrays) {
  auto sut = parse_daemon_config({{"main.toml", "[cluster]\nseeds = [\"a:1\", \"b:2\"]\nlabel = \"x\"\n"},
                                  {"config.d/10.toml", "[cluster]\nseeds = [\"c:3\"]\n"}},
                                 test_env());
  ASSERT_TRUE(sut.has_value()) << all_errors(sut.error());
  EXPECT_EQ(sut->cluster.seeds, std::vector<std::string>{"c:3"});
  EXPECT_EQ(sut->cluster.label, "x");
  EXPECT_EQ(sut->source_files, (std::vector<std::string>{"main.toml", "config.d/10.toml"}));
}

TEST(DaemonConfig, ErrorsInDifferentFilesAreAllReportedInReadingOrder) {
  auto sut = parse_daemon_config({{"main.toml", "[cache]\npolicy = \"x\"\n"},
                                  {"config.d/10.toml", "[cache\n"},
                                  {"config.d/20.toml", "[logging]\nlevel = 1\n"}},
                                 test_env());
  ASSERT_FALSE(sut.has_value());
  ASSERT_EQ(sut.error().size(), 3u) << all_errors(sut.error());
  EXPECT_EQ(sut.error()[0].file, "main.toml");
  EXPECT_EQ(sut.error()[1].file, "config.d/10.toml");
  EXPECT_EQ(sut.error()[2].file, "config.d/20.toml");
}

TEST(LoadDaemonConfig, ReadsTheMainFileAndItsDropInsInNameOrder) {
  TempDir dir;
  const auto main = dir.write("slimcached.toml", "[logging]\nlevel = \"debug\"\n[cache]\nprefetch_depth = 3\n");
  dir.write("config.d/20-late.toml", "[cache]\nprefetch_depth = 20\n");
  dir.write("config.d/10-early.toml", "[cache]\nprefetch_depth = 10\nprefetch = false\n");
  dir.write("config.d/30-ignored.conf", "this is not toml");
  LoadOptions options;
  options.config_file = main.string();
  options.environment = test_env();
  auto sut = load_daemon_config(options);
  ASSERT_TRUE(sut.has_value()) << all_errors(sut.error());
  EXPECT_EQ(sut->logging.level, "debug");
  EXPECT_EQ(sut->cache.prefetch_depth, 20u);
  EXPECT_FALSE(sut->cache.prefetch);
  EXPECT_EQ(sut->source_files.size(), 3u);
}

TEST(LoadDaemonConfig, AMissingFileOrExplicitDropInDirectoryIsAnError) {
  TempDir dir;
  LoadOptions options;
  options.environment = test_env();
  options.config_file = (dir.path() / "absent.toml").string();
  auto missing = load_daemon_config(options);
  ASSERT_FALSE(missing.has_value());
  EXPECT_THAT(missing.error().front().to_string(), HasSubstr("absent.toml"));

  LoadOptions drop_in;
  drop_in.environment = test_env();
  drop_in.drop_in_dir = (dir.path() / "nope.d").string();
  auto no_dir = load_daemon_config(drop_in);
  ASSERT_FALSE(no_dir.has_value());
  EXPECT_THAT(no_dir.error().front().message, HasSubstr("drop-in directory"));
}

TEST(LoadDaemonConfig, ErrorsNameTheDropInFile) {
  TempDir dir;
  const auto main = dir.write("slimcached.toml", "");
  dir.write("config.d/50-bad.toml", "\n[metrics]\nport = 99999\n");
  LoadOptions options;
  options.config_file = main.string();
  options.environment = test_env();
  auto sut = load_daemon_config(options);
  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().front().to_string(),
            (dir.path() / "config.d/50-bad.toml").string() + ":3:8: metrics.port: 99999 is not between 0 and 65535");
}

// ---------------------------------------------------------------- secrets
// Two AES-256 keys in base64 (32 bytes each).
constexpr const char* k_key_a = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr const char* k_key_b = "HxgdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";
TEST(DaemonConfigSecrets, ReadsKeyFilesWithSafePermissions) {
  TempDir dir;
  const auto keys = dir.write("keyring", std::string("# primary first\n") + k_key_a + "\n\n" + k_key_b + "\n", 0600);
  const auto psk = dir.write("psk", "psk-bytes", 0400);
  auto sut = parse("[security]\nkeyring_files = [\"" + keys.string() + "\"]\ntls_psk_file = \"" + psk.string() + "\"\n");
  ASSERT_TRUE(sut.has_value()) << all_errors(sut.error());
  ASSERT_EQ(sut->security.keyring_contents.size(), 1u);
  EXPECT_THAT(sut->security.keyring_contents[0], HasSubstr(k_key_b));
  EXPECT_EQ(sut->security.tls_psk, "psk-bytes");
}

TEST(DaemonConfigSecrets, KeyringFilesHoldBase64Aes256Keys) {
  TempDir dir;
  const auto short_key = dir.write("short", std::string(k_key_a) + "\nc2hvcnQ=\n", 0600);
  const ConfigError e = single_error("[security]\nkeyring_files = [\"" + short_key.string() + "\"]\n");
  EXPECT_THAT(e.message, HasSubstr(short_key.string() + ":2: not a base64 AES-256 key"));
  const auto garbage = dir.write("garbage", "not base64 at all!\n", 0600);
  EXPECT_THAT(single_error("[security]\nkeyring_files = [\"" + garbage.string() + "\"]\n").message,
              HasSubstr(":1: not a base64"));
  const auto comments = dir.write("comments", "# no keys here\n", 0600);
  EXPECT_THAT(single_error("[security]\nkeyring_files = [\"" + comments.string() + "\"]\n").message,
              HasSubstr("holds no key"));
}

TEST(DaemonConfigSecrets, RefusesGroupOrWorldReadableFilesNamingFileAndMode) {
  TempDir dir;
  const auto keys = dir.write("keyring", k_key_a, 0644);
  const ConfigError e = single_error("[security]\nkeyring_files = [\"" + keys.string() + "\"]\n");
  EXPECT_EQ(e.key, "security.keyring_files");
  EXPECT_EQ(e.line, 2u);
  EXPECT_THAT(e.message, HasSubstr(keys.string()));
  EXPECT_THAT(e.message, HasSubstr("mode 0644"));
  const auto group = dir.write("psk", "k", 0640);
  EXPECT_THAT(single_error("[security]\ntls_psk_file = \"" + group.string() + "\"\n").message, HasSubstr("mode 0640"));
}

TEST(DaemonConfigSecrets, ChecksTheTargetOfASymlink) {
  TempDir dir;
  const auto bad_target = dir.write("world-readable", "k", 0644);
  const auto good_target = dir.write("private", "k", 0600);
  fs::create_symlink(bad_target, dir.path() / "bad-link");
  fs::create_symlink(good_target, dir.path() / "good-link");
  const ConfigError e = single_error("[security]\ntls_psk_file = \"" + (dir.path() / "bad-link").string() + "\"\n");
  EXPECT_THAT(e.message, HasSubstr("symlink to " + fs::canonical(bad_target).string()));
  EXPECT_THAT(e.message, HasSubstr("mode 0644"));
  auto ok = parse("[security]\ntls_psk_file = \"" + (dir.path() / "good-link").string() + "\"\n");
  EXPECT_TRUE(ok.has_value()) << all_errors(ok.error());
}

TEST(DaemonConfigSecrets, RefusesMissingEmptyAndNonRegularFiles) {
  TempDir dir;
  const auto empty = dir.write("empty", "", 0600);
  fs::create_directories(dir.path() / "adir");
  ::chmod((dir.path() / "adir").c_str(), 0700);
  EXPECT_THAT(single_error("[security]\ntls_psk_file = \"" + (dir.path() / "none").string() + "\"\n").message,
              HasSubstr("No such file"));
  EXPECT_THAT(single_error("[security]\ntls_psk_file = \"" + empty.string() + "\"\n").message, HasSubstr("empty"));
  EXPECT_THAT(single_error("[security]\ntls_psk_file = \"" + (dir.path() / "adir").string() + "\"\n").message,
              HasSubstr("not a regular file"));
}

TEST(DaemonConfigSecrets, RefusesFilesOver64KiB) {
  TempDir dir;
  const auto big = dir.write("big", std::string(65537, 'k'), 0600);
  EXPECT_THAT(single_error("[security]\ntls_psk_file = \"" + big.string() + "\"\n").message, HasSubstr("64 KiB"));
}

TEST(DaemonConfigSecrets, ANonLoopbackBindIsAcceptedWithAKeyring) {
  TempDir dir;
  const auto keys = dir.write("keyring", k_key_a, 0600);
  auto sut = parse("[network]\nbind_address = \"0.0.0.0\"\nadvertise_address = \"192.168.1.7\"\n"
                   "[security]\nkeyring_files = [\"" + keys.string() + "\"]\n");
  ASSERT_TRUE(sut.has_value()) << all_errors(sut.error());
  EXPECT_EQ(sut->network.advertise_address, "192.168.1.7");
}

// ---------------------------------------------------------------- units and rendering
TEST(DaemonConfigUnits, BytesAndDurationsRoundTrip) {
  for (std::uint64_t v : {0ull, 1ull, 1000ull, 1024ull, 4ull << 30, 3ull * 1000 * 1000 * 1000, 123457ull}) {
    auto back = parse_bytes(format_bytes_value(v));
    ASSERT_TRUE(back.has_value()) << format_bytes_value(v);
    EXPECT_EQ(*back, v);
  }
  for (long ms : {0L, 1L, 999L, 1000L, 90'500L, 3'600'000L, 86'400'001L}) {
    auto back = parse_duration(format_duration_value(Millis{ms}));
    ASSERT_TRUE(back.has_value()) << format_duration_value(Millis{ms});
    EXPECT_EQ(back->count(), ms);
  }
  EXPECT_EQ(format_bytes_value(16ull << 30), "16GiB");
  EXPECT_EQ(format_duration_value(Millis{90'000}), "1m30s");
  EXPECT_FALSE(parse_bytes("1.2.3GB").has_value());
  EXPECT_FALSE(parse_duration("s").has_value());
  EXPECT_FALSE(parse_duration("1.0005s").has_value());
}

TEST(DaemonConfigRendering, TheEffectiveConfigReparsesToItself) {
  auto sut = parse("[node]\nname = \"n1\"\n[gossip]\nprofile = \"local\"\n[admin]\nmode = 0o640\ngroup = \"slimcache\"\n"
                   "[cluster]\nlabel = \"say \\\"hi\\\"\"\nseeds = [\"[::1]:7000\"]\n[placement]\nhysteresis = 0.125\n");
  ASSERT_TRUE(sut.has_value()) << all_errors(sut.error());
  const std::string text = format_config(*sut, Format::k_toml);
  auto again = parse(text);
  ASSERT_TRUE(again.has_value()) << all_errors(again.error()) << text;
  EXPECT_EQ(format_config(*again, Format::k_toml), text);
  EXPECT_THAT(text, HasSubstr("mode = 0o640"));
  EXPECT_THAT(format_config(*sut, Format::k_json), HasSubstr("\"mode\":\"0640\""));
  EXPECT_THAT(format_config(*sut, Format::k_json), HasSubstr("\"hysteresis\":0.125"));
}

TEST(DaemonConfigRendering, TheSchemaHasUniqueKeysWithBoundsAndHelp) {
  std::set<std::string_view> keys;
  for (const auto& f : daemon_config_schema()) {
    EXPECT_TRUE(keys.insert(f.key).second) << f.key;
    EXPECT_FALSE(f.help.empty()) << f.key;
    EXPECT_FALSE(describe_bounds(f).empty()) << f.key;
  }
  EXPECT_GE(keys.size(), 45u);
}

// ---------------------------------------------------------------- reload
TEST(PlanReload, ARejectedConfigKeepsTheRunningOneAndSaysWhy) {
  auto running = parse("");
  ASSERT_TRUE(running.has_value());
  const ReloadPlan sut = plan_reload(*running, parse("[logging]\nlevel = \"loud\"\n"));
  EXPECT_FALSE(sut.accepted);
  ASSERT_EQ(sut.errors.size(), 1u);
  EXPECT_EQ(sut.errors[0].key, "logging.level");
  EXPECT_TRUE(sut.live.empty());
  EXPECT_TRUE(sut.restart.empty());
}

TEST(PlanReload, SeparatesLiveChangesFromThoseNeedingARestart) {
  auto running = parse("");
  ASSERT_TRUE(running.has_value());
  const ReloadPlan sut = plan_reload(*running, parse("[logging]\nlevel = \"debug\"\n[budgets]\ndisk = \"8GiB\"\n"
                                                     "[network]\ngossip_port = 9000\n"));
  ASSERT_TRUE(sut.accepted);
  ASSERT_EQ(sut.live.size(), 2u);
  EXPECT_EQ(sut.live[0].key, "budgets.disk");
  EXPECT_EQ(sut.live[0].old_value, "\"16GiB\"");
  EXPECT_EQ(sut.live[0].new_value, "\"8GiB\"");
  EXPECT_EQ(sut.live[1].key, "logging.level");
  ASSERT_EQ(sut.restart.size(), 1u);
  EXPECT_EQ(sut.restart[0].key, "network.gossip_port");
}

TEST(ApplyLive, TakesLiveKeysFromTheNewConfigAndKeepsTheRest) {
  auto running = parse("");
  auto next = parse("[logging]\nlevel = \"debug\"\n[network]\ngossip_port = 9000\n[cluster]\nseeds = [\"a:1\"]\n");
  ASSERT_TRUE(running.has_value());
  ASSERT_TRUE(next.has_value());
  const DaemonConfig sut = apply_live(*running, *next);
  EXPECT_EQ(sut.logging.level, "debug");
  EXPECT_EQ(sut.cluster.seeds, std::vector<std::string>{"a:1"});
  EXPECT_EQ(sut.network.gossip_port, 7946);
  const ReloadPlan after = plan_reload(sut, next);
  EXPECT_TRUE(after.live.empty());
  ASSERT_EQ(after.restart.size(), 1u);  // still pending until a restart
  EXPECT_EQ(after.restart[0].key, "network.gossip_port");
}

TEST(PlanReload, AnUnchangedConfigChangesNothing) {
  auto running = parse("[cache]\nprefetch = false\n");
  ASSERT_TRUE(running.has_value());
  const ReloadPlan sut = plan_reload(*running, parse("[cache]\nprefetch = false\n"));
  EXPECT_TRUE(sut.accepted);
  EXPECT_TRUE(sut.live.empty());
  EXPECT_TRUE(sut.restart.empty());
}

TEST(PlanReload, RotatedKeyContentsAreALiveChangeThatNeverShowsTheKeys) {
  TempDir dir;
  const auto keys = dir.write("keyring", k_key_a, 0600);
  const std::string text = "[security]\nkeyring_files = [\"" + keys.string() + "\"]\n";
  auto running = parse(text);
  ASSERT_TRUE(running.has_value()) << all_errors(running.error());
  dir.write("keyring", std::string(k_key_b) + "\n" + k_key_a, 0600);
  const ReloadPlan sut = plan_reload(*running, parse(text));
  ASSERT_TRUE(sut.accepted);
  ASSERT_EQ(sut.live.size(), 1u);
  EXPECT_EQ(sut.live[0].key, "security.keyring_files");
  EXPECT_THAT(sut.live[0].new_value, ::testing::Not(HasSubstr(k_key_b)));
}

// ---------------------------------------------------------------- the example file
std::string read_example() {
  std::ifstream in(std::string(SLIMCACHE_SOURCE_DIR) + "/config/slimcached.example.toml");
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

TEST(ExampleConfig, IsTheGeneratedExample) {
  const std::string text = read_example();
  ASSERT_FALSE(text.empty()) << "config/slimcached.example.toml is missing";
  EXPECT_EQ(text, format_example())
      << "regenerate it: slimctl config example > config/slimcached.example.toml";
}

TEST(ExampleConfig, ParsesToTheDefaults) {
  auto sut = parse(read_example());
  ASSERT_TRUE(sut.has_value()) << all_errors(sut.error());
  auto defaults = parse("");
  ASSERT_TRUE(defaults.has_value());
  EXPECT_EQ(format_config(*sut, Format::k_toml), format_config(*defaults, Format::k_toml));
}

TEST(ExampleConfig, ContainsEveryKeyOfTheSchemaAndStaysValidUncommented) {
  // Uncomment the commented-out keys ("# name = ..."), then every schema key must be set.
  const std::regex commented_key(R"(^# ([a-z_]+ = .*)$)");
  std::istringstream in(read_example());
  std::string line;
  std::string uncommented;
  std::set<std::string> seen;
  std::string section;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, commented_key)) line = m[1];
    if (line.size() > 2 && line.front() == '[') section = line.substr(1, line.size() - 2);
    const auto eq = line.find(" = ");
    if (eq != std::string::npos && line.front() != '#') seen.insert(section + "." + line.substr(0, eq));
    uncommented += line + "\n";
  }
  for (const auto& f : daemon_config_schema()) EXPECT_EQ(seen.count(std::string(f.key)), 1u) << f.key;
  EXPECT_EQ(seen.size(), daemon_config_schema().size());
  auto sut = parse(uncommented);
  EXPECT_TRUE(sut.has_value()) << all_errors(sut.error());
}

TEST(ConfigurationDocs, CarryTheGeneratedKeyReference) {
  std::ifstream in(std::string(SLIMCACHE_SOURCE_DIR) + "/docs/configuration.md");
  std::ostringstream os;
  os << in.rdbuf();
  EXPECT_NE(os.str().find(format_reference_markdown()), std::string::npos)
      << "regenerate the table at the end of docs/configuration.md with: slimctl config reference";
}

}  // namespace
}  // namespace slimcache::config

namespace slimcache::config {
namespace {

TEST(TomlTextScreen, RefusesWhatTomlppCannotTakeWithLineAndColumn) {
  EXPECT_FALSE(screen_toml_text("[node]\nname = \"n\u00e9\" # caf\u00e9 \U0001F600\n\tx = 1\r\n").has_value());

  const auto nul = screen_toml_text(std::string("[node]\n[\0am]", 12));
  ASSERT_TRUE(nul.has_value());
  EXPECT_EQ(nul->line, 2u);
  EXPECT_EQ(nul->column, 2u);
  EXPECT_TRUE(screen_toml_text("\xef\xbb\xb5" "e_dir = 1\n").has_value());   // broken BOM
  EXPECT_FALSE(screen_toml_text("\xef\xbb\xbf" "a = 1\n").has_value());      // a real BOM
  EXPECT_TRUE(screen_toml_text("a = \"\xc0\xaf\"\n").has_value());           // overlong
  EXPECT_TRUE(screen_toml_text("a = \"\xed\xa0\x80\"\n").has_value());       // surrogate
  EXPECT_TRUE(screen_toml_text("a = \"\xf4\x90\x80\x80\"\n").has_value());   // above U+10FFFF
  EXPECT_TRUE(screen_toml_text("a = \"\xe2\x82\"").has_value());             // truncated
  EXPECT_TRUE(screen_toml_text("a = 1\x7f\n").has_value());                  // DEL
}

TEST(TomlTextScreen, AcceptsNonAsciiOnlyInsideStringsAndComments) {
  EXPECT_FALSE(screen_toml_text("\xef\xbb\xbf# \u00e9\na = '\u00e9'\nb = \"\\\"\u00e9\"\n").has_value());
  EXPECT_FALSE(screen_toml_text("a = \"\"\"\n\u00e9 \"\" \u00e9\"\"\"\"\nb = '''\n''\u00e9'''\n\"k\u00e9y\" = 1\n").has_value());
  EXPECT_FALSE(screen_toml_text("a = \"\"  # \uFEBF\nb = ''\n").has_value());

  const auto key = screen_toml_text("a = 1\nk\u00e9y = 2\n");
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->line, 2u);
  EXPECT_EQ(key->column, 2u);
  // The fuzz finding: a code point TOML++ 3.3's whitespace table has no case for.
  EXPECT_TRUE(screen_toml_text("S2logg\uFEBF").has_value());
  EXPECT_TRUE(screen_toml_text("a = \"x\"\u3001= 1\n").has_value());       // after a closed string
  EXPECT_TRUE(screen_toml_text("a = \"\"\"x\"\"\"\u00a1\n").has_value());  // after a closed multi-line string
  EXPECT_TRUE(screen_toml_text("a = \"x\n\u00a1 = 1\n").has_value());       // a line feed ends a broken string
  // A quote inside a malformed value opens no string: TOML++ scans the whole token.
  EXPECT_TRUE(screen_toml_text("k =0)\"/none\u045d\n").has_value());
  EXPECT_TRUE(screen_toml_text("k = \"a\"\"\u045d\"\n").has_value());
  EXPECT_FALSE(screen_toml_text("a = [\n  \"\u00e9\",\n  '\u00e9' ]\nt = { \"\u00e9\" = 1, b.'\u00e9' = 2 }\n").has_value());
  EXPECT_TRUE(screen_toml_text("sll=0==0='\u042cTk'\n").has_value());  // a quote after `=` inside a value
  EXPECT_TRUE(screen_toml_text("a = 1 2 '\u00e9'\n").has_value());       // after a syntax error
  // Headers, arrays of tables, dotted and quoted keys, nested arrays, comments in arrays,
  // a date and a time apart, CRLF: all valid TOML, non-ASCII only in strings and comments.
  EXPECT_FALSE(screen_toml_text("[a.\"\u00e9\"] # \u00e9\r\nx.'\u00e9'.y = [[1, \"\u00e9\"], [] , [\n"
                                "  # \u00e9\n  2,\n]]\n[[b]]\nd = 1979-05-27 07:32:00Z  # \u00e9\n"
                                "s = \"\u00e9\"\nt = {}\nu = { v = { w = '\u00e9' } }\n").has_value());
  // A fuzz finding (the rendering did not load again): a bare value ends at the line's end.
  EXPECT_FALSE(screen_toml_text("port = 7946\nlabel = \"lab\ufeff\"\nn = [\n  1,\n  2\n]\nm = true\r\ns = '\u00e9'").has_value());
  // TOML++ skips the whitespace after a line-ending backslash through its whitespace table.
  EXPECT_TRUE(screen_toml_text("a = \"\"\"x\\\n  \u0743\"\"\"\n").has_value());
  EXPECT_TRUE(screen_toml_text("a = \"\"\"x\\ \u00e9\"\"\"\n").has_value());
  EXPECT_TRUE(screen_toml_text("a = \"\"\"\n\\\\\\\ufedf\"\"\"\n").has_value());  // an escaped non-ASCII character
  EXPECT_TRUE(screen_toml_text("a = \"\\\u00e9\"\n").has_value());
  EXPECT_FALSE(screen_toml_text("a = \"\"\"x\\\n  y\u0743 \u00e9\\\\\"\"\"\n").has_value());
}

TEST(TomlTextScreen, AConfigWithANulByteIsAnErrorNamingTheFileNotACrash) {
  const std::vector<ConfigSource> sources{{"bad.toml", std::string("[\0am]\n", 6)}};

  auto sut = parse_daemon_config(sources, Environment{});

  ASSERT_FALSE(sut.has_value());
  ASSERT_FALSE(sut.error().empty());
  EXPECT_NE(sut.error().front().to_string().find("bad.toml:1:2"), std::string::npos) << sut.error().front().to_string();
}

}  // namespace
}  // namespace slimcache::config

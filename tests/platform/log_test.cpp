#include "platform/log.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config/daemon_config.hpp"

namespace slimcache::platform {
namespace {

using ::testing::ElementsAre;

struct Captured {
  std::mutex mutex;
  std::vector<std::string> lines;
  Logger::Sink sink() {
    return [this](std::string_view line) {
      std::lock_guard lock(mutex);
      lines.emplace_back(line);
    };
  }
};

TEST(Logger, PrefixesEachLineWithItsJournaldPriority) {
  Captured out;
  Logger sut(LogLevel::k_debug, out.sink());
  sut.write(LogLevel::k_error, "disk full");
  sut.write(LogLevel::k_warning, "slow peer");
  sut.write(LogLevel::k_notice, "joined");
  sut.write(LogLevel::k_info, "epoch 3");
  sut.write(LogLevel::k_debug, "probe");
  EXPECT_THAT(out.lines, ElementsAre("<3>disk full\n", "<4>slow peer\n", "<5>joined\n", "<6>epoch 3\n", "<7>probe\n"));
}

TEST(Logger, DropsMessagesBelowItsLevelAndFollowsLevelChanges) {
  Captured out;
  Logger sut(LogLevel::k_warning, out.sink());
  sut.write(LogLevel::k_info, "hidden");
  sut.write(LogLevel::k_warning, "shown");
  sut.set_level(LogLevel::k_info);
  sut.write(LogLevel::k_info, "now shown");
  sut.write(LogLevel::k_debug, "still hidden");
  EXPECT_THAT(out.lines, ElementsAre("<4>shown\n", "<6>now shown\n"));
  EXPECT_EQ(sut.level(), LogLevel::k_info);
}

TEST(Logger, PrefixesEveryLineOfAMultiLineMessage) {
  Captured out;
  Logger sut(LogLevel::k_info, out.sink());
  sut.write(LogLevel::k_error, "first\nsecond\n");
  EXPECT_THAT(out.lines, ElementsAre("<3>first\n", "<3>second\n"));
}

TEST(Logger, TheMacroEvaluatesNothingWhenDisabled) {
  Captured out;
  Logger sut(LogLevel::k_info, out.sink());
  int evaluated = 0;
  auto expensive = [&] {
    ++evaluated;
    return 42;
  };
  SLIM_LOG(sut, LogLevel::k_debug) << "value " << expensive();
  EXPECT_EQ(evaluated, 0);
  SLIM_LOG(sut, LogLevel::k_info) << "value " << expensive();
  EXPECT_EQ(evaluated, 1);
  EXPECT_THAT(out.lines, ElementsAre("<6>value 42\n"));
}

TEST(Logger, TheMacroIsSafeAsTheBodyOfAnUnbracedIf) {
  Captured out;
  Logger sut(LogLevel::k_info, out.sink());
  for (int i = 0; i < 2; ++i)
    if (i == 1)
      SLIM_LOG(sut, LogLevel::k_info) << "one";
    else
      SLIM_LOG(sut, LogLevel::k_info) << "zero";
  EXPECT_THAT(out.lines, ElementsAre("<6>zero\n", "<6>one\n"));
}

TEST(Logger, LinesFromConcurrentThreadsStayWhole) {
  Captured out;
  Logger sut(LogLevel::k_info, out.sink());
  constexpr int k_threads = 4;
  constexpr int k_each = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t)
    threads.emplace_back([&sut, t] {
      for (int i = 0; i < k_each; ++i) SLIM_LOG(sut, LogLevel::k_info) << "thread " << t << " line " << i;
    });
  for (auto& th : threads) th.join();
  ASSERT_EQ(out.lines.size(), static_cast<std::size_t>(k_threads * k_each));
  std::set<std::string> unique(out.lines.begin(), out.lines.end());
  EXPECT_EQ(unique.size(), out.lines.size());
  for (const auto& line : out.lines) EXPECT_THAT(line, ::testing::MatchesRegex("<6>thread [0-3] line [0-9]+\n"));
}

TEST(LogLevelNames, MatchEveryLevelTheConfigAccepts) {
  for (const auto& f : config::daemon_config_schema()) {
    if (f.key != "logging.level") continue;
    ASSERT_FALSE(f.choices.empty());
    for (auto choice : f.choices) {
      const auto level = parse_log_level(choice);
      ASSERT_TRUE(level.has_value()) << choice;
      EXPECT_EQ(log_level_name(*level), choice);
    }
  }
  EXPECT_FALSE(parse_log_level("verbose").has_value());
}

TEST(RateLimiter, LetsABurstThroughPerWindowAndCountsTheRest) {
  ManualClock clock;
  RateLimiter sut(clock, std::chrono::seconds(10), 2);
  EXPECT_TRUE(sut.check("peer down").allow);
  EXPECT_TRUE(sut.check("peer down").allow);
  EXPECT_FALSE(sut.check("peer down").allow);
  EXPECT_FALSE(sut.check("peer down").allow);
  EXPECT_TRUE(sut.check("other").allow);  // keys are independent
  clock.advance(std::chrono::seconds(9));
  EXPECT_FALSE(sut.check("peer down").allow);
  clock.advance(std::chrono::seconds(1));
  const auto next = sut.check("peer down");
  EXPECT_TRUE(next.allow);
  EXPECT_EQ(next.suppressed, 3u);
  EXPECT_EQ(sut.check("peer down").suppressed, 0u);
}

TEST(RateLimiter, AZeroIntervalMeansNoLimit) {
  ManualClock clock;
  RateLimiter sut(clock, Duration{0}, 1);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(sut.check("k").allow);
}

TEST(RateLimiter, ForgetsTheOldestKeyWhenFull) {
  ManualClock clock;
  RateLimiter sut(clock, std::chrono::hours(1), 1);
  EXPECT_TRUE(sut.check("first").allow);
  EXPECT_FALSE(sut.check("first").allow);
  for (std::size_t i = 0; i < RateLimiter::k_max_keys; ++i) {
    clock.advance(std::chrono::nanoseconds(1));
    EXPECT_TRUE(sut.check("key " + std::to_string(i)).allow);
  }
  EXPECT_TRUE(sut.check("first").allow);  // forgotten, so allowed again
  EXPECT_FALSE(sut.check("key 1000").allow);  // recent keys are still limited
}

TEST(WriteLimited, SaysHowManyMessagesWereSuppressed) {
  Captured out;
  Logger logger(LogLevel::k_info, out.sink());
  ManualClock clock;
  RateLimiter limiter(clock, std::chrono::seconds(1), 1);
  EXPECT_TRUE(write_limited(logger, limiter, "drop", LogLevel::k_warning, "dropped a packet"));
  EXPECT_FALSE(write_limited(logger, limiter, "drop", LogLevel::k_warning, "dropped a packet"));
  EXPECT_FALSE(write_limited(logger, limiter, "drop", LogLevel::k_warning, "dropped a packet"));
  clock.advance(std::chrono::seconds(1));
  EXPECT_TRUE(write_limited(logger, limiter, "drop", LogLevel::k_warning, "dropped a packet"));
  EXPECT_FALSE(write_limited(logger, limiter, "drop", LogLevel::k_debug, "not even counted"));
  EXPECT_THAT(out.lines, ElementsAre("<4>dropped a packet\n", "<4>dropped a packet (2 similar messages suppressed)\n"));
}

}  // namespace
}  // namespace slimcache::platform

#pragma once
// Shared test helpers. Tests that need the real routing traces read them from
// $SLIMCACHE_TRACES_DIR and skip, saying so, when it is unset or missing.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

namespace slimcache::testing {

// The trace file `relative` under $SLIMCACHE_TRACES_DIR, or nullopt with the reason in `why`.
inline std::optional<std::filesystem::path> trace_path(const std::string& relative, std::string& why) {
  const char* dir = std::getenv("SLIMCACHE_TRACES_DIR");
  if (dir == nullptr || *dir == '\0') {
    why = "SLIMCACHE_TRACES_DIR is not set: skipping a test that needs the real routing traces";
    return std::nullopt;
  }
  std::filesystem::path p = std::filesystem::path(dir) / relative;
  if (!std::filesystem::exists(p)) {
    why = "trace " + p.string() + " not found (SLIMCACHE_TRACES_DIR=" + dir + "): skipping";
    return std::nullopt;
  }
  return p;
}

}  // namespace slimcache::testing

// Declares `var` as the path of the trace, or skips the test with the reason.
#define SLIM_REQUIRE_TRACE(var, relative)                                   \
  std::string var##_why;                                                    \
  auto var##_opt = ::slimcache::testing::trace_path(relative, var##_why);   \
  if (!var##_opt) GTEST_SKIP() << var##_why;                                \
  const std::filesystem::path var = *var##_opt

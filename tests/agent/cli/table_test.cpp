#include "agent/cli/table.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace slimcache::agent::cli {
namespace {

TEST(Table, AlignsColumnsAndRightAlignsNumbers) {
  Table sut({"name", "value"});
  sut.add_row({"a", "1.5"});
  sut.add_row({"longer", "10.25"});
  std::ostringstream out;
  sut.print(out);
  EXPECT_EQ(out.str(), "name    value\na         1.5\nlonger  10.25\n");
}

TEST(Format, PicksReadableUnits) {
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_seconds(0.0123), "12.30 ms");
  EXPECT_EQ(format_seconds(2.0), "2.00 s");
  EXPECT_EQ(format_seconds(0.0000025), "2.5 us");
}

}  // namespace
}  // namespace slimcache::agent::cli

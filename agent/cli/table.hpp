#pragma once
// A plain text table for slimctl's human-readable output: columns sized to content,
// numbers right-aligned. Not thread-safe; build, then print once.
#include <ostream>
#include <string>
#include <vector>

namespace slimcache::agent::cli {

class Table {
 public:
  enum class Numbers { k_right_aligned, k_left_aligned };
  explicit Table(std::vector<std::string> header, Numbers numbers = Numbers::k_right_aligned);
  // Adds a row; it must have as many cells as the header.
  void add_row(std::vector<std::string> cells);
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> m_header;
  Numbers m_numbers;
  std::vector<std::vector<std::string>> m_rows;
};

// Formatting helpers shared by commands.
[[nodiscard]] std::string format_fixed(double value, int decimals);
[[nodiscard]] std::string format_bytes(double bytes);      // 1.5 MiB
[[nodiscard]] std::string format_seconds(double seconds);  // 12.3 ms, 1.20 s

}  // namespace slimcache::agent::cli

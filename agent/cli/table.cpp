#include "agent/cli/table.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>

namespace slimcache::agent::cli {

namespace {
bool looks_numeric(const std::string& s) {
  if (s.empty()) return false;
  const char c = s.front();
  return (c >= '0' && c <= '9') || ((c == '-' || c == '+' || c == '.') && s.size() > 1);
}
}  // namespace

Table::Table(std::vector<std::string> header, Numbers numbers) : m_header(std::move(header)), m_numbers(numbers) {}

void Table::add_row(std::vector<std::string> cells) {
  assert(cells.size() == m_header.size());
  cells.resize(m_header.size());
  m_rows.push_back(std::move(cells));
}

void Table::print(std::ostream& out) const {
  std::vector<std::size_t> width(m_header.size());
  for (std::size_t c = 0; c < m_header.size(); ++c) width[c] = m_header[c].size();
  for (const auto& row : m_rows)
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  auto line = [&](const std::vector<std::string>& cells, bool header) {
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const std::string pad(width[c] - cells[c].size(), ' ');
      const bool right = !header && m_numbers == Numbers::k_right_aligned && looks_numeric(cells[c]);
      out << (c ? "  " : "") << (right ? pad + cells[c] : cells[c] + (c + 1 < cells.size() ? pad : ""));
    }
    out << '\n';
  };
  line(m_header, true);
  for (const auto& row : m_rows) line(row, false);
}

std::string format_fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (std::fabs(bytes) >= 1024.0 && u < 4) {
    bytes /= 1024.0;
    ++u;
  }
  return format_fixed(bytes, u == 0 ? 0 : 1) + " " + units[u];
}

std::string format_seconds(double seconds) {
  if (std::fabs(seconds) < 1e-3) return format_fixed(seconds * 1e6, 1) + " us";
  if (std::fabs(seconds) < 1.0) return format_fixed(seconds * 1e3, 2) + " ms";
  return format_fixed(seconds, 2) + " s";
}

}  // namespace slimcache::agent::cli

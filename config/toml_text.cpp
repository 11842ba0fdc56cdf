#include "config/toml_text.hpp"

#include <cstdio>
#include <vector>

namespace slimcache::config {
namespace {

// Follows TOML's structure far enough to know whether a character stands inside a string or
// a comment: only there may TOML hold non-ASCII characters (bare keys, numbers, dates and
// whitespace are ASCII in TOML 1.0). TOML++ 3.3 tests other characters against a generated
// whitespace table that reaches TOML_UNREACHABLE for some code points, and it scans a
// malformed bare value such as `0)"x` or `0==0='x` to its end through that table, so a quote
// opens a string only where TOML allows a string. At the first thing TOML would reject the
// tracker gives up ("junk"): TOML++ stops at an error too, and from there on no non-ASCII
// character is accepted anywhere.
class Structure {
 public:
  // Consumes the ASCII character at text[i]; returns how many bytes it took (>= 1).
  std::size_t ascii(std::string_view text, std::size_t i) {
    const char c = text[i];
    if (m_junk) return 1;
    switch (m_lex) {
      case Lex::comment:
        if (c == '\n') {
          m_lex = Lex::normal;
          newline();
        }
        return 1;
      case Lex::basic:
        if (c == '\\' && escapes_non_ascii(text, i)) return 1;
        if (c == '\\' && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) < 0x80 && text[i + 1] != '\n')
          return 2;
        if (c == '\n') m_junk = true;  // TOML++ stops at a line feed inside a one-line string
        if (c == '"') close_string();
        return 1;
      case Lex::literal:
        if (c == '\n') m_junk = true;
        if (c == '\'') close_string();
        return 1;
      case Lex::ml_basic:
      case Lex::ml_literal: {
        if (m_trim) {  // after a line-ending backslash TOML++ skips whitespace through its table
          if (c == ' ' || c == '\t' || c == '\r' || c == '\n') return 1;
          m_trim = false;
        }
        const char q = m_lex == Lex::ml_basic ? '"' : '\'';
        if (m_lex == Lex::ml_basic && c == '\\' && escapes_non_ascii(text, i)) return 1;
        if (m_lex == Lex::ml_basic && c == '\\' && i + 1 < text.size() &&
            (text[i + 1] == ' ' || text[i + 1] == '\t' || text[i + 1] == '\r' || text[i + 1] == '\n')) {
          m_trim = true;  // a line-ending backslash (or an error TOML++ finds by the same scan)
          return 1;
        }
        if (m_lex == Lex::ml_basic && c == '\\' && i + 1 < text.size() &&
            static_cast<unsigned char>(text[i + 1]) < 0x80 && text[i + 1] != '\n' && text[i + 1] != '\r')
          return 2;
        if (c != q) return 1;
        const std::size_t n = run_of(text, i, q);
        if (n >= 3) close_string();  // up to two quotes before the closing three are content
        return n;
      }
      case Lex::normal:
        return normal(text, i);
    }
    return 1;
  }
  [[nodiscard]] bool accepts_non_ascii() const { return !m_junk && !m_trim && !m_escape && m_lex != Lex::normal; }

 private:
  enum class Lex { normal, comment, basic, literal, ml_basic, ml_literal };
  enum class Pos { key_start, key_done, value, after };
  enum class Ctx { array, table, header, header2 };

  static std::size_t run_of(std::string_view text, std::size_t at, char q) {
    std::size_t n = 0;
    while (at + n < text.size() && text[at + n] == q) ++n;
    return n;
  }
  // A backslash before a non-ASCII character: TOML++ tests that character against its
  // whitespace table (a line-ending backslash?), so the character is refused.
  bool escapes_non_ascii(std::string_view text, std::size_t i) {
    m_escape = i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80;
    return m_escape;
  }
  static bool is_key_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  }
  static bool is_date(std::string_view t) {
    if (t.size() != 10 || t[4] != '-' || t[7] != '-') return false;
    for (const std::size_t k : {0, 1, 2, 3, 5, 6, 8, 9})
      if (t[k] < '0' || t[k] > '9') return false;
    return true;
  }
  [[nodiscard]] bool top(Ctx c) const { return !m_stack.empty() && m_stack.back() == c; }

  std::size_t junk() {
    m_junk = true;
    return 1;
  }
  void close_string() {
    m_lex = Lex::normal;
    m_pos = m_key_string ? Pos::key_done : Pos::after;
  }
  std::size_t open_string(std::string_view text, std::size_t i, bool key) {
    const char q = text[i];
    const std::size_t n = run_of(text, i, q);
    m_key_string = key;
    if (n >= 3) {
      if (key) return junk();  // no multi-line keys
      m_lex = q == '"' ? Lex::ml_basic : Lex::ml_literal;
      return 3;
    }
    if (n == 2) {  // an empty string
      close_string();
      return 2;
    }
    m_lex = q == '"' ? Lex::basic : Lex::literal;
    return 1;
  }
  void newline() {
    if (m_bare == Bare::value) m_pos = Pos::after;  // a value such as `1` ends at the line's end
    m_bare = Bare::none;
    m_after_date = false;
    if (m_stack.empty()) {
      if (m_pos == Pos::value || m_pos == Pos::key_done) m_junk = true;  // `a =` or `a` alone on a line
      m_pos = Pos::key_start;
      m_line_start = true;
    } else if (!top(Ctx::array)) {
      m_junk = true;  // inline tables and table headers do not span lines
    }
  }

  std::size_t normal(std::string_view text, std::size_t i) {
    const char c = text[i];
    if (c == '\n') {
      newline();
      return 1;
    }
    if (c == ' ' || c == '\t' || c == '\r') {
      if (m_bare == Bare::value) {
        m_pos = Pos::after;
        m_after_date = is_date(text.substr(m_bare_start, i - m_bare_start));
      }
      m_bare = Bare::none;
      return 1;
    }
    const bool after_date = m_after_date;
    m_after_date = false;
    const bool line_start = m_line_start;
    m_line_start = false;
    if (m_bare == Bare::value) {
      if (c != ',' && c != ']' && c != '}' && c != '#') return 1;  // TOML++ reads on to a terminator
      m_bare = Bare::none;
      m_pos = Pos::after;
    } else if (m_bare == Bare::key) {
      if (is_key_char(c)) return 1;
      m_bare = Bare::none;
    }
    switch (m_pos) {
      case Pos::key_start:
        if (c == '#' && line_start && m_stack.empty()) {
          m_lex = Lex::comment;
          return 1;
        }
        if (c == '[' && line_start && m_stack.empty()) {
          const bool twice = i + 1 < text.size() && text[i + 1] == '[';
          m_stack.push_back(twice ? Ctx::header2 : Ctx::header);
          return twice ? 2 : 1;
        }
        if (c == '"' || c == '\'') return open_string(text, i, true);
        if (c == '}' && top(Ctx::table)) {
          m_stack.pop_back();
          m_pos = Pos::after;
          return 1;
        }
        if (is_key_char(c)) {
          m_bare = Bare::key;
          m_pos = Pos::key_done;
          return 1;
        }
        return junk();
      case Pos::key_done:
        if (c == '.') {
          m_pos = Pos::key_start;
          return 1;
        }
        if (c == '=' && !top(Ctx::header) && !top(Ctx::header2)) {
          m_pos = Pos::value;
          return 1;
        }
        if (c == ']' && top(Ctx::header)) {
          m_stack.pop_back();
          m_pos = Pos::after;
          return 1;
        }
        if (c == ']' && top(Ctx::header2) && i + 1 < text.size() && text[i + 1] == ']') {
          m_stack.pop_back();
          m_pos = Pos::after;
          return 2;
        }
        return junk();
      case Pos::value:
        if (c == '"' || c == '\'') return open_string(text, i, false);
        if (c == '[') {
          m_stack.push_back(Ctx::array);
          return 1;
        }
        if (c == '{') {
          m_stack.push_back(Ctx::table);
          m_pos = Pos::key_start;
          return 1;
        }
        if (c == ']' && top(Ctx::array)) {  // an empty array, or a trailing comma
          m_stack.pop_back();
          m_pos = Pos::after;
          return 1;
        }
        if (c == '#' && top(Ctx::array)) {
          m_lex = Lex::comment;
          return 1;
        }
        if (c == ',' || c == '}' || c == ']' || c == '=' || c == '#') return junk();
        m_bare = Bare::value;
        m_bare_start = i;
        return 1;
      case Pos::after:
        if (after_date && c >= '0' && c <= '9') {  // `1979-05-27 07:32:00`: a date, a space, a time
          m_bare = Bare::value;
          m_bare_start = i;
          return 1;
        }
        if (c == '#' && !top(Ctx::table)) {
          m_lex = Lex::comment;
          return 1;
        }
        if (c == ',' && top(Ctx::array)) {
          m_pos = Pos::value;
          return 1;
        }
        if (c == ',' && top(Ctx::table)) {
          m_pos = Pos::key_start;
          return 1;
        }
        if ((c == ']' && top(Ctx::array)) || (c == '}' && top(Ctx::table))) {
          m_stack.pop_back();
          m_pos = Pos::after;
          return 1;
        }
        return junk();
    }
    return junk();
  }

  enum class Bare { none, key, value };
  Lex m_lex = Lex::normal;
  Pos m_pos = Pos::key_start;
  Bare m_bare = Bare::none;
  std::vector<Ctx> m_stack;
  std::size_t m_bare_start = 0;
  bool m_after_date = false;
  bool m_key_string = false;
  bool m_trim = false;    // inside a multi-line basic string, after a line-ending backslash
  bool m_escape = false;  // the last backslash escaped a non-ASCII character
  bool m_line_start = true;
  bool m_junk = false;
};

}  // namespace

std::optional<TextProblem> screen_toml_text(std::string_view text) {
  std::size_t line = 1, column = 1;
  // TOML++ takes EF BB for the start of a byte-order mark and must see BF next.
  if (text.size() >= 2 && static_cast<unsigned char>(text[0]) == 0xef && static_cast<unsigned char>(text[1]) == 0xbb &&
      (text.size() < 3 || static_cast<unsigned char>(text[2]) != 0xbf))
    return TextProblem{1, 1, "a broken byte-order mark (EF BB without BF)"};
  auto problem = [&](const char* what, unsigned byte) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "%s (byte 0x%02x)", what, byte);
    return TextProblem{line, column, buf};
  };
  Structure structure;
  // A byte-order mark is not content.
  const bool bom = text.size() >= 3 && text.substr(0, 3) == "\xef\xbb\xbf";
  for (std::size_t i = bom ? 3 : 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
        return problem("a control character is not allowed in TOML", c);
      const std::size_t step = structure.ascii(text, i);
      for (std::size_t k = 0; k < step; ++k) {
        if (text[i + k] == '\n') {
          ++line;
          column = 1;
        } else {
          ++column;
        }
      }
      i += step;
      continue;
    }
    std::size_t len = 0;
    char32_t cp = 0;
    if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07;
    else return problem("not valid UTF-8", c);
    if (i + len > text.size()) return problem("not valid UTF-8 (truncated sequence)", c);
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xc0) != 0x80) return problem("not valid UTF-8", cc);
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return problem("not valid UTF-8 (overlong, surrogate or out of range)", c);
    if (cp >= 0x80 && cp <= 0x9f) return problem("a control character is not allowed in TOML", c);
    if (!structure.accepts_non_ascii())
      return problem("a non-ASCII character outside a string or comment, or after a syntax error", c);
    i += len;
    ++column;
  }
  return std::nullopt;
}

}  // namespace slimcache::config

#include "config/toml_text.hpp"

#include <cstdio>

namespace slimcache::config {

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
  // Where the scan is in TOML's lexical structure: only strings and comments may hold
  // non-ASCII characters (bare keys, numbers, dates and whitespace are ASCII in TOML 1.0).
  // A quote opens a string only where TOML allows one (at a line's start, or after `=`, `[`,
  // `,`, `{` or `.`): TOML++ scans a malformed value such as `0)"x` to its end with its
  // whitespace table, so a quote inside such a token must not hide what follows. Anything
  // after the first syntax error is never reached by TOML++.
  enum class Lex { normal, comment, basic, literal, ml_basic, ml_literal };
  Lex lex = Lex::normal;
  char last = 0;  // the last character outside whitespace on this line, 0 at a line's start
  auto run_of = [&](std::size_t at, char q) {
    std::size_t n = 0;
    while (at + n < text.size() && text[at + n] == q) ++n;
    return n;
  };
  // A byte-order mark is not content.
  const bool bom = text.size() >= 3 && text.substr(0, 3) == "\xef\xbb\xbf";
  for (std::size_t i = bom ? 3 : 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
        return problem("a control character is not allowed in TOML", c);
      std::size_t step = 1;
      switch (lex) {
        case Lex::normal:
          if (c == '\n') {
            last = 0;
          } else if (c == ' ' || c == '\t' || c == '\r') {
          } else if (c == '#') {
            lex = Lex::comment;
          } else if ((c == '"' || c == '\'') &&
                     (last == 0 || last == '=' || last == '[' || last == ',' || last == '{' || last == '.')) {
            const std::size_t n = run_of(i, static_cast<char>(c));
            if (n >= 3) {
              lex = c == '"' ? Lex::ml_basic : Lex::ml_literal;
              step = 3;
            } else if (n == 2) {
              step = 2;  // an empty string
            } else {
              lex = c == '"' ? Lex::basic : Lex::literal;
            }
            last = static_cast<char>(c);
          } else {
            last = static_cast<char>(c);
          }
          break;
        case Lex::comment:
          if (c == '\n') lex = Lex::normal, last = 0;
          break;
        case Lex::basic:
          if (c == '\\' && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) < 0x80 && text[i + 1] != '\n')
            step = 2;
          else if (c == '"' || c == '\n')
            lex = Lex::normal, last = c == '\n' ? 0 : '"';  // a line feed ends it as an error: TOML++ stops there
          break;
        case Lex::literal:
          if (c == '\'' || c == '\n') lex = Lex::normal, last = c == '\n' ? 0 : '\'';
          break;
        case Lex::ml_basic:
        case Lex::ml_literal: {
          const char q = lex == Lex::ml_basic ? '"' : '\'';
          if (lex == Lex::ml_basic && c == '\\' && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) < 0x80 &&
              text[i + 1] != '\n' && text[i + 1] != '\r') {
            step = 2;
          } else if (c == static_cast<unsigned char>(q)) {
            const std::size_t n = run_of(i, q);
            if (n >= 3) lex = Lex::normal, last = q;  // up to two quotes before the closing three are content
            step = n;
          }
          break;
        }
      }
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
    if (lex == Lex::normal)
      return problem("a non-ASCII character outside a string or comment (TOML keys are ASCII)", c);
    i += len;
    ++column;
  }
  return std::nullopt;
}

}  // namespace slimcache::config

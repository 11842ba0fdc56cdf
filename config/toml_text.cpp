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
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s (byte 0x%02x)", what, byte);
    return TextProblem{line, column, buf};
  };
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
        return problem("a control character is not allowed in TOML", c);
      ++i;
      if (c == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
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
    i += len;
    ++column;
  }
  return std::nullopt;
}

}  // namespace slimcache::config

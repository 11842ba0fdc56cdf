#pragma once
// Screens TOML text before TOML++ sees it. TOML++ 3.3 aborts on a NUL byte inside a table
// header (a debug assertion) and reaches code it marks unreachable on malformed UTF-8
// (tests/fuzz/findings/config_parser/), so every TOML reader checks the text first: it must
// be valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF) without control
// characters other than tab, line feed and carriage return (TOML itself forbids them all),
// and not start with a broken byte-order mark (EF BB without BF). Non-ASCII characters are
// accepted only inside strings and comments: TOML++ 3.3's generated whitespace table reaches
// TOML_UNREACHABLE for some code points standing elsewhere, and TOML 1.0 keys are ASCII.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace slimcache::config {

struct TextProblem {
  std::size_t line = 1, column = 1;  // 1-based, columns in bytes
  std::string message;
};

// nullopt when the text is acceptable.
[[nodiscard]] std::optional<TextProblem> screen_toml_text(std::string_view text);

}  // namespace slimcache::config

#pragma once
// A small expected<T, E> for C++20 (std::expected arrives with C++23).
//
// Expected failures are returned, never thrown: a function that can fail returns
// Expected<T, Error> where Error is the module's own error type (an enum code plus
// context). Accessing value() of an error, or error() of a value, is a logic error
// and aborts through the assertion in debug builds.
#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace slimcache {

template <typename E>
class Unexpected {
 public:
  explicit Unexpected(E error) : m_error(std::move(error)) {}
  E& error() & { return m_error; }
  E&& error() && { return std::move(m_error); }

 private:
  E m_error;
};

template <typename E>
Unexpected(E) -> Unexpected<E>;

template <typename T, typename E>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : m_data(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  template <typename G>
  Expected(Unexpected<G> error)  // NOLINT: implicit by design
      : m_data(std::in_place_index<1>, E(std::move(error).error())) {}

  [[nodiscard]] bool has_value() const { return m_data.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { assert(has_value()); return std::get<0>(m_data); }
  const T& value() const& { assert(has_value()); return std::get<0>(m_data); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(m_data)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const E& error() const& { assert(!has_value()); return std::get<1>(m_data); }
  E&& error() && { assert(!has_value()); return std::get<1>(std::move(m_data)); }

 private:
  std::variant<T, E> m_data;
};

// Expected<void, E>: success carries nothing.
template <typename E>
class [[nodiscard]] Expected<void, E> {
 public:
  Expected() = default;
  template <typename G>
  Expected(Unexpected<G> error)  // NOLINT: implicit by design
      : m_error(E(std::move(error).error())), m_ok(false) {}

  [[nodiscard]] bool has_value() const { return m_ok; }
  explicit operator bool() const { return m_ok; }
  const E& error() const& { assert(!m_ok); return m_error; }

 private:
  E m_error{};
  bool m_ok = true;
};

}  // namespace slimcache

// Early return on error: SLIM_TRY(auto x, expr); or SLIM_TRY_VOID(expr);
#define SLIM_CONCAT_INNER(a, b) a##b
#define SLIM_CONCAT(a, b) SLIM_CONCAT_INNER(a, b)
#define SLIM_TRY_IMPL(tmp, decl, expr)                              \
  auto tmp = (expr);                                                \
  if (!tmp.has_value()) return ::slimcache::Unexpected(std::move(tmp).error()); \
  decl = std::move(tmp).value()
#define SLIM_TRY(decl, expr) SLIM_TRY_IMPL(SLIM_CONCAT(slim_try_, __LINE__), decl, expr)
#define SLIM_TRY_VOID(expr)                                                      \
  do {                                                                           \
    auto slim_try_v = (expr);                                                    \
    if (!slim_try_v.has_value()) return ::slimcache::Unexpected(slim_try_v.error()); \
  } while (false)

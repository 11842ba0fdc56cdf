#pragma once
// Reads a routing trace in the JSON-lines format of shared/traces/olmoe-decode:
//   {"tok": <int>, "layers": [[e, e, ...], [...], ...]}
// one object per token, one expert list per MoE layer, layers in execution order.
//
// Success: every line has the same number of layers and the same top-K, ids are
// distinct non-negative integers below 65536 within a set. Blank lines are skipped.
// Failure: the first bad line is reported with its 1-based number and the reason;
// nothing partial is returned. Thread-safe (no shared state).
#include <istream>
#include <string>

#include "solver/expected.hpp"
#include "solver/routing_trace.hpp"

namespace slimcache::config {

struct TraceError {
  std::string file;        // as given by the caller, may be empty
  std::size_t line = 0;    // 1-based; 0 when the error is about the whole file
  std::string message;

  [[nodiscard]] std::string to_string() const;
};

[[nodiscard]] Expected<solver::RoutingTrace, TraceError> read_trace(std::istream& in,
                                                                    const std::string& name = {});
[[nodiscard]] Expected<solver::RoutingTrace, TraceError> read_trace_file(const std::string& path);

}  // namespace slimcache::config

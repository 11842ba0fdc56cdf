#pragma once
// The placement instance file (TOML), documented in docs/solver.md: [model], [[nodes]],
// [[clients]], [[links]] and [[stats]] tables; times in seconds, sizes in bytes.
//
// read_instance: success gives a validated solver::Instance. Failure names the file, the
// 1-based line (when known) and the key: malformed TOML, missing or negative budgets,
// top_k larger than the experts of a layer, statistics for a layer or client that does
// not exist, unknown node names, expert ids out of range. TOML++ runs without
// exceptions. write_instance: a commented, human-readable file that read_instance
// accepts and that round-trips exactly (doubles written with 17 significant digits).
// Thread-safe (no shared state).
#include <cstddef>
#include <string>
#include <string_view>

#include "solver/expected.hpp"
#include "solver/instance.hpp"

namespace slimcache::config {

struct InstanceFileError {
  std::string file;
  std::size_t line = 0;  // 0: unknown or whole file
  std::string key;
  std::string message;
  [[nodiscard]] std::string to_string() const;
};

[[nodiscard]] Expected<solver::Instance, InstanceFileError> read_instance(std::string_view text,
                                                                         const std::string& name = {});
[[nodiscard]] Expected<solver::Instance, InstanceFileError> read_instance_file(const std::string& path);

// `comment` is written at the top, each line prefixed with "# ".
[[nodiscard]] std::string write_instance(const solver::Instance& instance, std::string_view comment = {});
[[nodiscard]] Expected<void, InstanceFileError> write_instance_file(const std::string& path,
                                                                   const solver::Instance& instance,
                                                                   std::string_view comment = {});

}  // namespace slimcache::config

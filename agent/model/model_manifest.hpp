#pragma once
// What model a node serves: written by import into <state_dir>/model.json, read at start.
// The daemon opens its expert cache only once a manifest exists (a fresh node has none
// until it imports a model or learns one from its peers).
//   {"model": "olmoe-tiny", "scheme": "hf-moe", "kind": "swiglu", "dtype": "bf16",
//    "layers": 16, "experts": 64, "top_k": 8, "hidden": 2048, "ffn": 1024, "expert_bytes": 12583040}
// Writes are atomic (temporary file, fsync, rename). Errors name the file and the field.
#include <cstdint>
#include <string>

#include "solver/expected.hpp"

namespace slimcache::agent::model {

struct ModelManifest {
  std::string model;
  std::string scheme;
  std::string kind = "swiglu";  // "swiglu" or "two-matrix"
  std::string dtype = "bf16";   // "f32", "bf16", "f16"
  std::uint32_t layers = 0;
  std::uint32_t experts = 0;
  std::uint32_t top_k = 0;
  std::uint32_t hidden = 0;
  std::uint32_t ffn = 0;
  std::uint64_t expert_bytes = 0;  // encoded payload size of one expert
  bool operator==(const ModelManifest&) const = default;
};

[[nodiscard]] std::string manifest_to_json(const ModelManifest& manifest);
[[nodiscard]] Expected<ModelManifest, std::string> manifest_from_json(const std::string& text);
[[nodiscard]] Expected<ModelManifest, std::string> read_manifest(const std::string& path);
[[nodiscard]] Expected<void, std::string> write_manifest(const std::string& path, const ModelManifest& manifest);

}  // namespace slimcache::agent::model

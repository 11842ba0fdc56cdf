#pragma once
// The safetensors checkpoint format (Hugging Face): an 8-byte little-endian header length
// N, N bytes of JSON describing the tensors, then the raw tensor bytes:
//   {"name": {"dtype": "BF16", "shape": [r, c], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"k": "v"}}
// Offsets are relative to the start of the data section (8 + N).
//
// Validation (hostile input): N at most k_max_header and within the file; the JSON is an
// object; every tensor has a known dtype, a shape of non-negative integers, offsets with
// begin <= end inside the data section and end - begin equal to the shape's element count
// times the dtype size (computed without overflow); tensors do not overlap. The first
// violation is reported with the tensor name; nothing partial is returned.
// Threads: no shared state.
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "solver/expected.hpp"

namespace slimcache::config {

enum class DType { k_f64, k_f32, k_f16, k_bf16, k_i64, k_i32, k_i16, k_i8, k_u8, k_bool, k_f8_e4m3, k_f8_e5m2 };

[[nodiscard]] std::optional<DType> parse_dtype(std::string_view name);
[[nodiscard]] std::string_view dtype_name(DType dtype);
[[nodiscard]] std::size_t dtype_size(DType dtype);

struct TensorInfo {
  std::string name;
  DType dtype = DType::k_f32;
  std::vector<std::uint64_t> shape;
  std::uint64_t begin = 0;  // relative to the data section
  std::uint64_t end = 0;
  [[nodiscard]] std::uint64_t bytes() const { return end - begin; }
};

struct SafetensorsHeader {
  std::uint64_t data_offset = 0;  // 8 + header length: absolute offset of the data section
  std::uint64_t data_size = 0;
  std::vector<TensorInfo> tensors;  // in offset order
  std::map<std::string, std::string> metadata;
  [[nodiscard]] const TensorInfo* find(std::string_view name) const;
};

struct FormatError {
  std::string file;
  std::string message;
  [[nodiscard]] std::string to_string() const { return (file.empty() ? "" : file + ": ") + message; }
};

inline constexpr std::uint64_t k_max_header = 100ull << 20;

// `prefix` holds the file's first bytes (at least 8 + N of them for success);
// `file_size` is the whole file's size.
[[nodiscard]] Expected<SafetensorsHeader, FormatError> parse_safetensors_header(std::span<const std::uint8_t> prefix,
                                                                               std::uint64_t file_size);
// Reads and parses the header of a file.
[[nodiscard]] Expected<SafetensorsHeader, FormatError> read_safetensors_header(const std::string& path);

// model.safetensors.index.json: {"weight_map": {"tensor": "shard file"}}. Shard names must
// be plain file names (no '/', no "..").
[[nodiscard]] Expected<std::map<std::string, std::string>, FormatError> parse_safetensors_index(std::string_view json);

// Encodes a header + data section layout for the given tensors (offsets assigned in order,
// the caller writes the data). Used by tests and the checkpoint generator.
[[nodiscard]] std::vector<std::uint8_t> encode_safetensors_header(std::vector<TensorInfo>& tensors,
                                                                  const std::map<std::string, std::string>& metadata = {});

}  // namespace slimcache::config

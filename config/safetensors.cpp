#include "config/safetensors.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

namespace slimcache::config {

namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  std::size_t size;
};
constexpr std::array<DTypeInfo, 12> k_dtypes{{{DType::k_f64, "F64", 8},
                                              {DType::k_f32, "F32", 4},
                                              {DType::k_f16, "F16", 2},
                                              {DType::k_bf16, "BF16", 2},
                                              {DType::k_i64, "I64", 8},
                                              {DType::k_i32, "I32", 4},
                                              {DType::k_i16, "I16", 2},
                                              {DType::k_i8, "I8", 1},
                                              {DType::k_u8, "U8", 1},
                                              {DType::k_bool, "BOOL", 1},
                                              {DType::k_f8_e4m3, "F8_E4M3", 1},
                                              {DType::k_f8_e5m2, "F8_E5M2", 1}}};

Unexpected<FormatError> fail(std::string message) { return Unexpected(FormatError{{}, std::move(message)}); }

}  // namespace

std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& d : k_dtypes) {
    if (d.name == name) return d.dtype;
  }
  return std::nullopt;
}

std::string_view dtype_name(DType dtype) { return k_dtypes.at(static_cast<std::size_t>(dtype)).name; }
std::size_t dtype_size(DType dtype) { return k_dtypes.at(static_cast<std::size_t>(dtype)).size; }

const TensorInfo* SafetensorsHeader::find(std::string_view name) const {
  for (const auto& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Expected<SafetensorsHeader, FormatError> parse_safetensors_header(std::span<const std::uint8_t> prefix,
                                                                 std::uint64_t file_size) {
  if (prefix.size() < 8 || file_size < 8) return fail("shorter than the 8-byte header length");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | prefix[static_cast<std::size_t>(i)];
  if (n > k_max_header) return fail("header length " + std::to_string(n) + " exceeds the limit");
  if (n > file_size - 8) return fail("header length " + std::to_string(n) + " runs past the end of the file");
  if (prefix.size() < 8 + n) return fail("header truncated");
  const std::string_view text(reinterpret_cast<const char*>(prefix.data() + 8), n);
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return fail("header is not a JSON object");
  SafetensorsHeader h;
  h.data_offset = 8 + n;
  h.data_size = file_size - h.data_offset;
  for (const auto& [name, value] : j.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) return fail("__metadata__ is not an object");
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string()) return fail("__metadata__." + k + " is not a string");
        h.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "': ";
    if (!value.is_object()) return fail(where + "not an object");
    const auto dtype = value.find("dtype");
    const auto shape = value.find("shape");
    const auto offsets = value.find("data_offsets");
    if (dtype == value.end() || !dtype->is_string()) return fail(where + "missing dtype");
    if (shape == value.end() || !shape->is_array()) return fail(where + "missing shape");
    if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2) return fail(where + "missing data_offsets");
    TensorInfo t;
    t.name = name;
    const auto dt = parse_dtype(dtype->get<std::string>());
    if (!dt) return fail(where + "unknown dtype " + dtype->get<std::string>());
    t.dtype = *dt;
    std::uint64_t elements = 1;
    for (const auto& d : *shape) {
      if (!d.is_number_unsigned()) return fail(where + "shape entries must be non-negative integers");
      const auto dim = d.get<std::uint64_t>();
      if (dim != 0 && elements > std::numeric_limits<std::uint64_t>::max() / dim) return fail(where + "shape overflows");
      elements *= dim;
      t.shape.push_back(dim);
    }
    if (!(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
      return fail(where + "data_offsets must be non-negative integers");
    t.begin = (*offsets)[0].get<std::uint64_t>();
    t.end = (*offsets)[1].get<std::uint64_t>();
    if (t.begin > t.end) return fail(where + "data_offsets begin after end");
    if (t.end > h.data_size) return fail(where + "data runs past the end of the file (tensor out of bounds)");
    const std::uint64_t size = dtype_size(t.dtype);
    if (elements > std::numeric_limits<std::uint64_t>::max() / size) return fail(where + "size overflows");
    if (t.end - t.begin != elements * size)
      return fail(where + "holds " + std::to_string(t.end - t.begin) + " bytes but its shape and dtype need " +
                  std::to_string(elements * size));
    h.tensors.push_back(std::move(t));
  }
  std::sort(h.tensors.begin(), h.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (std::size_t i = 1; i < h.tensors.size(); ++i) {
    if (h.tensors[i].begin < h.tensors[i - 1].end && h.tensors[i].bytes() > 0)
      return fail("tensors '" + h.tensors[i - 1].name + "' and '" + h.tensors[i].name + "' overlap");
  }
  return h;
}

Expected<SafetensorsHeader, FormatError> read_safetensors_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return Unexpected(FormatError{path, "cannot open"});
  const auto file_size = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0);
  std::vector<std::uint8_t> prefix(8);
  if (file_size < 8 || !in.read(reinterpret_cast<char*>(prefix.data()), 8))
    return Unexpected(FormatError{path, "shorter than the 8-byte header length"});
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | prefix[static_cast<std::size_t>(i)];
  if (n <= k_max_header && n <= file_size - 8) {
    prefix.resize(8 + n);
    if (!in.read(reinterpret_cast<char*>(prefix.data() + 8), static_cast<std::streamsize>(n)))
      return Unexpected(FormatError{path, "read error in the header"});
  }
  auto h = parse_safetensors_header(prefix, file_size);
  if (!h) return Unexpected(FormatError{path, h.error().message});
  return h;
}

Expected<std::map<std::string, std::string>, FormatError> parse_safetensors_index(std::string_view json) {
  const auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return fail("index is not a JSON object");
  const auto map = j.find("weight_map");
  if (map == j.end() || !map->is_object()) return fail("index has no weight_map object");
  std::map<std::string, std::string> out;
  for (const auto& [tensor, file] : map->items()) {
    if (!file.is_string()) return fail("weight_map['" + tensor + "'] is not a file name");
    const auto name = file.get<std::string>();
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
      return fail("weight_map['" + tensor + "'] names '" + name + "', which is not a plain file name");
    out[tensor] = name;
  }
  return out;
}

std::vector<std::uint8_t> encode_safetensors_header(std::vector<TensorInfo>& tensors,
                                                    const std::map<std::string, std::string>& metadata) {
  nlohmann::json j = nlohmann::json::object();
  if (!metadata.empty()) j["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (auto& t : tensors) {
    std::uint64_t elements = 1;
    for (auto d : t.shape) elements *= d;
    t.begin = offset;
    t.end = offset + elements * dtype_size(t.dtype);
    offset = t.end;
    j[t.name] = {{"dtype", std::string(dtype_name(t.dtype))}, {"shape", t.shape}, {"data_offsets", {t.begin, t.end}}};
  }
  std::string text = j.dump();
  while ((8 + text.size()) % 8 != 0) text += ' ';  // the data section starts 8-aligned
  std::vector<std::uint8_t> out(8 + text.size());
  const std::uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
  std::copy(text.begin(), text.end(), out.begin() + 8);
  return out;
}

}  // namespace slimcache::config

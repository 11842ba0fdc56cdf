// Fuzz target: the safetensors header parser, the shard index parser and the layout recogniser.
#include <cstdint>
#include <string_view>

#include "config/checkpoint_layout.hpp"
#include "config/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace slimcache::config;
  // The file size is the input size, or claimed larger to probe bounds checks.
  for (std::uint64_t file_size : {static_cast<std::uint64_t>(size), static_cast<std::uint64_t>(size) * 3 + 17}) {
    auto header = parse_safetensors_header({data, size}, file_size);
    if (header) {
      std::vector<std::string> names;
      for (const auto& t : header->tensors) names.push_back(t.name);
      (void)recognize_layout(names);
    }
  }
  (void)parse_safetensors_index(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}

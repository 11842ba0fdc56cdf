// Fuzz target: the JSON-lines routing trace reader.
#include <cstdint>
#include <sstream>
#include <string>

#include "config/trace_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  auto trace = slimcache::config::read_trace(in, "fuzz");
  if (trace) {
    // Every set of a successfully read trace is addressable.
    const auto& t = *trace;
    for (std::size_t tok = 0; tok < t.num_tokens(); ++tok)
      for (std::size_t l = 0; l < t.num_layers; ++l) (void)t.set(tok, l);
  }
  return 0;
}

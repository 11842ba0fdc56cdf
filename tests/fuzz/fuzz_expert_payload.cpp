// Fuzz target: the expert payload decoder (agent/exec/expert_payload.hpp). Decodes the input
// in place and from a 64-byte aligned copy (so alignment checks do not stop every input
// early); when a view is accepted, reads every byte of its matrices (the sanitizers catch any
// out-of-bounds view) and runs the kernel on it for one token when it is small.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "agent/exec/aligned_bytes.hpp"
#include "agent/exec/expert_kernel.hpp"
#include "agent/exec/expert_payload.hpp"

namespace {

using namespace slimcache::agent::exec;

void exercise(std::span<const std::byte> bytes) {
  auto view = decode_expert_payload(bytes);
  if (!view) return;
  unsigned sum = 0;
  for (const MatrixView* m : {&view->gate, &view->up, &view->down}) {
    if (m->data == nullptr) continue;
    const std::size_t n = std::size_t{m->rows} * m->cols * dtype_size(view->dtype);
    for (std::size_t i = 0; i < n; ++i) sum += std::to_integer<unsigned>(m->data[i]);
  }
  if (std::uint64_t{view->hidden} * view->ffn <= 4096) {
    std::vector<float> x(view->hidden, 0.5f), y(view->hidden);
    (void)run_expert(*view, x, 1, y);
  }
  if (sum == 0xdeadbeef) std::abort();  // keeps the reads
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  exercise({reinterpret_cast<const std::byte*>(data), size});
  AlignedBytes copy(size);
  if (size > 0) std::memcpy(copy.data(), data, size);
  exercise(copy.bytes());
  return 0;
}

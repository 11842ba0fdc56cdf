#include "agent/exec/aligned_bytes.hpp"

#include <cstring>
#include <new>

namespace slimcache::agent::exec {

AlignedBytes::AlignedBytes(std::size_t size) : m_size(size) {
  if (size == 0) return;
  auto* p = static_cast<std::byte*>(::operator new(size, std::align_val_t{k_payload_alignment}));
  std::memset(p, 0, size);
  m_data.reset(p);
}

void AlignedBytes::Free::operator()(std::byte* p) const {
  ::operator delete(p, std::align_val_t{k_payload_alignment});
}

}  // namespace slimcache::agent::exec

#pragma once
// The stored form of ONE routed expert's weights (a blob in the disk and memory tiers).
//
// Layout, version 1, all header integers little-endian, header 128 bytes:
//   0  char[8] magic "SLIMEXP\0"      32 u64 total_size (= blob size)
//   8  u16 version (1)                 40 3 x {u64 offset, u64 size}: the matrices, in order
//   10 u8  kind (ExpertKind)           88 40 reserved bytes, zero
//   11 u8  dtype (WeightDtype)
//   12 u32 header_size (128)
//   16 u32 hidden, 20 u32 ffn
//   24 u32 matrix_count (3 SwiGLU, 2 two-matrix), 28 u32 reserved (0)
// Matrices follow the header, each at a 64-byte aligned offset, ascending, not overlapping,
// zero padding between them; each is row-major in the safetensors layout with elements of
// `dtype` in little-endian byte order:
//   SwiGLU:     gate [ffn, hidden], up [ffn, hidden], down [hidden, ffn]
//   two-matrix: wi [ffn, hidden], wo [hidden, ffn]   (Switch Transformers; slot 3 is zero)
//
// decode_expert_payload() validates untrusted bytes completely (magic, version, ranges,
// sizes, alignment, overflow, padding-free header) and returns a zero-copy view whose
// pointers point into the caller's buffer: the buffer must outlive the view. All functions
// are pure and thread-safe.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "agent/exec/aligned_bytes.hpp"
#include "agent/exec/exec_error.hpp"
#include "agent/exec/weight_dtype.hpp"
#include "solver/expected.hpp"

namespace slimcache::agent::exec {

// Values are part of the payload format (append-only).
enum class ExpertKind : std::uint8_t { k_swiglu = 1, k_two_matrix = 2 };

inline constexpr std::uint16_t k_payload_version = 1;
inline constexpr std::size_t k_payload_header_size = 128;
inline constexpr std::uint32_t k_max_dimension = 1u << 20;  // hidden and ffn limit

// A row-major matrix inside a payload (or any buffer): rows x cols elements of the
// expert's dtype starting at `data`, aligned to the element size.
struct MatrixView {
  const std::byte* data = nullptr;
  std::uint32_t rows = 0;
  std::uint32_t cols = 0;
};

// One expert, ready for the kernel. For the two-matrix kind `gate` holds wi, `down` holds
// wo and `up` is empty.
struct ExpertView {
  ExpertKind kind = ExpertKind::k_swiglu;
  WeightDtype dtype = WeightDtype::k_f32;
  std::uint32_t hidden = 0;
  std::uint32_t ffn = 0;
  MatrixView gate;  // [ffn, hidden]
  MatrixView up;    // [ffn, hidden], SwiGLU only
  MatrixView down;  // [hidden, ffn]
};

// Number of matrices of a kind: 3 or 2.
std::size_t matrix_count(ExpertKind kind);

// The encoded size of an expert, or k_invalid_argument / k_overflow.
Expected<std::uint64_t, ExecError> expert_payload_size(ExpertKind kind, WeightDtype dtype,
                                                       std::uint32_t hidden, std::uint32_t ffn);

// Input of the encoder: matrices as raw bytes in the safetensors layout, in the order of
// the layout comment above (gate, up, down or wi, wo); unused slots empty.
struct ExpertMatrices {
  ExpertKind kind = ExpertKind::k_swiglu;
  WeightDtype dtype = WeightDtype::k_f32;
  std::uint32_t hidden = 0;
  std::uint32_t ffn = 0;
  std::array<std::span<const std::byte>, 3> matrices;
};

// Encodes into `out`, which must be exactly expert_payload_size() bytes (any alignment).
// Fails with k_invalid_argument when a matrix has the wrong byte size or `out` the wrong size.
Expected<void, ExecError> encode_expert_payload_into(const ExpertMatrices& in, std::span<std::byte> out);
// Encodes into a fresh 64-byte aligned buffer.
Expected<AlignedBytes, ExecError> encode_expert_payload(const ExpertMatrices& in);

// Validates `bytes` and returns a view into them. `bytes.data()` must be aligned to the
// dtype's element size (k_misaligned otherwise); 64-byte alignment is best for speed.
Expected<ExpertView, ExecError> decode_expert_payload(std::span<const std::byte> bytes);

}  // namespace slimcache::agent::exec

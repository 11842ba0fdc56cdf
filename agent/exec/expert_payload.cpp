#include "agent/exec/expert_payload.hpp"

#include <bit>
#include <cstring>
#include <string>

namespace slimcache::agent::exec {
namespace {

static_assert(std::endian::native == std::endian::little,
              "expert payload matrices are little-endian and read in place");

constexpr std::array<char, 8> k_magic = {'S', 'L', 'I', 'M', 'E', 'X', 'P', '\0'};
constexpr std::size_t k_slots = 3;
constexpr std::size_t k_slot_table = 40;     // offset of the {offset, size} table
constexpr std::size_t k_reserved_tail = 88;  // first reserved byte after the table

Unexpected<ExecError> fail(ExecErrc code, std::string message) {
  return Unexpected(ExecError{code, std::move(message)});
}

std::uint64_t read_le(const std::byte* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(std::to_integer<std::uint8_t>(p[i])) << (8 * i);
  return v;
}

void write_le(std::byte* p, std::uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::byte>((v >> (8 * i)) & 0xffu);
}

constexpr std::uint64_t align_up(std::uint64_t v) {
  return (v + (k_payload_alignment - 1)) & ~static_cast<std::uint64_t>(k_payload_alignment - 1);
}

bool is_valid_kind(std::uint8_t raw) { return raw == 1 || raw == 2; }

// Shapes of the matrices of a kind: {rows, cols} per slot; {0, 0} for an unused slot.
std::array<std::array<std::uint32_t, 2>, k_slots> shapes(ExpertKind kind, std::uint32_t hidden, std::uint32_t ffn) {
  if (kind == ExpertKind::k_swiglu) return {{{ffn, hidden}, {ffn, hidden}, {hidden, ffn}}};
  return {{{ffn, hidden}, {hidden, ffn}, {0, 0}}};
}

struct Layout {
  std::array<std::uint64_t, k_slots> offset{};
  std::array<std::uint64_t, k_slots> size{};
  std::uint64_t total = 0;
};

// Offsets and sizes of the canonical layout; dimensions already range-checked, so no
// overflow is possible: 3 * 2^20 * 2^20 * 4 < 2^64.
Layout canonical_layout(ExpertKind kind, WeightDtype dtype, std::uint32_t hidden, std::uint32_t ffn) {
  Layout layout;
  std::uint64_t at = k_payload_header_size;
  const auto dims = shapes(kind, hidden, ffn);
  for (std::size_t i = 0; i < matrix_count(kind); ++i) {
    at = align_up(at);
    layout.offset[i] = at;
    layout.size[i] = static_cast<std::uint64_t>(dims[i][0]) * dims[i][1] * dtype_size(dtype);
    at += layout.size[i];
  }
  layout.total = at;
  return layout;
}

Expected<void, ExecError> check_dimensions(ExpertKind kind, WeightDtype dtype, std::uint32_t hidden,
                                           std::uint32_t ffn) {
  if (!is_valid_kind(static_cast<std::uint8_t>(kind)))
    return fail(ExecErrc::k_invalid_argument, "unknown expert kind " + std::to_string(static_cast<int>(kind)));
  if (!is_valid_dtype(static_cast<std::uint8_t>(dtype)))
    return fail(ExecErrc::k_invalid_argument, "unknown weight dtype " + std::to_string(static_cast<int>(dtype)));
  if (hidden == 0 || ffn == 0 || hidden > k_max_dimension || ffn > k_max_dimension)
    return fail(ExecErrc::k_invalid_argument, "hidden " + std::to_string(hidden) + " and ffn " + std::to_string(ffn) +
                                                  " must be in 1.." + std::to_string(k_max_dimension));
  return {};
}

MatrixView matrix_at(const std::byte* base, const Layout& layout, std::size_t slot,
                     const std::array<std::uint32_t, 2>& dims) {
  if (dims[0] == 0) return {};
  return MatrixView{base + layout.offset[slot], dims[0], dims[1]};
}

}  // namespace

std::size_t matrix_count(ExpertKind kind) { return kind == ExpertKind::k_swiglu ? 3 : 2; }

Expected<std::uint64_t, ExecError> expert_payload_size(ExpertKind kind, WeightDtype dtype, std::uint32_t hidden,
                                                       std::uint32_t ffn) {
  SLIM_TRY_VOID(check_dimensions(kind, dtype, hidden, ffn));
  const Layout layout = canonical_layout(kind, dtype, hidden, ffn);
  if (layout.total > static_cast<std::uint64_t>(SIZE_MAX))
    return fail(ExecErrc::k_overflow, "payload of " + std::to_string(layout.total) + " bytes exceeds the address space");
  return layout.total;
}

Expected<void, ExecError> encode_expert_payload_into(const ExpertMatrices& in, std::span<std::byte> out) {
  SLIM_TRY(const std::uint64_t total, expert_payload_size(in.kind, in.dtype, in.hidden, in.ffn));
  if (out.size() != total)
    return fail(ExecErrc::k_invalid_argument,
                "output buffer is " + std::to_string(out.size()) + " bytes, payload needs " + std::to_string(total));
  const Layout layout = canonical_layout(in.kind, in.dtype, in.hidden, in.ffn);
  const std::size_t count = matrix_count(in.kind);
  static constexpr std::array<const char*, 3> k_swiglu_names = {"gate", "up", "down"};
  static constexpr std::array<const char*, 3> k_switch_names = {"wi", "wo", "(unused)"};
  for (std::size_t i = 0; i < k_slots; ++i) {
    const std::uint64_t want = i < count ? layout.size[i] : 0;
    if (in.matrices[i].size() != want) {
      const char* name = in.kind == ExpertKind::k_swiglu ? k_swiglu_names[i] : k_switch_names[i];
      return fail(ExecErrc::k_invalid_argument, std::string("matrix ") + name + " is " +
                                                    std::to_string(in.matrices[i].size()) + " bytes, expected " +
                                                    std::to_string(want));
    }
  }
  std::memset(out.data(), 0, out.size());
  std::byte* h = out.data();
  std::memcpy(h, k_magic.data(), k_magic.size());
  write_le(h + 8, k_payload_version, 2);
  write_le(h + 10, static_cast<std::uint8_t>(in.kind), 1);
  write_le(h + 11, static_cast<std::uint8_t>(in.dtype), 1);
  write_le(h + 12, k_payload_header_size, 4);
  write_le(h + 16, in.hidden, 4);
  write_le(h + 20, in.ffn, 4);
  write_le(h + 24, count, 4);
  write_le(h + 32, total, 8);
  for (std::size_t i = 0; i < count; ++i) {
    write_le(h + k_slot_table + 16 * i, layout.offset[i], 8);
    write_le(h + k_slot_table + 16 * i + 8, layout.size[i], 8);
    std::memcpy(h + layout.offset[i], in.matrices[i].data(), layout.size[i]);
  }
  return {};
}

Expected<AlignedBytes, ExecError> encode_expert_payload(const ExpertMatrices& in) {
  SLIM_TRY(const std::uint64_t total, expert_payload_size(in.kind, in.dtype, in.hidden, in.ffn));
  AlignedBytes out(static_cast<std::size_t>(total));
  SLIM_TRY_VOID(encode_expert_payload_into(in, out.bytes()));
  return out;
}

Expected<ExpertView, ExecError> decode_expert_payload(std::span<const std::byte> bytes) {
  if (bytes.size() < k_payload_header_size)
    return fail(ExecErrc::k_truncated, "payload of " + std::to_string(bytes.size()) + " bytes is shorter than its " +
                                           std::to_string(k_payload_header_size) + "-byte header");
  const std::byte* h = bytes.data();
  if (std::memcmp(h, k_magic.data(), k_magic.size()) != 0) return fail(ExecErrc::k_bad_magic, "not an expert payload (magic)");
  const auto version = read_le(h + 8, 2);
  if (version != k_payload_version)
    return fail(ExecErrc::k_unsupported_version, "payload version " + std::to_string(version) + ", this build reads " +
                                                     std::to_string(k_payload_version));
  const auto raw_kind = static_cast<std::uint8_t>(read_le(h + 10, 1));
  const auto raw_dtype = static_cast<std::uint8_t>(read_le(h + 11, 1));
  if (!is_valid_kind(raw_kind)) return fail(ExecErrc::k_bad_header, "unknown expert kind " + std::to_string(raw_kind));
  if (!is_valid_dtype(raw_dtype)) return fail(ExecErrc::k_bad_header, "unknown weight dtype " + std::to_string(raw_dtype));
  const auto kind = static_cast<ExpertKind>(raw_kind);
  const auto dtype = static_cast<WeightDtype>(raw_dtype);
  if (read_le(h + 12, 4) != k_payload_header_size)
    return fail(ExecErrc::k_bad_header, "header_size " + std::to_string(read_le(h + 12, 4)) + ", expected " +
                                            std::to_string(k_payload_header_size));
  const auto hidden = static_cast<std::uint32_t>(read_le(h + 16, 4));
  const auto ffn = static_cast<std::uint32_t>(read_le(h + 20, 4));
  if (hidden == 0 || ffn == 0 || hidden > k_max_dimension || ffn > k_max_dimension)
    return fail(ExecErrc::k_bad_header, "hidden " + std::to_string(hidden) + " or ffn " + std::to_string(ffn) +
                                            " out of 1.." + std::to_string(k_max_dimension));
  const std::size_t count = matrix_count(kind);
  if (read_le(h + 24, 4) != count)
    return fail(ExecErrc::k_bad_header, "matrix_count " + std::to_string(read_le(h + 24, 4)) + " for this kind, expected " +
                                            std::to_string(count));
  if (read_le(h + 28, 4) != 0) return fail(ExecErrc::k_bad_header, "reserved header field is not zero");
  for (std::size_t i = k_reserved_tail; i < k_payload_header_size; ++i)
    if (h[i] != std::byte{0}) return fail(ExecErrc::k_bad_header, "reserved header byte " + std::to_string(i) + " is not zero");
  const std::uint64_t total = read_le(h + 32, 8);
  if (total != bytes.size())
    return fail(total > bytes.size() ? ExecErrc::k_truncated : ExecErrc::k_bad_header,
                "header says " + std::to_string(total) + " bytes, payload is " + std::to_string(bytes.size()));
  const std::size_t element = dtype_size(dtype);
  if (reinterpret_cast<std::uintptr_t>(h) % element != 0)
    return fail(ExecErrc::k_misaligned, "payload buffer is not aligned to its " + std::to_string(element) + "-byte elements");

  const auto dims = shapes(kind, hidden, ffn);
  Layout layout;
  std::uint64_t end_of_previous = k_payload_header_size;
  for (std::size_t i = 0; i < k_slots; ++i) {
    const std::uint64_t offset = read_le(h + k_slot_table + 16 * i, 8);
    const std::uint64_t size = read_le(h + k_slot_table + 16 * i + 8, 8);
    if (i >= count) {
      if (offset != 0 || size != 0) return fail(ExecErrc::k_bad_header, "unused matrix slot " + std::to_string(i) + " is not zero");
      continue;
    }
    const std::uint64_t want = static_cast<std::uint64_t>(dims[i][0]) * dims[i][1] * element;  // < 2^43
    if (size != want)
      return fail(ExecErrc::k_bad_header, "matrix " + std::to_string(i) + " is " + std::to_string(size) +
                                              " bytes, its shape needs " + std::to_string(want));
    if (offset % k_payload_alignment != 0)
      return fail(ExecErrc::k_misaligned, "matrix " + std::to_string(i) + " offset " + std::to_string(offset) +
                                              " is not 64-byte aligned");
    if (offset < end_of_previous)
      return fail(ExecErrc::k_bad_header, "matrix " + std::to_string(i) + " offset " + std::to_string(offset) +
                                              " overlaps the header or the previous matrix");
    if (offset > total || size > total - offset)
      return fail(ExecErrc::k_truncated, "matrix " + std::to_string(i) + " [" + std::to_string(offset) + ", +" +
                                             std::to_string(size) + ") runs past the payload end " + std::to_string(total));
    layout.offset[i] = offset;
    layout.size[i] = size;
    end_of_previous = offset + size;
  }

  ExpertView view;
  view.kind = kind;
  view.dtype = dtype;
  view.hidden = hidden;
  view.ffn = ffn;
  view.gate = matrix_at(h, layout, 0, dims[0]);
  if (kind == ExpertKind::k_swiglu) {
    view.up = matrix_at(h, layout, 1, dims[1]);
    view.down = matrix_at(h, layout, 2, dims[2]);
  } else {
    view.down = matrix_at(h, layout, 1, dims[1]);
  }
  return view;
}

}  // namespace slimcache::agent::exec

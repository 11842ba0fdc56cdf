#include "agent/exec/expert_payload.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "tests/agent/exec/generated_expert.hpp"

namespace slimcache::agent::exec {
namespace {

constexpr std::uint64_t k_seed = 7;

void put_le(std::byte* p, std::uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::byte>((v >> (8 * i)) & 0xff);
}

// A small valid payload to corrupt: SwiGLU, f32, hidden 5, ffn 3 (matrices of 60 bytes).
AlignedBytes small_payload(ExpertKind kind = ExpertKind::k_swiglu, WeightDtype dtype = WeightDtype::k_f32) {
  return testing::generate_expert(kind, dtype, 5, 3, k_seed).payload;
}

ExecErrc decode_error(const AlignedBytes& bytes) {
  const auto sut = decode_expert_payload(bytes.bytes());
  EXPECT_FALSE(sut.has_value());
  return sut.has_value() ? ExecErrc::k_invalid_argument : sut.error().code;
}

TEST(ExpertPayload, RoundTripsEveryKindAndDtypeWithMatricesInPlace) {
  for (ExpertKind kind : {ExpertKind::k_swiglu, ExpertKind::k_two_matrix})
    for (WeightDtype dtype : {WeightDtype::k_f32, WeightDtype::k_bf16, WeightDtype::k_f16}) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + (kind == ExpertKind::k_swiglu ? " swiglu" : " two-matrix"));
      // Arrange: three distinct byte patterns of the right sizes.
      const std::uint32_t hidden = 13, ffn = 7;
      const std::size_t bytes = std::size_t{hidden} * ffn * dtype_size(dtype);
      std::vector<std::byte> m0(bytes), m1(bytes), m2(bytes);
      for (std::size_t i = 0; i < bytes; ++i) {
        m0[i] = static_cast<std::byte>(i);
        m1[i] = static_cast<std::byte>(i * 7 + 1);
        m2[i] = static_cast<std::byte>(i * 13 + 5);
      }
      ExpertMatrices in{kind, dtype, hidden, ffn, {}};
      in.matrices[0] = m0;
      in.matrices[1] = m1;
      if (kind == ExpertKind::k_swiglu) in.matrices[2] = m2;
      // Act
      auto encoded = encode_expert_payload(in);
      ASSERT_TRUE(encoded.has_value()) << encoded.error().message;
      const auto sut = decode_expert_payload(encoded->bytes());
      // Assert
      ASSERT_TRUE(sut.has_value()) << sut.error().message;
      EXPECT_EQ(encoded->size(), *expert_payload_size(kind, dtype, hidden, ffn));
      EXPECT_EQ(sut->kind, kind);
      EXPECT_EQ(sut->dtype, dtype);
      EXPECT_EQ(sut->hidden, hidden);
      EXPECT_EQ(sut->ffn, ffn);
      const std::byte* base = encoded->data();
      auto check = [&](const MatrixView& m, const std::vector<std::byte>& want, std::uint32_t rows, std::uint32_t cols) {
        EXPECT_EQ(m.rows, rows);
        EXPECT_EQ(m.cols, cols);
        ASSERT_GE(m.data, base);
        EXPECT_EQ(static_cast<std::size_t>(m.data - base) % k_payload_alignment, 0u);
        EXPECT_EQ(std::memcmp(m.data, want.data(), want.size()), 0);
      };
      check(sut->gate, m0, ffn, hidden);
      if (kind == ExpertKind::k_swiglu) {
        check(sut->up, m1, ffn, hidden);
        check(sut->down, m2, hidden, ffn);
      } else {
        EXPECT_EQ(sut->up.data, nullptr);
        check(sut->down, m1, hidden, ffn);
      }
    }
}

TEST(ExpertPayload, SizeIsHeaderPlusAlignedMatrices) {
  // 128 + align64(2*3*4=24)=64 -> 192 + 24 = 216 -> 256 + 24 = 280.
  EXPECT_EQ(*expert_payload_size(ExpertKind::k_swiglu, WeightDtype::k_f32, 2, 3), 128u + 64 + 64 + 24);
  const std::uint64_t m = 2048ull * 1024 * 2;  // OLMoE bf16: multiples of 64 need no padding
  EXPECT_EQ(*expert_payload_size(ExpertKind::k_swiglu, WeightDtype::k_bf16, 2048, 1024), 128 + 3 * m);
  EXPECT_FALSE(expert_payload_size(ExpertKind::k_swiglu, WeightDtype::k_f32, 0, 3).has_value());
  EXPECT_FALSE(expert_payload_size(ExpertKind::k_swiglu, WeightDtype::k_f32, k_max_dimension + 1, 3).has_value());
  EXPECT_FALSE(expert_payload_size(static_cast<ExpertKind>(9), WeightDtype::k_f32, 2, 3).has_value());
  EXPECT_FALSE(expert_payload_size(ExpertKind::k_swiglu, static_cast<WeightDtype>(0), 2, 3).has_value());
}

TEST(ExpertPayload, EncoderRejectsMatricesOfTheWrongSize) {
  std::vector<std::byte> right(5 * 3 * 4), wrong(5 * 3 * 4 - 1);
  ExpertMatrices in{ExpertKind::k_swiglu, WeightDtype::k_f32, 5, 3, {}};
  in.matrices = {std::span<const std::byte>(right), std::span<const std::byte>(wrong), std::span<const std::byte>(right)};
  const auto sut = encode_expert_payload(in);
  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().code, ExecErrc::k_invalid_argument);
  EXPECT_NE(sut.error().message.find("up"), std::string::npos) << sut.error().message;
  ExpertMatrices extra{ExpertKind::k_two_matrix, WeightDtype::k_f32, 5, 3, {}};
  extra.matrices = {std::span<const std::byte>(right), std::span<const std::byte>(right), std::span<const std::byte>(right)};
  EXPECT_FALSE(encode_expert_payload(extra).has_value());
  std::vector<std::byte> out(10);
  in.matrices[1] = right;
  EXPECT_FALSE(encode_expert_payload_into(in, out).has_value());
}

TEST(ExpertPayload, DecoderRejectsEveryTruncation) {
  const auto payload = small_payload();
  for (std::size_t n = 0; n < payload.size(); ++n) {
    const auto sut = decode_expert_payload(payload.bytes().first(n));
    ASSERT_FALSE(sut.has_value()) << "prefix of " << n << " bytes";
    EXPECT_EQ(sut.error().code, ExecErrc::k_truncated) << "prefix of " << n << " bytes";
  }
}

TEST(ExpertPayload, DecoderRejectsBadHeaderFields) {
  struct Case {
    const char* what;
    std::size_t at;
    std::uint64_t value;
    std::size_t width;
    ExecErrc want;
  };
  const Case cases[] = {
      {"magic", 0, 'X', 1, ExecErrc::k_bad_magic},
      {"version", 8, 2, 2, ExecErrc::k_unsupported_version},
      {"kind", 10, 3, 1, ExecErrc::k_bad_header},
      {"dtype", 11, 0, 1, ExecErrc::k_bad_header},
      {"header_size", 12, 64, 4, ExecErrc::k_bad_header},
      {"hidden zero", 16, 0, 4, ExecErrc::k_bad_header},
      {"hidden changed", 16, 6, 4, ExecErrc::k_bad_header},
      {"ffn huge", 20, k_max_dimension + 1, 4, ExecErrc::k_bad_header},
      {"matrix_count", 24, 2, 4, ExecErrc::k_bad_header},
      {"reserved", 28, 1, 4, ExecErrc::k_bad_header},
      {"total_size smaller", 32, 130, 8, ExecErrc::k_bad_header},
      {"total_size larger", 32, 1ull << 40, 8, ExecErrc::k_truncated},
      {"offset misaligned", 40, 136, 8, ExecErrc::k_misaligned},
      {"offset in header", 40, 64, 8, ExecErrc::k_bad_header},
      {"offset overflows", 40, ~std::uint64_t{63}, 8, ExecErrc::k_truncated},
      {"size wrong", 48, 64, 8, ExecErrc::k_bad_header},
      {"overlap", 56, 128, 8, ExecErrc::k_bad_header},
      {"tail reserved", 120, 1, 1, ExecErrc::k_bad_header},
  };
  for (const auto& c : cases) {
    auto payload = small_payload();
    put_le(payload.data() + c.at, c.value, c.width);
    EXPECT_EQ(decode_error(payload), c.want) << c.what;
  }
}

TEST(ExpertPayload, DecoderRejectsAnUnusedSlotThatIsNotZero) {
  auto payload = small_payload(ExpertKind::k_two_matrix);
  put_le(payload.data() + 40 + 32, 1024, 8);
  EXPECT_EQ(decode_error(payload), ExecErrc::k_bad_header);
}

TEST(ExpertPayload, DecoderRejectsABufferNotAlignedToItsElements) {
  const auto payload = small_payload(ExpertKind::k_swiglu, WeightDtype::k_f32);
  AlignedBytes shifted(payload.size() + 2);
  std::memcpy(shifted.data() + 2, payload.data(), payload.size());
  const auto sut = decode_expert_payload(shifted.bytes().subspan(2));
  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().code, ExecErrc::k_misaligned);
}

TEST(ExpertPayload, EverySingleByteHeaderCorruptionIsRejectedOrStillConsistent) {
  const auto original = small_payload();
  for (std::size_t at = 0; at < k_payload_header_size; ++at)
    for (int bit = 0; bit < 8; ++bit) {
      AlignedBytes payload(original.size());
      std::memcpy(payload.data(), original.data(), original.size());
      payload.data()[at] ^= static_cast<std::byte>(1 << bit);
      const auto sut = decode_expert_payload(payload.bytes());
      if (!sut.has_value()) continue;
      // Accepted (e.g. a different but valid offset): then everything must be in bounds.
      const std::byte* end = payload.data() + payload.size();
      for (const MatrixView* m : {&sut->gate, &sut->up, &sut->down}) {
        if (m->data == nullptr) continue;
        EXPECT_GE(m->data, payload.data() + k_payload_header_size) << at << ":" << bit;
        EXPECT_LE(m->data + std::size_t{m->rows} * m->cols * dtype_size(sut->dtype), end) << at << ":" << bit;
      }
    }
}

}  // namespace
}  // namespace slimcache::agent::exec

// slimcache_moe_forward() end to end in one process: this test plays a node (memory tier +
// engine segment with a holder table + the daemon's ExecServer on a Unix socket) and a peer
// (an ExecServer on loopback TLS). Experts are spread over the three places; the C API's
// gate-weighted outputs must match the double-precision reference within its bound, both
// for generated experts of every dtype and for a model imported from a safetensors checkpoint.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "agent/cache/memory_tier.hpp"
#include "agent/engine/engine_segment.hpp"
#include "agent/exec/exec_key.hpp"
#include "agent/exec/exec_server.hpp"
#include "agent/model/checkpoint_writer.hpp"
#include "agent/model/importer.hpp"
#include "config/safetensors.hpp"
#include "slimcache/client.h"
#include "tests/agent/exec/generated_expert.hpp"
#include "tests/agent/exec/map_expert_source.hpp"
#include "tests/agent/exec/reference_kernel.hpp"

namespace slimcache::agent::exec {
namespace {

using testing::MapExpertSource;

std::shared_ptr<transfer::TlsContext> tls(transfer::TlsRole role) {
  const std::vector<std::uint8_t> key(32, 3);
  transfer::TlsSettings settings;
  settings.role = role;
  settings.psk = derive_exec_psk(key, "moe-test").value();
  return transfer::TlsContext::create(settings).value();
}

enum class Place { k_memory, k_daemon, k_peer };

// One node (memory tier, engine segment, daemon execution server) and one peer.
class MiniCluster {
 public:
  // payloads[layer][expert]; where(layer, expert) says which place holds it.
  MiniCluster(const std::string& tag, const std::string& model, std::uint32_t hidden,
              const std::vector<std::vector<std::span<const std::byte>>>& payloads,
              const std::function<Place(std::uint32_t, std::uint32_t)>& where)
      : m_name("slimcache-moe-" + tag + "-" + std::to_string(::getpid())),
        m_socket((std::filesystem::temp_directory_path() / (m_name + ".sock")).string()),
        m_daemon(model, static_cast<std::uint32_t>(payloads.size()), static_cast<std::uint32_t>(payloads[0].size())),
        m_peer(model, static_cast<std::uint32_t>(payloads.size()), static_cast<std::uint32_t>(payloads[0].size())) {
    (void)hidden;
    const auto layers = static_cast<std::uint32_t>(payloads.size());
    const auto experts = static_cast<std::uint32_t>(payloads[0].size());
    std::uint64_t slot = 0;
    for (const auto& l : payloads)
      for (const auto& p : l) slot = std::max<std::uint64_t>(slot, p.size());
    cache::MemoryTierOptions options{m_name, model, layers, experts, (slot + 8192) * layers * experts + (1 << 20), slot};
    m_tier = cache::MemoryTier::create(options, platform::SystemClock::instance()).value();
    m_engine.emplace(engine::EngineSegment::create(m_name, {layers, experts, 4096, model}).value());

    ExecServerOptions peer_options;
    peer_options.tls_server = tls(transfer::TlsRole::k_server);
    m_peer_server = ExecServer::start(m_peer, peer_options).value();
    const std::string peer_address = "127.0.0.1:" + std::to_string(m_peer_server->tcp_port());

    std::vector<engine::HolderInfo> holders(static_cast<std::size_t>(layers) * experts);
    for (std::uint32_t l = 0; l < layers; ++l)
      for (std::uint32_t e = 0; e < experts; ++e) {
        const auto bytes = payloads[l][e];
        auto& h = holders[static_cast<std::size_t>(l) * experts + e];
        switch (where(l, e)) {
          case Place::k_memory: {
            auto loaded = m_tier->load(l, e, [&](std::span<std::byte> dst) -> Expected<std::size_t, cache::CacheError> {
              std::copy(bytes.begin(), bytes.end(), dst.begin());
              return bytes.size();
            });
            EXPECT_TRUE(loaded.has_value());
            h.location = engine::layout::k_memory;
            break;
          }
          case Place::k_daemon:
            m_daemon.put(l, e, bytes, ServedFrom::k_local_disk);
            h.location = engine::layout::k_local_disk;
            break;
          case Place::k_peer:
            m_peer.put(l, e, bytes);
            h.location = engine::layout::k_peer;
            h.holders = {0};
            break;
        }
      }
    m_engine->publish_holders({{"peer", peer_address}}, holders);

    ExecServerOptions daemon_options;
    daemon_options.unix_path = m_socket;
    daemon_options.tls_client = tls(transfer::TlsRole::k_client);
    m_daemon_server = ExecServer::start(m_daemon, daemon_options).value();
  }
  ~MiniCluster() {
    m_daemon_server->stop();
    m_peer_server->stop();
    engine::EngineSegment::remove(m_name);
  }
  MiniCluster(const MiniCluster&) = delete;
  MiniCluster& operator=(const MiniCluster&) = delete;

  [[nodiscard]] const std::string& name() const { return m_name; }
  [[nodiscard]] const std::string& socket() const { return m_socket; }
  [[nodiscard]] const ExecServer& daemon() const { return *m_daemon_server; }
  [[nodiscard]] const ExecServer& peer() const { return *m_peer_server; }

 private:
  std::string m_name;
  std::string m_socket;
  MapExpertSource m_daemon;
  MapExpertSource m_peer;
  std::unique_ptr<cache::MemoryTier> m_tier;
  std::optional<engine::EngineSegment> m_engine;
  std::unique_ptr<ExecServer> m_peer_server;
  std::unique_ptr<ExecServer> m_daemon_server;
};

// Runs `tokens` random tokens through slimcache_moe_forward and compares each with the
// reference: y = Σ g_i ref_i, bound = Σ |g_i| bound_i + (k + 2) u Σ |g_i| (|ref_i| + bound_i).
void expect_moe_matches_reference(const MiniCluster& cluster, const std::vector<std::vector<ExpertView>>& views,
                                  std::uint32_t hidden, std::uint32_t k, int tokens, std::uint64_t seed,
                                  slimcache_moe_report& total) {
  SCOPED_TRACE("seed=" + std::to_string(seed));
  slimcache_client* sut = nullptr;
  char err[256] = {};
  ASSERT_EQ(slimcache_open(cluster.name().c_str(), &sut, err, sizeof err), SLIMCACHE_OK) << err;
  ASSERT_EQ(slimcache_set_exec_socket(sut, cluster.socket().c_str()), SLIMCACHE_OK);
  std::mt19937_64 rng(seed);
  const auto layers = static_cast<std::uint32_t>(views.size());
  const auto experts = static_cast<std::uint32_t>(views[0].size());
  constexpr double u = 1.0 / (1 << 24);
  for (int t = 0; t < tokens; ++t) {
    const auto layer = static_cast<std::uint32_t>(rng() % layers);
    std::vector<std::uint16_t> ids;
    while (ids.size() < k) {
      const auto e = static_cast<std::uint16_t>(rng() % experts);
      if (std::find(ids.begin(), ids.end(), e) == ids.end()) ids.push_back(e);
    }
    std::vector<float> gates(k);
    for (auto& g : gates) g = std::uniform_real_distribution<float>(0.05f, 1.0f)(rng);
    const auto x = testing::generate_activations(hidden, seed + static_cast<std::uint64_t>(t));
    std::vector<float> out(hidden, -1.0f);
    slimcache_moe_report report{};
    ASSERT_EQ(slimcache_moe_forward(sut, layer, k, ids.data(), gates.data(), x.data(), hidden, out.data(), &report),
              SLIMCACHE_OK)
        << "token " << t;
    EXPECT_EQ(report.in_process + report.daemon + report.peer, k);
    EXPECT_EQ(report.failed, 0u);
    total.in_process += report.in_process;
    total.daemon += report.daemon;
    total.peer += report.peer;
    std::vector<double> y(hidden, 0.0), bound(hidden, 0.0), mag(hidden, 0.0);
    for (std::uint32_t i = 0; i < k; ++i) {
      const auto ref = testing::reference_expert(views[layer][ids[i]], x, 1);
      for (std::uint32_t h = 0; h < hidden; ++h) {
        y[h] += gates[i] * ref.y[h];
        bound[h] += std::fabs(gates[i]) * ref.bound[h];
        mag[h] += std::fabs(gates[i]) * (std::fabs(ref.y[h]) + ref.bound[h]);
      }
    }
    int bad = 0;
    for (std::uint32_t h = 0; h < hidden; ++h) {
      const double allowed = bound[h] + (k + 2) * u * mag[h];
      if (!(std::fabs(out[h] - y[h]) <= allowed) && ++bad <= 3)
        ADD_FAILURE() << "token " << t << " element " << h << ": got " << out[h] << " reference " << y[h]
                      << " allowed " << allowed;
    }
    ASSERT_EQ(bad, 0);
  }
  slimcache_close(sut);
}

TEST(MoeForward, MatchesTheReferenceWithExpertsInMemoryOnTheDaemonAndOnAPeer) {
  constexpr std::uint32_t layers = 2, experts = 9, hidden = 40, ffn = 24, k = 4;
  constexpr std::uint64_t seed = 4242;
  const WeightDtype dtypes[] = {WeightDtype::k_f32, WeightDtype::k_bf16, WeightDtype::k_f16};
  std::vector<std::vector<testing::GeneratedExpert>> generated(layers);
  std::vector<std::vector<std::span<const std::byte>>> payloads(layers);
  std::vector<std::vector<ExpertView>> views(layers);
  for (std::uint32_t l = 0; l < layers; ++l)
    for (std::uint32_t e = 0; e < experts; ++e) {
      const auto kind = (e / 3) % 2 == 0 ? ExpertKind::k_swiglu : ExpertKind::k_two_matrix;
      generated[l].push_back(testing::generate_expert(kind, dtypes[e % 3], hidden, ffn, seed + l * 100 + e));
    }
  for (std::uint32_t l = 0; l < layers; ++l)
    for (auto& g : generated[l]) {
      payloads[l].push_back(g.payload.bytes());
      views[l].push_back(g.view);
    }
  // Every place gets experts of every dtype: place by (e / 3 + l) % 3, dtype by e % 3.
  const MiniCluster cluster("gen", "gen-model", hidden, payloads,
                            [](std::uint32_t l, std::uint32_t e) { return static_cast<Place>((e / 3 + l) % 3); });
  slimcache_moe_report total{};
  expect_moe_matches_reference(cluster, views, hidden, k, 30, seed, total);
  EXPECT_GT(total.in_process, 0u);
  EXPECT_GT(total.daemon, 0u);
  EXPECT_GT(total.peer, 0u);
  EXPECT_EQ(cluster.peer().stats().experts_run, total.peer);
  EXPECT_EQ(cluster.daemon().stats().connections, 1u);  // one persistent connection for all tokens
}

TEST(MoeForward, RefusesBadArgumentsAndSaysWhenTheDaemonIsMissing) {
  constexpr std::uint32_t hidden = 8;
  auto g = testing::generate_expert(ExpertKind::k_swiglu, WeightDtype::k_f32, hidden, 4, 1);
  const std::vector<std::vector<std::span<const std::byte>>> payloads{{g.payload.bytes(), g.payload.bytes()}};
  const MiniCluster cluster("bad", "m", hidden, payloads,
                            [](std::uint32_t, std::uint32_t e) { return e == 0 ? Place::k_memory : Place::k_daemon; });
  slimcache_client* sut = nullptr;
  ASSERT_EQ(slimcache_open(cluster.name().c_str(), &sut, nullptr, 0), SLIMCACHE_OK);
  const std::uint16_t ids[] = {0, 1};
  const float gates[] = {0.5f, 0.5f};
  std::vector<float> x(hidden, 0.25f), out(hidden);
  EXPECT_EQ(slimcache_moe_forward(sut, 1, 2, ids, gates, x.data(), hidden, out.data(), nullptr), SLIMCACHE_E_INVALID);
  const std::uint16_t out_of_range[] = {0, 7};
  EXPECT_EQ(slimcache_moe_forward(sut, 0, 2, out_of_range, gates, x.data(), hidden, out.data(), nullptr),
            SLIMCACHE_E_INVALID);
  // Expert 1 is not resident here and no execution socket was set.
  EXPECT_EQ(slimcache_moe_forward(sut, 0, 2, ids, gates, x.data(), hidden, out.data(), nullptr),
            SLIMCACHE_E_EXEC_UNAVAILABLE);
  // Expert 0 alone runs in-process without a daemon.
  EXPECT_EQ(slimcache_moe_forward(sut, 0, 1, ids, gates, x.data(), hidden, out.data(), nullptr), SLIMCACHE_OK);
  slimcache_close(sut);
}

// Overwrites every expert tensor of a written checkpoint with seeded bf16 values in
// ±1/sqrt(cols) (the fixture's own bytes include NaN and huge values) and returns them as
// floats by tensor name.
std::map<std::string, std::vector<float>> sane_weights(const std::filesystem::path& file, std::uint64_t seed) {
  std::map<std::string, std::vector<float>> values;
  const auto header = config::read_safetensors_header(file.string()).value();
  std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
  std::mt19937_64 rng(seed);
  for (const auto& t : header.tensors) {
    if (t.name.find("experts") == std::string::npos || t.shape.size() != 2) continue;
    const double scale = 1.0 / std::sqrt(static_cast<double>(t.shape[1]));
    std::uniform_real_distribution<float> dist(static_cast<float>(-scale), static_cast<float>(scale));
    auto& v = values[t.name];
    std::vector<std::uint8_t> bytes;
    for (std::uint64_t i = 0; i < t.bytes() / 2; ++i) {
      const std::uint16_t bits = f32_to_bf16(dist(rng));
      v.push_back(bf16_to_f32(bits));
      bytes.push_back(static_cast<std::uint8_t>(bits & 0xFF));
      bytes.push_back(static_cast<std::uint8_t>(bits >> 8));
    }
    io.seekp(static_cast<std::streamoff>(header.data_offset + t.begin));
    io.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  return values;
}

TEST(MoeForward, AnImportedCheckpointGivesTheReferenceOutputs) {
  constexpr std::uint64_t seed = 777;
  model::CheckpointSpec spec;
  spec.family = model::Family::k_olmoe;
  spec.layers = 2;
  spec.experts = 6;
  spec.top_k = 2;
  spec.hidden = 32;
  spec.ffn = 16;
  spec.dtype = config::DType::k_bf16;
  const auto dir = std::filesystem::temp_directory_path() / ("slimcache-moe-ckpt-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  (void)model::write_checkpoint(dir, spec);
  const auto weights = sane_weights(dir / "model.safetensors", seed);
  ASSERT_FALSE(weights.empty());

  const auto plan = model::plan_import({dir.string(), "olmoe-mini", 0});
  ASSERT_TRUE(plan.has_value()) << plan.error();
  std::vector<std::vector<AlignedBytes>> stored(spec.layers);
  for (auto& l : stored) l.resize(spec.experts);
  const auto report = model::run_import(
      *plan,
      [&](std::uint32_t l, std::uint32_t e, std::span<const std::byte> payload) -> Expected<void, std::string> {
        stored[l][e] = AlignedBytes(payload.size());
        std::copy(payload.begin(), payload.end(), stored[l][e].data());
        return {};
      },
      [](std::uint32_t, std::uint32_t) {});
  ASSERT_TRUE(report.has_value()) << report.error();
  ASSERT_EQ(report->experts, spec.layers * spec.experts);

  std::vector<std::vector<std::span<const std::byte>>> payloads(spec.layers);
  std::vector<std::vector<ExpertView>> views(spec.layers);
  for (std::uint32_t l = 0; l < spec.layers; ++l)
    for (std::uint32_t e = 0; e < spec.experts; ++e) {
      payloads[l].push_back(stored[l][e].bytes());
      const auto view = decode_expert_payload(stored[l][e].bytes());
      ASSERT_TRUE(view.has_value()) << view.error().message;
      views[l].push_back(*view);
      // The payload holds exactly the checkpoint's weights (so the reference below is the checkpoint's).
      const auto names = model::expert_tensor_names(spec, l, e);
      const MatrixView* mats[] = {&view->gate, &view->up, &view->down};
      for (std::size_t m = 0; m < 3; ++m) {
        const auto& w = weights.at(names[m]);
        for (std::uint32_t r = 0; r < mats[m]->rows; ++r)
          for (std::uint32_t c = 0; c < mats[m]->cols; ++c)
            ASSERT_EQ(testing::weight_at(*view, *mats[m], r, c), w[static_cast<std::size_t>(r) * mats[m]->cols + c])
                << names[m] << " [" << r << "][" << c << "]";
      }
    }
  const MiniCluster cluster("ckpt", "olmoe-mini", spec.hidden, payloads,
                            [](std::uint32_t l, std::uint32_t e) { return static_cast<Place>((e + l) % 3); });
  slimcache_moe_report total{};
  expect_moe_matches_reference(cluster, views, spec.hidden, spec.top_k, 20, seed, total);
  EXPECT_GT(total.peer, 0u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace slimcache::agent::exec

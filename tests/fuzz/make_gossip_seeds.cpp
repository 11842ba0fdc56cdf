// Writes the seed corpora of the gossip fuzz targets from the real encoders, so that the
// seeds stay valid packets (rerun after a wire change):
//   make_gossip_seeds tests/fuzz/corpus
// corpus/gossip_packet: plaintext packets; corpus/gossip_stream: u32 big-endian length +
// a plaintext-sealed (empty keyring, label "fuzz") push-pull frame; corpus/keyring_open:
// packets sealed with fuzz_keyring_open's primary key and label.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "agent/gossip/keyring.hpp"
#include "agent/gossip/wire.hpp"

using namespace slimcache::agent::gossip;

namespace {
Bytes packet(const Envelope& e, const std::vector<Message>& msgs) {
  Bytes out = encode_envelope(e);
  for (const auto& m : msgs) {
    const Bytes f = encode_message(m);
    out.insert(out.end(), f.begin(), f.end());
  }
  return out;
}
void write(const std::filesystem::path& p, const Bytes& b) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
Bytes framed(const Bytes& body) {
  Bytes out{static_cast<std::uint8_t>(body.size() >> 24), static_cast<std::uint8_t>(body.size() >> 16),
            static_cast<std::uint8_t>(body.size() >> 8), static_cast<std::uint8_t>(body.size())};
  out.insert(out.end(), body.begin(), body.end());
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_gossip_seeds <corpus dir>\n");
    return 2;
  }
  const std::filesystem::path dir(argv[1]);
  const Envelope env{"peer", 7, 1};
  const PushPull pp{k_push_pull_join, "10.0.0.2:7946",
                    {{"peer", "10.0.0.2:7946", 3, MemberState::alive}, {"old", "10.0.0.3:7946", 1, MemberState::dead},
                     {"maybe", "10.0.0.4:7946", 2, MemberState::suspect}},
                    {{owner_id("peer"), 2}},
                    {StateDelta{"peer", 0, 2, {StateEntry{"budget", 2, 2, 0, 1, {1, 2, 3, 4}}}}}};
  const std::vector<std::pair<std::string, std::vector<Message>>> packets{
      {"ping", {Ping{1, "sut", 0xabc}}},
      {"indirect", {IndirectPing{2, "other", "10.0.0.5:7946"}, Nack{2}}},
      {"ack", {Ack{3, 99}}},
      {"membership", {Suspect{4, "other", "peer"}, Alive{5, "other", "[::1]:7001"}, Dead{6, "gone", "gone"}}},
      {"state", {StateDelta{"peer", 3, 5, {StateEntry{"k", 4, 4, 0, 2, {1, 2}}, StateEntry{"k", 5, 4, 1, 2, {3}}}},
                 StateDigest{k_digest_request, {{1, 2}, {3, 4}}}, StateHead{"peer", 77}}},
      {"push_pull", {pp}},
  };
  Keyring plain;
  Keyring sealed;
  Key a{};
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<std::uint8_t>(i);
  (void)sealed.install(a);
  Nonce nonce{};
  int n = 0;
  for (const auto& [name, msgs] : packets) {
    const Bytes p = packet(env, msgs);
    write(dir / "gossip_packet" / (name + ".bin"), p);
    write(dir / "keyring_open" / (name + ".bin"), sealed.seal(p, "fuzz", nonce));
    ++n;
  }
  write(dir / "gossip_stream" / "join.bin", framed(plain.seal(packet(env, {pp}), "fuzz", nonce)));
  PushPull reply = pp;
  reply.flags = k_push_pull_reply;
  write(dir / "gossip_stream" / "reply.bin", framed(plain.seal(packet(env, {reply}), "fuzz", nonce)));
  write(dir / "gossip_stream" / "alive_and_state.bin",
        framed(plain.seal(packet(env, packets[3].second), "fuzz", nonce)));
  write(dir / "gossip_stream" / "wrong_label.bin", framed(plain.seal(packet(env, {pp}), "other", nonce)));
  std::printf("wrote %d packet seeds and 4 stream seeds under %s\n", n, dir.c_str());
  return 0;
}

#include "agent/gossip/wire.hpp"

#include <xxhash.h>

#include <limits>

namespace slimcache::agent::gossip {

namespace {

constexpr std::size_t k_max_count = 1u << 20;  // list lengths; bounded again by the bytes left

class Writer {
 public:
  explicit Writer(Bytes& out) : m_out(out) {}
  void u8(std::uint8_t v) { m_out.push_back(v); }
  void u16(std::uint16_t v) { le(v, 2); }
  void u32(std::uint32_t v) { le(v, 4); }
  void u64(std::uint64_t v) { le(v, 8); }
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      m_out.push_back(static_cast<std::uint8_t>(v | 0x80));
      v >>= 7;
    }
    m_out.push_back(static_cast<std::uint8_t>(v));
  }
  void str8(const std::string& s) {
    const std::size_t n = s.size() > 255 ? 255 : s.size();  // names are validated at the API
    u8(static_cast<std::uint8_t>(n));
    m_out.insert(m_out.end(), s.begin(), s.begin() + static_cast<std::ptrdiff_t>(n));
  }
  void blob(const Bytes& b) {
    varint(b.size());
    m_out.insert(m_out.end(), b.begin(), b.end());
  }
  void string(const std::string& s) {
    varint(s.size());
    m_out.insert(m_out.end(), s.begin(), s.end());
  }

 private:
  void le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) m_out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  Bytes& m_out;
};

// A bounds-checked reader with a sticky failure: after the first error every read returns
// zero values and the caller checks ok() once at the end.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> in) : m_in(in) {}
  [[nodiscard]] bool failed() const { return m_failed; }
  [[nodiscard]] ErrorCode code() const { return m_code; }
  [[nodiscard]] std::size_t left() const { return m_failed ? 0 : m_in.size() - m_pos; }
  [[nodiscard]] std::size_t pos() const { return m_pos; }
  void fail(ErrorCode c) {
    if (!m_failed) m_code = c;
    m_failed = true;
  }
  std::uint8_t u8() { return static_cast<std::uint8_t>(le(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(le(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(le(4)); }
  std::uint64_t u64() { return le(8); }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const std::uint8_t b = u8();
      if (m_failed) return 0;
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    fail(ErrorCode::bad_value);
    return 0;
  }
  std::string str8() {
    const std::size_t n = u8();
    return take_string(n);
  }
  std::string string(std::size_t max) {
    const std::uint64_t n = varint();
    if (n > max) {
      fail(ErrorCode::oversized);
      return {};
    }
    return take_string(static_cast<std::size_t>(n));
  }
  Bytes blob() {
    const std::uint64_t n = varint();
    if (n > left()) {
      fail(ErrorCode::truncated);
      return {};
    }
    Bytes b(m_in.begin() + static_cast<std::ptrdiff_t>(m_pos),
            m_in.begin() + static_cast<std::ptrdiff_t>(m_pos + n));
    m_pos += static_cast<std::size_t>(n);
    return b;
  }
  // A count of items each at least min_item bytes long: rejects counts the buffer cannot hold.
  std::size_t count(std::size_t min_item) {
    const std::uint64_t n = varint();
    if (n > k_max_count || n * min_item > left()) {
      fail(ErrorCode::oversized);
      return 0;
    }
    return static_cast<std::size_t>(n);
  }
  std::span<const std::uint8_t> take(std::size_t n) {
    if (n > left()) {
      fail(ErrorCode::truncated);
      return {};
    }
    auto s = m_in.subspan(m_pos, n);
    m_pos += n;
    return s;
  }

 private:
  std::string take_string(std::size_t n) {
    auto s = take(n);
    return std::string(s.begin(), s.end());
  }
  std::uint64_t le(int n) {
    if (m_failed || m_in.size() - m_pos < static_cast<std::size_t>(n)) {
      fail(ErrorCode::truncated);
      return 0;
    }
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(m_in[m_pos + static_cast<std::size_t>(i)]) << (8 * i);
    m_pos += static_cast<std::size_t>(n);
    return v;
  }
  std::span<const std::uint8_t> m_in;
  std::size_t m_pos = 0;
  bool m_failed = false;
  ErrorCode m_code = ErrorCode::bad_value;
};

void put_entry(Writer& w, const StateEntry& e) {
  w.str8(e.key);
  w.u64(e.version);
  w.u64(e.generation);
  w.u16(e.chunk);
  w.u16(e.chunks);
  w.blob(e.bytes);
}

StateEntry get_entry(Reader& r) {
  StateEntry e;
  e.key = r.str8();
  e.version = r.u64();
  e.generation = r.u64();
  e.chunk = r.u16();
  e.chunks = r.u16();
  e.bytes = r.blob();
  if (e.chunks == 0 || e.chunk >= e.chunks || e.generation > e.version) r.fail(ErrorCode::bad_value);
  return e;
}

void put_delta(Writer& w, const StateDelta& d) {
  w.str8(d.owner);
  w.u64(d.from_version);
  w.u64(d.to_version);
  w.varint(d.entries.size());
  for (const auto& e : d.entries) put_entry(w, e);
}

StateDelta get_delta(Reader& r) {
  StateDelta d;
  d.owner = r.str8();
  d.from_version = r.u64();
  d.to_version = r.u64();
  const std::size_t n = r.count(22);
  d.entries.reserve(n);
  for (std::size_t i = 0; i < n && !r.failed(); ++i) d.entries.push_back(get_entry(r));
  if (d.from_version > d.to_version) r.fail(ErrorCode::bad_value);
  return d;
}

void put_digest(Writer& w, const std::vector<DigestEntry>& entries) {
  w.varint(entries.size());
  for (const auto& e : entries) {
    w.u64(e.owner_id);
    w.u64(e.version);
  }
}

std::vector<DigestEntry> get_digest(Reader& r) {
  const std::size_t n = r.count(k_digest_entry_size);
  std::vector<DigestEntry> v;
  v.reserve(n);
  for (std::size_t i = 0; i < n && !r.failed(); ++i) {
    DigestEntry e;
    e.owner_id = r.u64();
    e.version = r.u64();
    v.push_back(e);
  }
  return v;
}

MemberState get_state(Reader& r) {
  const std::uint8_t s = r.u8();
  if (s > static_cast<std::uint8_t>(MemberState::left)) r.fail(ErrorCode::bad_value);
  return static_cast<MemberState>(s > 3 ? 0 : s);
}

void put_body(Writer& w, const Message& m) {
  std::visit(
      [&w](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, Ping>) {
          w.u32(v.seq);
          w.str8(v.target);
          w.u64(v.state_summary);
        } else if constexpr (std::is_same_v<T, IndirectPing>) {
          w.u32(v.seq);
          w.str8(v.target);
          w.str8(v.target_address);
        } else if constexpr (std::is_same_v<T, Ack>) {
          w.u32(v.seq);
          w.u64(v.state_summary);
        } else if constexpr (std::is_same_v<T, Nack>) {
          w.u32(v.seq);
        } else if constexpr (std::is_same_v<T, Suspect> || std::is_same_v<T, Dead>) {
          w.u32(v.incarnation);
          w.str8(v.node);
          w.str8(v.from);
        } else if constexpr (std::is_same_v<T, Alive>) {
          w.u32(v.incarnation);
          w.str8(v.node);
          w.str8(v.address);
        } else if constexpr (std::is_same_v<T, StateDelta>) {
          put_delta(w, v);
        } else if constexpr (std::is_same_v<T, StateDigest>) {
          w.u8(v.flags);
          put_digest(w, v.entries);
        } else if constexpr (std::is_same_v<T, StateHead>) {
          w.str8(v.owner);
          w.u64(v.version);
        } else if constexpr (std::is_same_v<T, PushPull>) {
          w.u8(v.flags);
          w.str8(v.reply_to);
          w.varint(v.members.size());
          for (const auto& mm : v.members) {
            w.str8(mm.name);
            w.str8(mm.address);
            w.u32(mm.incarnation);
            w.u8(static_cast<std::uint8_t>(mm.state));
          }
          put_digest(w, v.digest);
          w.varint(v.deltas.size());
          for (const auto& d : v.deltas) put_delta(w, d);
        }
      },
      m);
}

// Decodes one body of a known type; the reader covers exactly the body.
Message get_body(MessageType t, Reader& r) {
  switch (t) {
    case MessageType::ping: {
      Ping p;
      p.seq = r.u32();
      p.target = r.str8();
      p.state_summary = r.u64();
      return p;
    }
    case MessageType::indirect_ping: {
      IndirectPing p;
      p.seq = r.u32();
      p.target = r.str8();
      p.target_address = r.str8();
      return p;
    }
    case MessageType::ack: {
      Ack a;
      a.seq = r.u32();
      a.state_summary = r.u64();
      return a;
    }
    case MessageType::nack: return Nack{r.u32()};
    case MessageType::suspect: {
      Suspect s;
      s.incarnation = r.u32();
      s.node = r.str8();
      s.from = r.str8();
      return s;
    }
    case MessageType::dead: {
      Dead s;
      s.incarnation = r.u32();
      s.node = r.str8();
      s.from = r.str8();
      return s;
    }
    case MessageType::alive: {
      Alive a;
      a.incarnation = r.u32();
      a.node = r.str8();
      a.address = r.str8();
      return a;
    }
    case MessageType::state_delta: return get_delta(r);
    case MessageType::state_digest: {
      StateDigest d;
      d.flags = r.u8();
      d.entries = get_digest(r);
      return d;
    }
    case MessageType::state_head: {
      StateHead h;
      h.owner = r.str8();
      h.version = r.u64();
      return h;
    }
    case MessageType::push_pull: {
      PushPull p;
      p.flags = r.u8();
      p.reply_to = r.str8();
      const std::size_t n = r.count(7);
      p.members.reserve(n);
      for (std::size_t i = 0; i < n && !r.failed(); ++i) {
        PushPullMember mm;
        mm.name = r.str8();
        mm.address = r.str8();
        mm.incarnation = r.u32();
        mm.state = get_state(r);
        p.members.push_back(std::move(mm));
      }
      p.digest = get_digest(r);
      const std::size_t nd = r.count(18);
      p.deltas.reserve(nd);
      for (std::size_t i = 0; i < nd && !r.failed(); ++i) p.deltas.push_back(get_delta(r));
      return p;
    }
  }
  r.fail(ErrorCode::bad_value);
  return Nack{};
}

bool known_type(std::uint8_t t) { return t >= 1 && t <= static_cast<std::uint8_t>(MessageType::state_head); }

}  // namespace

MessageType type_of(const Message& m) {
  static constexpr MessageType k_types[] = {
      MessageType::ping,        MessageType::indirect_ping, MessageType::ack,
      MessageType::nack,        MessageType::suspect,       MessageType::alive,
      MessageType::dead,        MessageType::state_delta,   MessageType::state_digest,
      MessageType::push_pull,   MessageType::state_head};
  return k_types[m.index()];
}

std::uint64_t owner_id(const std::string& name) { return XXH64(name.data(), name.size(), 0x51C0u); }

std::size_t framed_size(std::size_t body) {
  std::size_t n = 1 + 1;
  for (std::size_t v = body; v >= 0x80; v >>= 7) ++n;
  return n + body;
}

std::size_t encoded_size(const StateEntry& e) {
  std::size_t n = 1 + std::min<std::size_t>(e.key.size(), 255) + 8 + 8 + 2 + 2 + 1 + e.bytes.size();
  for (std::size_t v = e.bytes.size(); v >= 0x80; v >>= 7) ++n;
  return n;
}

Bytes encode_message(const Message& m) {
  Bytes body;
  Writer bw(body);
  put_body(bw, m);
  Bytes out;
  out.reserve(body.size() + 6);
  Writer w(out);
  w.u8(static_cast<std::uint8_t>(type_of(m)));
  w.varint(body.size());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Bytes encode_envelope(const Envelope& e) {
  Bytes out;
  Writer w(out);
  w.u8('S');
  w.u8('G');
  w.u8(k_wire_version);
  w.str8(e.sender);
  w.u64(e.epoch);
  w.u64(e.seq);
  return out;
}

Expected<Packet, Error> decode_packet(std::span<const std::uint8_t> bytes, std::size_t max_size) {
  if (bytes.size() > max_size) return Unexpected(Error{ErrorCode::oversized, "packet larger than the limit"});
  Reader r(bytes);
  const std::uint8_t m1 = r.u8();
  const std::uint8_t m2 = r.u8();
  const std::uint8_t version = r.u8();
  if (r.failed()) return Unexpected(Error{ErrorCode::truncated, "envelope"});
  if (m1 != 'S' || m2 != 'G') return Unexpected(Error{ErrorCode::bad_version, "bad magic"});
  if (version != k_wire_version) return Unexpected(Error{ErrorCode::bad_version, "wire version " + std::to_string(version)});
  Packet p;
  p.envelope.sender = r.str8();
  p.envelope.epoch = r.u64();
  p.envelope.seq = r.u64();
  if (r.failed()) return Unexpected(Error{r.code(), "envelope"});
  if (p.envelope.sender.empty()) return Unexpected(Error{ErrorCode::bad_value, "empty sender"});
  while (r.left() > 0) {
    const std::uint8_t type = r.u8();
    const std::uint64_t len = r.varint();
    if (r.failed()) return Unexpected(Error{r.code(), "message header"});
    if (len > r.left()) return Unexpected(Error{ErrorCode::truncated, "message body"});
    auto body = r.take(static_cast<std::size_t>(len));
    if (!known_type(type)) {
      ++p.unknown_messages;
      continue;
    }
    Reader br(body);
    Message m = get_body(static_cast<MessageType>(type), br);
    if (br.failed()) return Unexpected(Error{br.code(), std::string("message type ") + std::to_string(type)});
    if (br.left() != 0) return Unexpected(Error{ErrorCode::bad_value, "trailing bytes in message type " + std::to_string(type)});
    p.messages.push_back(std::move(m));
  }
  return p;
}

}  // namespace slimcache::agent::gossip

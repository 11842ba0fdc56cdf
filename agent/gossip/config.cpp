#include "agent/gossip/config.hpp"

namespace slimcache::agent::gossip {

using namespace std::chrono_literals;

GossipConfig GossipConfig::lan(std::string name, Address address) {
  GossipConfig c;
  c.name = std::move(name);
  c.address = std::move(address);
  return c;
}

GossipConfig GossipConfig::wan(std::string name, Address address) {
  GossipConfig c = lan(std::move(name), std::move(address));
  c.suspicion_mult = 6;
  c.push_pull_interval = 60s;
  c.probe_timeout = 3s;
  c.probe_interval = 5s;
  c.gossip_nodes = 4;
  c.gossip_interval = 500ms;
  c.gossip_to_the_dead = 60s;
  c.state_sync_interval = 500ms;
  return c;
}

GossipConfig GossipConfig::local(std::string name, Address address) {
  GossipConfig c = lan(std::move(name), std::move(address));
  c.indirect_checks = 1;
  c.retransmit_mult = 2;
  c.suspicion_mult = 3;
  c.push_pull_interval = 15s;
  c.probe_timeout = 200ms;
  c.probe_interval = 1s;
  c.gossip_interval = 100ms;
  c.gossip_to_the_dead = 15s;
  c.state_sync_interval = 100ms;
  return c;
}

const char* to_string(MemberState s) {
  switch (s) {
    case MemberState::alive: return "alive";
    case MemberState::suspect: return "suspect";
    case MemberState::dead: return "dead";
    case MemberState::left: return "left";
  }
  return "?";
}

const char* to_string(ErrorCode c) {
  switch (c) {
    case ErrorCode::truncated: return "truncated";
    case ErrorCode::oversized: return "oversized";
    case ErrorCode::bad_version: return "bad_version";
    case ErrorCode::bad_value: return "bad_value";
    case ErrorCode::unknown_key: return "unknown_key";
    case ErrorCode::auth_failed: return "auth_failed";
    case ErrorCode::wrong_label: return "wrong_label";
    case ErrorCode::invalid_argument: return "invalid_argument";
    case ErrorCode::io: return "io";
  }
  return "?";
}

const char* to_string(DropReason r) {
  switch (r) {
    case DropReason::decode_error: return "decode_error";
    case DropReason::unknown_key: return "unknown_key";
    case DropReason::auth_failed: return "auth_failed";
    case DropReason::wrong_label: return "wrong_label";
    case DropReason::replayed: return "replayed";
    case DropReason::misdirected: return "misdirected";
    case DropReason::not_member: return "not_member";
    case DropReason::oversized: return "oversized";
    case DropReason::count_: break;
  }
  return "?";
}

const char* to_string(EventKind k) {
  switch (k) {
    case EventKind::member_join: return "join";
    case EventKind::member_update: return "update";
    case EventKind::member_suspect: return "suspect";
    case EventKind::member_dead: return "dead";
    case EventKind::member_left: return "left";
    case EventKind::member_reaped: return "reaped";
    case EventKind::state_change: return "state";
    case EventKind::member_refused: return "refused";
  }
  return "?";
}

}  // namespace slimcache::agent::gossip

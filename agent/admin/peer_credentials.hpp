#pragma once
// Who is on the other end of a Unix socket, and whether they may administer the daemon.
//
// Allowed: root, the daemon's own uid, and members of the admin group (primary or
// supplementary). Thread-safe; may read the user database (getpwuid_r, getgrouplist).
#include <sys/types.h>

#include <optional>

namespace slimcache::agent::admin {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

struct AccessPolicy {
  uid_t daemon_uid = 0;
  std::optional<gid_t> group;  // the admin group; nullopt: root and the daemon's uid only
};

// SO_PEERCRED of a connected AF_UNIX socket; nullopt when the kernel does not tell.
[[nodiscard]] std::optional<PeerCredentials> peer_credentials(int fd);

[[nodiscard]] bool is_allowed(const PeerCredentials& peer, const AccessPolicy& policy);

}  // namespace slimcache::agent::admin

#pragma once
// The cache subsystem's error: a code scripts and callers branch on, plus context for people.
#include <string>

namespace slimcache::agent::cache {

enum class CacheErrc {
  k_invalid_argument,  // a bad parameter (unknown policy, cache too small, bad key)
  k_not_found,         // no such expert in this tier
  k_budget_exceeded,   // the tier's configured budget cannot hold the blob
  k_disk_full,         // the file system refused the write (ENOSPC): nothing half-written is kept
  k_io,                // any other failure of the environment
  k_corrupt,           // verification failed; the blob was quarantined and is never served
  k_pinned,            // the expert is pinned by a reader and cannot be evicted
  k_no_free_slot,      // the memory tier is full: evict first
  k_busy,              // the state changed under the caller (retry)
  k_incompatible,      // a segment or blob of another layout version
};

struct CacheError {
  CacheErrc code = CacheErrc::k_io;
  std::string message;
};

}  // namespace slimcache::agent::cache

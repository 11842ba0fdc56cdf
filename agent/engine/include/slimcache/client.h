/* slimcache client API, ABI version 2: for local inference engines in any language.
 *
 * An engine opens the node's shared-memory segments by name (slimcached's
 * cache.shm_name, printed by `slimctl status`), then on every token:
 *   - slimcache_record(): reports each layer's router decision (top-K expert ids). Lock-free,
 *     no system call, no allocation; safe from any thread.
 *   - slimcache_locate(): where an expert is (this node's memory, this node's disk, or which
 *     peers hold it, with their addresses).
 *   - slimcache_pin() / slimcache_unpin(): zero-copy access to an expert resident in memory;
 *     the daemon never evicts a pinned expert. A process that dies loses its pins when its
 *     lease is reclaimed; call slimcache_renew_lease() more often than the lease time.
 *   - slimcache_moe_forward() (ABI 2): one MoE layer for one token: records the router
 *     decision, runs the experts resident in this node's memory in-process (pinned, zero-copy),
 *     sends the others in ONE request to the local slimcached's execution socket (set with
 *     slimcache_set_exec_socket()), which runs them itself or forwards them to their holders
 *     (one request per holder, in parallel, over TLS: the cluster secret stays in the daemon)
 *     and falls back to loading them locally when a holder does not answer; returns the
 *     gate-weighted sum of the expert outputs. fp32 hidden states in and out.
 * pin/unpin/renew/moe_forward use the handle's lease and connection: call them from one thread
 * at a time per handle (open one handle per thread). Functions return SLIMCACHE_OK (0) or a
 * negative status.
 *
 * ABI rule: functions and struct fields are only ever added; existing ones never change.
 */
#ifndef SLIMCACHE_CLIENT_H
#define SLIMCACHE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SLIMCACHE_CLIENT_ABI_VERSION 2u

enum slimcache_status {
  SLIMCACHE_OK = 0,
  SLIMCACHE_E_INVALID = -1,      /* a bad argument (NULL, layer or expert out of range, k too large) */
  SLIMCACHE_E_UNAVAILABLE = -2,  /* no such segment: slimcached not running, or another name */
  SLIMCACHE_E_NOT_RESIDENT = -3, /* the expert is not in this node's memory tier */
  SLIMCACHE_E_LEASE_LOST = -4,   /* the lease expired and was reclaimed: renew, then pin again */
  SLIMCACHE_E_INCOMPATIBLE = -5, /* the daemon's segment has another layout version */
  SLIMCACHE_E_NOMEM = -6,
  SLIMCACHE_E_BUSY = -7,         /* the location table kept changing: try again */
  /* ABI 2 */
  SLIMCACHE_E_EXPERT_FAILED = -8, /* an expert could not be run anywhere (no holder answered and the
                                     local fallback could not load it, or its payload was bad) */
  SLIMCACHE_E_EXEC_UNAVAILABLE = -9 /* the execution socket is not set or slimcached does not answer */
};

enum slimcache_location {
  SLIMCACHE_NOWHERE = 0,    /* no holder known: use the fallback */
  SLIMCACHE_MEMORY = 1,     /* resident in this node's memory tier: pin it */
  SLIMCACHE_LOCAL_DISK = 2, /* on this node's disk tier */
  SLIMCACHE_PEER = 3        /* held by the peers listed */
};

typedef struct slimcache_client slimcache_client;

typedef struct slimcache_expert {
  const void* data; /* read-only, valid until slimcache_unpin() */
  uint64_t size;
  uint32_t token;   /* opaque, for unpin */
  uint32_t reserved;
} slimcache_expert;

typedef struct slimcache_holder {
  char name[48];    /* NUL-terminated */
  char address[48]; /* host:port of its expert execution service */
} slimcache_holder;

typedef struct slimcache_where {
  int32_t location; /* enum slimcache_location */
  uint32_t holders; /* valid entries of holder[] */
  slimcache_holder holder[4];
} slimcache_where;

uint32_t slimcache_abi_version(void);
const char* slimcache_status_string(int status);

/* Opens the segments named `name`. On failure returns a status and, when errbuf is not
 * NULL, a NUL-terminated reason in errbuf (at most errlen bytes). */
int slimcache_open(const char* name, slimcache_client** out, char* errbuf, size_t errlen);
void slimcache_close(slimcache_client* client);

uint32_t slimcache_num_layers(const slimcache_client* client);
uint32_t slimcache_num_experts(const slimcache_client* client);

int slimcache_record(slimcache_client* client, uint32_t layer, const uint16_t* experts, uint32_t k);
int slimcache_locate(slimcache_client* client, uint32_t layer, uint32_t expert, slimcache_where* out);
int slimcache_pin(slimcache_client* client, uint32_t layer, uint32_t expert, slimcache_expert* out);
void slimcache_unpin(slimcache_client* client, const slimcache_expert* expert);
int slimcache_renew_lease(slimcache_client* client);

/* ABI 2: expert execution. */

/* Where a slimcache_moe_forward() call ran its experts. */
typedef struct slimcache_moe_report {
  uint32_t in_process; /* resident in this node's memory tier, run by the caller */
  uint32_t daemon;     /* run by the local slimcached (already in its memory, or loaded from its disk) */
  uint32_t peer;       /* run by a holder node */
  uint32_t failed;     /* not run: the call returned SLIMCACHE_E_EXPERT_FAILED */
} slimcache_moe_report;

/* The local slimcached's execution socket (`slimctl status`: exec.sock beside admin.sock).
 * Connects lazily on the first slimcache_moe_forward() that needs it. */
int slimcache_set_exec_socket(slimcache_client* client, const char* path);

/* out[0..hidden_len) = sum over i < k of gate_weights[i] * expert_{topk_ids[i]}(hidden), the experts
 * of `layer` (SwiGLU or two-matrix, as stored), accumulated in fp32 in the order given.
 * hidden and out hold hidden_len floats (the model's hidden size) and may not overlap.
 * report may be NULL. 1 <= k <= 64. Blocks until every expert answered (bounded by the daemon's
 * forward timeout and its local fallback). */
int slimcache_moe_forward(slimcache_client* client, uint32_t layer, uint32_t k, const uint16_t* topk_ids,
                          const float* gate_weights, const float* hidden, uint32_t hidden_len, float* out,
                          slimcache_moe_report* report);

#ifdef __cplusplus
}
#endif

#endif /* SLIMCACHE_CLIENT_H */

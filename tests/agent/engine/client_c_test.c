/* A C program using slimcache/client.h the way an inference engine would. The test
 * harness (client_api_test.cpp) creates the segments and runs this with their name:
 *   client_c_test NAME LAYERS EXPERTS RESIDENT_LAYER RESIDENT_EXPERT
 * Exit 0 when every check passes; otherwise prints the failed check. */
#include <slimcache/client.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                           \
  do {                                                        \
    if (!(cond)) {                                            \
      fprintf(stderr, "client_c_test: failed: %s\n", #cond); \
      return 1;                                               \
    }                                                         \
  } while (0)

int main(int argc, char** argv) {
  if (argc != 6) return 2;
  const unsigned layers = (unsigned)atoi(argv[2]), experts = (unsigned)atoi(argv[3]);
  const unsigned rl = (unsigned)atoi(argv[4]), re = (unsigned)atoi(argv[5]);
  char err[256] = "";
  slimcache_client* c = NULL;

  CHECK(slimcache_abi_version() == SLIMCACHE_CLIENT_ABI_VERSION);
  CHECK(slimcache_open("slimcache-no-such-segment", &c, err, sizeof err) == SLIMCACHE_E_UNAVAILABLE);
  CHECK(c == NULL && strlen(err) > 0);
  CHECK(slimcache_open(argv[1], &c, err, sizeof err) == SLIMCACHE_OK);
  CHECK(slimcache_num_layers(c) == layers && slimcache_num_experts(c) == experts);

  /* The token path: one top-2 set per layer, 100 tokens. */
  for (unsigned t = 0; t < 100; ++t) {
    for (unsigned l = 0; l < layers; ++l) {
      uint16_t ids[2] = {(uint16_t)(t % experts), (uint16_t)((t + 1) % experts)};
      CHECK(slimcache_record(c, l, ids, 2) == SLIMCACHE_OK);
    }
  }
  uint16_t bad[1] = {(uint16_t)experts};
  CHECK(slimcache_record(c, 0, bad, 1) == SLIMCACHE_E_INVALID);

  /* Location and zero-copy access. */
  slimcache_where where;
  CHECK(slimcache_locate(c, rl, re, &where) == SLIMCACHE_OK);
  CHECK(where.location == SLIMCACHE_MEMORY);
  slimcache_expert e;
  CHECK(slimcache_pin(c, rl, re, &e) == SLIMCACHE_OK);
  CHECK(e.size >= 4 && e.data != NULL);
  const unsigned char* p = (const unsigned char*)e.data;
  CHECK(p[0] == (unsigned char)rl && p[1] == (unsigned char)re); /* the harness's marker bytes */
  slimcache_unpin(c, &e);
  CHECK(slimcache_pin(c, (rl + 1) % layers, re, &e) == SLIMCACHE_E_NOT_RESIDENT);
  CHECK(slimcache_pin(c, layers, 0, &e) == SLIMCACHE_E_INVALID);
  CHECK(slimcache_renew_lease(c) == SLIMCACHE_OK);
  CHECK(strcmp(slimcache_status_string(SLIMCACHE_E_NOT_RESIDENT), "expert not resident in memory") == 0);
  slimcache_close(c);
  printf("client_c_test: all checks passed\n");
  return 0;
}

// tc eBPF classifier (cls_bpf, classid mode) for the "impaired link" scenario of
// netns_faults.sh: sends SLOW_PERCENT % of the packets, at random, to the HTB class
// SLOW_CLASSID (a slow class with a deep queue: queueing delay), the others to the HTB
// default (a fast class). Packets that take the fast class overtake those queued in the
// slow one, so the link both delays and reorders, without sch_netem. Built by the script:
//   clang -O2 -target bpf -DSLOW_PERCENT=30 -DSLOW_CLASSID=0x10020 -c impaired_link.bpf.c -o impaired.o
// Return value (cls_bpf without direct-action): 0 = no match (HTB default class), else
// the class id (major << 16 | minor; tc's "1:20" is 0x10020, minor in hex).
typedef unsigned int u32;
struct __sk_buff { u32 len; };
static u32 (*bpf_get_prandom_u32)(void) = (void*)7;  // BPF_FUNC_get_prandom_u32
__attribute__((section("classifier"), used)) int impaired(struct __sk_buff* skb) {
  (void)skb;
  return (bpf_get_prandom_u32() % 100) < SLOW_PERCENT ? SLOW_CLASSID : 0;
}
char _license[] __attribute__((section("license"), used)) = "GPL";

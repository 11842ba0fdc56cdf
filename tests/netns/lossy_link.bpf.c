// tc eBPF program (direct action) that drops LOSS_PERCENT % of the packets at random:
// the fallback for `netem loss` on kernels without sch_netem. Built by netns_faults.sh:
//   clang -O2 -target bpf -DLOSS_PERCENT=30 -c lossy_link.bpf.c -o lossy.o
typedef unsigned int u32;
struct __sk_buff { u32 len; };
static u32 (*bpf_get_prandom_u32)(void) = (void*)7;  // BPF_FUNC_get_prandom_u32
__attribute__((section("classifier"), used)) int lossy(struct __sk_buff* skb) {
  (void)skb;
  return (bpf_get_prandom_u32() % 100) < LOSS_PERCENT ? 2 /* TC_ACT_SHOT */ : 0 /* TC_ACT_OK */;
}
char _license[] __attribute__((section("license"), used)) = "GPL";

#!/usr/bin/env python3
"""Synthetic layered MoE routing traces, calibrated on real aggregate routing counts.

    tests/bench/layered_trace.py --counts DIR/olmoe-repo-routing-counts/json --model olmoe \
        --tokens 2000 --seed 1 [--domain github] [--correlation calibrated|NUMBER] --out FILE.jsonl
    tests/bench/layered_trace.py --self-test     (checks the generator against its model)

Output: the olmoe-decode JSONL format that config/trace_reader.hpp reads
({"tok": t, "layers": [[sorted expert ids], ...]}), so `slimctl replay` replays it.

Model (first order; MODEL.md section 5 request stream):
  * Popularity: layer l draws experts from Zipf(s_l) over a seeded random permutation of its
    experts. s_l is fitted (least squares of log count on log rank) on the top-k counts of the
    layers the data covers (0, 7, 15) and interpolated linearly between them.
  * Cross-layer correlation: each layer l >= 1 has a seeded random successor map
    succ_l: expert at l-1 -> expert at l. A token's r-th choice at layer l is succ_l(its r-th
    choice at l-1) with probability rho (when not already chosen), else a Zipf draw
    (without replacement). rho is calibrated so that the normalised mutual information
    I(A;B)/H(B) of the top-1 experts of consecutive layers equals the mean of the two measured
    pairs (0->7, 7->15) of expert_counts_crosslayer_top1 (the clean joint of top-1 experts;
    see the data's README). Since the measured pairs are 7-8 layers apart, this is
    conservative for adjacent layers.
  * No temporal locality between tokens is modelled (the counts cannot calibrate it): the
    real decode trace shows it, the synthetic trace is a popularity-plus-affinity stream.
Deterministic for a given seed (Python's random.Random). Prints the calibration on stderr.
"""
import argparse, bisect, json, math, os, random, sys

SHAPES = {  # data dir -> (layers, experts, top_k): MODEL.md section 7
    "olmoe": (16, 64, 8),
    "mistral": (32, 8, 2),
}


def load_counters(counts_dir, model, kind, domain):
    path = os.path.join(counts_dir, model, kind, domain + ".json")
    with open(path) as f:
        return json.load(f)["counters"], path


def fit_zipf(counter, experts):
    counts = sorted((counter.get(str(e), 0) for e in range(experts)), reverse=True)
    xs, ys = [], []
    for rank, c in enumerate(counts, 1):
        if c > 0:
            xs.append(math.log(rank))
            ys.append(math.log(c))
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    return max(0.0, -sxy / sxx) if sxx > 0 else 0.0


def entropy(p):
    return -sum(x * math.log(x) for x in p if x > 0)


def nmi_of_joint(joint):
    """I(A;B)/H(B) of a joint distribution given as {(a,b): p}."""
    pa, pb = {}, {}
    for (a, b), p in joint.items():
        pa[a] = pa.get(a, 0) + p
        pb[b] = pb.get(b, 0) + p
    mi = sum(p * math.log(p / (pa[a] * pb[b])) for (a, b), p in joint.items() if p > 0)
    hb = entropy(pb.values())
    return mi / hb if hb > 0 else 0.0


def measured_nmi(counter):
    total = sum(counter.values())
    joint = {}
    for key, c in counter.items():
        a, b = key.split(",")
        joint[(int(a), int(b))] = c / total
    return nmi_of_joint(joint)


def zipf_weights(experts, s, rng):
    perm = list(range(experts))
    rng.shuffle(perm)
    w = [0.0] * experts
    for rank, e in enumerate(perm, 1):
        w[e] = 1.0 / rank ** s
    total = sum(w)
    return [x / total for x in w]


def model_nmi(rho, prev, cur, succ):
    joint = {}
    for a, pa in enumerate(prev):
        for b, pb in enumerate(cur):
            p = pa * (1 - rho) * pb
            if p > 0:
                joint[(a, b)] = joint.get((a, b), 0) + p
        joint[(a, succ[a])] = joint.get((a, succ[a]), 0) + pa * rho
    return nmi_of_joint(joint)


def calibrate_rho(target, prev, cur, succ):
    lo, hi = 0.0, 1.0
    for _ in range(40):  # bisection: model_nmi is increasing in rho
        mid = (lo + hi) / 2
        if model_nmi(mid, prev, cur, succ) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


class Sampler:
    def __init__(self, weights):
        self.cum, acc = [], 0.0
        for w in weights:
            acc += w
            self.cum.append(acc)

    def draw(self, rng):
        return min(bisect.bisect_left(self.cum, rng.random() * self.cum[-1]), len(self.cum) - 1)


def generate(layers, experts, top_k, zipf_s, rho, tokens, seed, ranked=False):
    rng = random.Random(seed)
    weights = [zipf_weights(experts, s, rng) for s in zipf_s]
    samplers = [Sampler(w) for w in weights]
    succ = [None] + [rng.sample(range(experts), experts) for _ in range(1, layers)]
    out = []
    for t in range(tokens):
        prev, rows = None, []
        for l in range(layers):
            chosen = []
            for r in range(top_k):
                e = -1
                if prev is not None and rng.random() < rho and succ[l][prev[r]] not in chosen:
                    e = succ[l][prev[r]]
                for _ in range(10000):  # bounded: a draw without replacement
                    if e >= 0 and e not in chosen:
                        break
                    e = samplers[l].draw(rng)
                if e in chosen:  # extremely skewed weights: take the first free expert
                    e = next(x for x in range(experts) if x not in chosen)
                chosen.append(e)
            rows.append(list(chosen) if ranked else sorted(chosen))
            prev = chosen
        out.append({"tok": t + 1, "layers": rows})
    return out, weights, succ


def self_test():
    """Checks the generator against its own model (no data needed). Exit 0 when every check holds."""
    failures = []

    def expect(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    exact = {str(e): 1e6 / (e + 1) ** 1.1 for e in range(64)}
    s = fit_zipf(exact, 64)
    expect(abs(s - 1.1) < 1e-6, f"fit_zipf recovers the exponent of exact Zipf(1.1) counts: {s:.6f}")
    seed = 7
    rng = random.Random(seed)
    prev, cur = zipf_weights(16, 0.9, rng), zipf_weights(16, 1.2, rng)
    succ = rng.sample(range(16), 16)
    target = model_nmi(0.3, prev, cur, succ)
    rho = calibrate_rho(target, prev, cur, succ)
    expect(abs(rho - 0.3) < 1e-3, f"calibrate_rho inverts model_nmi: rho {rho:.5f} for 0.3 (NMI {target:.4f})")
    expect(model_nmi(0.0, prev, cur, succ) < 1e-12, "rho = 0 gives independent layers (NMI 0)")
    tokens = 20000
    rows, weights, succ_maps = generate(2, 16, 2, [0.9, 1.2], 0.3, tokens, seed, ranked=True)
    joint = {}
    for r in rows:
        key = (r["layers"][0][0], r["layers"][1][0])
        joint[key] = joint.get(key, 0) + 1 / tokens
    measured = nmi_of_joint(joint)
    predicted = model_nmi(0.3, weights[0], weights[1], succ_maps[1])
    expect(abs(measured - predicted) < 0.02,
           f"generated top-1 pairs have the model's NMI: {measured:.4f} vs {predicted:.4f} (seed {seed}, {tokens} tokens)")
    ok_sets = all(len(set(l)) == 2 and all(0 <= e < 16 for e in l) for r in rows for l in r["layers"])
    expect(ok_sets, "every layer has top-K distinct experts in range")
    again, _, _ = generate(2, 16, 2, [0.9, 1.2], 0.3, 200, seed)
    first, _, _ = generate(2, 16, 2, [0.9, 1.2], 0.3, 200, seed)
    expect(again == first, "the same seed gives the same trace")
    return 1 if failures else 0


def main():
    if "--self-test" in sys.argv[1:]:
        sys.exit(self_test())
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--self-test", action="store_true", help="check the generator against its model, then exit")
    ap.add_argument("--counts", required=True, help="olmoe-repo-routing-counts/json directory")
    ap.add_argument("--model", choices=sorted(SHAPES), default="olmoe")
    ap.add_argument("--domain", default="github")
    ap.add_argument("--tokens", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--correlation", default="calibrated", help="'calibrated' or a fixed rho in [0,1]")
    ap.add_argument("--out", required=True)
    ap.add_argument("--calibration-json", help="also write the fitted parameters here")
    a = ap.parse_args()
    layers, experts, top_k = SHAPES[a.model]
    counters, path = load_counters(a.counts, a.model, "expert_counts", a.domain)
    covered = [0, 7, 15]
    fitted = [fit_zipf(c, experts) for c in counters]
    # interpolate over this model's layers, the covered layers scaled to its depth
    anchors = [round(x * (layers - 1) / 15) for x in covered]
    zipf_s = []
    for l in range(layers):
        i = 0 if l < anchors[1] else 1
        x0, x1 = anchors[i], anchors[i + 1]
        w = (l - x0) / (x1 - x0)
        zipf_s.append(fitted[i] * (1 - w) + fitted[i + 1] * w)
    cross, cross_path = load_counters(a.counts, a.model, "expert_counts_crosslayer_top1", a.domain)
    target = sum(measured_nmi(c) for c in cross) / len(cross)
    if a.correlation == "calibrated":
        rng = random.Random(a.seed)
        prev, cur = zipf_weights(experts, zipf_s[0], rng), zipf_weights(experts, zipf_s[1], rng)
        rho = calibrate_rho(target, prev, cur, rng.sample(range(experts), experts))
    else:
        rho = float(a.correlation)
    rows, _, _ = generate(layers, experts, top_k, zipf_s, rho, a.tokens, a.seed)
    with open(a.out, "w") as f:
        for r in rows:
            f.write(json.dumps(r, separators=(", ", ": ")) + "\n")
    cal = {"model": a.model, "domain": a.domain, "layers": layers, "experts": experts, "top_k": top_k,
           "zipf_fitted_layers_0_7_15": [round(x, 4) for x in fitted], "top1_nmi_measured": round(target, 4),
           "rho": round(rho, 4), "tokens": a.tokens, "seed": a.seed, "sources": [path, cross_path]}
    print(json.dumps(cal), file=sys.stderr)
    if a.calibration_json:
        with open(a.calibration_json, "w") as f:
            json.dump(cal, f, indent=1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Generates docs/BENCHMARKS.md and its SVG plots (docs/bench/*.svg). Called by report.sh,
which builds the binaries first; see docs/benchmarking.md.

    tests/bench/report.py --build DIR [--quick] [--out docs/BENCHMARKS.md]
                          [--cross-dir aarch64=DIR --cross-dir armhf=DIR]

Runs, in order: the placement quality report (slimcache-solver-report), paging replays
(slimctl replay) on the OLMoE decode trace and on synthetic layered traces
(tests/bench/layered_trace.py), the gossip simulator vs N (slimctl sim gossip), N slimcached
vs N serf on loopback (tests/bench/gossip_side_by_side.py), and the footprint
(tests/system/measure_footprint.py, binary sizes). Every figure states the command that
produced it. Raw outputs are kept in <out dir>/bench/raw/ (not committed: .gitignore there).
Exit 0 when the report was written and checked (every section present, every SVG parses),
1 otherwise.
"""
import argparse, datetime, json, os, platform, re, shutil, subprocess, sys, tempfile, time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
T0 = time.monotonic()

MODEL_EXPERTS = {  # L x E of the presets (MODEL.md section 7)
    "switch-base-128": (12, 128, 1), "mixtral-8x7b": (32, 8, 2), "olmoe-1b-7b": (16, 64, 8),
    "qwen3-30b-a3b": (48, 128, 8), "deepseek-v2-lite": (26, 64, 6), "deepseek-v3": (58, 256, 8),
    "medium-8x2": (4, 8, 2), "medium-16x4": (2, 16, 4),
}


def log(msg):
    print(f"[report {time.monotonic() - T0:6.0f} s] {msg}", file=sys.stderr, flush=True)


def rel(path):
    """A path as a reader would type it from the repository root."""
    p = os.path.relpath(os.path.abspath(path), ROOT)
    return path if p.startswith("..") else p


def run(argv, env=None, timeout=1800, check=True):
    shown = " ".join(argv)
    log(f"$ {shown}")
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    if check and r.returncode != 0:
        raise RuntimeError(f"{shown} exited {r.returncode}:\n{r.stderr[-2000:]}")
    return r


class Plotter:
    def __init__(self, svg_dir, raw_dir):
        self.svg_dir, self.raw_dir, self.made = svg_dir, raw_dir, []

    def plot(self, name, script, data):
        """data: {block_name: [rows]} written as one .dat file with gnuplot index blocks."""
        dat = os.path.join(self.raw_dir, name + ".dat")
        with open(dat, "w") as f:
            for block, rows in data.items():
                f.write(f"# {block}\n")
                for r in rows:
                    f.write(" ".join(str(x) for x in r) + "\n")
                f.write("\n\n")
        svg = os.path.join(self.svg_dir, name + ".svg")
        gp = (f"set terminal svg size 960,{600 if 'layout 1,' in script and 'bmargin' in script else 540 if 'multiplot' not in script else 420} dynamic enhanced "
              f"font 'sans,11' background rgb 'white'\nset output '{svg}'\nset grid\nset key outside right top\n"
              + script.replace("DATA", f"'{dat}'"))
        with open(os.path.join(self.raw_dir, name + ".gp"), "w") as f:
            f.write(gp)
        r = subprocess.run(["gnuplot"], input=gp, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"gnuplot {name}: {r.stderr[-1500:]}")
        self.made.append(svg)
        return f"bench/{name}.svg"


def machine():
    info = {}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in lscpu.splitlines():
            k, _, v = line.partition(":")
            if k.strip() == "Model name":
                info["cpu"] = v.strip()
    except OSError:
        info["cpu"] = platform.processor() or "unknown"
    info["cores"] = os.cpu_count()
    mem_kb = int([l for l in open("/proc/meminfo") if l.startswith("MemTotal")][0].split()[1])
    info["ram"] = f"{mem_kb / 1024 / 1024:.1f} GiB"
    info["kernel"] = platform.release()
    info["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                    cwd=ROOT).stdout.strip() or "unknown"
    # the report's own outputs (this file and its SVGs) do not make the tree dirty
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                            ":(exclude)docs/BENCHMARKS.md", ":(exclude)docs/bench"], capture_output=True,
                           text=True, cwd=ROOT).stdout.strip()
    info["commit"] += " (working tree has uncommitted changes)" if dirty else ""
    info["load"] = " ".join(open("/proc/loadavg").read().split()[:3])
    return info


# ------------------------------------------------------------------ 1. placement
ROW = re.compile(r"^(\S+)\s+(synthetic|trace)\s+(\d+)\s+([\d.]+)\s+(\S+)\s+([\d.]+)\s+([-\d.]+)\s+([\d.]+)\s+(\S+)\s*(.*)$")


def placement(args, plotter, md):
    exe = os.path.join(args.build, "tests/solver/slimcache-solver-report")
    argv = [exe] + (["--quick", "--milp-seconds", "2"] if args.quick else ["--milp-seconds", "10"])
    reused = None
    if args.solver_report_output:  # recovery: the raw output of an earlier run of the same command
        class Saved:
            stdout = open(args.solver_report_output).read()
        r, elapsed = Saved(), float("nan")
        reused = (f"Reused output: `{rel(args.solver_report_output)}`, written by this command at "
                  f"{datetime.datetime.fromtimestamp(os.path.getmtime(args.solver_report_output), datetime.timezone.utc):%Y-%m-%d %H:%M} UTC "
                  "in the same build (`report.py --solver-report-output`).")
    else:
        t = time.monotonic()
        r = run(argv, timeout=1500)
        elapsed = time.monotonic() - t
        open(os.path.join(plotter.raw_dir, "solver-report.txt"), "w").write(r.stdout)
    rows = []
    for line in r.stdout.splitlines():
        m = ROW.match(line)
        if m:
            g = m.groups()
            rows.append({"model": g[0], "stats": g[1], "nodes": int(g[2]), "fraction": float(g[3]), "algo": g[4],
                         "latency_ms": float(g[5]), "reduction_pct": float(g[6]), "solve_ms": float(g[7]),
                         "gap": None if g[8] == "-" else float(g[8].rstrip("%")), "note": g[9].strip()})
    if not rows:
        raise RuntimeError("no rows parsed from slimcache-solver-report")
    summary = r.stdout[r.stdout.find("summary over"):].strip()
    tiny = r.stdout[r.stdout.find("tiny instances"):r.stdout.find("\n\n", r.stdout.find("tiny instances"))].strip()
    cmd = " ".join([rel(exe)] + argv[1:])
    md.append('<a id="placement"></a>\n## 1. Placement (SlimCaching)\n')
    md.append(f"Command: `SLIMCACHE_TRACES_DIR={os.environ.get('SLIMCACHE_TRACES_DIR', '<unset>')} {cmd}` "
              + (f"({elapsed:.0f} s wall). " if reused is None else reused + " ") + f"Synthetic statistics (2 clients, 256 sampled top-K sets per layer per "
              "client, seed 1); `olmoe-1b-7b (trace)` uses the statistics of the real OLMoE decode trace. "
              "Expected per-token expert latency `T(x)` (MODEL.md section 2) against the storage budget as a "
              "fraction of the model's routed-expert bytes per node. `switch-base-128` is the K = 1 case; "
              "every other model has K > 1. Raw table: `docs/bench/raw/solver-report.txt` after a run.\n")
    algos = list(dict.fromkeys(r_["algo"] for r_ in rows))
    series = sorted({(r_["model"], r_["stats"]) for r_ in rows if not r_["model"].startswith("medium")},
                    key=lambda x: (list(MODEL_EXPERTS).index(x[0]) if x[0] in MODEL_EXPERTS else 99, x[1]))
    md.append('<a id="placement-latency"></a>\n### 1.1 Latency vs storage budget\n')
    for model, stats in series:
        pts = [r_ for r_ in rows if r_["model"] == model and r_["stats"] == stats]
        nodes = sorted({p["nodes"] for p in pts})
        data = {}
        for n in nodes:
            for a in algos:
                data[f"{n} {a}"] = sorted((p["fraction"], p["latency_ms"]) for p in pts if p["nodes"] == n and p["algo"] == a)
        script = f"set multiplot layout 1,{len(nodes)} title '{model} ({stats} statistics, K = {MODEL_EXPERTS.get(model, (0, 0, '?'))[2]})'\n"
        script += "set xlabel 'storage budget fraction per node'\nset ylabel 'T(x) ms per token'\n"
        idx = 0
        for j, n in enumerate(nodes):
            script += f"set title '{n} nodes'\n"
            script += "set bmargin 12\nset xtics 0.25\nset key " + ("at screen 0.5,0.01 center bottom font ',9'\n"
                                                                    if j == len(nodes) - 1 else "off\n")
            parts = []
            for k, a in enumerate(algos):
                dash = "dt 2" if a in ("random", "popularity", "popularity-distinct", "layer-uniform", "greedy-marginal") else "dt 1"
                parts.append(f"DATA index {idx} using 1:2 with linespoints lc {k + 1} {dash} pt {k + 1} title '{a}'")
                idx += 1
            script += "plot " + ", ".join(parts) + "\n"
        script += "unset multiplot\n"
        svg = plotter.plot(f"placement-{model}-{stats}", script, data)
        md.append(f"![{model} {stats}]({svg})\n")
    # solve time vs model size and nodes
    frac = max({r_["fraction"] for r_ in rows if r_["fraction"] <= 0.5})
    preset_rows = [r_ for r_ in rows if r_["stats"] == "synthetic" and r_["fraction"] == frac
                   and r_["model"] in MODEL_EXPERTS and not r_["model"].startswith("medium")]
    nodes_all = sorted({r_["nodes"] for r_ in preset_rows})
    timed = [a for a in ("sgd-fast", "sgd", "greedy") if a in algos]
    data, script_parts, idx = {}, [], 0
    for a in timed:
        for n in nodes_all:
            pts = sorted((MODEL_EXPERTS[p["model"]][0] * MODEL_EXPERTS[p["model"]][1], max(p["solve_ms"], 0.01), p["model"])
                         for p in preset_rows if p["algo"] == a and p["nodes"] == n)
            data[f"{a} {n}"] = pts
            script_parts.append(f"DATA index {idx} using 1:2 with linespoints title '{a}, {n} nodes'")
            idx += 1
    script = ("set logscale xy\nset xlabel 'model size: routed experts L x E'\nset ylabel 'solve time ms (wall, shared machine)'\n"
              f"set title 'Solve time vs model size (budget fraction {frac}, synthetic statistics)'\n"
              "plot " + ", ".join(script_parts) + "\n")
    svg = plotter.plot("placement-solve-time", script, data)
    # the same points against the node count, one line per model (sgd-fast)
    models = [m for m in MODEL_EXPERTS if any(p["model"] == m for p in preset_rows)]
    data2 = {m: sorted((p["nodes"], max(p["solve_ms"], 0.01)) for p in preset_rows if p["model"] == m and p["algo"] == "sgd-fast")
             for m in models}
    script2 = ("set logscale xy 2\nset xlabel 'nodes'\nset ylabel 'sgd-fast solve time ms (wall, shared machine)'\n"
               f"set title 'sgd-fast solve time vs node count (budget fraction {frac})'\n"
               "plot " + ", ".join(f"DATA index {k} using 1:2 with linespoints title '{m}'" for k, m in enumerate(models)) + "\n")
    svg2 = plotter.plot("placement-solve-time-nodes", script2, data2)
    md.append('<a id="placement-solve-time"></a>\n### 1.2 Solve time vs model size and node count\n')
    md.append(f"Same command. Wall-clock solve time of one solve, single thread, Release, on the shared machine "
              f"(absolute times are inflated by other engineers' compilations; compare curves, not absolute values). "
              f"Budget fraction {frac}, log-log.\n\n![solve time]({svg})\n\n![solve time vs nodes]({svg2})\n")
    md.append("| model | L x E | K | nodes | " + " | ".join(f"{a} ms" for a in timed) + " |\n|---|---|---|---|" + "---|" * len(timed))
    for model in [m for m in MODEL_EXPERTS if any(p["model"] == m for p in preset_rows)]:
        for n in nodes_all:
            cells = []
            for a in timed:
                v = [p["solve_ms"] for p in preset_rows if p["model"] == model and p["nodes"] == n and p["algo"] == a]
                cells.append(f"{v[0]:.1f}" if v else "-")
            L, E, K = MODEL_EXPERTS[model]
            md.append(f"| {model} | {L * E} | {K} | {n} | " + " | ".join(cells) + " |")
    md.append("")
    # MILP gaps
    gaps = [r_ for r_ in rows if r_["gap"] is not None]
    md.append('<a id="placement-milp-gap"></a>\n### 1.3 Gap to the MILP optimum\n')
    if gaps:
        points = sorted({(g["model"], g["stats"], g["nodes"], g["fraction"]) for g in gaps})
        md.append(f"GLPK proved the optimum within its time limit on {len(points)} points (same command). Gap = "
                  "(T(x) - T(opt)) / (T(empty) - T(opt)): the share of the optimal latency reduction that is missed.\n")
        md.append("| model | stats | nodes | fraction | " + " | ".join(algos) + " |\n|---|---|---|---|" + "---|" * len(algos))
        data = {}
        for k, a in enumerate(algos):
            data[a] = [(i, g["gap"]) for i, pt in enumerate(points) for g in gaps
                       if (g["model"], g["stats"], g["nodes"], g["fraction"]) == pt and g["algo"] == a]
        for pt in points:
            cells = []
            for a in algos:
                v = [g["gap"] for g in gaps if (g["model"], g["stats"], g["nodes"], g["fraction"]) == pt and g["algo"] == a]
                cells.append(f"{v[0]:.2f}%" if v else "-")
            md.append(f"| {pt[0]} | {pt[1]} | {pt[2]} | {pt[3]} | " + " | ".join(cells) + " |")
        xt = ", ".join(f"'{p[0]} N={p[2]} F={p[3]}' {i}" for i, p in enumerate(points))
        script = (f"set xtics ({xt}) rotate by -30 font ',9'\nset ylabel 'gap to optimum (% of optimal reduction)'\n"
                  f"set title 'Gap to the MILP optimum (points GLPK proved optimal)'\nset logscale y\nset yrange [0.0005:300]\n"
                  f"set xrange [-0.5:{len(points) - 0.5}]\n"
                  "plot " + ", ".join(f"DATA index {k} using ($1 + {(k - len(algos) / 2) * 0.05:.3f}):($2 > 0 ? $2 : 0.001) "
                                     f"with points pt {k + 1} ps 1.5 title '{a}'" for k, a in enumerate(algos)) + "\n")
        svg = plotter.plot("placement-milp-gap", script, data)
        md.append(f"\nZero gaps are drawn at 0.001% (log scale).\n\n![milp gap]({svg})\n")
    else:
        md.append("GLPK proved no point optimal within its time limit in this run (or the report was built without GLPK).\n")
    md.append("Summary printed by the report:\n\n```\n" + tiny + "\n" + summary + "\n```\n")
    return rows


# ------------------------------------------------------------------ 2. paging
def paging(args, plotter, md, traces_dir):
    slimctl = os.path.join(args.build, "agent/slimctl")
    gen = os.path.join(HERE, "layered_trace.py")
    counts = os.path.join(traces_dir, "olmoe-repo-routing-counts/json") if traces_dir else None
    tokens = 1000 if args.quick else 4000
    fractions = [0.05, 0.1, 0.25, 0.5, 0.75] if args.quick else [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.75, 0.9]
    traces = []
    md.append('<a id="paging"></a>\n## 2. Paging (layered expert cache)\n')
    md.append("Demand misses per request (cold misses included) against the memory tier's size as a fraction of "
              "all (layer, expert) pages, for every policy of `slimctl replay`; `belady` (offline optimum) is the "
              "floor (thick black). Command per point: `slimctl replay --trace FILE --cache-fraction F --json`.\n")
    if traces_dir and os.path.exists(os.path.join(traces_dir, "olmoe-decode/trace_olmoe_299.jsonl")):
        traces.append(("olmoe-decode", os.path.join(traces_dir, "olmoe-decode/trace_olmoe_299.jsonl"),
                       "the real OLMoE-1B-7B decode trace (299 tokens, 16 layers x 64 experts, top-8)"))
    else:
        md.append("The OLMoE decode trace was skipped: SLIMCACHE_TRACES_DIR is unset or has no olmoe-decode/.\n")
    calibrations = []
    if counts and os.path.isdir(counts):
        for name, model, corr, what in (
                ("synthetic-olmoe", "olmoe", "calibrated", "OLMoE shape, Zipf + cross-layer affinity calibrated on the github counts"),
                ("synthetic-olmoe-independent", "olmoe", "0", "OLMoE shape, same Zipf popularity, no cross-layer correlation (rho = 0)"),
                ("synthetic-mixtral", "mistral", "calibrated", "Mixtral-8x7B shape (32 layers x 8 experts, top-2), calibrated on the Mixtral github counts")):
            out = os.path.join(plotter.raw_dir, name + ".jsonl")
            cal = os.path.join(plotter.raw_dir, name + ".calibration.json")
            argv = ["python3", gen, "--counts", counts, "--model", model, "--tokens", str(tokens), "--seed", "1",
                    "--correlation", corr, "--out", out, "--calibration-json", cal]
            run(argv)
            c = json.load(open(cal))
            calibrations.append((name, " ".join([rel(gen)] + [rel(x) if os.path.isabs(x) else x for x in argv[2:]]), c))
            traces.append((name, out, f"{what}; {tokens} tokens, seed 1"))
    else:
        md.append("The synthetic traces were skipped: no olmoe-repo-routing-counts/json under SLIMCACHE_TRACES_DIR.\n")
    results, skipped = {}, []
    for name, path, what in traces:
        per = {}
        names = [p["name"] for p in json.loads(run([slimctl, "replay", "--trace", path, "--cache-fraction", "0.5",
                                                       "--json"]).stdout)["policies"]]
        for f in fractions:
            r = run([slimctl, "replay", "--trace", path, "--cache-fraction", str(f), "--json"], check=False)
            if r.returncode == 0:
                runs = [json.loads(r.stdout)]
            else:  # a policy that cannot run at this size (lru-per-layer needs K pages per layer): one by one
                runs = []
                for policy in names:
                    r = run([slimctl, "replay", "--trace", path, "--cache-fraction", str(f), "--policy", policy, "--json"], check=False)
                    if r.returncode == 0:
                        j = json.loads(r.stdout)
                        j["policies"] = [p for p in j["policies"] if p["name"] == policy]
                        runs.append(j)
                    else:
                        skipped.append(f"{policy} on {name} at {f}: {r.stderr.strip()}")
            for j in runs:
                for p in j["policies"]:
                    per.setdefault(p["name"], []).append((round(j["cache_fraction"], 4), p["miss_ratio"], p["ratio_to_belady"], j["capacity_pages"]))
        results[name] = per
        policies = [p for p in per if p != "belady"] + ["belady"]
        data = {p: per[p] for p in policies}
        parts = []
        for k, p in enumerate(policies):
            style = "lc rgb 'black' lw 3 dt 1 pt 7" if p == "belady" else f"lc {k + 1} pt {k + 1} dt {1 + k % 3}"
            parts.append(f"DATA index {k} using 1:2 with linespoints {style} title '{p}'")
        script = (f"set title '{name}: miss ratio vs cache size'\nset xlabel 'cache size (fraction of all layer x expert pages)'\n"
                  "set ylabel 'demand misses per request'\nset yrange [0:*]\nplot " + ", ".join(parts) + "\n")
        svg = plotter.plot(f"paging-{name}", script, data)
        md.append(f'<a id="paging-{name}"></a>\n### {name}\n\n{what}.\n\n![{name}]({svg})\n')
        pick = [f for f in fractions if f in (0.1, 0.25, 0.5)] or fractions[:3]
        cols = [min(range(len(fractions)), key=lambda i: abs(fractions[i] - f)) for f in pick]
        md.append("| policy | " + " | ".join(f"miss ratio @ {fractions[i]}" for i in cols) + " | " +
                  " | ".join(f"/ belady @ {fractions[i]}" for i in cols) + " |\n|---|" + "---|" * (2 * len(cols)))
        for p in policies:
            v = {round(x[0], 2): x for x in per[p]}
            md.append(f"| {p} | " + " | ".join(f"{v[fractions[i]][1]:.3f}" if fractions[i] in v else "-" for i in cols) + " | " +
                      " | ".join(f"{v[fractions[i]][2]:.2f}" if fractions[i] in v else "-" for i in cols) + " |")
        md.append("")
    if skipped:
        md.append("Points not run (the policy rejects the cache size; missing from the plots):\n")
        md.extend(f"- {x}" for x in skipped)
        md.append("")
    if calibrations:
        md.append('<a id="paging-synthetic-generator"></a>\n### Synthetic layered traces: generator and calibration\n')
        md.append("`tests/bench/layered_trace.py` (its docstring states the model): per-layer Zipf popularity "
                  "fitted on the top-k counts of layers 0, 7 and 15 and interpolated; cross-layer affinity `rho` "
                  "calibrated so that the normalised mutual information of consecutive layers' top-1 experts "
                  "equals the measured one (`expert_counts_crosslayer_top1`). No temporal locality between "
                  "tokens is modelled (the counts cannot calibrate it), which is why the recency policies gain "
                  "less on these traces than on the real decode trace.\n")
        md.append("| trace | command | Zipf s (layers 0, 7, 15) | measured top-1 NMI | rho |\n|---|---|---|---|---|")
        for name, cmd, c in calibrations:
            md.append(f"| {name} | `{cmd}` | {', '.join(str(x) for x in c['zipf_fitted_layers_0_7_15'])} | "
                      f"{c['top1_nmi_measured']} | {c['rho']} |")
        md.append("")
    return results


# ------------------------------------------------------------------ 3. gossip
def gossip(args, plotter, md):
    slimctl = os.path.join(args.build, "agent/slimctl")
    sizes = [8, 16, 32] if args.quick else [8, 16, 32, 64, 128, 256]
    md.append('<a id="gossip"></a>\n## 3. Gossip\n')
    sims = []
    for n in sizes:
        r = run([slimctl, "sim", "gossip", "--nodes", str(n), "--seed", "1", "--json"], timeout=900)
        sims.append(json.loads(r.stdout))
    data = {
        "join": [(s["nodes"], s["join_converge_s"]) for s in sims],
        "update p99": [(s["nodes"], s["converge_s"]["p99"]) for s in sims],
        "detect p50": [(s["nodes"], s["detect_s_p50"]) for s in sims],
        "detect p99": [(s["nodes"], s["detect_s_p99"]) for s in sims],
        "bytes": [(s["nodes"], s["bytes_per_node_per_s"]) for s in sims],
    }
    script = ("set multiplot layout 1,2 title 'Gossip simulator (lan profile, seed 1)'\nset logscale x 2\n"
              "set xlabel 'nodes N'\nset ylabel 'seconds'\nset title 'convergence and failure detection'\nset key inside left center font ',9'\n"
              "plot DATA index 0 using 1:2 with linespoints title 'join converged (after last join)', "
              "DATA index 1 using 1:2 with linespoints title 'state update p99', "
              "DATA index 2 using 1:2 with linespoints title 'crash detected p50', "
              "DATA index 3 using 1:2 with linespoints title 'crash detected p99'\n"
              "set title 'idle traffic'\nset ylabel 'bytes sent per node per second'\nset key off\n"
              "plot DATA index 4 using 1:2 with linespoints lw 2 title 'idle bytes/node/s'\nunset multiplot\n")
    svg = plotter.plot("gossip-sim", script, data)
    md.append('<a id="gossip-simulator"></a>\n### 3.1 Simulator: convergence and failure detection vs N\n')
    md.append(f"Command per point: `{rel(slimctl)} sim gossip --nodes N --seed 1 --json` (the standard scenario of "
              "`agent/gossip/sim_scenario.hpp`: joins, state updates, a crash, a stalled node, a partition; "
              "simulated time, so these figures do not depend on the machine's load).\n\n"
              f"![gossip simulator]({svg})\n")
    md.append("| N | join converged s | update rounds p99 | update s p99 | detect s p50 | detect s p99 | false positives | idle B/node/s |\n|---|---|---|---|---|---|---|---|")
    for s in sims:
        md.append(f"| {s['nodes']} | {s['join_converge_s']:.2f} | {s['converge_rounds_p99']:.2f} | {s['converge_s']['p99']:.2f} | "
                  f"{s['detect_s_p50']:.2f} | {s['detect_s_p99']:.2f} | {s['false_positives']} | {s['bytes_per_node_per_s']:.0f} |")
    md.append("")
    # side by side with serf
    md.append('<a id="gossip-vs-serf"></a>\n### 3.2 slimcached vs serf on loopback\n')
    serf = shutil.which("serf")
    if not serf:
        md.append("Not run: `serf` is not installed (`toolchains/install-deps.sh --extras`).\n")
        return sims, None
    n, idle = (4, 8) if args.quick else (16, 30)
    script_py = os.path.join(HERE, "gossip_side_by_side.py")
    out = os.path.join(plotter.raw_dir, "gossip-side-by-side.json")
    slimcached = args.slimcached or os.path.join(args.build, "agent/slimcached")
    argv = ["python3", script_py, "--slimcached", slimcached, "--nodes", str(n), "--idle-seconds", str(idle),
            "--profile", "lan", "--json", out]
    run(argv, timeout=900)
    sbs = json.load(open(out))
    ver = subprocess.run([serf, "version"], capture_output=True, text=True).stdout.splitlines()
    deb = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "serf"], capture_output=True, text=True).stdout.strip()
    ver = [f"{ver[0] if ver else 'serf'}" + (f", Debian package {deb}" if deb else "")]
    md.append(f"Command: `{' '.join([rel(script_py), '--slimcached', rel(slimcached)] + argv[4:-2])}` "
              f"({ver[0] if ver else 'serf'}; both with memberlist's LAN timing: probe 1 s, probe timeout 500 ms, "
              "gossip 200 ms to 3 nodes, suspicion multiplier 4, push-pull 30 s; slimcached's `gossip.profile = \"lan\"` "
              "is the same preset, serf's `-profile=lan`). The two clusters run one after the other in the same "
              "invocation on the same machine, never at the same time. Method (from the script's docstring): join "
              "convergence from the last spawn until every node lists N alive members (polled every 50 ms over each "
              "daemon's own interface); failure detection from a SIGKILL of one node until each survivor lists it "
              "dead/failed; bytes are each implementation's own payload counters (slimcached "
              "`slimcache_gossip_bytes_sent`, serf's `memberlist.udp.sent` + `memberlist.tcp.sent` through a statsd "
              "listener on loopback), headers excluded, unencrypted, over an idle window after a 2 s settle; memory "
              "is VmRSS at the end of the window; CPU over the window. Note: slimcached's gossip also carries its node "
              "state (budgets, execution costs, statistics digests), which serf has no equivalent of.\n")
    runs = {r_["system"]: r_ for r_ in sbs["runs"]}
    keys = [("join_converge_s", "join convergence (s)", "{:.3f}"), ("detect_s_median", "failure detection, median survivor (s)", "{:.2f}"),
            ("detect_s_max", "failure detection, last survivor (s)", "{:.2f}"),
            ("bytes_per_node_per_s", "gossip bytes per node per second (idle)", "{:.0f}"),
            ("rss_mib_median", "resident memory per process, median (MiB)", "{:.1f}"),
            ("cpu_percent_per_process_mean", "CPU per process, idle (% of one core)", "{:.3f}")]
    md.append(f"N = {n} processes each, idle window {idle} s.\n")
    md.append("| measure | slimcached | serf | slimcached / serf |\n|---|---|---|---|")
    data = {"ratio": []}
    for i, (k, label, fmt) in enumerate(keys):
        a, b = runs.get("slimcached", {}).get(k), runs.get("serf", {}).get(k)
        ratio = sbs.get("ratio_slimcached_over_serf", {}).get(k)
        md.append(f"| {label} | {fmt.format(a) if a is not None else 'failed'} | {fmt.format(b) if b is not None else 'failed'} | "
                  f"{'%.2f' % ratio if ratio is not None else '-'} |")
        if ratio is not None:
            data["ratio"].append((i, ratio, '"' + label.split(" (")[0] + '"'))
    md.append("")
    if data["ratio"]:
        script = ("set style fill solid 0.6\nset boxwidth 0.6\nset logscale y\nset key off\n"
                  f"set title 'slimcached / serf, N = {n} on loopback (below 1: slimcached is smaller/faster)'\n"
                  "set ylabel 'ratio (log scale)'\nset xtics rotate by -20 font ',9'\nset yrange [*:*]\n"
                  "plot DATA index 0 using 1:2:xtic(3) with boxes lc rgb '#4477aa', 1 with lines lc rgb 'black' dt 2\n")
        svg = plotter.plot("gossip-vs-serf", script, data)
        md.append(f"![slimcached vs serf]({svg})\n")
    return sims, sbs


# ------------------------------------------------------------------ 4. footprint
def footprint(args, plotter, md):
    md.append('<a id="footprint"></a>\n## 4. Footprint\n')
    rows = []
    native = os.path.dirname(os.path.dirname(args.slimcached)) if args.slimcached else args.build
    dirs = [("amd64", native)] + [tuple(x.split("=", 1)) for x in args.cross_dir]
    tmp = tempfile.mkdtemp(prefix="slimcache-sizes-")
    try:
        for arch, d in dirs:
            for name in ("slimcached", "slimctl"):
                path = os.path.join(d, "agent", name)
                if not os.path.exists(path):
                    rows.append((arch, name, None, None, d))
                    continue
                strip = {"aarch64": "aarch64-linux-gnu-strip", "armhf": "arm-linux-gnueabihf-strip"}.get(arch, "strip")
                dst = os.path.join(tmp, f"{arch}-{name}")
                shutil.copy(path, dst)
                ok = shutil.which(strip) and subprocess.run([strip, dst]).returncode == 0
                rows.append((arch, name, os.path.getsize(path), os.path.getsize(dst) if ok else None, d))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for arch in ("aarch64", "armhf"):
        if not any(r_[0] == arch for r_ in rows):
            rows.append((arch, "slimcached", None, None, "-"))
            rows.append((arch, "slimctl", None, None, "-"))
    md.append('<a id="footprint-sizes"></a>\n### 4.1 Binary sizes (Release)\n')
    md.append("Stripped with the target's `strip` from a copy (`ls -l` of the copy). Cross binaries come from "
              "`report.sh` (full run: configured with `toolchains/<triple>.cmake`, Release, only when the cross "
              "compiler is on PATH).\n")
    md.append("| arch | binary | build dir | size | stripped |\n|---|---|---|---|---|")
    for arch, name, size, stripped, d in rows:
        if size is None:
            md.append(f"| {arch} | {name} | - | not built | not built |")
        else:
            md.append(f"| {arch} | {name} | `{rel(d)}` | {size / 1024 / 1024:.2f} MiB | "
                      f"{(stripped / 1024 / 1024) if stripped else 0:.2f} MiB |")
    md.append("")
    slimcached = args.slimcached or os.path.join(args.build, "agent/slimcached")
    script = os.path.join(ROOT, "tests/system/measure_footprint.py")
    idle, runs = ("5", "3") if args.quick else ("30", "5")
    r = run(["python3", script, slimcached, "--idle-seconds", idle, "--runs", runs], timeout=600)
    md.append('<a id="footprint-runtime"></a>\n### 4.2 Idle memory, CPU and start-to-ready\n')
    md.append(f"Command: `{rel(script)} {rel(slimcached)} --idle-seconds {idle} --runs {runs}` (one node, empty "
              "state directory, READY=1 through a NOTIFY_SOCKET the script creates; wall-clock on the shared "
              "machine):\n\n```\n" + r.stdout.strip() + "\n```\n")
    return rows, r.stdout


# ------------------------------------------------------------------ main
def check(out, svgs, sections):
    text = open(out).read()
    problems = [f"section anchor '{s}' missing" for s in sections if f'<a id="{s}"></a>' not in text]
    for svg in svgs:
        try:
            root = ET.parse(svg).getroot()
            if not root.tag.endswith("svg"):
                problems.append(f"{svg}: not an SVG")
        except ET.ParseError as e:
            problems.append(f"{svg}: {e}")
    for m in re.finditer(r"\]\((bench/[^)]+\.svg)\)", text):
        if not os.path.exists(os.path.join(os.path.dirname(out), m.group(1))):
            problems.append(f"{m.group(1)} linked but missing")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True, help="Release build dir with the benchmarks")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs/BENCHMARKS.md"))
    ap.add_argument("--cross-dir", action="append", default=[], help="ARCH=DIR of a cross Release build")
    ap.add_argument("--command", default="tests/bench/report.sh", help="the command line shown in the report")
    ap.add_argument("--slimcached", help="daemon binary for the gossip and footprint sections (default: the build dir's)")
    ap.add_argument("--solver-report-output", help="reuse this saved slimcache-solver-report output instead of running it")
    ap.add_argument("--sections", default="placement,paging,gossip,footprint",
                    help="comma-separated subset to run (for working on one section)")
    a = ap.parse_args()
    out = os.path.abspath(a.out)
    svg_dir = os.path.join(os.path.dirname(out), "bench")
    raw_dir = os.path.join(svg_dir, "raw")
    os.makedirs(raw_dir, exist_ok=True)
    with open(os.path.join(svg_dir, ".gitignore"), "w") as f:
        f.write("raw/\n")
    for old in os.listdir(svg_dir):
        if old.endswith(".svg"):
            os.remove(os.path.join(svg_dir, old))
    traces = os.environ.get("SLIMCACHE_TRACES_DIR")
    m = machine()
    plotter = Plotter(svg_dir, raw_dir)
    body = []
    sections = [x for x in a.sections.split(",") if x]
    steps = {"placement": lambda: placement(a, plotter, body), "paging": lambda: paging(a, plotter, body, traces),
             "gossip": lambda: gossip(a, plotter, body), "footprint": lambda: footprint(a, plotter, body)}
    for name in sections:
        if name not in steps:
            ap.error(f"unknown section '{name}'")
        steps[name]()
    m_end = " ".join(open("/proc/loadavg").read().split()[:3])
    head = ["# slimcache benchmarks", "",
            "Generated by `" + a.command + "`" + (" (quick form: smaller grids, shorter windows)" if a.quick else "") +
            f" in {time.monotonic() - T0:.0f} s. Do not edit by hand: rerun the command. How it works: "
            "[benchmarking.md](benchmarking.md).", "",
            "| machine | |", "|---|---|",
            f"| CPU | {m['cpu']} |", f"| cores | {m['cores']} |", f"| RAM | {m['ram']} |", f"| kernel | {m['kernel']} |",
            f"| date | {m['date']} |", f"| commit | {m['commit']} |",
            f"| load average (1, 5, 15 min) | {m['load']} at the start, {m_end} at the end |", "",
            "**Absolute times are from a shared 2-core machine where other engineers compile at the same time**: "
            "read them as upper bounds. The headline figures are ratios measured side by side in one run "
            "(algorithm vs algorithm, policy vs belady, slimcached vs serf) and the simulator's figures "
            "(simulated time).", "",
            "Contents: [1. Placement](#placement) ([latency vs budget](#placement-latency), "
            "[solve time](#placement-solve-time), [gap to MILP](#placement-milp-gap)) · [2. Paging](#paging) · "
            "[3. Gossip](#gossip) ([simulator](#gossip-simulator), [vs serf](#gossip-vs-serf)) · "
            "[4. Footprint](#footprint)", ""]
    with open(out, "w") as f:
        f.write("\n".join(head + body) + "\n")
    problems = check(out, plotter.made, sections)
    if problems:
        for p in problems:
            log(f"CHECK FAILED: {p}")
        return 1
    log(f"wrote {rel(out)} and {len(plotter.made)} SVGs in {rel(svg_dir)}; checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

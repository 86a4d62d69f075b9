#!/usr/bin/env python3
"""Turns a bench/results/<run>/ directory into a Markdown table (and one
results.json), or, with --step-ok FILE RATE, says whether a step of the
rate ramp held: nothing lost, p99 under 250 ms, the offered rate accepted."""
import json
import os
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def step_ok(path, rate):
    r = load(path)
    if not r or "error" in r or r.get("connect_failures", 1) > 0:
        return False
    return (r["lost"] == 0 and r["latency_ms"]["p99"] < 250
            and r["accepted_per_sec"] >= 0.95 * rate)


def cores(r):
    u = r.get("usage", {})
    return f"server {u.get('server_cores', 0):.2f} / loadgen {u.get('loadgen_cores', 0):.2f} cores"


def run_cell(r):
    if r is None:
        return "—"
    if "error" in r:
        return "failed"
    if r.get("clients_closed_early"):
        return f"{r['clients_closed_early']} of {r['connected']} clients closed by the server mid-run; {cores(r)}"
    lat = r["latency_ms"]
    return (f"{r['deliveries_per_sec'] / 1000:.1f}k deliveries/s, {r['accepted_per_sec']:.0f} msgs/s, "
            f"p50 {lat['p50']:.1f} / p99 {lat['p99']:.1f} ms, lost {r['lost']}, dup {r['duplicated']}, "
            f"reordered {r['reordered']}; {cores(r)}")


def idle_cell(r):
    if r is None:
        return "—"
    if "error" in r:
        return "failed"
    return (f"{r['rss_per_connection_kb']:.1f} KB/conn ({r['connected']}/{r['clients']} connected, "
            f"RSS {r['rss_after_kb'] / 1024:.0f} MB, {r['server_threads']} threads)")


def fanout_cell(r):
    if r is None:
        return "—"
    if "error" in r:
        return "failed"
    lat = r["latency_ms"]
    return (f"p50 {lat['p50']:.1f} / p99 {lat['p99']:.1f} / max {lat['max']:.1f} ms to "
            f"{r['connected']} clients, lost {r['lost']}; {cores(r)}")


def ramp_cell(run, who):
    best = load(os.path.join(run, f"{who}-c.json"))
    if not best:
        return "—"
    rate = best["best_rate"]
    r = load(os.path.join(run, f"{who}-c{rate}.json")) if rate else None
    if not r:
        return "nothing held"
    return f"{rate} msgs/s held: " + run_cell(r)


def hydration_cell(r):
    if r is None:
        return "—"
    if "error" in r:
        return "failed"
    return f"median {r['median_ms'] / 1000:.2f} s (runs {', '.join(str(t) for t in r['runs'])} ms), {r['bytes_fetched_last_run'] / 1024:.0f} KB fetched"


def table(run):
    whos = [w for w in ("chat", "baseline", "seed")
            if any(f.startswith(w + "-") for f in os.listdir(run))]
    rows = [
        ("(l) one message at a time, no other load: send to receipt", lambda w: run_cell(load(f"{run}/{w}-l.json"))),
        ("(a) 100 clients, 10 senders, closed loop, 20 s", lambda w: run_cell(load(f"{run}/{w}-a.json"))),
        ("(b) 1,000 clients, 100 msgs/s", lambda w: run_cell(load(f"{run}/{w}-b.json"))),
        ("(c) 1,000 clients, highest rate with p99 < 250 ms, nothing lost", lambda w: ramp_cell(run, w)),
        ("(d) idle, 1,000 connections", lambda w: idle_cell(load(f"{run}/{w}-d1000.json"))),
        ("(d) idle, 10,000 connections", lambda w: idle_cell(load(f"{run}/{w}-d10000.json"))),
        ("(e) one message to 10,000 clients", lambda w: fanout_cell(load(f"{run}/{w}-e.json"))),
        ("(f) 50 senders × 8 in flight, committed", lambda w: run_cell(load(f"{run}/{w}-f.json"))),
        ("(h) phone, slow 4G, 4× CPU: navigation to usable message box", lambda w: hydration_cell(load(f"{run}/{w}-h.json"))),
    ]
    out = ["| scenario | " + " | ".join(whos) + " |", "|---|" + "---|" * len(whos)]
    merged = {}
    for name, cell in rows:
        out.append(f"| {name} | " + " | ".join(cell(w) for w in whos) + " |")
    for f in sorted(os.listdir(run)):
        if f.endswith(".json") and f != "results.json":
            merged[f[:-5]] = load(os.path.join(run, f))
    with open(os.path.join(run, "results.json"), "w") as f:
        json.dump(merged, f, indent=1)
    return "\n".join(out)


if __name__ == "__main__":
    if sys.argv[1] == "--step-ok":
        sys.exit(0 if step_ok(sys.argv[2], float(sys.argv[3])) else 1)
    print(table(sys.argv[1]))

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


def crowd_cell(r):
    """A crowd arriving: the fan-out after it, and what it cost."""
    if r is None:
        return "—"
    if "error" in r:
        return "failed"
    lat = r["latency_ms"]
    u = r.get("usage", {})
    rss = u.get("server_rss_kb")
    # How long the last one took to get in (the plan spreads arrivals
    # over --join-secs; a server that cannot keep up makes it longer).
    arrived = r.get("arrived_secs")
    joined = f" in {arrived:.1f} s" if arrived is not None else ""
    conn = r.get("connect_ms") or {}
    each = (f" (each connect p50 {conn['p50']:.0f} / p99 {conn['p99']:.0f} ms)"
            if "p50" in conn else "")
    return (f"{r['connected']}/{r['clients']} connected{joined}{each}, "
            f"{r['clients_closed_early']} closed by the server, "
            f"lost {r['lost']}; p50 {lat['p50']:.1f} / p99 {lat['p99']:.1f} ms; "
            f"{r.get('received_bytes_mean', 0) / 1024:.0f} KB received per client (most {r.get('received_bytes_max', 0) / 1024:.0f} KB)"
            + (f"; server RSS {rss / 1024:.0f} MB" if rss else "") + f"; {cores(r)}")


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


def rooms_cell(r):
    """Rooms of 100: what one message cost, and how many it reached."""
    if r is None:
        return "—"
    if "error" in r:
        return "failed"
    lat = r["latency_ms"]
    u = r.get("usage", {})
    window = r.get("window_secs", 1) or 1
    sent = r["accepted_per_sec"] * window
    if r.get("senders", 1) == 0:
        return (f"{r['connected']}/{r['clients']} connected, no messages: "
                f"server {u.get('server_cores', 0):.3f} cores, RSS {u.get('server_rss_kb', 0) / 1024:.0f} MB")
    per_msg = r["deliveries_in_window"] / sent if sent else 0
    cpu_ms = u.get("server_cores", 0) * window * 1000 / sent if sent else 0
    arrived = f" (all in after {r['arrived_secs']:.0f} s)" if "arrived_secs" in r else ""
    return (f"{r['connected']}/{r['clients']} connected{arrived}; {cpu_ms:.2f} ms server CPU per message, "
            f"{per_msg:.0f} deliveries per message; p50 {lat['p50']:.1f} / p99 {lat['p99']:.1f} ms to the room; "
            f"lost {r['lost']}, dup {r['duplicated']}, {r.get('pages', 0)} catch-up pages; "
            f"{r.get('received_bytes_mean', 0) / 1024:.0f} KB received per client; {cores(r)}")


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
    cell = f"usable {r['median_ms'] / 1000:.2f} s (runs {', '.join(str(t) for t in r['runs'])} ms)"
    if "sent_median_ms" in r:
        cell += f", sent {r['sent_median_ms'] / 1000:.2f} s, live {r['live_median_ms'] / 1000:.2f} s"
    return cell + f" (medians), {r['bytes_fetched_last_run'] / 1024:.0f} KB fetched"


def lighthouse_cell(r):
    if r is None:
        return "—"
    if "error" in r:
        return "failed"
    cells = []
    for profile in ("mobile", "desktop"):
        m = r[profile]["median"]
        cells.append(f"{profile}: performance {m['performance']}, accessibility {m['accessibility']}, "
                     f"best practices {m['best_practices']}, CLS {m['cls']:.3f}, LCP {m['lcp_ms'] / 1000:.2f} s, "
                     f"TBT {m['tbt_ms']} ms")
    return f"median of {len(r['mobile']['runs'])}: " + "; ".join(cells)


def page_cell(r):
    if not r:
        return "—"
    us = r.get("server_cpu_us_per_page")
    return (f"{r['pages_per_s']:.0f} pages/s, {us:.0f} µs server CPU each, {r['page_bytes_br']:,} B"
            if us else f"{r['pages_per_s']:.0f} pages/s")


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
        ("(p) 1,000 named people join one room at once, 20 msgs/s", lambda w: crowd_cell(load(f"{run}/{w}-p.json"))),
        ("(r) 10,000 named people join one room within 30 s, then 2 msgs/s to all", lambda w: crowd_cell(load(f"{run}/{w}-r.json"))),
        ("(q1) yardstick: one room of 100 alone, 10 senders, 20 msgs/s", lambda w: rooms_cell(load(f"{run}/{w}-q1.json"))),
        ("(q) 10,000 clients in 100 private rooms of 100 (and 1,000 direct conversations), 20 msgs/s in 10 rooms", lambda w: rooms_cell(load(f"{run}/{w}-q.json"))),
        ("(q0) the same 10,000 in their private rooms, nobody sending", lambda w: rooms_cell(load(f"{run}/{w}-q0.json"))),
        ("(q) the same 100 rooms open", lambda w: rooms_cell(load(f"{run}/{w}-qo.json"))),
        ("(h) phone, slow 4G, 4× CPU: navigation to usable message box, a message sent from it, the app live", lambda w: hydration_cell(load(f"{run}/{w}-h.json"))),
        ("(lh) Lighthouse 12.8, a room of 50 messages, named visitor", lambda w: lighthouse_cell(load(f"{run}/{w}-lh.json"))),
        ("(g) the room page, 50 messages, named viewer, brotli, HTTPS keep-alive (the seed: its page)", lambda w: page_cell(load(f"{run}/{w}-g.json"))),
    ]
    out = ["| scenario | " + " | ".join(whos) + " |", "|---|" + "---|" * len(whos)] if whos else []
    merged = {}
    for name, cell in rows if whos else []:
        out.append(f"| {name} | " + " | ".join(cell(w) for w in whos) + " |")
    for f in sorted(os.listdir(run)):
        if f.endswith(".json") and f != "results.json":
            merged[f[:-5]] = load(os.path.join(run, f))
    with open(os.path.join(run, "results.json"), "w") as f:
        json.dump(merged, f, indent=1)
    out += nodes_table(run)
    out += history_table(run)
    return "\n".join(out)


def history_table(run):
    """(m): the page path on a long history beside an empty chat."""
    rows = []
    for engine in ("sqlite", "postgres"):
        empty, full = load(f"{run}/m-{engine}-0.json"), load(f"{run}/m-{engine}-1000000.json")
        page = load(f"{run}/m-{engine}-2500.json") or {}
        if not empty or not full:
            continue
        for key, label in (("page_fresh", "room page, viewer named after the history"),
                           ("page_read", "room page, viewer with read marks"),
                           ("page_behind", "room page, viewer 10,000 behind"),
                           ("page_unmarked", "room page, viewer without marks"),
                           ("search", "search page")):
            a, p, b = empty.get(key, 0), page.get(key, 0), full.get(key, 0)
            ratio = lambda x: f"{b / x:.2f}" if x else "—"
            refused = "".join(f" ({d.get('search_refused')} refused)" for d in (full,)
                              if key == "search" and d.get("search_refused"))
            rows.append(f"| {engine} | {label} | {a:.0f} | {p:.0f} | {b:.0f}{refused} | {ratio(a)} | {ratio(p)} |")
    if not rows:
        return []
    return ["", "(m) requests/s on an empty chat, on 2,500 messages (a full page in each room) and on "
            "1,000,000 messages (50 rooms, 1,000 identities), same run",
            "", "| store | request | empty | 2,500 | 1,000,000 | 1M / empty | 1M / 2,500 |",
            "|---|---|---|---|---|---|---|"] + rows


def nodes_table(run):
    """(n): SQLite, PostgreSQL one node, PostgreSQL two nodes."""
    runs = [(label, load(f"{run}/n-{name}.json")) for name, label in
            (("sqlite", "SQLite, 1 node"), ("pg1", "PostgreSQL, 1 node"), ("pg2", "PostgreSQL, 2 nodes"))]
    if all(r is None for _, r in runs):
        return []
    out = ["", "(n) 1,000 clients (split over the nodes), 10 senders, closed loop, 15 s", "",
           "| | deliveries/s | msgs/s | ack p50 / p99 ms | delivery p50 / p99 ms | same-node p50 / p99 | cross-node p50 / p99 | lost / dup / reordered | chat CPU | PostgreSQL CPU | PostgreSQL waits (samples) |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, r in runs:
        if r is None:
            continue
        if "error" in r:
            out.append(f"| {label} | failed ||||||||||")
            continue
        lat = r["latency_ms"]
        split = lambda k: (f"{r[k]['p50']:.1f} / {r[k]['p99']:.1f}" if r.get(k) else "—")
        waits = ", ".join(f"{k} {v}" for k, v in (r.get("postgres_waits") or {}).items()) or "—"
        pg = f"{r['postgres_cores']:.2f} cores" if "postgres_cores" in r else "—"
        out.append(
            f"| {label} | {r['deliveries_per_sec'] / 1000:.1f}k | {r['accepted_per_sec']:.0f} | "
            f"{r['ack_ms']['p50']:.1f} / {r['ack_ms']['p99']:.1f} | "
            f"{lat['p50']:.1f} / {lat['p99']:.1f} | {split('same_node_latency_ms')} | {split('cross_node_latency_ms')} | "
            f"{r['lost']} / {r['duplicated']} / {r['reordered']} | {r['usage'].get('server_cores', 0):.2f} cores "
            f"(loadgen {r['usage'].get('loadgen_cores', 0):.2f}) | {pg} | {waits} |")
    return out


if __name__ == "__main__":
    if sys.argv[1] == "--step-ok":
        sys.exit(0 if step_ok(sys.argv[2], float(sys.argv[3])) else 1)
    print(table(sys.argv[1]))

#!/usr/bin/python3
"""trailkeep bench: turns the raw figures of one `make bench` run
(bench/work/*.json, written by bench/run.sh) into bench/RESULTS.md. Every
number in RESULTS.md comes from those files; nothing here is typed by hand.
Ratios are always "trailkeep vs peer" with the direction stated in the header.
usage: report.py WORK_DIR RESULTS.md"""
import json
import os
import sys

WORK, OUT = sys.argv[1], sys.argv[2]
DAY_WINDOWS = ["1d", "30d"]
ATTRS = ["EventName", "User", "ResourceName", "EventAccessKeyId"]


def load(name):
    """The JSON object in WORK/name.json (first line if several), or None."""
    path = os.path.join(WORK, name + ".json")
    try:
        with open(path) as f:
            text = f.read().strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return json.loads(text.splitlines()[0])
    except (OSError, ValueError):
        return None


def fmt_int(x):
    return "n/a" if x is None else f"{x:,.0f}"


def fmt_f(x, nd=1):
    return "n/a" if x is None else f"{x:,.{nd}f}"


def ratio(a, b, nd=1):
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:,.{nd}f}x"


def mib(b):
    return "n/a" if b is None else f"{b / 1048576:,.1f} MiB"


def verdict(ok):
    return "n/a" if ok is None else ("yes" if ok else "**no**")


params = load("params") or {}
machine = load("machine") or {}
status = load("status") or {}
lines = []
w = lines.append


def run_minutes():
    from datetime import datetime
    try:
        a = datetime.strptime(params["started"], "%Y-%m-%dT%H:%M:%SZ")
        b = datetime.strptime(status["finished"], "%Y-%m-%dT%H:%M:%SZ")
        return f"{(b - a).total_seconds() / 60:.1f} minutes"
    except (KeyError, ValueError):
        return "n/a"


def section_machine():
    w("## Machine and run")
    w("")
    w("| fact | value |")
    w("|---|---|")
    commit = machine.get("commit", "?")
    mod, untr = machine.get("modified_files", 0), machine.get("untracked_files", 0)
    note = ""
    if mod or untr:
        note = f" (working tree: {mod} modified and {untr} untracked files, built as found)"
    rows = [
        ("date (UTC)", f"{machine.get('date')}, whole run {run_minutes()}"),
        ("commit", f"`{commit}`{note}"),
        ("CPU", f"{machine.get('cpu')}, nproc = {machine.get('nproc')}"),
        ("RAM", f"{machine.get('mem_gib')} GiB"),
        ("disk (bench/work)", machine.get("disk")),
        ("synchronous 4 KiB writes (dd oflag=dsync)", machine.get("dsync_4k")),
        ("kernel", machine.get("kernel")),
        ("load average (1, 5, 15 min) at start / end",
         f"{machine.get('loadavg_start')} / {status.get('loadavg_end')} (other work on the machine "
         "slows every system; compare ratios from one run)"),
        ("compiler", machine.get("cc")),
        ("SQLite / PostgreSQL / simdjson",
         f"{machine.get('sqlite')} / {machine.get('postgres')} / {machine.get('simdjson')}"),
    ]
    for k, v in rows:
        w(f"| {k} | {v} |")
    w("")
    env = (f"BENCH_EVENTS={params.get('events')} BENCH_DAYS={params.get('days')} "
           f"BENCH_QUERIES={params.get('queries')} BENCH_SEED={params.get('seed')}")
    if params.get("big"):
        env += " BENCH_BIG=1"
    if params.get("skip"):
        env += f" BENCH_SKIP={params.get('skip')}"
    w(f"Reproduce: `{env} make bench` (the defaults give the same run as plain `make bench`).")
    if status.get("failed"):
        w("")
        w(f"**Failed steps in this run: {status['failed']}** (logs in bench/work/logs/).")
    w("")


gen = load("gen") or {}
gen_t = load("gen.time") or {}
N = gen.get("events")
RAW = gen.get("bytes")


def section_data():
    w("## Data")
    w("")
    if not N:
        w("`trailkeep gen` failed: no data, no figures.")
        w("")
        return
    # gen --stats prints its own, more precise timing on stderr:
    # "trailkeep gen: N events, X MB (...), 1 file, S s, R events/s"
    rate, secs = None, gen_t.get("seconds")
    try:
        with open(os.path.join(WORK, "logs", "gen.log")) as f:
            for ln in f:
                parts = [x.strip() for x in ln.split(",")]
                if ln.startswith("trailkeep gen:") and len(parts) >= 5:
                    secs = float(parts[-2].split()[0])
                    rate = float(parts[-1].split()[0])
    except (OSError, ValueError):
        pass
    if rate is None and secs:
        rate = N / secs
    w(f"`trailkeep gen --events {N} --days {params.get('days')} --start {params.get('start')} "
      f"--seed {params.get('seed')} {params.get('gen_args', '')}`: "
      f"{fmt_int(N)} ActionTrail events, {mib(RAW)} of JSON Lines "
      f"({fmt_f(RAW / N, 0)} bytes/event), generated in {fmt_f(secs, 2)} s "
      f"({fmt_int(rate)} events/s). Every system below reads this same file.")
    w("")
    try:
        with open(os.path.join(WORK, "parse.txt")) as f:
            parse = f.read().strip()
    except OSError:
        parse = None
    if parse:
        w("Parser alone: `bench_parse 200000 3` (src/event's benchmark: `tk_event_parse` on one "
          "core over events it generates in memory, best of 3 rounds), as it printed:")
        w("")
        w("```")
        w(parse)
        w("```")
        w("")


def import_rows():
    """[(system, events, seconds, cpu_s, rss_kib, how)] for the import table."""
    rows = []
    tk_t = load("import_tk.time")
    tk_j = load("import_tk") or {}
    if tk_t and load("disk_tk"):
        rows.append(("trailkeep", tk_j.get("accepted", N), tk_t["seconds"], tk_t["user"] + tk_t["sys"], tk_t["max_rss_kib"],
                     "`trailkeep import --data DIR FILE` (release build, fsync on): process start to "
                     "exit, i.e. read + parse + validate + WAL (fsync per batch) + seal into "
                     "segments with all indexes. Its own summary: "
                     f"{fmt_int(tk_j.get('accepted'))} accepted, {fmt_int(tk_j.get('duplicates'))} "
                     f"duplicates, {fmt_int(tk_j.get('rejected'))} rejected"))
    sq = load("import_sqlite")
    sq_t = load("import_sqlite.time")
    if sq:
        rows.append(("SQLite", sq["events"], sq["seconds"],
                     (sq_t["user"] + sq_t["sys"]) if sq_t else None,
                     sq_t["max_rss_kib"] if sq_t else None,
                     "`bench/peers/sqlite_load`: read + simdjson DOM parse + column extraction + "
                     "INSERT OR IGNORE, WAL mode, synchronous=NORMAL, 10k rows/transaction, 6 "
                     "indexes, 256 MiB page cache; up to the last COMMIT (the final checkpoint "
                     f"took {fmt_f(sq.get('checkpoint_seconds'), 2)} s more, untimed)"))
    pg = load("import_pg")
    if pg:
        rows.append(("PostgreSQL", pg["events"], pg["seconds"], pg.get("cpu_seconds"), None,
                     "`pg_copy_text FILE | psql -c 'COPY events FROM STDIN'` into a table with the "
                     "same columns and 6 indexes (server: shared_buffers=1GB, max_wal_size=8GB, "
                     "fsync on): read + simdjson extraction + COPY + index maintenance + commit. "
                     "CPU-seconds: the feeder plus every server process"))
    return rows


def section_import(rows):
    w("## 1. Import throughput")
    w("")
    if not rows:
        w("No import succeeded.")
        w("")
        return
    tk = rows[0] if rows[0][0] == "trailkeep" else None
    w("| system | events | seconds | events/s | CPU-seconds | events per CPU-second | max RSS | trailkeep events/s ÷ system's |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, ev, sec, cpu, rss, _ in rows:
        rate = ev / sec if sec else None
        per_cpu = ev / cpu if cpu else None
        r = "-" if name == "trailkeep" else (ratio(tk[1] / tk[2], rate) if tk else "n/a")
        w(f"| {name} | {fmt_int(ev)} | {fmt_f(sec, 2)} | {fmt_int(rate)} | {fmt_f(cpu, 1)} | "
          f"{fmt_int(per_cpu)} | {mib(rss * 1024) if rss else 'n/a'} | {r} |")
    w("")
    w("What is timed:")
    w("")
    for name, *_, how in rows:
        w(f"- **{name}**: {how}.")
    w("- The JSON Lines file is read once (`cat > /dev/null`) before each import so every "
      "system starts from the same page cache.")
    w("")


def disk_rows():
    rows = [("raw JSON Lines", RAW)]
    gz = load("gzip")
    if gz:
        rows.append(("gzip -6 of the JSON Lines", gz["bytes"]))
    tk = load("disk_tk")
    if tk:
        rows.insert(0, (f"trailkeep data dir, all of it ({tk.get('files')} files)", tk["disk_bytes"]))
        rows.insert(1, ("- of which seg/ (sealed segments: blocks + indexes + chain)", tk.get("seg_bytes")))
        rows.insert(2, ("- of which wal/ (log still kept after sealing)", tk.get("wal_bytes")))
    sq = load("import_sqlite")
    if sq:
        rows.append(("SQLite db (WAL checkpointed)", sq["disk_bytes"]))
    pg = load("import_pg")
    if pg:
        rows.append(("PostgreSQL pg_total_relation_size (table + TOAST + indexes)", pg["disk_bytes"]))
    return rows


def section_disk(rows):
    w("## 2. Disk bytes per event")
    w("")
    if not N:
        return
    tk = rows[0][1] if rows[0][0].startswith("trailkeep") else None
    w("| what | bytes | bytes/event | % of raw JSONL | size ÷ trailkeep |")
    w("|---|---:|---:|---:|---:|")
    for name, b in rows:
        if b is None:
            continue
        w(f"| {name} | {fmt_int(b)} | {fmt_f(b / N, 1)} | {fmt_f(100 * b / RAW, 1)}% | "
          f"{'-' if name.startswith('trailkeep') or name.startswith('- ') else ratio(b, tk)} |")
    w("")


def lookup_groups(name):
    d = load(name)
    if not d:
        return None
    return {(g["attr"], g["window"]): g for g in d["groups"]}


def section_lookup(prefix, title):
    tk = lookup_groups(prefix + "lookup_tk")
    api = lookup_groups(prefix + "lookup_tk_api")
    sq = lookup_groups(prefix + "lookup_sqlite")
    chk = load(prefix + "lookup_check")
    w(title)
    w("")
    if not tk and not sq:
        w("No lookup figures (see the failed steps above).")
        w("")
        return
    n = next(iter((tk or sq).values()))["n"]
    w(f"Newest 50 events for one attribute of one account, {n} queries per row with values drawn "
      "from events inside the window (so each query has at least one hit), windows ending at the "
      "newest event. One untimed warm-up pass over all queries (warm cache), then three timed "
      "passes; each query is timed alone and its latency is the median of its three (this "
      "filters out a preemption by other work on the machine, not a query that is always "
      "slow). One thread, microseconds. Ratio = trailkeep ÷ SQLite latency (below 1 = trailkeep "
      "faster).")
    w("")
    w("| attribute | window | trailkeep p50 | p99 | API p50 | API p99 | SQLite p50 | p99 | p50 ratio | p99 ratio | avg hits tk / SQLite |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for win in DAY_WINDOWS:
        for a in ATTRS:
            t, p, s = (tk or {}).get((a, win)), (api or {}).get((a, win)), (sq or {}).get((a, win))
            g = lambda x, k: x[k] if x else None
            w(f"| {a} | {win} | {fmt_f(g(t, 'p50_us'))} | {fmt_f(g(t, 'p99_us'))} | "
              f"{fmt_f(g(p, 'p50_us'))} | {fmt_f(g(p, 'p99_us'))} | "
              f"{fmt_f(g(s, 'p50_us'))} | {fmt_f(g(s, 'p99_us'))} | "
              f"{ratio(g(t, 'p50_us'), g(s, 'p50_us'), 2)} | {ratio(g(t, 'p99_us'), g(s, 'p99_us'), 2)} | "
              f"{fmt_f(g(t, 'avg_results'), 1)} / {fmt_f(g(s, 'avg_results'), 1)} |")
    w("")
    meta = load(prefix + "lookup_tk") or {}
    if meta.get("events") is not None:
        w(f"- The trailkeep store held {fmt_int(meta['events'])} events in {fmt_int(meta.get('segments'))} "
          f"segments; opening it read-only took {fmt_f(meta.get('open_ms'))} ms.")
    w("- trailkeep: `bench/bench_lookup` opens the store read-only in process; \"trailkeep\" is "
      "`tk_store_lookup()` (the walk, each hit's JSON copied out), \"API\" is `tk_lookup_run()` "
      "(parameter validation, the page, a signed NextToken) with the window rounded out to whole "
      "seconds.")
    w("- SQLite: `bench/peers/sqlite_lookup run`: prepared `SELECT json ... WHERE account=? AND "
      "<column>=? AND time BETWEEN ? AND ? ORDER BY time DESC LIMIT 50` on the (account, column, "
      "time) index, each row's JSON copied out.")
    if chk:
        def per_attr(m):
            return ", ".join(f"{k} {v}" for k, v in sorted(m.items())) or "none"
        w(f"- Same answers: {chk['queries'] - chk['count_mismatches']} of {chk['queries']} queries "
          f"returned the same number of events on both systems. trailkeep returned fewer: "
          f"{per_attr(chk.get('tk_fewer', {}))}; more: {per_attr(chk.get('tk_more', {}))}. Fewer is "
          "always a bug. More is expected only for ResourceName: trailkeep also finds a name inside "
          "a list (`a,b`) and in referencedResources, which SQLite's exact match on the flattened "
          "column cannot.")
    w("")


def section_summary(imp, disk):
    w("## Summary against DESIGN.md 5.2 targets")
    w("")
    w("| measure | trailkeep | peer | ratio | target | met |")
    w("|---|---:|---:|---:|---|---|")
    by = {r[0]: r for r in imp}
    tk = by.get("trailkeep")
    tk_rate = tk[1] / tk[2] if tk else None
    for peer, target in (("SQLite", 20), ("PostgreSQL", 15)):
        p = by.get(peer)
        prate = p[1] / p[2] if p else None
        met = tk_rate / prate >= target if (tk_rate and prate) else None
        w(f"| import events/s vs {peer} | {fmt_int(tk_rate)} | {fmt_int(prate)} | "
          f"{ratio(tk_rate, prate)} | >= {target}x | {verdict(met)} |")
    per_cpu = tk[1] / tk[3] if tk and tk[3] else None
    w(f"| import events per CPU-second (\"per core\") | {fmt_int(per_cpu)} | | | >= 500,000 | "
      f"{verdict(per_cpu >= 500000 if per_cpu else None)} |")
    d = dict(disk)
    tkb = next((b for k, b in disk if k.startswith("trailkeep")), None)
    gzb = d.get("gzip -6 of the JSON Lines")
    if N:
        w(f"| disk % of raw JSONL | {fmt_f(100 * tkb / RAW, 1) + '%' if tkb else 'n/a'} | "
          f"gzip -6: {fmt_f(100 * gzb / RAW, 1) + '%' if gzb else 'n/a'} | {ratio(tkb, gzb, 2)} | "
          f"< gzip -6, aim <= 10% | {verdict(tkb < gzb if tkb and gzb else None)} |")
        sqb = d.get("SQLite db (WAL checkpointed)")
        w(f"| disk vs SQLite | {mib(tkb)} | {mib(sqb)} | {ratio(sqb, tkb)} smaller | | |")
    for prefix in ("", "big_"):
        tkl = lookup_groups(prefix + "lookup_tk")
        sql = lookup_groups(prefix + "lookup_sqlite")
        if not tkl:
            continue
        n = (load(prefix + "gen") or {}).get("events")
        at = f" at {n / 1e6:g}M events" if n else ""
        worst50 = max(g["p50_us"] for g in tkl.values())
        worst99 = max(g["p99_us"] for g in tkl.values())
        s50 = max(g["p50_us"] for g in sql.values()) if sql else None
        s99 = max(g["p99_us"] for g in sql.values()) if sql else None
        w(f"| lookup p50{at}, worst attribute/window (us) | {fmt_f(worst50)} | SQLite {fmt_f(s50)} | "
          f"{ratio(worst50, s50, 2)} | <= 1,000 us | {verdict(worst50 <= 1000)} |")
        w(f"| lookup p99{at}, worst attribute/window (us) | {fmt_f(worst99)} | SQLite {fmt_f(s99)} | "
          f"{ratio(worst99, s99, 2)} | <= 10,000 us | {verdict(worst99 <= 10000)} |")
    http = load("http")
    if http:
        b500 = next((x for x in http.get("ingest", []) if x.get("batch") == 500), None)
        eps = b500["events_per_s"] if b500 else None
        w(f"| HTTP ingest, durable ack, batches of 500, {machine.get('nproc')} cores (events/s) | "
          f"{fmt_int(eps)} | import: {fmt_int(http.get('import_events_per_s'))} | "
          f"{ratio(eps, http.get('import_events_per_s'), 2)} of import | >= 200,000 | "
          f"{verdict(eps >= 200000 if eps else None)} |")
        bare = next((x for x in http.get("ingest", [])
                     if x.get("batch") == 500 and x.get("consumers") == "none"), None)
        if bare:
            beps = bare["events_per_s"]
            w(f"| ... the same with `serve --no-alerts --no-insights` (no log consumers but trails) | "
              f"{fmt_int(beps)} | with them: {fmt_int(eps)} | {ratio(eps, beps, 2)} kept with them | "
              f">= 200,000 | {verdict(beps >= 200000)} |")
    _, rrows, _ = rules_rows("cloudtrail")
    allr = next((r for r in (rrows or []) if r[0] == "all"), None)
    if allr:
        w(f"| alert rules: events/s per core, {allr[1]} rules (templates + Sigma), CloudTrail shape | "
          f"{fmt_int(allr[2])} | | | >= 1,000,000 (100 rules) | {verdict(allr[2] >= 1e6)} |")
    _, rrows, _ = rules_rows("actiontrail")
    allr = next((r for r in (rrows or []) if r[0] == "all"), None)
    if allr:
        w(f"| alert rules: events/s per core, {allr[1]} rules (templates + Sigma), ActionTrail shape | "
          f"{fmt_int(allr[2])} | | | >= 1,000,000 (100 rules) | {verdict(allr[2] >= 1e6)} |")
    lat = (load("trail") or {}).get("latency")
    if lat and lat.get("p99_s") is not None:
        w(f"| trail: ingest -> file in the folder, p99 at --trail-file-age 1 (s) | {fmt_f(lat['p99_s'], 2)} | | | "
          f"in the bucket within 60 s by default | n/a (default age 60 s not measured) |")
    checks = [c for c in (load("lookup_check"), load("big_lookup_check")) if c]
    if checks:
        fewer = sum(sum(c.get("tk_fewer", {}).values()) for c in checks)
        total = sum(c["queries"] for c in checks)
        w(f"| lookup answers: queries where trailkeep returned fewer events than SQLite | "
          f"{fewer} of {total} | | | 0 | {verdict(fewer == 0)} |")
    w("")
    big_n = (load("big_gen") or {}).get("events")
    w(f"The lookup target is stated for 30M events; this run holds {fmt_int(N)}"
      + (f" and {fmt_int(big_n)} in the large run (section 4)." if big_n else "."))
    w("")


def section_http():
    try:
        with open(os.path.join(WORK, "http.md")) as f:
            table = f.read().strip()
    except OSError:
        table = ""
    if not table:
        return
    w("## 5. HTTP ingest and lookup")
    w("")
    w("From `bench/http_bench.sh` (src/http's benchmark, run by `make bench`): `trailkeep serve` "
      "on loopback, `wrk` posting JSON Lines batches with unique eventIds (acknowledged only "
      "once durable), then LookupEvents over HTTP at 1, 8 and 64 concurrent readers. Its own "
      "data set (one account, one day); table as it printed it:")
    w("")
    w(table)
    w("")


def section_alert():
    try:
        with open(os.path.join(WORK, "alert.md")) as f:
            table = f.read().strip()
    except OSError:
        table = ""
    if not table:
        return
    w("## 9. Alerting inside serve")
    w("")
    w("From `bench/alert_latency.sh`: (1) single-event POSTs, each firing a rule with no "
      "threshold; a loopback webhook receiver stamps arrivals; latency is from just before the "
      "POST to the webhook's arrival. (2) The same HTTP ingest (4 clients, batches of 500 "
      "generated events) into a server with no rules (`--no-alerts`) and into one with every "
      "template and every loadable SigmaHQ CloudTrail rule stored; rules run in serve's alert "
      "thread after the durable ack, so the ratio is what they cost ingest on 2 cores, and the "
      "last row is how long that thread kept evaluating after the last acknowledgement. "
      "Table as it printed it:")
    w("")
    w(table)
    w("")


def section_big():
    w("## 4. Large run (BENCH_BIG=1)")
    w("")
    if not params.get("big"):
        w("Skipped in this run: the 10M-event import + lookup run is opt-in (`BENCH_BIG=1 make "
          "bench`): it adds about 8 minutes on this 2-core machine and needs ~33 GB of free disk "
          "for a while (11 GB of JSON Lines, a 19 GB SQLite database).")
        w("")
        return
    bg = load("big_gen") or {}
    imp = load("big_import_tk.time")
    sq = load("big_import_sqlite")
    if bg:
        w(f"{fmt_int(bg.get('events'))} events, {mib(bg.get('bytes'))} of JSON Lines. trailkeep "
          f"import {fmt_f(imp['seconds'], 1) if imp else 'n/a'} s"
          f" ({fmt_int(bg['events'] / imp['seconds']) if imp else 'n/a'} events/s), SQLite load "
          f"{fmt_f(sq['seconds'], 1) if sq else 'n/a'} s (rows first, then the six indexes: the "
          "quickest way to a lookup database, so not comparable with section 1). Disk: trailkeep "
          f"{mib((load('big_disk_tk') or {}).get('disk_bytes'))}, SQLite {mib(sq['disk_bytes'] if sq else None)}.")
        w("")
    section_lookup("big_", f"Lookup latency at {fmt_int(bg.get('events'))} events:")


RULE_LINE = None


def rules_rows(shape):
    """[(label, rules, events/s, MB/s, evals/event, alerts)] from rules_<shape>.txt, plus
    (header line, refused count)."""
    import re
    global RULE_LINE
    if RULE_LINE is None:
        RULE_LINE = re.compile(r"^(.+?)\s+(\d+) rules\s+(\d+) events/s\s+([\d.]+) MB/s\s+"
                               r"([\d.]+) rules evaluated/event\s+(\d+) alerts")
    try:
        with open(os.path.join(WORK, f"rules_{shape}.txt")) as f:
            text = f.read().splitlines()
    except OSError:
        return None, None, None
    rows, refused = [], None
    for ln in text:
        m = RULE_LINE.match(ln)
        if m:
            rows.append((m.group(1).strip(), int(m.group(2)), float(m.group(3)), float(m.group(4)),
                         float(m.group(5)), int(m.group(6))))
        elif "refused" in ln:
            refused = int(ln.split("(")[1].split()[0])
    return (text[0] if text else ""), rows, refused


def section_rules():
    shapes = [s for s in ("actiontrail", "cloudtrail") if rules_rows(s)[1]]
    if not shapes:
        return
    w("## 6. Alert rule throughput")
    w("")
    w("From `bench_rules EVENTS 3 SHAPE` (bench/bench_rules.c, src/alert's benchmark, run by "
      "`make bench` for both event shapes): events from `trailkeep gen`'s generator with the "
      "attack scenarios on (20 accounts), built in memory, then `tk_alert_engine_eval` over every "
      "event on one core, best of 3 rounds. Timed: the evaluation loop only (JSON walk, prefilter, "
      "rule matching, windows), not the generation or the rule loading. Rule sets: none (the cost "
      "of walking each event), every template with its defaults, every Sigma rule of "
      "`$TK_SHARED/sigma/rules/cloudtrail` (+ `sigma/unsupported`, which are refused) that loads, "
      "and all of them together.")
    w("")
    w("| event shape | rule set | rules | events/s (one core) | MB/s | rules evaluated/event | alerts | ÷ no-rule baseline |")
    w("|---|---|---:|---:|---:|---:|---:|---:|")
    notes = []
    for shape in shapes:
        head, rows, refused = rules_rows(shape)
        base = next((r[2] for r in rows if r[0].startswith("no rules")), None)
        for label, n, eps, mbs, ev, al in rows:
            w(f"| {shape} | {label} | {n} | {fmt_int(eps)} | {fmt_f(mbs)} | {fmt_f(ev, 2)} | "
              f"{fmt_int(al)} | {ratio(eps, base, 2)} |")
        notes.append(f"- {shape}: `{head}`" + (f"; {refused} Sigma rule(s) refused as unsupported"
                                                if refused else ""))
    w("")
    w("\n".join(notes))
    w("- The ratio is the rate with the rule set ÷ the rate with no rules (1.00x = rules cost "
      "nothing beyond reading the event). The Sigma rules match CloudTrail field names, so on "
      "ActionTrail-shape events they are evaluated but (almost) never fire; the CloudTrail shape "
      "is the one where they do their full work.")
    w("")


def section_insight():
    try:
        with open(os.path.join(WORK, "insight.md")) as f:
            text = f.read().strip()
    except OSError:
        return
    if not text:
        return
    p = load("insight") or {}
    t = load("insight.time") or {}
    w("## 7. Insights accuracy")
    w("")
    w(f"From `bench_insight --seeds {p.get('seeds')} --days {p.get('days')} --per-day "
      f"{p.get('per_day')} --accounts {p.get('accounts')}` (bench/bench_insight.c, src/insight's "
      "benchmark; docs/insights.md): per seed, weeks of generated benign traffic with labelled "
      "attack and Insights scenarios, every event through `tk_insight_obs_from_json` into a "
      "per-account aggregate, then `tk_insight_evaluate` over everything after the first week "
      "(the history). An incident is true when an injected event of its account falls inside it "
      "(10 minutes of slack); a scenario is detected when an incident covers it; the delay runs "
      "from the scenario's first event to the incident's detection minute. False positives per "
      "account-week come from the same seeds generated without any attack. Precision = true ÷ "
      "incidents, recall = detected ÷ injected. Attack scenarios made of one or two API calls "
      "(root sign-in without MFA, security group opened, ...) change no rate and are left to the "
      "alert rules (section 6), so a low recall there is not an Insights miss. Whole run: "
      f"{fmt_f(t.get('seconds'))} s wall. Tables as it printed them:")
    w("")
    w(text)
    w("")


def section_trail():
    tr = load("trail")
    if not tr:
        return
    w("## 8. Trail delivery")
    w("")
    w(f"From `bench/trail_bench.sh` (run by `make bench`): `trailkeep gen --events {fmt_int(tr['events'])} "
      "--days 1 --accounts 1` imported into a fresh data directory holding one logging trail of that "
      "account (`trails create NAME --event-rw All --dest ...`, `trails start NAME`), then "
      "`trailkeep trails deliver --once` timed from process start to exit (read the log, filter, "
      "group by account and region, gzip, write or PUT every file, commit the checkpoint, write "
      "the digest). Release build, files of at most 10,000 events.")
    w("")
    w("| destination | events | files | seconds | events/s | CPU-seconds | events per CPU-second | delivered (+ the trail's own events) | error |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, d in (("folder (fsync + rename)", tr.get("folder")),
                     ("S3: s3rver on loopback (SigV4 PUT per object)", tr.get("s3"))):
        if not d:
            w(f"| {name} | skipped | | | | | | | |")
            continue
        w(f"| {name} | {fmt_int(d['events'])} | {fmt_int(d.get('files'))} | {fmt_f(d['seconds'], 2)} | "
          f"{fmt_int(d['events'] / d['seconds'] if d['seconds'] else None)} | {fmt_f(d['cpu_seconds'], 2)} | "
          f"{fmt_int(d['events'] / d['cpu_seconds'] if d['cpu_seconds'] else None)} | "
          f"{fmt_int(d.get('delivered'))} | {d.get('error') or '-'} |")
    w("")
    if tr.get("folder_bytes"):
        w(f"The folder held {mib(tr['folder_bytes'])} for {mib(tr.get('bytes'))} of JSON Lines "
          f"({fmt_f(100 * tr['folder_bytes'] / tr['bytes'], 1)}%: gzip files plus the digest).")
        w("")
    lat = tr.get("latency")
    if lat:
        w(f"End-to-end latency: `trailkeep serve --trail-file-age 1` with a folder trail; "
          f"`bench/trail_latency.py` posts {fmt_int(lat['events'])} events over one keep-alive "
          f"connection at a steady {fmt_int(lat['rate'])} events/s (a batch of {lat['batch']} every "
          "100 ms) while polling the folder every 20 ms. An event's latency is the moment its gzip "
          "file is first seen in the folder minus the moment its POST was sent.")
        w("")
        w("| events sent | seen in the folder | p50 (s) | p99 (s) | max (s) | POST ack p50 / p99 (ms) |")
        w("|---:|---:|---:|---:|---:|---:|")
        w(f"| {fmt_int(lat['events'])} | {fmt_int(lat['seen'])} | {fmt_f(lat['p50_s'], 2)} | "
          f"{fmt_f(lat['p99_s'], 2)} | {fmt_f(lat['max_s'], 2)} | "
          f"{fmt_f(lat['ack_p50_s'] * 1000 if lat['ack_p50_s'] is not None else None, 1)} / "
          f"{fmt_f(lat['ack_p99_s'] * 1000 if lat['ack_p99_s'] is not None else None, 1)} |")
        w("")
        w("- A file closes `--trail-file-age` after its first event and the delivery thread polls "
          "once a second, so the latency is about the file age plus up to one poll. With the "
          "default age of 60 s it is about a minute (not measured here).")
        w("")


imp = import_rows()
disk = disk_rows() if N else []
w("# trailkeep benchmark results")
w("")
w("Generated by `make bench` (bench/run.sh + bench/report.py) from the raw figures in "
  "bench/work/*.json. Do not edit by hand: run `make bench` again. How to read it: docs/bench.md.")
w("")
section_machine()
section_data()
if N:
    section_summary(imp, disk)
section_import(imp)
if N:
    section_disk(disk)
section_lookup("", "## 3. LookupEvents latency")
section_big()
section_http()
section_rules()
section_insight()
section_trail()
section_alert()
w("## Notes")
w("")
w("- Durability differs in trailkeep's disfavour: trailkeep fsyncs its WAL before acknowledging "
  "each batch; SQLite with synchronous=NORMAL in WAL mode does not fsync on commit (only at "
  "checkpoints); PostgreSQL fsyncs at COPY's commit.")
w("- Dedup: trailkeep drops repeated (account, eventId); the peers have a unique index on the same "
  "pair, so all three do the same work.")
w("- ResourceName queries use single-name values only: SQLite stores the flattened list in one "
  "column and matches it exactly, while trailkeep indexes each name of a list.")
w("- Both peers extract columns with simdjson (DOM, full validation) through "
  "bench/peers/extract.cpp, the library trailkeep's parser uses; the extraction is inside the "
  "timed part for both.")
w("")
with open(OUT, "w") as f:
    f.write("\n".join(lines))

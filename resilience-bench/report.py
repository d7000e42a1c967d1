#!/usr/bin/env python3
"""Turns criterion's estimates into the tables of BENCHMARKS.md.

For each case (a criterion group): every id's median time per call; ours
(`attribute*`, `runtime_api`) next to the peers, as overhead over the bare
call (`baseline`) and as the ratio of our overhead to the fastest peer's.
Two-thread cases compare time per call directly. The tables replace what
stands between the results markers of BENCHMARKS.md.
"""

import json
import pathlib
import platform
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CRITERION = ROOT / "target" / "criterion"
REPORT = ROOT / "BENCHMARKS.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
PEERS = ["backon", "criterion", "failsafe", "governor", "recloser", "tokio", "tokio-retry", "tower"]


def median_ns(group, bench):
    estimates = CRITERION / group / bench / "new" / "estimates.json"
    return json.loads(estimates.read_text())["median"]["point_estimate"]


# Groups whose time is the outcome rather than a cost: the mean time to an
# answer under a drawn latency, where less than the baseline is the point.
OUTCOME_GROUPS = {"hedge_long_tail"}


def is_ours(bench):
    return bench.startswith(("attribute", "runtime_api", "layer"))


def fmt(ns):
    if ns < 1000:
        return f"{ns:.1f} ns"
    return f"{ns / 1000:.2f} µs" if ns < 1_000_000 else f"{ns / 1_000_000:.2f} ms"


def case_table(group):
    benches = sorted(p.name for p in (CRITERION / group).iterdir() if (p / "new").is_dir())
    medians = {bench: median_ns(group, bench) for bench in benches}
    baseline = medians.get("baseline")
    peers = {b: t for b, t in medians.items() if b != "baseline" and not is_ours(b)}
    lines = [f"### `{group}`", ""]
    if group in OUTCOME_GROUPS:
        fastest = min(peers.values(), default=None)
        lines += ["| id | mean time to the first answer | vs baseline | vs fastest peer |", "|---|---|---|---|"]
        for bench, t in sorted(medians.items(), key=lambda item: (item[0] != "baseline", not is_ours(item[0]), item[1])):
            ratio = f"{t / fastest:.2f}" if fastest and is_ours(bench) else ""
            lines.append(f"| `{bench}` | {fmt(t)} | {t / baseline:.2f}x | {ratio} |")
        return lines + [""]
    if baseline is None:
        # Two threads at once: the time per call, compared directly.
        fastest = min(peers.values(), default=None)
        lines += ["| id | median per call | vs fastest peer |", "|---|---|---|"]
        for bench, t in sorted(medians.items(), key=lambda item: (not is_ours(item[0]), item[1])):
            ratio = f"{t / fastest:.2f}" if fastest and is_ours(bench) else ""
            lines.append(f"| `{bench}` | {fmt(t)} | {ratio} |")
        return lines + [""]
    fastest = min((t - baseline for t in peers.values()), default=None)
    lines += [
        "| id | median | overhead over baseline | vs baseline | overhead vs fastest peer's |",
        "|---|---|---|---|---|",
    ]
    for bench, t in sorted(medians.items(), key=lambda item: (item[0] != "baseline", not is_ours(item[0]), item[1])):
        overhead = t - baseline
        ratio = ""
        if is_ours(bench) and fastest is not None:
            ratio = f"{overhead / fastest:.2f}" if fastest > 0.05 else f"({fmt(overhead)} vs {fmt(fastest)})"
        shown = "" if bench == "baseline" else fmt(overhead)
        lines.append(f"| `{bench}` | {fmt(t)} | {shown} | {t / baseline:.2f}x | {ratio} |")
    return lines + [""]


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return f"{cpu}, {cores} cores, {platform.system()} {platform.release()}; {rustc}"


def versions(names):
    lock = (ROOT / "Cargo.lock").read_text()
    found = dict(re.findall(r'name = "([^"]+)"\nversion = "([^"]+)"', lock))
    return ", ".join(f"{name} {found[name]}" for name in names if name in found)


def main():
    groups = sorted(p.name for p in CRITERION.iterdir() if p.is_dir() and p.name != "report")
    body = [
        START,
        "",
        f"Measured on: {machine()}.",
        "",
        f"Peers: {versions(PEERS)}. Our clock: {versions(['quanta'])}.",
        "",
    ]
    for group in groups:
        body += case_table(group)
    body.append(END)
    text = REPORT.read_text()
    if START not in text or END not in text:
        sys.exit(f"{REPORT} has no results markers")
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    REPORT.write_text(before + "\n".join(body) + after)


if __name__ == "__main__":
    main()

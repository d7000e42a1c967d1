#!/usr/bin/env python3
"""Prints, for each case (peers included, as a control: their code is the
same at both revisions), its overhead over the bare call at the old
and at the new revision, and the difference, from the criterion folders
`compare` gathered. The overhead is taken within each round (our median
minus the same round's baseline), which cancels the drift of the machine
between runs; of the rounds, the lowest is kept."""

import json
import pathlib
import sys

root, rounds = pathlib.Path(sys.argv[1]), int(sys.argv[2])


def overheads(side):
    found = {}
    for round in range(1, rounds + 1):
        folder = root / f"{side}-{round}"
        for group in folder.iterdir():
            def median(bench):
                estimates = group / bench / "new" / "estimates.json"
                if not estimates.exists():
                    return None
                return json.loads(estimates.read_text())["median"]["point_estimate"]

            baseline = median("baseline")
            if baseline is None:
                continue
            for bench in group.iterdir():
                if bench.name == "baseline" or median(bench.name) is None:
                    continue
                case = f"{group.name}/{bench.name}"
                overhead = median(bench.name) - baseline
                found[case] = min(overhead, found.get(case, overhead))
    return found


before, after = overheads("before"), overheads("after")
print("| case | overhead before | overhead after | difference |\n|---|---|---|---|")
for case in sorted(before.keys() & after.keys()):
    old, new = before[case], after[case]
    print(f"| `{case}` | {old:.1f} ns | {new:.1f} ns | {new - old:+.1f} ns |")

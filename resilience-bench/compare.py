#!/usr/bin/env python3
"""Prints, for each of our cases, the median at the old and the new revision
(the lowest of the rounds, the usual guard against a noisy neighbour) and the
difference, from the criterion folders `compare` gathered."""

import json
import pathlib
import sys

root, rounds = pathlib.Path(sys.argv[1]), int(sys.argv[2])


def medians(side):
    found = {}
    for round in range(1, rounds + 1):
        for estimates in (root / f"{side}-{round}").glob("*/*/new/estimates.json"):
            case = f"{estimates.parts[-4]}/{estimates.parts[-3]}"
            ns = json.loads(estimates.read_text())["median"]["point_estimate"]
            found[case] = min(ns, found.get(case, ns))
    return found


before, after = medians("before"), medians("after")
print(f"| case | before | after | difference |\n|---|---|---|---|")
for case in sorted(before.keys() & after.keys()):
    old, new = before[case], after[case]
    print(f"| `{case}` | {old:.1f} ns | {new:.1f} ns | {new - old:+.1f} ns |")

#!/usr/bin/env python3
"""Mean-field closures against the exact solver: the error table of docs/meanfield.md.

For each size N (first domain excited, the others in their ground state, the default chain of
zero-temperature reservoirs, gamma = 1) it runs `qtraj run` with solver.kind = "exact" once
(cached in --cache as exact_<N>.h5: the exact run at (60,30,10) is the slow one) and
with solver.kind = "meanfield" for every closure, on the same log grid 1e-3 .. t_end (20: every exact value has settled to 4 digits by t = 10), and prints
a Markdown table: final <J_i^z>/N_i per domain, the largest final error over domains, and the
largest deviation over time and domains.

    python3 scripts/meanfield_closure_table.py --qtraj build/qtraj --cache build/closure
"""
import argparse
import os
import subprocess
import sys

import h5py
import numpy as np

SIZES = [(30, 15, 5), (60, 30, 10), (20, 4, 2), (80, 16, 8), (40, 2), (12, 6, 2)]
CLOSURES = ["symmetric", "z_right", "z_left", "fourth_order"]


def run_file(sizes, kind, t_end, points):
    init = ", ".join(['"excited"'] + ['"ground"'] * (len(sizes) - 1))
    return f"""[system]
domains = [{", ".join(map(str, sizes))}]
initial = [{init}]
[time]
start = 1e-3
end = {t_end}
points = {points}
spacing = "log"
[solver]
kind = "{kind}"
"""


def run(qtraj, sizes, kind, out, t_end, points, closure=None):
    toml = out[:-3] + ".toml"
    with open(toml, "w") as f:
        f.write(run_file(sizes, kind, t_end, points))
    cmd = [qtraj, "run", toml, "-q", "-o", out]
    if closure:
        cmd += ["--set", f"solver.closure={closure}"]
    if kind != "meanfield":
        subprocess.run(cmd, check=True)
        return True
    # A closure may stop with "diverged" (fourth_order at some sizes): report, do not abort.
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print(f"{closure} at N = {sizes}: {p.stderr.strip()}", file=sys.stderr)
        return False
    return True


def jz(path):
    with h5py.File(path, "r") as f:
        return f["time"][:], f["jz_over_n/mean"][:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qtraj", default="build/qtraj")
    ap.add_argument("--cache", default="build/closure", help="directory for the HDF5 files")
    ap.add_argument("--t-end", type=float, default=20.0)
    ap.add_argument("--points", type=int, default=161)
    ap.add_argument("--sizes", default=None, help='e.g. "30,15,5;20,4,2" (default: the family)')
    ap.add_argument("--closures", default=",".join(CLOSURES))
    ap.add_argument("--steady", default="", help='sizes compared on final values with the steady '
                    'solver (t = inf) instead of a time-resolved exact run, e.g. "60,30,10;80,16,8"')
    ap.add_argument("--given", action="append", default=[],
                    help='final exact values from elsewhere, "60,30,10=-0.495,-0.478,0.344": that size '
                         "is compared at t = 2000 on final values only, without running the exact solver")
    args = ap.parse_args()
    sizes = SIZES if not args.sizes else [tuple(int(x) for x in s.split(",")) for s in args.sizes.split(";")]
    closures = args.closures.split(",")
    args.steady_sizes = [tuple(int(x) for x in t.split(",")) for t in args.steady.split(";") if t]
    os.makedirs(args.cache, exist_ok=True)

    print("| N (t_end) | solver | final <J_i^z>/N_i | max_i final error | max over t, i |")
    print("|---|---|---|---|---|")
    given = {}
    for g in args.given:
        key, vals = g.split("=")
        given[tuple(int(x) for x in key.split(","))] = np.array([float(v) for v in vals.split(",")])
    fmt = lambda v: "(" + ", ".join(f"{x:+.3f}" for x in v) + ")"
    for n in sizes:
        tag = "_".join(map(str, n))
        exact_path = os.path.join(args.cache, f"exact_{tag}.h5")
        if n in args.steady_sizes and not os.path.exists(exact_path):
            steady_path = os.path.join(args.cache, f"steady_{tag}.h5")
            if not os.path.exists(steady_path):
                run(args.qtraj, n, "steady", steady_path, args.t_end, args.points)
            _, zs = jz(steady_path)
            given[n] = zs[-1]
            label = "exact steady state (solver.kind = steady, t = inf)"
        elif n in given and not os.path.exists(exact_path):
            label = "exact, given (not run here)"
        else:
            label = None
        if label:
            print(f"| ({','.join(map(str, n))}) (t = inf) | {label} | {fmt(given[n])} | | |")
            for c in closures:
                mf_path = os.path.join(args.cache, f"mf_{c}_{tag}.h5")
                if not run(args.qtraj, n, "meanfield", mf_path, args.t_end, args.points, c):
                    print(f"| | {c} (t = {args.t_end:g}) | diverged (stopped with an error) | | |")
                    continue
                _, zm = jz(mf_path)
                print(f"| | {c} (t = {args.t_end:g}) | {fmt(zm[-1])} | {np.max(np.abs(zm[-1] - given[n])):.3f} | (not measured) |")
            continue
        if not os.path.exists(exact_path):
            print(f"running the exact solver for N = {n} ...", file=sys.stderr)
            run(args.qtraj, n, "exact", exact_path, args.t_end, args.points)
        te, ze = jz(exact_path)
        print(f"| ({','.join(map(str, n))}) (t = {te[-1]:g}) | exact | {fmt(ze[-1])} | | |")
        for c in closures:
            mf_path = os.path.join(args.cache, f"mf_{c}_{tag}.h5")
            if not run(args.qtraj, n, "meanfield", mf_path, te[-1], len(te), c):
                print(f"| | {c} | diverged (stopped with an error) | | |")
                continue
            tm, zm = jz(mf_path)
            if not np.allclose(tm, te, rtol=1e-12):
                sys.exit(f"time grids differ for N = {n}: rerun with a fresh --cache")
            final = np.max(np.abs(zm[-1] - ze[-1]))
            worst = np.max(np.abs(zm - ze))
            print(f"| | {c} | {fmt(zm[-1])} | {final:.3f} | {worst:.3f} |")


if __name__ == "__main__":
    main()

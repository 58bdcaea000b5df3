#!/usr/bin/env python3
"""Trajectories per second: qtraj vs QuTiP's mcsolve, side by side in one run.

Both simulate the same model in the same product Dicke basis (QuTiP gets the collective
operators J_i^- = jmat(j_i, '-') tensored with identities, collapse operators
sqrt(gamma) (J_i^- + J_{i+1}^-) on the chain, H = 0), the same initial state (first domain
excited), the same output grid and the same number of trajectories, each on one core
(QuTiP: options.num_cpus = 1; qtraj: --threads 1). It also runs qtraj on all cores.

usage: /usr/bin/python3 bench/qutip_compare.py [--qtraj build/qtraj] [--ntraj 500]
       [--cases 12,6,2 40,2] [--t-end 20] [--points 101] [--markdown]
Prints a table (and with --markdown the rows for bench/RESULTS.md).
"""
import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
import qutip


def dicke_ops(spins):
    """Collective lowering and J^z operators of each domain in the product Dicke basis j_i = N_i/2."""
    dims = [n + 1 for n in spins]
    lower, jz = [], []
    for i, n in enumerate(spins):
        j = n / 2
        ops_m = [qutip.qeye(d) for d in dims]
        ops_z = [qutip.qeye(d) for d in dims]
        ops_m[i] = qutip.jmat(j, "-")
        ops_z[i] = qutip.jmat(j, "z")
        lower.append(qutip.tensor(ops_m))
        jz.append(qutip.tensor(ops_z))
    return lower, jz


def run_qutip(spins, ntraj, tlist, gamma=1.0):
    lower, jz = dicke_ops(spins)
    c_ops = [np.sqrt(gamma) * (lower[i] + lower[i + 1]) for i in range(len(spins) - 1)]
    # qutip.jmat basis order is m = +j ... -j: index 0 is the fully excited state.
    psi0 = qutip.tensor([qutip.basis(n + 1, 0 if i == 0 else n) for i, n in enumerate(spins)])
    h = 0 * lower[0].dag() * lower[0]
    opts = qutip.Options(num_cpus=1, store_states=False, atol=1e-8, rtol=1e-6)
    start = time.perf_counter()
    res = qutip.mcsolve(h, psi0, tlist, c_ops, jz, ntraj=ntraj, options=opts, progress_bar=None)
    seconds = time.perf_counter() - start
    means = np.array([np.real(e) / n for e, n in zip(res.expect, spins)]).T
    return seconds, means


def run_qtraj(exe, spins, ntraj, t_end, points, threads):
    with tempfile.TemporaryDirectory() as d:
        toml = os.path.join(d, "run.toml")
        out = os.path.join(d, "out.h5")
        with open(toml, "w") as f:
            f.write(f"""[system]
domains = [{", ".join(map(str, spins))}]
[time]
end = {t_end}
points = {points}
[solver]
kind = "trajectories"
trajectories = {ntraj}
seed = 1
threads = {threads}
[output]
path = "{out}"
""")
        start = time.perf_counter()
        subprocess.run([exe, "run", toml, "-q"], check=True)
        seconds = time.perf_counter() - start
        with h5py.File(out, "r") as h:
            means = h["jz_over_n/mean"][()]
            errs = h["jz_over_n/stderr"][()]
    return seconds, means, errs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qtraj", default="build/qtraj")
    ap.add_argument("--ntraj", type=int, default=500)
    ap.add_argument("--cases", nargs="+", default=["12,6,2", "40,2"])
    ap.add_argument("--t-end", type=float, default=20.0)
    ap.add_argument("--points", type=int, default=101)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    tlist = np.linspace(0, args.t_end, args.points)
    cores = os.cpu_count()
    print(f"# machine: {platform.processor() or platform.machine()}, {cores} cores; qutip {qutip.__version__}; "
          f"ntraj {args.ntraj}; t_end {args.t_end}; {args.points} points", file=sys.stderr)
    rows = []
    for case in args.cases:
        spins = [int(x) for x in case.split(",")]
        q_s, q_mean = run_qutip(spins, args.ntraj, tlist)
        t1_s, t_mean, t_err = run_qtraj(args.qtraj, spins, args.ntraj, args.t_end, args.points, 1)
        tn_s, _, _ = run_qtraj(args.qtraj, spins, args.ntraj, args.t_end, args.points, 0)
        # Sanity: both estimate the same curves (QuTiP's stderr ~ qtraj's at equal ntraj).
        dev = np.max(np.abs(q_mean - t_mean) / np.maximum(np.sqrt(2) * t_err, 1e-12))
        rows.append((case, args.ntraj, args.ntraj / q_s, args.ntraj / t1_s, args.ntraj / tn_s,
                     q_s / t1_s, dev))
    hdr = ("| N | trajectories | QuTiP mcsolve traj/s (1 core) | qtraj traj/s (1 core) | "
           f"qtraj traj/s ({cores} cores) | ratio (1 core) | max deviation / stderr |")
    print(hdr)
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| ({r[0]}) | {r[1]} | {r[2]:.1f} | {r[3]:.1f} | {r[4]:.1f} | {r[5]:.0f}x | {r[6]:.1f} |")


if __name__ == "__main__":
    main()

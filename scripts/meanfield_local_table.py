#!/usr/bin/env python3
"""Mean field with local processes against the exact solver: the table of docs/meanfield.md
section 8.

One domain (a collective reservoir on it, gamma = 1, excited start) with each [[local]] set
below, N from --sizes, t = 0..20 on 201 linear points. Prints, per case, the largest error of
<J^z>/N over time, the final error, the final values, and the largest error of the local quanta
relative to N.

    python3 scripts/meanfield_local_table.py --exact build/qtraj --meanfield build/qtraj \
        --sizes 10,20,40,80 --dir build/local_table

(--exact and --meanfield may be different builds while the two solvers live on different
branches.)
"""
import argparse
import os
import subprocess
import time

import h5py
import numpy as np

LOCAL = [("dephasing 0.5", "dephasing = 0.5"), ("emission 0.2", "emission = 0.2"),
         ("pumping 0.1, dephasing 0.5", "pumping = 0.1\ndephasing = 0.5")]


def run_file(n, local, kind):
    return (f'[system]\ndomains = [{n}]\ninitial = ["excited"]\n[[reservoir]]\ndomains = [1]\n'
            f'[[local]]\n{local}\n[time]\nend = 20.0\npoints = 201\nspacing = "linear"\n'
            f'[solver]\nkind = "{kind}"\n')


def run(binary, path, text):
    with open(path + ".toml", "w") as f:
        f.write(text)
    start = time.time()
    subprocess.run([binary, "run", path + ".toml", "-o", path + ".h5"], check=True,
                   capture_output=True)
    with h5py.File(path + ".h5") as f:
        return f["jz_over_n/mean"][()][:, 0], f["local_quanta/mean"][()][:, 0, :], time.time() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--exact", required=True)
    p.add_argument("--meanfield", required=True)
    p.add_argument("--sizes", default="10,20,40")
    p.add_argument("--dir", default="local_table")
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    print("| local | N | max over t | final error | final exact | final mean field | quanta error / N | exact s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, local in LOCAL:
        for n in [int(x) for x in a.sizes.split(",")]:
            base = os.path.join(a.dir, f"{name.replace(' ', '').replace(',', '_')}_{n}")
            ex, qex, sec = run(a.exact, base + "_exact", run_file(n, local, "exact"))
            mf, qmf, _ = run(a.meanfield, base + "_mf", run_file(n, local, "meanfield"))
            err = np.abs(ex - mf)
            print(f"| {name} | {n} | {err.max():.4f} | {err[-1]:.4f} | {ex[-1]:+.4f} | {mf[-1]:+.4f} | "
                  f"{np.abs(qex - qmf).max() / n:.4f} | {sec:.1f} |", flush=True)


if __name__ == "__main__":
    main()

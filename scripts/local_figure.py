#!/usr/bin/env python3
"""Does the migration survive local decoherence? The figure of docs/local.md section 8.

usage: local_figure.py OUT_DIR [--quick] [--update-doc docs/local.md [--figures-dir DIR]]

Reads the runs scripts/paper.sh writes from examples/local/migration.toml (N = (12, 6, 2), first
domain excited, chain reservoirs (1,2), (2,3)):
    OUT_DIR/local-none.h5                      all local rates zero (the collective migration)
    OUT_DIR/local-<process>-<rate>.h5          exact, `local = [{<process> = <rate>}]` on every spin
    OUT_DIR/local-<process>-<rate>-trajectories.h5   trajectories, same run file and grid
with <process> = dephasing or emission. Writes OUT_DIR/local_migration.png and .pdf and appends
its section (key local_migration) to OUT_DIR/numbers.md (scripts/paper_figures.py writes that
file first; without it this script starts a new one).

Per run, with n_0 = 12 the initial excitations and t_end the last output time:
- the peak of the last domain: max over the output times of <k_3> = <J_3^z> + N_3/2 (its
  excitation count, out of N_3 = 2);
- the shares of n_0 that left by t_end through reservoir (1,2), reservoir (2,3) (exact:
  /emitted_energy/mean; trajectories: the mean jump count of /jump_counts/histogram, which at
  nbar = 0 is the number of quanta) and through the local emission of every domain
  (/local_quanta/mean), and the share still in the domains at t_end. They sum to 1: the script
  stops (exit 1) if an exact run misses that by more than 1e-5 (the excitation balance of
  docs/local.md section 3);
- the figure's claims (docs/local.md section 8), checked on every run set, --quick included
  (exit 1 if one fails): for each process the peak falls as the rate grows and stays below the
  peak without local processes; with dephasing at g t_end >= 100 less than 1e-3 of the energy is
  left in the domains (dephasing frees the dark states), against a clearly nonzero share without;
- for each trajectory run, the largest deviation of its mean <k_i>(t) from the exact run's, in
  standard errors, over every output time and domain (reported, as for the paper's Fig. 2: at
  late times a few trajectories carry the whole tail, where the normal approximation is poor).
"""
import argparse
import glob
import os
import re
import sys

import h5py
import numpy as np
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paper_figures import save, update_doc  # noqa: E402

PROCESSES = (("dephasing", r"$g_\phi$", "#1f5fbf", "o"), ("emission", r"$g_e$", "#c2188b", "s"))
BALANCE_TOL = 1e-5


class LocalRun:
    def __init__(self, path):
        with h5py.File(path, "r") as f:
            self.t = f["time"][()]
            self.exc = f["excitations/mean"][()]
            self.exc_err = f["excitations/stderr"][()]
            self.domains = [int(n) for n in f.attrs["domains"]]
            self.solver = _text(f.attrs["solver"])
            rtol = re.search(r"^rtol\s*=\s*(\S+)", _text(f.attrs["config"]), re.M)
            self.rtol = float(rtol.group(1)) if rtol else 1e-8
            shape = (len(self.t), len(self.domains), 2)
            self.local = f["local_quanta/mean"][()] if "local_quanta" in f else np.zeros(shape)
            self.local_err = (f["local_quanta/stderr"][()] if "local_quanta/stderr" in f
                              else np.zeros_like(self.local))
            if self.solver == "exact":
                self.res = f["emitted_energy/mean"][-1]
                self.res_err = np.zeros_like(self.res)
            else:  # quanta per reservoir by t_end: the mean jump count (nbar = 0: one quantum per jump)
                h = f["jump_counts/histogram"][()].astype(float)
                k = np.arange(h.shape[1])
                n = h.sum(axis=1)
                self.res = (h * k).sum(axis=1) / n
                self.res_err = np.sqrt(((h * k**2).sum(axis=1) / n - self.res**2) / n)
                self.trajectories = int(f.attrs["trajectories"])
        self.n0 = float(self.exc[0].sum())
        self.ipeak = int(np.argmax(self.exc[:, -1]))

    def shares(self):
        """(reservoir shares..., local emission share, left in the domains), fractions of n_0."""
        out = list(self.res / self.n0)
        out.append(self.local[-1, :, 0].sum() / self.n0)
        out.append(self.exc[-1].sum() / self.n0)
        return np.array(out)

    def share_errs(self):
        """Standard errors of shares(). For the sums over domains, the sum of the domains' standard
        errors: an upper bound (sd(X + Y) <= sd(X) + sd(Y)); the domains are correlated and the
        aggregate keeps no covariances."""
        local = self.local_err[-1, :, 0].sum()
        left = self.exc_err[-1].sum()
        return np.array(list(self.res_err / self.n0) + [local / self.n0, left / self.n0])


def _f3(x):
    """0.000 rather than -0.000 for round-off."""
    return f"{(x if abs(x) >= 5e-4 else 0.0):.3f}"


def _text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def collect(out):
    """{process: [(rate, exact LocalRun, trajectory LocalRun or None)]}, sorted by rate."""
    runs = {}
    for path in glob.glob(os.path.join(out, "local-*-*.h5")):
        m = re.match(r"local-(dephasing|emission)-([0-9.e+-]+?)(-trajectories)?\.h5$", os.path.basename(path))
        if m and not m.group(3):
            rate = float(m.group(2))
            tr = path[:-3] + "-trajectories.h5"
            runs.setdefault(m.group(1), []).append(
                (rate, LocalRun(path), LocalRun(tr) if os.path.exists(tr) else None))
    for v in runs.values():
        v.sort(key=lambda p: p[0])
    return runs


def max_z(tr, ex):
    """max over t > 0 and domains of |<k_i> trajectories - exact| / stderr, where stderr > 1e-10
    (below that every trajectory has the same value up to round-off: no jump yet, or all empty);
    and the largest |deviation| there."""
    if not np.allclose(tr.t, ex.t, rtol=1e-12):
        sys.exit("local_figure.py: trajectory and exact grids differ")
    err = tr.exc_err[1:]
    dev = np.abs(tr.exc[1:] - ex.exc[1:])
    ok = err > 1e-10
    zero_dev = float(dev[~ok].max()) if np.any(~ok) else 0.0
    return float((dev[ok] / err[ok]).max()), zero_dev


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--update-doc", default=None)
    ap.add_argument("--figures-dir", default=None)
    args = ap.parse_args()

    base_path = os.path.join(args.out, "local-none.h5")
    if not os.path.exists(base_path):
        sys.exit(f"local_figure.py: {base_path} is missing (run scripts/paper.sh)")
    base = LocalRun(base_path)
    runs = collect(args.out)
    if set(runs) != {"dephasing", "emission"}:
        sys.exit("local_figure.py: needs local-dephasing-*.h5 and local-emission-*.h5 (run scripts/paper.sh)")
    n = base.domains
    names = ["reservoir (1,2)", "reservoir (2,3)", "local emission", f"left at t = {base.t[-1]:g}"]
    if len(base.res) != 2:
        sys.exit("local_figure.py: expects the chain of two reservoirs of examples/local/migration.toml")

    failures = []
    notes = [f"### Local decoherence and the migration, N = {tuple(n)}, first domain excited, chain "
             f"reservoirs <!-- key:local_migration -->\n",
             f"Last domain: peak = max over {len(base.t)} log-spaced output times of <k_3> = <J_3^z> + N_3/2 "
             f"(excitations, of {n[-1]}); shares of the {base.n0:g} initial excitations by t = {base.t[-1]:g}/gamma "
             f"(exact solver, rtol {base.rtol:g}).\n",
             "| local process | rate / gamma | peak <k_3> | at gamma t | reservoir (1,2) | reservoir (2,3) "
             "| local emission | left in the domains |",
             "|---|---|---|---|---|---|---|---|"]

    def row(label, rate, r):
        s = r.shares()
        bal = abs(s.sum() - 1)
        if r.solver == "exact" and bal > BALANCE_TOL:
            failures.append(f"{label} {rate}: shares sum to 1 {s.sum() - 1:+.1e}")
        notes.append(f"| {label} | {rate} | {r.exc[r.ipeak, -1]:.3f} | {r.t[r.ipeak]:.3g} | "
                     + " | ".join(_f3(x) for x in s) + " |")

    row("none", "0", base)
    for proc, *_ in PROCESSES:
        for rate, ex, _ in runs[proc]:
            row(proc, f"{rate:g}", ex)
    notes.append("")
    left0 = base.shares()[-1]
    if left0 < 0.01:
        failures.append(f"without local processes only {left0:.3g} of the energy stays trapped")
    for proc, *_ in PROCESSES:
        peaks = [base.exc[base.ipeak, -1]] + [ex.exc[ex.ipeak, -1] for _, ex, _ in runs[proc]]
        if np.any(np.diff(peaks) >= 0):
            failures.append(f"{proc}: the last domain's peak does not fall with the rate: "
                            + ", ".join(f"{p:.4f}" for p in peaks))
    for rate, ex, _ in runs["dephasing"]:
        if rate * ex.t[-1] >= 100 and ex.shares()[-1] > 1e-3:
            failures.append(f"dephasing {rate:g}: {ex.shares()[-1]:.3g} of the energy left at t = {ex.t[-1]:g}")
    for proc, *_ in PROCESSES:
        for rate, ex, tr in runs[proc]:
            if tr is None:
                continue
            z, zero_dev = max_z(tr, ex)
            s, e = tr.shares(), tr.share_errs()
            notes.append(f"- {proc} {rate:g}, {tr.trajectories} trajectories: <k_3> at the exact peak time "
                         f"{tr.exc[ex.ipeak, -1]:.3f} +- {2 * tr.exc_err[ex.ipeak, -1]:.3f} (exact "
                         f"{ex.exc[ex.ipeak, -1]:.3f}); shares "
                         + ", ".join(f"{nm} {_f3(x)} +- {2 * d:.3f}" for nm, x, d in zip(names, s, e))
                         + f" (+- 2 standard errors; for the sums over domains an upper bound); max |<k_i> - exact| / stderr over {len(tr.t) - 1} times "
                         f"and {len(n)} domains = {z:.2f}; where stderr = 0, max |<k_i> - exact| = {zero_dev:.1e}")
    notes.append("")

    fig, axs = plt.subplots(1, 3, figsize=(15, 4.4))
    ax = axs[0]
    ax.axhline(base.exc[base.ipeak, -1], color="k", lw=0.9, ls="--", label="no local process")
    for proc, sym, c, mk in PROCESSES:
        rates = np.array([r for r, _, _ in runs[proc]])
        ax.plot(rates, [ex.exc[ex.ipeak, -1] for _, ex, _ in runs[proc]], "-" + mk, color=c, ms=4,
                label=f"local {proc} {sym} (exact)")
        tr_pts = [(r, tr.exc[ex.ipeak, -1], 2 * tr.exc_err[ex.ipeak, -1]) for r, ex, tr in runs[proc] if tr]
        if tr_pts:
            x, y, e = map(np.array, zip(*tr_pts))
            ax.errorbar(x, y, yerr=e, fmt="x", color=c, mec="k", ms=7, capsize=3, zorder=5,
                        label=f"trajectories, $\\pm$ 2 SE ({proc})")
    ax.set_xscale("log")
    ax.set_xlabel(r"local rate / $\gamma$ (on every spin)")
    ax.set_ylabel(r"peak of $\langle k_3\rangle = \langle J_3^z\rangle + N_3/2$")
    ax.set_ylim(0, n[-1])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(f"(a) peak excitation of the last domain, N = {tuple(n)}", fontsize=9)

    styles = [("-", "#1f5fbf"), ("--", "#3cb49a"), (":", "#c2188b"), ("-.", "#777777")]
    for ax, (proc, sym, _, mk), tag in zip(axs[1:], PROCESSES, "bc"):
        rates = np.array([r for r, _, _ in runs[proc]])
        sh = np.array([ex.shares() for _, ex, _ in runs[proc]])
        for k, (nm, (ls, c)) in enumerate(zip(names, styles)):
            if proc == "dephasing" and k == 2:
                continue  # dephasing exchanges no energy
            ax.plot(rates, sh[:, k], ls + mk, color=c, ms=4, label=nm)
            ax.axhline(base.shares()[k], color=c, lw=0.7, alpha=0.5)
        for r, ex, tr in runs[proc]:
            if tr is None:
                continue
            s, e = tr.shares(), tr.share_errs()
            ks = [0, 1] + ([2] if proc == "emission" else [])
            ax.errorbar([r] * len(ks), s[ks], yerr=2 * e[ks], fmt="x", color="k", ms=7, capsize=3, zorder=5)
        ax.set_xscale("log")
        ax.set_ylim(0, 1)
        ax.set_xlabel(f"{sym} / $\\gamma$")
        ax.set_ylabel(f"share of the {base.n0:g} initial excitations")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left" if proc == "emission" else "center left")
        ax.set_title(f"({tag}) where the energy went by $\\gamma t$ = {base.t[-1]:g}: local {proc}\n"
                     "thin lines: no local process; x: trajectories $\\pm$ 2 SE", fontsize=9)
    save(fig, args.out, "local_migration")

    # numbers.md: this figure's section replaces an earlier one (a rerun of this script alone).
    numbers = os.path.join(args.out, "numbers.md")
    text = open(numbers).read() if os.path.exists(numbers) else "# Numbers behind the figures\n\n"
    text = re.sub(r"### [^\n]*<!-- key:local_migration -->.*?(?=^### |\Z)", "", text, flags=re.S | re.M)
    with open(numbers, "w") as f:
        f.write(text.rstrip("\n") + "\n\n" + "\n".join(notes) + "\n")
    if args.update_doc:
        update_doc(args.update_doc, notes, args.quick)
        if args.figures_dir:
            import shutil
            os.makedirs(args.figures_dir, exist_ok=True)
            shutil.copy(os.path.join(args.out, "local_migration.png"), args.figures_dir)
    if failures:
        sys.exit("local_figure.py: " + "; ".join(failures))
    print(f"local_figure.py: local_migration.png, .pdf and its numbers written to {args.out}/")


if __name__ == "__main__":
    main()

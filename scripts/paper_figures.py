#!/usr/bin/env python3
"""The paper's figures and numbers from the HDF5 files scripts/paper.sh writes.

usage: paper_figures.py OUT_DIR [--quick] [--update-doc docs/paper.md]

Reads OUT_DIR/<run>.h5 (fig2a, fig2a-trajectories, fig2a-trajectories-exact, ..., fig3a, fig3b,
fig4a, fig4a-product, fig4b, fig4b-product, eq5-n<N1>-x<x>) and writes OUT_DIR/<fig>.png and
.pdf for fig2a fig2b fig2c fig3a fig3b fig4a fig4b eq5, plus OUT_DIR/numbers.md: every number
docs/paper.md quotes, computed here from the HDF5 files. Time axes are the paper's gamma t / 2
(qtraj stores t in units of 1/gamma).

--update-doc FILE replaces every block
    <!-- numbers:KEY -->
    ...
    <!-- /numbers -->
in FILE by the section of numbers.md for KEY (fig2a, fig2b, fig2c, fig3a, fig3b, fig4a, fig4b,
eq5), so the document quotes the numbers of the last run and none typed by hand; with
--figures-dir DIR it also copies the PNGs there.
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

# The paper's line styles: solid magenta, dashed blue, dotted gold, dot-dashed mint green.
STYLES = [("-", "#c2188b"), ("--", "#1f5fbf"), (":", "#d4a017"), ("-.", "#3cb49a")]


class Run:
    def __init__(self, path):
        with h5py.File(path, "r") as f:
            self.t = f["time"][()]
            self.mean = f["jz_over_n/mean"][()]
            self.err = f["jz_over_n/stderr"][()]
            self.exc = f["excitations/mean"][()]
            self.solver = _text(f.attrs.get("solver", ""))
            self.domains = [int(n) for n in f.attrs.get("domains", [])]
            self.initial = _text(f.attrs.get("initial", ""))
            self.trajectories = int(f.attrs["trajectories"]) if "trajectories" in f.attrs else None
            self.closure = _text(f.attrs.get("meanfield_closure", "")).split(":")[0]
        self.x = self.t / 2  # the paper's axis gamma t / 2


def _text(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        return ", ".join(_text(e) for e in v)
    return str(v)


def load(out, name):
    path = os.path.join(out, name + ".h5")
    if not os.path.exists(path):
        sys.exit(f"paper_figures.py: {path} is missing (run scripts/paper.sh)")
    return Run(path)


def save(fig, out, name):
    fig.tight_layout()
    for ext in ("png", "pdf"):
        fig.savefig(os.path.join(out, f"{name}.{ext}"), dpi=130)
    plt.close(fig)


def lines(ax, r, label_suffix="", lw=1.6, alpha=1.0):
    for i in range(r.mean.shape[1]):
        ls, c = STYLES[i % 4]
        ax.plot(r.x[1:], r.mean[1:, i], ls, color=c, lw=lw, alpha=alpha,
                label=f"$N_{i + 1} = {_n(r.domains[i])}${label_suffix}")


def _n(n):
    if n >= 1000 and float(np.log10(n)).is_integer():
        return f"10^{{{int(np.log10(n))}}}"
    return str(n)


def axes_style(ax, title):
    ax.set_xscale("log")
    ax.set_xlabel(r"$\gamma t / 2$")
    ax.set_ylabel(r"$\langle J_i^z\rangle / N_i$")
    ax.set_ylim(-0.53, 0.53)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=9)


def max_z_score(traj, exact):
    """max over times (t > 0) and domains of |traj - exact| / stderr, and where."""
    if not np.allclose(traj.t, exact.t, rtol=1e-12):
        raise SystemExit("paper_figures.py: trajectory and exact grids differ")
    err = traj.err[1:]
    ok = err > 0
    z = np.zeros_like(err)
    z[ok] = np.abs(traj.mean[1:] - exact.mean[1:])[ok] / err[ok]
    # Where the standard error is zero every trajectory agrees; so must the exact value.
    zero_dev = np.max(np.abs(traj.mean[1:] - exact.mean[1:])[~ok]) if np.any(~ok) else 0.0
    return float(z.max()), zero_dev


def crossing(r, col, level, rising):
    """First time (1/gamma) column `col` crosses `level`, log-linear interpolation."""
    y = r.mean[:, col]
    for k in range(1, len(y)):
        a, b = y[k - 1], y[k]
        if (a < level <= b) if rising else (a > level >= b):
            f = (level - a) / (b - a)
            if k == 1:
                return r.t[1] * f
            return float(np.exp(np.log(r.t[k - 1]) + f * (np.log(r.t[k]) - np.log(r.t[k - 1]))))
    return float("nan")


def fmt_vec(v, digits=3):
    return "(" + ", ".join(_num(x, digits) for x in v) + ")"


def _num(x, digits):
    """+0.000 rather than -0.000 for values that round to zero."""
    return f"{(x if abs(x) >= 0.5 * 10 ** -digits else 0.0):+.{digits}f}"


def fig2(out, notes):
    for tag, what in (("a", "N = (40, 2)"), ("b", "N = (12, 6, 2)"), ("c", "N = (8, 6, 5, 1)")):
        ex = load(out, f"fig2{tag}")
        tr = load(out, f"fig2{tag}-trajectories")
        tr_ex = load(out, f"fig2{tag}-trajectories-exact")
        fig, ax = plt.subplots(figsize=(6.4, 4.3))
        lines(ax, ex)
        step = max(1, len(tr.t) // 40)
        for i in range(tr.mean.shape[1]):
            _, c = STYLES[i % 4]
            sl = slice(1, None)
            ax.fill_between(tr.x[sl], tr.mean[sl, i] - 2 * tr.err[sl, i],
                            tr.mean[sl, i] + 2 * tr.err[sl, i], color=c, alpha=0.25, lw=0)
            ax.plot(tr.x[1::step], tr.mean[1::step, i], "o", ms=3, color=c, mfc="none")
        axes_style(ax, f"Fig. 2{tag}: {what}, first domain excited. Lines: exact master equation;\n"
                   f"circles and bands: {tr.trajectories} trajectories, mean $\\pm$ 2 standard errors")
        ax.set_xlim(ex.x[1], ex.x[-1])
        ax.legend(fontsize=8, loc="center left")
        save(fig, out, f"fig2{tag}")
        z, zero_dev = max_z_score(tr, tr_ex)
        final = ex.mean[-1]
        n = ex.domains
        notes.append(f"### Fig. 2{tag}, {what} (exact, t = {ex.t[-1]:g}/gamma) <!-- key:fig2{tag} -->\n")
        notes.append(f"- final <J_i^z>/N_i: {fmt_vec(final)}")
        notes.append(f"- final excitations k_i: {fmt_vec(ex.exc[-1], 2)} of {tuple(n)}")
        if len(n) > 2:
            mids = ", ".join(f"D{i + 1} {ex.mean[:, i].max():+.3f}" for i in range(1, len(n) - 1))
            notes.append(f"- max over time of <J_i^z>/N_i, intermediate domains: {mids}")
            notes.append(f"- last domain: {ex.exc[-1, -1]:.2f} of {n[-1]} possible excitations "
                         f"(<J_M^z>/N_M = {final[-1]:+.3f})")
        notes.append(f"- {tr.trajectories} trajectories vs the exact solver on their grid: max "
                     f"|mean - exact| / stderr over {len(tr.t) - 1} times and {len(n)} domains = "
                     f"{z:.2f}; where stderr = 0, max |mean - exact| = {zero_dev:.1e}\n")


def fig3(out, notes):
    for tag in ("a", "b"):
        r = load(out, f"fig3{tag}")
        fig, ax = plt.subplots(figsize=(6.4, 4.3))
        lines(ax, r)
        axes_style(ax, f"Fig. 3{tag}: mean field ({r.closure} closure), first domain excited")
        ax.set_xlim(r.x[1], r.x[-1])
        ax.legend(fontsize=8, loc="center left")
        save(fig, out, f"fig3{tag}")
        peak2 = r.mean[:, 1].max()
        final3 = r.mean[-1, 2]
        t1 = crossing(r, 0, 0.0, False)
        t2 = crossing(r, 1, -0.5 + 0.5 * (peak2 + 0.5), True)
        t3 = crossing(r, 2, -0.5 + 0.5 * (final3 + 0.5), True)
        notes.append(f"### Fig. 3{tag}, N = {tuple(r.domains)} (mean field, {r.closure}) <!-- key:fig3{tag} -->\n")
        notes.append(f"- half-way times, gamma t / 2: D1 decay {t1 / 2:.3g}, D2 rise {t2 / 2:.3g}, "
                     f"D3 rise {t3 / 2:.3g} (D3 / D2 = {t3 / t2:.0f}); superradiant delay "
                     f"ln(N_1)/N_1 = {np.log(r.domains[0]) / r.domains[0] / 2:.3g} on this axis")
        notes.append(f"- D2 peak <J_2^z>/N_2 = {peak2:.5f}; final <J_i^z>/N_i = {fmt_vec(r.mean[-1], 5)}\n")


def fig4(out, notes):
    for tag, solver in (("a", "exact master equation"), ("b", "mean field")):
        dk = load(out, f"fig4{tag}")
        pr = load(out, f"fig4{tag}-product")
        fig, axs = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
        for ax, r, name in ((axs[0], dk, "Dicke |j = N/2, m = 0>"),
                            (axs[1], pr, "N/2 spins up (product state)")):
            lines(ax, r)
            ax.axhline(r.mean[0, 0], color="k", lw=0.8, alpha=0.6)
            extra = f", {r.closure} closure" if r.solver == "meanfield" else ""
            axes_style(ax, f"Fig. 4{tag}: {solver}{extra}; first domain half excited:\n{name}")
            ax.set_xlim(r.x[1], r.x[-1])
            ax.legend(fontsize=8, loc="lower left")
        axs[1].set_ylabel("")
        save(fig, out, f"fig4{tag}")
        notes.append(f"### Fig. 4{tag}, N = {tuple(dk.domains)} ({solver}), <J_1^z>(0) = 0 <!-- key:fig4{tag} -->\n")
        for r, name in ((dk, "dicke N_1/2"), (pr, "product N_1/2")):
            mx = ", ".join(f"D{i + 1} {r.mean[:, i].max():+.4f}" for i in range(1, r.mean.shape[1]))
            notes.append(f"- {name}: <J_1^z>/N_1(0) = {_num(r.mean[0, 0], 4)}; max over time: {mx}; "
                         f"final {fmt_vec(r.mean[-1], 4)}")
        notes.append("")


def eq5(out, notes):
    runs = {}
    for path in glob.glob(os.path.join(out, "eq5-n*-x*.h5")):
        m = re.match(r"eq5-n(\d+)-x([0-9.]+)\.h5", os.path.basename(path))
        runs.setdefault(int(m.group(1)), []).append((float(m.group(2)), Run(path)))
    if not runs:
        sys.exit("paper_figures.py: no eq5-n*-x*.h5 files (run scripts/paper.sh)")
    fig, ax = plt.subplots(figsize=(5.4, 4.3))
    xs = np.linspace(0, 0.5, 2)
    ax.plot(xs, xs, "k-", lw=0.8, label=r"Eq. 5: $y = x$")
    notes.append("### Eq. 5, N = (N_1, 100), first domain |j = N_1/2, m = x N_1> (mean field) <!-- key:eq5 -->\n")
    notes.append("| N_1 | x = <J_1^z>/N_1(0) | <J_2^z>/N_2 (t -> inf) | max_t <J_2^z>/N_2 | final - x |")
    notes.append("|---|---|---|---|---|")
    for (n1, items), mk in zip(sorted(runs.items()), ("s", "o", "^")):
        items.sort(key=lambda p: p[0])
        x = np.array([r.mean[0, 0] for _, r in items])
        final = np.array([r.mean[-1, 1] for _, r in items])
        ax.plot(x, final, mk, mfc="none", label=f"$N_1 = {_n(n1)}$, $t\\to\\infty$")
        for (_, r), xi, fi in zip(items, x, final):
            notes.append(f"| {n1:.0e} | {xi:.3f} | {fi:.5f} | {r.mean[:, 1].max():.5f} | {fi - xi:+.5f} |")
    closure = items[0][1].closure
    notes.append("")
    ax.set_xlabel(r"$\langle J_1^z\rangle / N_1\,(t = 0)$")
    ax.set_ylabel(r"$\langle J_2^z\rangle / N_2\,(t \to \infty)$")
    ax.set_title(f"Eq. 5: N = (N_1, 100), mean field ({closure} closure)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, out, "eq5")


def sections(notes):
    """numbers.md split into {key: text} at the '### ... <!-- key:K -->' headings."""
    out, key = {}, None
    for line in notes:
        m = re.search(r"<!-- key:(\w+) -->", line)
        if m:
            key = m.group(1)
            out[key] = [re.sub(r"\s*<!-- key:\w+ -->", "", line).replace("### ", "Run: ", 1)]
        elif key:
            out[key].append(line)
    return {k: "\n".join(v).strip() + "\n" for k, v in out.items()}


def update_doc(path, notes, quick):
    if quick:
        sys.exit("paper_figures.py: --update-doc wants the numbers of a full run, not --quick")
    text = open(path).read()
    found = set()

    def repl(m):
        key = m.group(1)
        if key not in secs:
            sys.exit(f"paper_figures.py: {path}: no numbers for '{key}'")
        found.add(key)
        return f"<!-- numbers:{key} -->\n{secs[key]}<!-- /numbers -->"

    secs = sections(notes)
    text = re.sub(r"<!-- numbers:(\w+) -->.*?<!-- /numbers -->", repl, text, flags=re.S)
    with open(path, "w") as f:
        f.write(text)
    print(f"paper_figures.py: {path}: numbers updated for {', '.join(sorted(found))}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--quick", action="store_true", help="mark numbers.md as a quick-mode run")
    ap.add_argument("--update-doc", default=None, help="splice the numbers into this Markdown file")
    ap.add_argument("--figures-dir", default=None, help="with --update-doc: copy the PNGs here")
    args = ap.parse_args()
    notes = ["# Numbers behind the figures (written by scripts/paper_figures.py from the HDF5 files)",
             "", "Time axis of the figures: gamma t / 2 (the paper's); half-way times below are on it too.",
             "Quick mode (fewer trajectories, coarser grids)." if args.quick else "Full mode.", ""]
    fig2(args.out, notes)
    fig3(args.out, notes)
    fig4(args.out, notes)
    eq5(args.out, notes)
    with open(os.path.join(args.out, "numbers.md"), "w") as f:
        f.write("\n".join(notes) + "\n")
    if args.update_doc:
        update_doc(args.update_doc, notes, args.quick)
        if args.figures_dir:
            import shutil
            os.makedirs(args.figures_dir, exist_ok=True)
            for name in ("fig2a", "fig2b", "fig2c", "fig3a", "fig3b", "fig4a", "fig4b", "eq5"):
                shutil.copy(os.path.join(args.out, name + ".png"), args.figures_dir)
    print(f"paper_figures.py: figures and numbers.md written to {args.out}/")


if __name__ == "__main__":
    main()

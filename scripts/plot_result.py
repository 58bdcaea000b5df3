#!/usr/bin/env python3
"""Plot <J_i^z>/N_i against time from a qtraj HDF5 result (h5py + matplotlib).

usage: plot_result.py RESULT.h5 [-o OUT.png] [--paper-time] [--log]

--paper-time plots against the paper's axis gamma t / 2 (qtraj stores t in units of 1/gamma).
Log spacing is detected from the file (a log grid gets a log time axis).
Shaded bands are +-2 standard errors where the result carries them (trajectories).
"""
import argparse
import sys

import h5py
import numpy as np
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("result")
    ap.add_argument("-o", "--output", default=None, help="PNG path (default: RESULT with .png)")
    ap.add_argument("--paper-time", action="store_true", help="x axis gamma t / 2 as in the paper")
    ap.add_argument("--log", action="store_true", help="force a log time axis")
    args = ap.parse_args()
    out = args.output or args.result.rsplit(".", 1)[0] + ".png"
    try:
        with h5py.File(args.result, "r") as f:
            t = f["time"][()]
            mean = f["jz_over_n/mean"][()]
            err = f["jz_over_n/stderr"][()] if "jz_over_n/stderr" in f else np.zeros_like(mean)
            # Strings: bytes from files of format 2 (fixed-length), str from format 1.
            solver = _text(f.attrs.get("solver", "?"))
            domains = list(f.attrs.get("domains", range(mean.shape[1])))
            initial = _text(f.attrs.get("initial", ""))
            ntraj = f.attrs.get("trajectories", None)
    except (OSError, KeyError) as e:
        sys.exit(f"plot_result.py: {args.result}: not a readable qtraj result ({e})")
    x = t / 2 if args.paper_time else t
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    styles = ["-", "--", ":", "-."]
    log_axis = args.log or _is_log(t)
    sl = slice(1, None) if log_axis else slice(None)  # t = 0 has no place on a log axis
    for i in range(mean.shape[1]):
        ax.plot(x[sl], mean[sl, i], styles[i % 4], label=f"$N_{i + 1} = {int(domains[i])}$")
        if np.any(err[:, i] > 0):
            ax.fill_between(x[sl], mean[sl, i] - 2 * err[sl, i], mean[sl, i] + 2 * err[sl, i], alpha=0.25)
    if log_axis:
        ax.set_xscale("log")
    ax.set_xlabel(r"$\gamma t / 2$" if args.paper_time else r"$t$ $[1/\gamma]$")
    ax.set_ylabel(r"$\langle J_i^z\rangle / N_i$")
    ax.set_ylim(-0.52, 0.52)
    title = f"qtraj {solver}" + (f", {int(ntraj)} trajectories" if ntraj is not None else "")
    if initial:
        title += f"\ninitial: {initial}"
    ax.set_title(title, fontsize=9)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"plot_result.py: wrote {out}")


def _text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def _is_log(t):
    """True for qtraj's log grid: t0 = 0 then geometric spacing."""
    if len(t) < 4 or t[1] <= 0:
        return False
    r = t[2:] / t[1:-1]
    return np.allclose(r, r[0], rtol=1e-6) and r[0] > 1.0 + 1e-9 and not np.allclose(np.diff(t), t[1], rtol=1e-6)


if __name__ == "__main__":
    main()

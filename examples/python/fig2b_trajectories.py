"""The paper's Fig. 2b from Python: trajectories of the chain (12, 6, 2) with +-1 standard-error
bands, and the exact solver's lines over them (examples/paper/fig2b-trajectories.toml).

    PYTHONPATH=build/python python3 examples/python/fig2b_trajectories.py [--trajectories 2000]
"""

import argparse
import pathlib

import qtraj

RUN_FILE = pathlib.Path(__file__).resolve().parents[1] / "paper" / "fig2b-trajectories.toml"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trajectories", type=int, default=2000)
    ap.add_argument("-o", "--output", default="fig2b_python.png")
    args = ap.parse_args()
    traj = qtraj.run(RUN_FILE, **{"solver.trajectories": args.trajectories})
    exact = qtraj.run(RUN_FILE, solver={"kind": "exact"})
    print(traj.summary())
    print(qtraj.compare(traj, exact))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    traj.plot(ax, paper_time=True)  # trajectory means with their standard-error bands
    for i in range(exact.jz_over_n.shape[1]):
        ax.plot(exact.t / 2, exact.jz_over_n[:, i], "k--", lw=0.8,
                label="exact" if i == 0 else None)
    ax.set_xscale("log")
    ax.set_xlim(exact.t[1] / 2, exact.t[-1] / 2)
    ax.legend()
    ax.set_title(f"Fig. 2b: {args.trajectories} trajectories and the exact solver")
    fig.tight_layout()
    fig.savefig(args.output, dpi=120)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

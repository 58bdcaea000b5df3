"""A parameter sweep in one Python loop: the excitation left in the last domain at t = inf
against N_1, for the chain (N_1, 6, 2) with the first domain fully excited (the steady solver,
docs/steady_state.md; no files are written).

    PYTHONPATH=build/python python3 examples/python/steady_sweep.py [-o steady_sweep.png]
"""

import argparse

import qtraj


def sweep(sizes):
    base = {"system": {"domains": [2, 6, 2]}, "solver": {"kind": "steady", "threads": 1}}
    finals = []
    for n1 in sizes:
        r = qtraj.run(base, progress=False, system={"domains": [n1, 6, 2]})
        finals.append(r.excitations[-1, -1])  # the one time is t = inf; the last domain
    return finals


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", default="steady_sweep.png")
    ap.add_argument("--max-n1", type=int, default=40)
    args = ap.parse_args()
    sizes = list(range(1, args.max_n1 + 1))
    finals = sweep(sizes)
    for n1, x in zip(sizes, finals):
        print(f"N_1 = {n1:3d}: excitations of domain 3 at t = inf: {x:.6f}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(sizes, finals, "o-", ms=3)
    ax.set_xlabel("N_1 (spins of the first, excited domain)")
    ax.set_ylabel("excited spins of domain 3 at t = inf")
    ax.set_title("chain (N_1, 6, 2), steady solver")
    fig.tight_layout()
    fig.savefig(args.output, dpi=120)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

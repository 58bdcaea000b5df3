"""The Python module's three targets (README.md "Python"; figures in bench/RESULTS.md):

1. qtraj.run of (12, 6, 2) with 2e4 trajectories within 10% of `qtraj run` on the same file;
2. 100 steady solves of (12, 6, 2) in one Python loop (no files) in < 2 s;
3. `import qtraj` in < 0.3 s (tqdm and matplotlib are imported only when used).

    PYTHONPATH=build/python python3 bench/python/bench_python.py [--cli build/qtraj] [--repeat 3]

Each time is the best of --repeat runs (2 cores shared: the best is the least disturbed).
"""

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
RUN_FILE = REPO / "examples" / "paper" / "fig2b-trajectories.toml"


def best(repeat, fn):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cli", default=str(REPO / "build" / "qtraj"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--trajectories", type=int, default=20000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    # 3. import time, in fresh interpreters.
    code = "import time; t = time.perf_counter(); import qtraj; print(time.perf_counter() - t)"
    imports = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                    check=True).stdout) for _ in range(max(args.repeat, 5))]

    import qtraj

    sets = {"solver.trajectories": args.trajectories, "solver.threads": args.threads}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cli.h5")
        cli_args = [args.cli, "run", str(RUN_FILE), "-q", "-o", out]
        for k, v in sets.items():
            cli_args += ["--set", f"{k}={v}"]
        t_cli = best(args.repeat, lambda: subprocess.run(cli_args, check=True))
        t_py = best(args.repeat, lambda: qtraj.run(RUN_FILE, progress=False, **sets))
        t_py_save = best(args.repeat, lambda: qtraj.run(RUN_FILE, progress=False, **sets)
                         .save(os.path.join(tmp, "py.h5")))

    steady = {"system": {"domains": [12, 6, 2]}, "solver": {"kind": "steady", "threads": 1}}
    qtraj.run(steady, progress=False)
    t_steady = best(args.repeat, lambda: [qtraj.run(steady, progress=False) for _ in range(100)])

    print(f"1. (12,6,2), {args.trajectories} trajectories, {args.threads} threads: "
          f"qtraj run {t_cli:.3f} s (process, file), qtraj.run {t_py:.3f} s "
          f"({t_py / t_cli:.3f}x), qtraj.run + save {t_py_save:.3f} s ({t_py_save / t_cli:.3f}x)")
    print(f"2. 100 steady solves of (12,6,2), 1 thread each: {t_steady:.3f} s "
          f"({1e3 * t_steady / 100:.2f} ms per solve)")
    print(f"3. import qtraj: best {min(imports):.3f} s, median "
          f"{sorted(imports)[len(imports) // 2]:.3f} s of {len(imports)}")


if __name__ == "__main__":
    main()

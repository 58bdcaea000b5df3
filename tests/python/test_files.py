"""Files: save then load round-trips, load reads the CLI's files, compare and merge are the
CLI's commands, and h5py (PyPI's wheel, its own libhdf5) works beside qtraj in one process."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import qtraj
from conftest import SMALL_RUNS
from h5compare import assert_same_files, same_bits


def assert_same_results(a, b):
    assert sorted(a.datasets) == sorted(b.datasets)
    for k in a.datasets:
        assert same_bits(a.datasets[k], b.datasets[k]), k
    skip = {"qtraj_version"}
    assert sorted(a.attrs) == sorted(b.attrs)
    for k in a.attrs:
        if k not in skip:
            assert same_bits(a.attrs[k], b.attrs[k]), k


@pytest.mark.parametrize("kind", ["exact", "trajectories", "steady", "meanfield", "coherent"])
def test_save_then_load_round_trips(kind, tmp_path):
    r = qtraj.run(SMALL_RUNS[kind], progress=False)
    r.save(tmp_path / "r.h5")
    back = qtraj.load(tmp_path / "r.h5")
    assert_same_results(r, back)
    assert back.config == r.config and back.solver == r.solver
    # A loaded result saves again to the same data.
    back.save(tmp_path / "again.h5")
    assert_same_results(back, qtraj.load(tmp_path / "again.h5"))
    assert sorted(os.listdir(tmp_path)) == ["again.h5", "r.h5"]


def test_load_reads_the_clis_files(cli, write, tmp_path):
    out = tmp_path / "cli.h5"
    run_file = write("run.toml", SMALL_RUNS["trajectories"] + f'[output]\npath = "{out}"\n')
    cli("run", run_file, "-q")
    r = qtraj.load(out)
    assert r.solver == "trajectories" and r.attrs["trajectories"] == 400
    assert r.jz_over_n.shape == (41, 3) and r.jumps["time"].shape == r.jumps["channel"].shape
    assert r.summary() == cli("info", out).stdout
    assert_same_results(r, qtraj.run(run_file, progress=False))


def test_compare_and_merge_are_the_clis_commands(cli, write, tmp_path):
    base = SMALL_RUNS["trajectories"]
    shards = []
    for i, first in enumerate([0, 200]):
        p = tmp_path / f"shard{i}.h5"
        qtraj.run(base, progress=False,
                  solver={"trajectories": 200, "first_trajectory": first}).save(p)
        shards.append(p)
    merged = qtraj.merge(shards)
    merged.save(tmp_path / "py_merged.h5")
    cli("merge", *shards, "-o", tmp_path / "cli_merged.h5")
    assert_same_files(tmp_path / "cli_merged.h5", tmp_path / "py_merged.h5")
    exact = qtraj.run(base, progress=False, solver={"kind": "exact"})
    exact.save(tmp_path / "exact.h5")
    c = qtraj.compare(merged, exact)
    p = cli("compare", tmp_path / "py_merged.h5", tmp_path / "exact.h5", check=False)
    assert bool(c) == (p.returncode == 0)
    c2 = qtraj.compare(tmp_path / "py_merged.h5", tmp_path / "exact.h5")
    assert c2.report == p.stdout and c2.passed == c.passed
    strict = qtraj.compare(merged, exact, threshold=1e-9)
    assert not strict
    with pytest.raises(qtraj.InputError):
        qtraj.compare(merged, qtraj.run(SMALL_RUNS["steady"], progress=False))
    with pytest.raises(qtraj.InputError):
        qtraj.merge([shards[0], shards[0]])


H5PY_SCRIPT = textwrap.dedent("""
    import sys, pathlib
    order = sys.argv[1]
    out = pathlib.Path(sys.argv[2])
    if order == "h5py-first":
        import h5py
        import qtraj
    else:
        import qtraj
        import h5py
    import numpy as np
    text = sys.argv[3]
    r = qtraj.run(text, progress=False)
    r.save(out / "q.h5")
    with h5py.File(out / "q.h5", "r") as f:
        assert np.array_equal(f["jz_over_n/mean"][()], r.jz_over_n)
        assert f.attrs["solver"] in ("exact", b"exact")  # fixed-length: bytes in h5py
    with h5py.File(out / "h.h5", "w") as f:
        f["x"] = np.arange(3.0)
    back = qtraj.load(out / "q.h5")
    assert np.array_equal(back.jz_over_n, r.jz_over_n)
    with h5py.File(out / "h.h5", "r") as f:
        assert list(f["x"][()]) == [0.0, 1.0, 2.0]
    try:
        qtraj.load(out / "h.h5")
    except qtraj.IoError as e:
        assert "/time" in str(e) and "missing" in str(e), e
    else:
        raise AssertionError("h.h5 is not a qtraj file")
    print("ok", h5py.version.hdf5_version)
""")


@pytest.mark.parametrize("order", ["h5py-first", "qtraj-first"])
def test_h5py_and_qtraj_in_one_process(order, tmp_path):
    p = subprocess.run([sys.executable, "-c", H5PY_SCRIPT, order, str(tmp_path),
                        SMALL_RUNS["exact"]], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("ok"), p.stdout


def test_import_is_light():
    # tqdm and matplotlib are imported only when used (a progress bar, Result.plot).
    code = ("import sys, time; t = time.perf_counter(); import qtraj; "
            "print(time.perf_counter() - t, 'tqdm' in sys.modules, 'matplotlib' in sys.modules)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    seconds, tqdm, mpl = p.stdout.split()
    assert (tqdm, mpl) == ("False", "False")
    assert float(seconds) < 2.0  # the target (0.3 s) is measured in bench/python/


def test_docstrings_name_every_run_file_key():
    readme = (__import__("conftest").REPO / "README.md").read_text()
    block = readme.split("## Run file (TOML)", 1)[1].split("```toml", 1)[1].split("```", 1)[0]
    keys = [line.split("=")[0].strip() for line in block.splitlines()
            if "=" in line.split("#")[0] and not line.startswith("[")]
    assert len(keys) > 20
    for k in keys:
        assert k in qtraj.run.__doc__, k
        assert k in qtraj.config.__doc__, k


def test_toml_writer_round_trips_python_values():
    import numpy as np

    from qtraj import _toml

    doc = {"system": {"domains": np.array([12, 6, 2]), "initial": ["excited", "ground", "ground"]},
           "reservoir": [{"domains": [1, 2], "gamma": np.float64(0.1) + 0.2, "nbar": 0},
                         {"domains": (2, 3), "gamma": 1e-300}],
           "time": {"end": 1 / 3, "points": np.int32(7)},
           "solver": {"kind": "exact", "rtol": 1e-9}}
    c = qtraj.config(doc)
    assert c.domains == [12, 6, 2] and c.kind == "exact"
    tomllib = pytest.importorskip("tomllib")
    back = tomllib.loads(_toml.dumps(doc))
    assert back["reservoir"][0]["gamma"] == 0.1 + 0.2 and back["time"]["end"] == 1 / 3
    assert back["reservoir"][1]["gamma"] == 1e-300 and back["time"]["points"] == 7
    assert _toml.overrides({"solver": {"kind": "steady", "seed": 3}, "time.end": 2.5}) == [
        'solver.kind="steady"', "solver.seed=3", "time.end=2.5"]
    assert _toml.value(float("inf")) == "inf" and _toml.value(True) == "true"
    assert _toml.value('a "quoted" \\ name') == '"a \\"quoted\\" \\\\ name"'

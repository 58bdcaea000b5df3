"""Every solver kind from Python equals the CLI's HDF5 for the same run file, bit for bit:
Result.save writes the CLI's file, and the Result's arrays are the CLI file's datasets."""

import numpy as np
import pytest

import qtraj
from conftest import SMALL_RUNS
from h5compare import assert_same_files, same_bits, tree


@pytest.mark.parametrize("kind", sorted(SMALL_RUNS))
def test_save_writes_the_cli_file(kind, cli, write, tmp_path):
    cli_out, py_out = tmp_path / "cli.h5", tmp_path / "py.h5"
    run_file = write("run.toml", SMALL_RUNS[kind] + f'[output]\npath = "{cli_out}"\n')
    cli("run", run_file, "-q")
    r = qtraj.run(run_file, progress=False)
    r.save(py_out)
    assert_same_files(cli_out, py_out)
    sets, attrs = tree(cli_out)
    assert sorted(r.datasets) == sorted(sets)
    for path, (data, _) in sets.items():
        assert same_bits(r.datasets[path], data), path
    for name, value in attrs.items():
        if name != "meanfield_seconds":
            assert same_bits(r.attrs[name], value), name


def test_overrides_equal_the_clis_set_options(cli, write, tmp_path):
    # Dotted keys, nested dicts and their order: the same /@config text as --set gives.
    cli_out, py_out = tmp_path / "cli.h5", tmp_path / "py.h5"
    run_file = write("run.toml", SMALL_RUNS["trajectories"] + f'[output]\npath = "{cli_out}"\n')
    cli("run", run_file, "-q", "--set", "solver.trajectories=300", "--set", "solver.seed=11",
        "--set", "time.end=20.5", "--set", "system.initial=[\"dicke 8\", \"ground\", \"ground\"]")
    r = qtraj.run(run_file, progress=False, **{"solver.trajectories": 300},
                  solver={"seed": 11}, time={"end": 20.5},
                  system={"initial": ["dicke 8", "ground", "ground"]})
    r.save(py_out)
    assert_same_files(cli_out, py_out)
    assert r.attrs["trajectories"] == 300 and r.attrs["seed"] == 11


def test_dict_toml_string_and_path_give_the_same_result(write):
    text = SMALL_RUNS["exact"]
    as_dict = {"system": {"domains": [6, 3, 2]}, "time": {"end": 5.0, "points": 21},
               "solver": {"kind": "exact"}}
    runs = [qtraj.run(write("run.toml", text), progress=False), qtraj.run(text, progress=False),
            qtraj.run(as_dict, progress=False)]
    for r in runs[1:]:
        assert sorted(r.datasets) == sorted(runs[0].datasets)
        for path, data in runs[0].datasets.items():
            assert same_bits(r.datasets[path], data), path


def test_arrays_are_named_after_the_layout():
    r = qtraj.run(SMALL_RUNS["exact"], progress=False)
    M = 3
    assert r.t.shape == (21,) and r.jz_over_n.shape == (21, M)
    assert np.array_equal(r.jz_over_n, r.datasets["/jz_over_n/mean"])
    assert np.array_equal(r.excitations, r["/excitations/mean"])
    assert len(r.populations) == M and r.populations[2].shape == (21, 3)
    assert r.jumps is None and r.jump_counts is None
    assert r.solver == "exact" and r.attrs["solver"] == "exact"
    assert list(r.attrs["domains"]) == [6, 3, 2]
    assert r.config == SMALL_RUNS["exact"]
    with pytest.raises(ValueError):
        r.jz_over_n[0, 0] = 1.0  # read-only: save() writes the solver's values
    t = qtraj.run(SMALL_RUNS["trajectories"], progress=False)
    assert set(t.jumps) == {"trajectory", "time", "channel", "reservoir"}
    assert t.jump_counts.dtype == np.int64 and t.jump_counts.shape[0] == 2
    assert t.jz_over_n_stderr[1:].any() and t.aggregator_m2.shape == (41, 6)

"""Bad input raises qtraj.InputError (a ValueError) with the CLI's one-line message: the bad
run files of tests/cli/cli_test.cpp, run through both."""

import pytest

import qtraj

OK_TAIL = "[time]\nend = 1.0\npoints = 3\n"
OK = "[system]\ndomains = [4, 2]\n" + OK_TAIL
TRAJ = OK + '[solver]\nkind = "trajectories"\ntrajectories = 10\n'

# (run file, CLI --set options, the same as Python overrides, the field the message names)
CASES = [
    ("[system]\ndomains = [4, 0]\n" + OK_TAIL, [], {}, "system.domains[2]"),
    ("[system]\ndomains = [4, -2]\n" + OK_TAIL, [], {}, "system.domains[2]"),
    ("[system]\ndomains = [4, 2]\nspins = 3\n" + OK_TAIL, [], {}, "system.spins"),
    ("[system]\ndomains = [4, 2]\n[[reservoir]]\ndomains = [1, 5]\n" + OK_TAIL, [], {},
     "reservoir[1].domains"),
    ("[system]\ndomains = [4, 2]\n[[reservoir]]\ndomains = [1, 2]\ngamma = -0.1\n" + OK_TAIL,
     [], {}, "reservoir[1].gamma"),
    ("[system]\ndomains = [4, 2]\n[time]\nend = \"x\"\n", [], {}, "time.end"),
    (OK, ["solver.kind=\"magic\""], {"solver": {"kind": "magic"}}, "solver.kind"),
    (OK, ["time.end=1e40"], {"time.end": 1e40}, "time.end"),
    ("[system]\ndomains = [1e30, 2]\n", [], {}, "system.domains[1]"),
    ("[system]\ndomains = [100000000]\n", [], {}, "system.domains"),
    (OK, ["solver.atol=-1e-12"], {"solver.atol": -1e-12}, "solver.atol"),
    (TRAJ, ["solver.propagator=adaptive", "time.end=1e6"],
     {"solver": {"propagator": "adaptive"}, "time.end": 1e6}, "time.end"),
    (TRAJ, ["solver.first_trajectory=9223372036854775807"],
     {"solver.first_trajectory": 9223372036854775807}, "solver.first_trajectory"),
    (OK, ["solver.threads=5000"], {"solver": {"threads": 5000}}, "solver.threads"),
    (OK, ["nonsense.key=1"], {"nonsense.key": 1}, "nonsense"),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_input_error_carries_the_clis_message(case, cli, write, tmp_path):
    text, sets, overrides, field = CASES[case]
    run_file = write("bad.toml", text)
    out = tmp_path / "out.h5"
    args = ["run", run_file, "-q", "-o", out]
    for s in sets:
        args += ["--set", s]
    p = cli(*args, check=False)
    assert p.returncode == 2 and p.stderr.startswith("qtraj: error: "), p.stderr
    cli_message = p.stderr[len("qtraj: error: "):].rstrip("\n")
    with pytest.raises(qtraj.InputError) as e:
        qtraj.run(run_file, progress=False, **overrides)
    assert str(e.value) == cli_message
    assert isinstance(e.value, ValueError) and isinstance(e.value, qtraj.Error)
    assert e.value.field.startswith(field), (e.value.field, field)
    assert field in str(e.value)
    assert list(tmp_path.iterdir()) == [run_file]


def test_malformed_toml_names_the_source_and_line():
    with pytest.raises(qtraj.InputError, match=r"^<string>:1: malformed TOML"):
        qtraj.run("[system\ndomains = [4, 2]\n")


def test_other_failures_have_their_own_types(tmp_path):
    with pytest.raises(qtraj.IoError, match="cannot read the run file"):
        qtraj.run(tmp_path / "missing.toml")
    with pytest.raises(qtraj.IoError, match="not a readable HDF5 file"):
        (tmp_path / "x.h5").write_text("not hdf5")
        qtraj.load(tmp_path / "x.h5")
    r = qtraj.run(OK, progress=False)
    with pytest.raises(qtraj.InputError, match="output.path"):
        r.save(tmp_path / "no" / "such" / "dir.h5")
    if not qtraj._qtraj.cuda_built:
        with pytest.raises(qtraj.NotCompiledError, match="solver.backend"):
            qtraj.run(TRAJ, solver={"backend": "cuda"}, progress=False)
    with pytest.raises(TypeError):
        qtraj.run(42)
    with pytest.raises(TypeError):
        qtraj.run(OK, solver={"kind": object()})

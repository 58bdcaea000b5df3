"""Fixtures of the pytest suite of `import qtraj` (scripts/test.sh runs it with PYTHONPATH at
<build>/python and QTRAJ_CLI at <build>/qtraj)."""

import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def cli_path() -> pathlib.Path:
    return pathlib.Path(os.environ.get("QTRAJ_CLI", REPO / "build" / "qtraj"))


@pytest.fixture(scope="session")
def cli():
    """Runs `qtraj ARGS...`; returns the CompletedProcess (text, stdout and stderr)."""
    path = cli_path()
    if not path.exists():
        pytest.fail(f"{path}: the qtraj CLI is not built (set QTRAJ_CLI)")

    def call(*args, check=True):
        p = subprocess.run([str(path), *map(str, args)], capture_output=True, text=True)
        if check and p.returncode != 0:
            raise AssertionError(f"qtraj {' '.join(map(str, args))}: exit {p.returncode}\n"
                                 f"{p.stderr}")
        return p

    return call


@pytest.fixture
def write(tmp_path):
    """write(name, text) -> path of a run file in the test's temporary directory."""

    def put(name, text):
        p = tmp_path / name
        p.write_text(text)
        return p

    return put


# Small runs of every solver kind (each well under a second).
SMALL_RUNS = {
    "exact": """
[system]
domains = [6, 3, 2]
[time]
end = 5.0
points = 21
[solver]
kind = "exact"
""",
    "exact_thermal": """
[system]
domains = [4, 2]
[[reservoir]]
domains = [1, 2]
gamma = 1.0
nbar = 0.2
[time]
end = 2.0
points = 11
[solver]
kind = "exact"
""",
    "trajectories": """
[system]
domains = [12, 6, 2]
[time]
start = 1e-2
end = 50.0
points = 41
spacing = "log"
[solver]
kind = "trajectories"
trajectories = 400
seed = 7
record_jumps = 3
threads = 2
""",
    "steady": """
[system]
domains = [12, 6, 2]
[solver]
kind = "steady"
""",
    "meanfield": """
[system]
domains = [1000, 100, 10]
[time]
end = 5.0
points = 21
[solver]
kind = "meanfield"
""",
    "coherent": """
[system]
domains = [4, 2]
initial = ["coherent 1.0 0.5", "ground"]
[time]
end = 2.0
points = 11
[solver]
kind = "exact"
""",
}

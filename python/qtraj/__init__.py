"""qtraj from Python: collective, reservoir-assisted energy migration through chains of spin
domains (exact master equation, quantum trajectories, steady state, mean field).

    import qtraj
    r = qtraj.run("examples/paper/fig2b-trajectories.toml", **{"solver.trajectories": 1000})
    r.t, r.jz_over_n, r.jz_over_n_stderr      # numpy arrays, named after the HDF5 layout
    r.save("fig2b.h5")                        # the file `qtraj run` writes
    qtraj.load("fig2b.h5")                    # any qtraj file, the CLI's included

Errors: ``qtraj.InputError`` (a ``ValueError``) with the CLI's one-line message naming the key
and the value; ``qtraj.IoError``, ``qtraj.NotCompiledError``, ``qtraj.DeviceError``, all
``qtraj.Error``. Ctrl-C stops a run (``KeyboardInterrupt``) within a second.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from . import _qtraj, _toml
from ._errors import DeviceError, Error, InputError, Interrupted, IoError, NotCompiledError
from ._progress import Progress as _Progress
from .result import Result

__version__ = _qtraj.version
Config = _qtraj.Config

__all__ = ["run", "config", "load", "compare", "merge", "Result", "Config", "Comparison",
           "Error", "InputError", "IoError", "NotCompiledError", "DeviceError", "Interrupted",
           "__version__"]

RUN_FILE_KEYS = """\
[system]      domains (required: N_i per domain), initial (per domain: "excited" | "ground" |
              "dicke K" | "product K" | "coherent THETA PHI")
[[reservoir]] domains (1-based, any number), gamma = 1.0, nbar = 0.0 (default: the chain
              (1,2),(2,3),...)
[[local]]     domains (1-based; default: every domain), emission = 0.0, pumping = 0.0,
              dephasing = 0.0 (per spin, QuTiP PIQS's conventions; docs/local.md)
[time]        end = 10.0, points = 101, spacing = "linear" | "log", start (log spacing only)
[solver]      kind = "exact" | "trajectories" | "meanfield" | "steady", rtol = 1e-8,
              atol = 1e-10, integrator = "auto" | "laplace" | "esdirk", trajectories = 10000,
              seed = 1, first_trajectory = 0, propagator = "auto" | "spectral" | "krylov" |
              "adaptive", memory_limit ("8 GiB"), batch_sectors = "auto" | "on" | "off",
              record_jumps = 0, threads = 0 (all cores), backend = "cpu" | "cuda",
              closure = "auto" | "z_right" | "symmetric" | "z_left" | "fourth_order"
[output]      path = "qtraj.h5" (used by save() only through the CLI), plot,
              checkpoint_seconds = 300
"""


def _is_toml_text(s: str) -> bool:
    return "\n" in s or "=" in s


def config(config, /, **overrides) -> Config:
    """Parses and checks a run without running it (``qtraj.run`` takes the same arguments).

    ``config``: a dict with the run-file schema, a TOML string (any text with a newline or
    ``=``), a path (``str`` or ``os.PathLike``) or a ``qtraj.Config``. ``overrides``: nested
    dicts (``solver={"kind": "steady"}``) or ``--set`` dotted keys
    (``**{"solver.trajectories": 1000}``), applied in order as ``qtraj run --set`` applies them.
    Raises ``InputError`` with the CLI's message for a bad key or value.

    Run-file keys (README.md, "Run file"):
    """
    return _parse(config, _toml.overrides(overrides))


def _parse(config, sets: list) -> Config:
    if isinstance(config, Config):
        if not sets:
            return config
        return _qtraj.parse_config(config.text, sets, "<qtraj.Config>")
    if isinstance(config, Mapping):
        return _qtraj.parse_config(_toml.dumps(config), sets, "<dict>")
    if isinstance(config, str) and _is_toml_text(config):
        return _qtraj.parse_config(config, sets, "<string>")
    if isinstance(config, (str, os.PathLike)):
        return _qtraj.load_config(os.fspath(config), sets)
    raise TypeError("qtraj: config must be a dict, a TOML string, a path or a qtraj.Config "
                    f"(got {type(config).__name__})")


config.__doc__ += "\n    " + "\n    ".join(RUN_FILE_KEYS.splitlines())


def run(config, /, *, progress=None, **overrides) -> Result:
    """Runs a qtraj run file and returns its ``Result`` (no file is written: ``Result.save``).

    ``config`` and ``overrides`` as for ``qtraj.config`` (a dict, a TOML string, a path;
    nested-dict or dotted-key overrides, e.g. ``qtraj.run("fig2b.toml",
    **{"solver.trajectories": 1000})`` or ``qtraj.run(cfg, solver={"kind": "steady"})``);
    ``threads`` and ``backend`` are the keys ``solver.threads`` and ``solver.backend``.

    ``progress``: ``None`` (a tqdm bar where tqdm is installed), ``False`` (none) or a callable
    ``progress(fraction, status)``; either only once the run has lasted a second.

    The solve runs with the GIL released; Ctrl-C (``KeyboardInterrupt``) stops it within a
    second. Bad input raises ``InputError`` with the CLI's one-line message.
    """
    cfg = _parse(config, _toml.overrides(overrides))
    reporter = _Progress(progress, f"qtraj {cfg.kind}") if progress is not False else None
    finished = False
    try:
        stored = _qtraj.solve(cfg, reporter)
        finished = True
    finally:
        if reporter is not None:
            reporter.close(finished)
    return Result(stored)


run.__doc__ = run.__doc__ + "\n    Run-file keys:\n    " + "\n    ".join(RUN_FILE_KEYS.splitlines())


def load(path) -> Result:
    """Reads a qtraj HDF5 file (``qtraj run``'s, ``Result.save``'s, a merged or checkpoint file):
    every dataset of the layout it holds and every root attribute."""
    return Result(_qtraj.load(os.fspath(path)))


class Comparison:
    """``qtraj.compare``'s verdict: ``passed`` (also ``bool(c)``) and ``report``, the text
    ``qtraj compare`` prints."""

    def __init__(self, passed: bool, report: str):
        self.passed = passed
        self.report = report

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.report

    def __repr__(self) -> str:
        return f"<qtraj.Comparison passed={self.passed}>"


def _stored(r, name: str):
    """(the compiled result, its name in the report: the file, else the solver)."""
    if isinstance(r, Result):
        return r._stored, (r._stored.source or f"{name} ({r.solver})")
    return _qtraj.load(os.fspath(r)), os.fspath(r)


def compare(a, b, *, threshold: float = 4.0, abs_tol: float = 1e-6) -> Comparison:
    """``qtraj compare a b``: the largest deviation of <J_i^z>/N_i in standard errors, per
    domain; passes if every one is within ``threshold`` (where both standard errors vanish: the
    absolute difference within ``abs_tol``). ``a``, ``b``: Results or paths."""
    sa, na = _stored(a, "a")
    sb, nb = _stored(b, "b")
    if not threshold > 0:
        raise InputError(f"--threshold: must be positive (got {threshold})")
    if not abs_tol >= 0:
        raise InputError(f"--abs-tol: must be non-negative (got {abs_tol})")
    passed, report = _qtraj.compare(sa, sb, na, nb, float(threshold), float(abs_tol))
    return Comparison(passed, report)


def merge(shards) -> Result:
    """``qtraj merge``: trajectory shards (disjoint ``solver.first_trajectory`` ranges of one
    model, grid and seed; paths) into one Result, as if one run had run them all."""
    return Result(_qtraj.merge([os.fspath(p) for p in shards]))

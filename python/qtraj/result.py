"""qtraj.Result: a solve's or a file's result as numpy arrays named after the HDF5 layout
(README.md, "HDF5 layout"; include/qtraj/io/layout.hpp)."""

from __future__ import annotations

import os

# Property name -> HDF5 dataset path (the layout's names, "/mean" dropped).
_DATASETS = {
    "t": "/time",
    "jz_over_n": "/jz_over_n/mean",
    "jz_over_n_stderr": "/jz_over_n/stderr",
    "excitations": "/excitations/mean",
    "excitations_stderr": "/excitations/stderr",
    "jplus_jminus": "/jplus_jminus/mean",
    "jplus_jminus_stderr": "/jplus_jminus/stderr",
    "jminus": "/jminus/mean",
    "emitted_energy": "/emitted_energy/mean",
    "emitted_quanta": "/emitted_quanta",
    "jump_counts": "/jump_counts/histogram",
    "aggregator_mean": "/aggregator/mean",
    "aggregator_m2": "/aggregator/m2",
}
_JUMPS = ("trajectory", "time", "channel", "reservoir")


class Result:
    """The result of ``qtraj.run`` or ``qtraj.load``.

    Arrays (read-only numpy arrays; ``None`` where the solver writes no such dataset):

    - ``t``: output times (n_t; the steady solver's one time is ``inf``), ``/time``
    - ``jz_over_n``, ``jz_over_n_stderr``: <J_i^z>/N_i, mean and standard error (n_t x M)
    - ``excitations``, ``excitations_stderr``: <J_i^z> + N_i/2 (n_t x M)
    - ``jplus_jminus``, ``jplus_jminus_stderr``: <J_i^+ J_i^-> (n_t x M)
    - ``jminus``: <J_i^-> (n_t x M x 2: real, imaginary), coherent initial states
    - ``populations``: list over domains of P(k excited) (n_t x (N_i + 1)), exact and steady
    - ``emitted_energy`` (n_t x R), ``emitted_quanta`` (R): quanta given to each reservoir
    - ``jump_counts``: trajectories with k jumps through reservoir r (R x W)
    - ``jumps``: dict of the recorded jumps, ``trajectory``, ``time``, ``channel``, ``reservoir``
    - ``aggregator_mean``, ``aggregator_m2``: the raw Welford state of a trajectory run

    ``datasets`` maps every HDF5 dataset path to its array, ``attrs`` every root attribute to its
    value, ``config`` is the run file's text (``/@config``). ``save(path)`` writes the file
    ``qtraj run`` writes for the same run.
    """

    def __init__(self, stored):
        self._stored = stored
        self._datasets = None
        self._attrs = None

    @property
    def datasets(self) -> dict:
        """{HDF5 dataset path: numpy array}, e.g. ``r.datasets["/jz_over_n/mean"]``."""
        if self._datasets is None:
            self._datasets = self._stored.datasets()
            for a in self._datasets.values():
                a.flags.writeable = False
        return self._datasets

    @property
    def attrs(self) -> dict:
        """{root attribute: value}: ``solver``, ``config``, ``qtraj_version``, ``domains``,
        ``initial`` and the solver's own (``trajectories``, ``seed``, ``exact_steps``, ...)."""
        if self._attrs is None:
            self._attrs = self._stored.attributes()
        return self._attrs

    @property
    def config(self) -> str:
        """The run file's text after the overrides, as ``/@config`` stores it."""
        return self._stored.config_text

    @property
    def solver(self) -> str:
        """``exact``, ``trajectories``, ``steady`` or ``meanfield``."""
        return self._stored.solver

    @property
    def seconds(self) -> float:
        """Wall time of the solve (0 for a loaded file)."""
        return self._stored.seconds

    def __getitem__(self, path: str):
        return self.datasets[path]

    def __getattr__(self, name: str):
        path = _DATASETS.get(name)
        if path is None:
            raise AttributeError(f"qtraj.Result has no attribute {name!r}")
        return self.datasets.get(path)

    @property
    def populations(self):
        """P(k excited spins in domain i), a list over domains (exact and steady), else None."""
        M = self.datasets["/jz_over_n/mean"].shape[1]
        found = [self.datasets.get(f"/populations/domain_{i + 1}") for i in range(M)]
        return None if all(p is None for p in found) else found

    @property
    def jumps(self):
        """The recorded jumps (solver.record_jumps > 0) as a dict of arrays, else None."""
        if "/jumps/time" not in self.datasets:
            return None
        return {k: self.datasets[f"/jumps/{k}"] for k in _JUMPS}

    def save(self, path) -> None:
        """Writes the HDF5 file that ``qtraj run`` writes for this run (same datasets,
        attributes and values), through a temporary file renamed into place."""
        self._stored.save(os.fspath(path))

    def summary(self) -> str:
        """The CLI's text: ``qtraj info`` for a loaded file, the run's summary line for a solve."""
        return self._stored.summary()

    def __repr__(self) -> str:
        M = self.datasets["/jz_over_n/mean"].shape
        src = f" from {self._stored.source!r}" if self._stored.source else ""
        return (f"<qtraj.Result {self.solver}{src}: {M[0]} times x {M[1]} domains, "
                f"N = {list(map(int, self.attrs.get('domains', [])))}>")

    def plot(self, ax=None, *, paper_time: bool = False, bands: bool = True):
        """<J_i^z>/N_i against time, one line per domain, with a band of +-1 standard error
        where the solver has one (matplotlib, imported here). ``paper_time``: gamma t / 2 on
        the axis. Returns the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        t = self.t / 2 if paper_time else self.t
        mean, err = self.jz_over_n, self.jz_over_n_stderr
        N = self.attrs.get("domains", [])
        for i in range(mean.shape[1]):
            label = f"domain {i + 1}" + (f" (N = {int(N[i])})" if len(N) > i else "")
            (line,) = ax.plot(t, mean[:, i], label=label)
            if bands and err is not None and err[:, i].any():
                ax.fill_between(t, mean[:, i] - err[:, i], mean[:, i] + err[:, i],
                                color=line.get_color(), alpha=0.3, linewidth=0)
        ax.set_xlabel("gamma t / 2" if paper_time else "t (1/gamma)")
        ax.set_ylabel("<J_i^z> / N_i")
        ax.set_title(f"qtraj {self.solver}")
        ax.legend()
        return ax

"""The GIL is released during a solve, two solves on two threads equal one after the other, and
Ctrl-C (SIGINT, KeyboardInterrupt) stops a run within a second without leaving a file."""

import os
import signal
import threading
import time

import numpy as np
import pytest

import qtraj
from conftest import SMALL_RUNS
from h5compare import same_bits

# Long enough to be interrupted (minutes if it ran to the end); output.path in the test's directory.
LONG = """
[system]
domains = [12, 6, 2]
[time]
end = 50.0
points = 51
[solver]
kind = "trajectories"
trajectories = 100000000
threads = 2
[output]
path = "{out}"
checkpoint_seconds = 0.2
"""


def interrupt_main_after(seconds):
    """SIGINT to the main thread after `seconds`, from a timer thread; returns the send time."""
    sent = {}

    def fire():
        sent["t"] = time.monotonic()
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    timer = threading.Timer(seconds, fire)
    timer.start()
    return timer, sent


def test_keyboard_interrupt_stops_a_run_within_a_second(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = LONG.format(out=tmp_path / "long.h5")
    timer, sent = interrupt_main_after(0.7)
    with pytest.raises(KeyboardInterrupt):
        qtraj.run(text, progress=False)
    raised = time.monotonic()
    timer.join()
    assert raised - sent["t"] < 1.0
    # No result, no checkpoint (output.checkpoint_seconds applies to the CLI only), no temporary.
    assert list(tmp_path.iterdir()) == []
    # The module is fine afterwards.
    assert qtraj.run(SMALL_RUNS["steady"], progress=False).solver == "steady"


def test_an_exception_of_the_progress_callback_stops_the_run(tmp_path):
    def progress(fraction, status):
        raise Enough(status)

    start = time.monotonic()
    with pytest.raises(Enough):
        qtraj.run(LONG.format(out=tmp_path / "x.h5"), progress=progress)
    assert time.monotonic() - start < 3.0  # 1 s before the first report, then the stop
    assert list(tmp_path.iterdir()) == []


class Enough(Exception):
    pass


def stop_after(seconds, reports):
    """A progress callback that records (time, fraction, status) and stops the run after
    `seconds` (the run's length does not depend on the machine's speed)."""
    start = time.monotonic()

    def progress(fraction, status):
        reports.append((time.monotonic() - start, fraction, status))
        if reports[-1][0] > seconds:
            raise Enough()

    return progress


def test_progress_reaches_the_callback_only_after_a_second(tmp_path):
    calls = []
    qtraj.run(SMALL_RUNS["steady"], progress=lambda f, s: calls.append(f))
    assert calls == []  # well under a second
    reports = []
    with pytest.raises(Enough):
        qtraj.run(LONG.format(out=tmp_path / "x.h5"), progress=stop_after(1.5, reports))
    assert len(reports) >= 2 and reports[0][0] >= 1.0
    fractions = [f for _, f, _ in reports]
    assert all(0.0 <= f < 1.0 for f in fractions) and fractions == sorted(fractions)
    assert all(isinstance(s, str) for _, _, s in reports)


def datasets(r):
    return {k: np.array(v) for k, v in r.datasets.items()}


def test_two_threads_at_once_equal_one_after_the_other():
    runs = [(SMALL_RUNS["trajectories"], {"solver.trajectories": 3000}),
            (SMALL_RUNS["exact"], {"time.points": 201})]
    alone = [datasets(qtraj.run(t, progress=False, **o)) for t, o in runs]
    together = [None, None]
    errors = []

    def work(i):
        try:
            together[i] = datasets(qtraj.run(runs[i][0], progress=False, **runs[i][1]))
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for a, b in zip(alone, together):
        assert sorted(a) == sorted(b)
        for k in a:
            assert same_bits(a[k], b[k]), k


def test_the_gil_is_released_during_a_run(tmp_path):
    # A pure-Python thread counts while the main thread first sleeps (the GIL released), then runs
    # a solve for 1.2 s: with the GIL held through the solve the counter would stop; released, it
    # counts at about the rate it has while the main thread sleeps.
    stop = threading.Event()
    count = [0]

    def counter():
        while not stop.is_set():
            count[0] += 1

    def rate(action):
        before, start = count[0], time.monotonic()
        action()
        return (count[0] - before) / (time.monotonic() - start)

    t = threading.Thread(target=counter)
    t.start()
    try:
        sleeping = rate(lambda: time.sleep(0.5))
        solving = rate(lambda: pytest.raises(Enough, qtraj.run, LONG.format(out=tmp_path / "x.h5"),
                                             progress=stop_after(1.2, []),
                                             **{"solver.threads": 1}))
    finally:
        stop.set()
        t.join()
    assert solving > 0.25 * sleeping, (solving, sleeping)
    assert list(tmp_path.iterdir()) == []


def test_a_tqdm_bar_shows_runs_longer_than_a_second(tmp_path, monkeypatch):
    # tqdm, where importable, is the default progress display; a stand-in records what it is told.
    import sys
    import types

    bars = []

    class FakeBar:
        def __init__(self, total, desc, bar_format):
            self.total, self.desc, self.n, self.postfix, self.closed = total, desc, 0, "", False
            self.shown = []
            bars.append(self)

        def set_postfix_str(self, s, refresh=True):
            self.postfix = s

        def refresh(self):
            self.shown.append(self.n)

        def close(self):
            self.closed = True

    auto = types.ModuleType("tqdm.auto")
    auto.tqdm = FakeBar
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", auto)
    qtraj.run(SMALL_RUNS["steady"])
    assert bars == []  # under a second: no bar
    timer, _ = interrupt_main_after(1.6)
    with pytest.raises(KeyboardInterrupt):
        qtraj.run(LONG.format(out=tmp_path / "x.h5"))
    timer.join()
    assert len(bars) == 1 and bars[0].desc == "qtraj trajectories" and bars[0].closed
    assert bars[0].shown and all(0 <= n < 1000 for n in bars[0].shown)

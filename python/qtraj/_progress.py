"""Progress of a solve: a callback or a tqdm bar, shown only once a run has lasted a second
(tqdm is imported then, never at ``import qtraj``)."""

from __future__ import annotations

import time

DELAY_SECONDS = 1.0


class Progress:
    """Called by the compiled module on the solving thread with (fraction, status)."""

    def __init__(self, progress, label: str):
        self._callback = progress if callable(progress) else None
        self._tqdm = progress is None or progress is True
        self._label = label
        self._start = time.monotonic()
        self._bar = None

    def __call__(self, fraction: float, status: str) -> None:
        if time.monotonic() - self._start < DELAY_SECONDS:
            return
        if self._callback is not None:
            self._callback(fraction, status)
            return
        if not self._tqdm:
            return
        if self._bar is None:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                self._tqdm = False
                return
            self._bar = tqdm(total=1000, desc=self._label, bar_format=(
                "{desc}: {percentage:5.1f}%|{bar}| [{elapsed}<{remaining}] {postfix}"))
        self._bar.n = int(round(1000 * min(max(fraction, 0.0), 1.0)))
        self._bar.set_postfix_str(status, refresh=False)
        self._bar.refresh()

    def close(self, finished: bool) -> None:
        if self._bar is not None:
            if finished:
                self._bar.n = 1000
                self._bar.refresh()
            self._bar.close()
            self._bar = None

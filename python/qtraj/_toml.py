"""Python values to TOML text: a run-file dict to a document, an override to a ``--set`` value.
Floats are written with ``repr``, which round-trips, so the C++ parser reads the same double."""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Mapping, Sequence

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def key(k: str) -> str:
    if not isinstance(k, str):
        raise TypeError(f"run-file keys are strings (got {k!r})")
    return k if _BARE_KEY.match(k) else json.dumps(k)


def value(v) -> str:
    """One TOML value (inline: arrays and inline tables)."""
    if getattr(v, "ndim", None) == 0 and hasattr(v, "item"):  # numpy scalars
        v = v.item()
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        x = float(v)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return repr(x)
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{key(k)} = {value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, Sequence) or hasattr(v, "tolist"):  # lists, tuples, numpy arrays
        items = v.tolist() if hasattr(v, "tolist") else v
        return "[" + ", ".join(value(x) for x in items) + "]"
    raise TypeError(f"cannot write {type(v).__name__} {v!r} as a TOML value")


def _is_table_array(v) -> bool:
    return (isinstance(v, Sequence) and not isinstance(v, str) and len(v) > 0
            and all(isinstance(x, Mapping) for x in v))


def _emit(table: Mapping, path: list[str], lines: list[str], header: str | None) -> None:
    plain = [(k, v) for k, v in table.items()
             if not isinstance(v, Mapping) and not _is_table_array(v)]
    if header is not None and (plain or not table):
        lines.append(header)
    for k, v in plain:
        lines.append(f"{key(k)} = {value(v)}")
    for k, v in table.items():
        sub = path + [key(k)]
        if isinstance(v, Mapping):
            _emit(v, sub, lines, "[" + ".".join(sub) + "]")
        elif _is_table_array(v):
            for item in v:
                lines.append("[[" + ".".join(sub) + "]]")
                _emit(item, sub, lines, None)


def dumps(document: Mapping) -> str:
    """A run-file dict (the schema of README.md, "Run file") as TOML text."""
    lines: list[str] = []
    _emit(document, [], lines, None)
    return "\n".join(lines) + "\n"


def overrides(items: Mapping) -> list[str]:
    """Keyword overrides as ``--set`` strings: ``{"solver": {"kind": "steady"}}`` and
    ``{"solver.kind": "steady"}`` both give ``['solver.kind="steady"']``."""
    out: list[str] = []

    def walk(prefix: str, v) -> None:
        if isinstance(v, Mapping):
            for k, x in v.items():
                walk(f"{prefix}.{k}", x)
        else:
            out.append(f"{prefix}={value(v)}")

    for k, v in items.items():
        walk(k, v)
    return out

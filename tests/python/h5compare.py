"""Bit-for-bit comparison of two qtraj HDF5 files with h5py (datasets, their attributes, root
attributes)."""

import h5py
import numpy as np

# Root attributes that measure the run instead of describing its result.
TIMINGS = {"meanfield_seconds"}


def text(value):
    """qtraj writes fixed-length strings (file format 2), which h5py returns as bytes: as str."""
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8")
    return value


def tree(path):
    """{dataset path: (array, {attr: value})}, {root attr: value}; string attributes as str."""
    sets = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                sets["/" + name] = (obj[()], {k: text(v) for k, v in obj.attrs.items()})
        f.visititems(visit)
        attrs = {k: text(v) for k, v in f.attrs.items()}
    return sets, attrs


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "OSU" or b.dtype.kind in "OSU":
        return a.dtype == b.dtype and a.shape == b.shape and bool(np.all(a == b))
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_same_files(path_a, path_b, skip_attrs=TIMINGS):
    sets_a, attrs_a = tree(path_a)
    sets_b, attrs_b = tree(path_b)
    assert sorted(sets_a) == sorted(sets_b)
    for name, (data, dattrs) in sets_a.items():
        other, oattrs = sets_b[name]
        assert same_bits(data, other), name
        assert dattrs.keys() == oattrs.keys(), name
        for k in dattrs:
            assert same_bits(dattrs[k], oattrs[k]), f"{name}@{k}"
    assert sorted(attrs_a) == sorted(attrs_b)
    for k in attrs_a:
        if k not in skip_attrs:
            assert same_bits(attrs_a[k], attrs_b[k]), f"/@{k}: {attrs_a[k]!r} != {attrs_b[k]!r}"

"""Read a PyTorch state dict saved in the legacy (pre-1.6, non-zip) format, without torch.

The legacy format is a run of pickles in one file: a magic number, the protocol version, a
system-info dict, the state dict itself (tensors refer to storages by key through pickle's
persistent ids), the list of storage keys in file order, and then each storage's raw bytes,
prefixed by its element count as a little-endian int64.
"""

from __future__ import annotations

import collections
import pickle
from pathlib import Path

import numpy as np

_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageRef:
    def __init__(self, key: str, dtype: type):
        self.key = key
        self.dtype = dtype


class _TensorRef:
    """A tensor whose storage bytes come later in the file."""

    def __init__(self, storage: _StorageRef, offset: int, size: tuple, stride: tuple):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def materialize(self, storages: dict) -> np.ndarray:
        flat = storages[self.storage.key]
        if not self.size:
            return flat[self.offset].copy()
        itemsize = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset:],
            shape=self.size,
            strides=tuple(s * itemsize for s in self.stride),
        )
        return np.ascontiguousarray(view)


def _rebuild_tensor(storage, storage_offset, size, stride, *_unused):
    return _TensorRef(storage, storage_offset, size, stride)


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"unsupported object in state dict: {module}.{name}")

    def persistent_load(self, pid):
        kind, dtype, key, _location, _numel = pid[:5]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unsupported persistent id {kind!r}")
        return _StorageRef(key, dtype)


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Load a legacy-format PyTorch state dict as numpy arrays.

    Parameters
    ----------
    path : str or Path
        A ``.pth`` file written by ``torch.save`` with ``_use_new_zipfile_serialization=False``.

    Returns
    -------
    dict of str to ndarray
        Parameter and buffer names to arrays, in the file's order, with torch's shapes.
    """
    with open(path, "rb") as f:
        if pickle.load(f) != _MAGIC:
            raise ValueError(f"{path}: not a legacy PyTorch file (zip-format files are not supported)")
        pickle.load(f)  # protocol version
        pickle.load(f)  # system info
        state = _Unpickler(f).load()
        keys = pickle.load(f)
        refs = {}
        for value in state.values():
            if isinstance(value, _TensorRef):
                refs[value.storage.key] = value.storage.dtype
        storages = {}
        for key in keys:
            count = int(np.frombuffer(f.read(8), "<i8")[0])
            dtype = np.dtype(refs.get(key, np.uint8))
            storages[key] = np.frombuffer(f.read(count * dtype.itemsize), dtype=dtype)
    return collections.OrderedDict(
        (name, value.materialize(storages)) for name, value in state.items() if isinstance(value, _TensorRef)
    )

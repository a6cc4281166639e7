"""Arrays: the numpy array types and the Arrow arrays built from them.

These are the vectorised building blocks every dataset uses: identifiers (UUIDs,
commit SHAs), string and list arrays from Python values, element-wise joins and
NULL masks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UUID_HEX_POSITIONS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])


def _hex(raw: NDArray[np.uint8]) -> NDArray[np.uint8]:
    chars = np.empty((len(raw), raw.shape[1] * 2), dtype=np.uint8)
    chars[:, 0::2] = _HEX_DIGITS[raw >> 4]
    chars[:, 1::2] = _HEX_DIGITS[raw & 0x0F]
    return chars


def _fixed_width(chars: NDArray[np.uint8]) -> pa.Array:
    """A string array from an (n, width) matrix of ASCII codes."""
    count, width = chars.shape
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(chars).tobytes()
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(data))


def uuids(rng: np.random.Generator, count: int) -> pa.Array:
    """Lowercase version-4 UUIDs, as ``str(uuid.UUID(bytes=raw, version=4))``."""
    raw = rng.integers(0, 256, size=(count, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    chars = np.full((count, 36), ord("-"), dtype=np.uint8)
    chars[:, _UUID_HEX_POSITIONS] = _hex(raw)
    return _fixed_width(chars)


def commit_shas(rng: np.random.Generator, count: int) -> pa.Array:
    """Git commit SHAs: 40 lowercase hex digits."""
    return _fixed_width(_hex(rng.integers(0, 256, size=(count, 20), dtype=np.uint8)))


def strings(values: Sequence[str | None]) -> pa.Array:
    return pa.array(values, type=pa.string())


def lists(values: Sequence[Sequence[str] | None]) -> pa.Array:
    return pa.array(values, type=pa.list_(pa.string()))


def join(*parts: Any) -> pa.Array:
    """Concatenate string arrays and literals element-wise; NULL if any part is."""
    return pc.binary_join_element_wise(*parts, "")


def text(numbers: IntArray) -> pa.Array:
    return pc.cast(pa.array(numbers), pa.string())


def where(condition: BoolArray, then: Any, otherwise: Any) -> pa.Array:
    return pc.if_else(pa.array(condition), then, otherwise)


def only(values: pa.Array, valid: BoolArray) -> pa.Array:
    """``values`` where ``valid``, NULL elsewhere."""
    return pc.if_else(pa.array(valid), values, pa.scalar(None, values.type))


def coded(vocabulary: pa.Array, codes: IntArray) -> pa.Array:
    """Vocabulary entries by index; a negative index is NULL."""
    return vocabulary.take(pa.array(np.maximum(codes, 0), mask=codes < 0))


def flags(codes: IntArray) -> pa.Array:
    """Booleans from codes 1 (true), 0 (false) and -1 (NULL)."""
    return pa.array(codes == 1, mask=codes < 0)


def instants(ms: IntArray, valid: BoolArray | None = None) -> pa.Array:
    mask = None if valid is None else ~valid
    return pa.array(ms * 1000, type=pa.timestamp("us"), mask=mask)


def numbers(values: FloatArray, valid: BoolArray | None = None) -> pa.Array:
    mask = None if valid is None else ~valid
    return pa.array(values, type=pa.float64(), mask=mask)


def list_of(candidates: Sequence[pa.Array], counts: IntArray) -> pa.Array:
    """Row r holds candidates[0][r] .. candidates[counts[r] - 1][r]."""
    rows = len(counts)
    offsets = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    slots = np.arange(len(candidates))
    positions = np.arange(rows)[:, None] + slots[None, :] * rows
    flat = positions[slots[None, :] < counts[:, None]]
    values = pa.concat_arrays(list(candidates)).take(pa.array(flat))
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def empty_lists(count: int) -> pa.Array:
    offsets = pa.array(np.zeros(count + 1, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array([], type=pa.string()))


def repeat(value: str, count: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), count)


def offsets(sizes: Sequence[int]) -> IntArray:
    """Where each of consecutive blocks of ``sizes`` starts."""
    blocks = np.asarray(sizes, dtype=np.int64)
    return np.cumsum(blocks) - blocks

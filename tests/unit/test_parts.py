"""Splitting rendered records into result parts against §10.1 to §10.3."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snyk_export.jobs import Part
from snyk_export.parts import PartLimits, part_name, split_records

HEADER = b'"SCORE","CVE"\n'
ROOMY = PartLimits(max_rows=100_000, max_bytes=16 * 1024 * 1024)


class MemoryPart:
    """A part writer keeping its bytes in memory."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.chunks: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | memoryview) -> None:
        assert not self.closed
        self.chunks.append(bytes(data))

    def abort(self) -> None:
        self.closed = True
        self.aborted = True

    def close(self, row_count: int) -> Part:
        assert not self.closed
        self.closed = True
        content = self.content
        return Part(
            name=self.name,
            file_size=len(content),
            row_count=row_count,
            sha256=hashlib.sha256(content).hexdigest(),
        )

    @property
    def content(self) -> bytes:
        return b"".join(self.chunks)


class MemoryStorage:
    """Opens :class:`MemoryPart` writers and remembers them by name."""

    def __init__(self) -> None:
        self.files: dict[str, MemoryPart] = {}

    def open_part(self, name: str) -> MemoryPart:
        assert name not in self.files
        self.files[name] = MemoryPart(name)
        return self.files[name]

    def content(self, part: Part) -> bytes:
        return self.files[part.name].content


def split(
    batches: list[pa.Array],
    limits: PartLimits = ROOMY,
    *,
    header: bytes = HEADER,
    empty_file: bool = False,
) -> tuple[list[Part], MemoryStorage]:
    storage = MemoryStorage()
    parts = split_records(
        batches, header, limits, storage.open_part, empty_file=empty_file
    )
    assert all(writer.closed for writer in storage.files.values())
    return parts, storage


def records(count: int, width: int = 10) -> list[str]:
    """``count`` distinct records of exactly ``width`` bytes, LF included."""
    return [f"{index:0{width - 1}d}\n" for index in range(count)]


def bodies(
    parts: list[Part], storage: MemoryStorage, header: bytes = HEADER
) -> list[bytes]:
    result = []
    for part in parts:
        content = storage.content(part)
        assert content.startswith(header)
        assert part.file_size == len(content)
        result.append(content[len(header) :])
    return result


def test_everything_fits_in_one_part() -> None:
    lines = records(5)

    parts, storage = split([pa.array(lines)])

    assert [part.name for part in parts] == ["data_0_0_0.csv"]
    assert parts[0].row_count == 5
    assert storage.content(parts[0]) == HEADER + "".join(lines).encode()


def test_parts_are_cut_by_max_rows() -> None:
    lines = records(7)

    parts, storage = split([pa.array(lines)], PartLimits(max_rows=3, max_bytes=10**9))

    assert [part.row_count for part in parts] == [3, 3, 1]
    assert [part.name for part in parts] == [
        "data_0_0_0.csv",
        "data_1_0_0.csv",
        "data_2_0_0.csv",
    ]
    assert b"".join(bodies(parts, storage)) == "".join(lines).encode()


def test_exactly_max_rows_gives_one_part() -> None:
    parts, _ = split([pa.array(records(3))], PartLimits(max_rows=3, max_bytes=10**9))

    assert [part.row_count for part in parts] == [3]


def test_parts_are_cut_by_max_bytes_header_included() -> None:
    # Header 14 bytes + 3 records of 10 = 44 bytes; a fourth would make 54.
    limits = PartLimits(max_rows=1000, max_bytes=len(HEADER) + 35)

    parts, storage = split([pa.array(records(7))], limits)

    assert [part.row_count for part in parts] == [3, 3, 1]
    assert all(part.file_size <= limits.max_bytes for part in parts)
    assert b"".join(bodies(parts, storage)) == "".join(records(7)).encode()


def test_a_part_may_fill_max_bytes_exactly() -> None:
    limits = PartLimits(max_rows=1000, max_bytes=len(HEADER) + 30)

    parts, _ = split([pa.array(records(6))], limits)

    assert [part.row_count for part in parts] == [3, 3]
    assert [part.file_size for part in parts] == [limits.max_bytes] * 2


def test_the_smaller_limit_wins() -> None:
    limits = PartLimits(max_rows=2, max_bytes=len(HEADER) + 35)

    parts, _ = split([pa.array(records(5))], limits)

    assert [part.row_count for part in parts] == [2, 2, 1]


def test_a_record_larger_than_a_part_gets_a_part_of_its_own() -> None:
    big = "x" * 100 + "\n"
    lines = ["a\n", "b\n", big, "c\n"]
    limits = PartLimits(max_rows=1000, max_bytes=len(HEADER) + 10)

    parts, storage = split([pa.array(lines)], limits)

    assert bodies(parts, storage) == [b"a\nb\n", big.encode(), b"c\n"]
    assert parts[1].file_size == len(HEADER) + len(big)


def test_a_header_larger_than_a_part_still_gets_one_record_per_part() -> None:
    parts, storage = split([pa.array(records(3))], PartLimits(10, max_bytes=5))

    assert [part.row_count for part in parts] == [1, 1, 1]
    assert b"".join(bodies(parts, storage)) == "".join(records(3)).encode()


def test_records_with_embedded_newlines_and_quotes_are_never_split() -> None:
    lines = [
        '"multi\nline","[""CVE-1""]"\n',
        '"a ""quoted"" value","\r\n"\n',
        '"é ü ✓",\n',
        ",\n",
    ]
    limits = PartLimits(max_rows=1, max_bytes=10**9)

    parts, storage = split([pa.array(lines)], limits)

    assert bodies(parts, storage) == [line.encode() for line in lines]
    assert [part.row_count for part in parts] == [1, 1, 1, 1]


def test_non_ascii_records_are_measured_in_bytes() -> None:
    line = "é" * 4 + "\n"  # 9 bytes, 5 characters
    limits = PartLimits(max_rows=1000, max_bytes=len(HEADER) + 18)

    parts, _ = split([pa.array([line] * 3)], limits)

    assert [part.row_count for part in parts] == [2, 1]


def test_parts_continue_across_batches() -> None:
    lines = records(10)
    batches = [pa.array(lines[:4]), pa.array(lines[4:5]), pa.array(lines[5:])]

    parts, storage = split(batches, PartLimits(max_rows=3, max_bytes=10**9))

    assert [part.row_count for part in parts] == [3, 3, 3, 1]
    assert b"".join(bodies(parts, storage)) == "".join(lines).encode()


def test_a_batch_boundary_does_not_end_a_part() -> None:
    batches = [pa.array(records(2)), pa.array(records(2))]

    parts, _ = split(batches)

    assert [part.row_count for part in parts] == [4]


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_string_and_large_string_batches(kind: pa.DataType) -> None:
    lines = records(5)

    parts, storage = split([pa.array(lines, type=kind)], PartLimits(2, 10**9))

    assert [part.row_count for part in parts] == [2, 2, 1]
    assert b"".join(bodies(parts, storage)) == "".join(lines).encode()


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_sliced_batches_with_an_offset(kind: pa.DataType) -> None:
    lines = records(12)
    array = pa.array(lines, type=kind)
    batches = [array.slice(3, 4), array.slice(7), array.slice(0, 0)]
    assert batches[0].offset == 3

    parts, storage = split(batches, PartLimits(3, 10**9))

    assert b"".join(bodies(parts, storage)) == "".join(lines[3:]).encode()
    assert [part.row_count for part in parts] == [3, 3, 3]


def test_chunks_of_a_chunked_array() -> None:
    lines = records(6)
    chunked = pa.chunked_array([lines[:2], lines[2:]])

    parts, storage = split(list(chunked.chunks), PartLimits(4, 10**9))

    assert b"".join(bodies(parts, storage)) == "".join(lines).encode()


def test_no_records_give_no_parts() -> None:
    parts, storage = split([])

    assert parts == []
    assert storage.files == {}


def test_empty_batches_give_no_parts() -> None:
    without_offsets = pa.Array.from_buffers(
        pa.string(), 0, [None, pa.py_buffer(b""), pa.py_buffer(b"")]
    )
    batches = [
        pa.array([], pa.string()),
        without_offsets,
        pa.array([], pa.large_string()),
    ]

    parts, _ = split(batches)

    assert parts == []


def test_empty_file_switch_gives_one_header_only_part() -> None:
    parts, storage = split([pa.array([], pa.string())], empty_file=True)

    assert parts == [
        Part(
            "data_0_0_0.csv",
            file_size=len(HEADER),
            row_count=0,
            sha256=hashlib.sha256(HEADER).hexdigest(),
        )
    ]
    assert storage.content(parts[0]) == HEADER


def test_empty_file_switch_does_not_change_a_non_empty_export() -> None:
    parts, _ = split([pa.array(records(3))], PartLimits(3, 10**9), empty_file=True)

    assert [part.row_count for part in parts] == [3]


def test_a_null_record_is_refused() -> None:
    with pytest.raises(ValueError, match="NULL"):
        split([pa.array(["a\n", None])])


def test_part_names_follow_the_contract() -> None:
    assert [part_name(n) for n in range(3)] == [
        "data_0_0_0.csv",
        "data_1_0_0.csv",
        "data_2_0_0.csv",
    ]


record_text = st.text(
    alphabet=st.sampled_from(["a", "é", '"', ",", "\n", "\r", "✓", "𝄞"]),
    max_size=40,
).map(lambda text: text + "\n")


@st.composite
def batched(draw: st.DrawFn) -> tuple[list[str], list[pa.Array]]:
    lines = draw(st.lists(record_text, max_size=60))
    kind = draw(st.sampled_from([pa.string(), pa.large_string()]))
    lead = draw(st.lists(record_text, max_size=3))
    array = pa.array(lead + lines, type=kind).slice(len(lead))
    cuts = sorted(draw(st.lists(st.integers(0, len(lines)), max_size=5)))
    bounds = [0, *cuts, len(lines)]
    batches = [array.slice(a, b - a) for a, b in itertools.pairwise(bounds)]
    return lines, batches


def consecutive(parts: list[Part]) -> Iterator[tuple[Part, Part]]:
    return itertools.pairwise(parts)


@settings(max_examples=300, deadline=None, database=None)
@given(
    data=batched(),
    max_rows=st.integers(1, 12),
    max_bytes=st.integers(1, 400),
    header=st.sampled_from([b'"A"\n', b'"SCORE","CVE","CWE"\n', b""]),
    empty_file=st.booleans(),
)
def test_splitting_properties(
    data: tuple[list[str], list[pa.Array]],
    max_rows: int,
    max_bytes: int,
    header: bytes,
    empty_file: bool,
) -> None:
    lines, batches = data
    encoded = [line.encode() for line in lines]
    limits = PartLimits(max_rows=max_rows, max_bytes=max_bytes)

    parts, storage = split(batches, limits, header=header, empty_file=empty_file)
    contents = bodies(parts, storage, header)

    assert [part.name for part in parts] == [part_name(n) for n in range(len(parts))]
    assert b"".join(contents) == b"".join(encoded)
    assert sum(part.row_count for part in parts) == len(lines)
    if not lines:
        assert [part.row_count for part in parts] == ([0] if empty_file else [])
        return

    position = 0
    sizes: list[list[int]] = []
    for part, content in zip(parts, contents, strict=True):
        assert 1 <= part.row_count <= max_rows
        chunk = encoded[position : position + part.row_count]
        assert b"".join(chunk) == content
        if part.file_size > max_bytes:
            assert part.row_count == 1
        sizes.append([len(record) for record in chunk])
        position += part.row_count

    # A part is closed only when the next record would not fit in it.
    for index, (part, following) in enumerate(consecutive(parts)):
        next_size = sizes[index + 1][0]
        full_rows = part.row_count == max_rows
        full_bytes = part.file_size + next_size > max_bytes
        assert full_rows or full_bytes
        assert following.row_count >= 1

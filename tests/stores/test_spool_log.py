"""The spool's log on its own: records round-trip, a torn tail is cut at the last whole record,
an offset that fails its CRC reads as none (the spool then resends from the oldest segment)."""

from __future__ import annotations

import os
from pathlib import Path

from hub.points import Point
from hub.stores.spool_log import (
    HEADER,
    Record,
    encode_batch,
    read_offset,
    read_points,
    scan_segment,
    segment_path,
    segment_seqs,
    write_offset,
)

POINTS = [
    Point("meter", {"device": "c1"}, {"energy_wh": 1010.5, "ok": True, "note": 'a "b"'}, 1),
    Point("meter", {"device": "c2"}, {"energy_wh": 2.0}, 2),
]


def test_records_round_trip_and_a_torn_tail_is_cut(tmp_path: Path) -> None:
    path = segment_path(tmp_path, 7)
    first, second = encode_batch(POINTS, 100), encode_batch(POINTS[:1], 200)
    path.write_bytes(first + second + second[: HEADER.size + 3])  # a torn third record
    records, valid_end = scan_segment(path, 7)
    assert records == [
        Record(7, 0, len(first), 100),
        Record(7, len(first), len(second), 200),
    ]
    assert valid_end == len(first) + len(second)
    assert read_points(tmp_path, records[0]) == POINTS
    assert read_points(tmp_path, records[1]) == POINTS[:1]
    assert segment_seqs(tmp_path) == [7]


def test_a_flipped_byte_ends_the_scan_at_that_record(tmp_path: Path) -> None:
    path = segment_path(tmp_path, 1)
    first, second = encode_batch(POINTS, 1), bytearray(encode_batch(POINTS, 2))
    second[-1] ^= 0xFF
    path.write_bytes(first + bytes(second))
    records, valid_end = scan_segment(path, 1)
    assert [record.written_at_ns for record in records] == [1]
    assert valid_end == len(first)


def test_the_offset_round_trips_and_a_corrupt_one_reads_as_none(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "offset", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        assert read_offset(fd) is None  # empty: nothing forwarded yet
        write_offset(fd, 3, 4096)
        assert read_offset(fd) == (3, 4096)
        os.pwrite(fd, b"\x09", 0)  # the sequence number no longer matches the CRC
        assert read_offset(fd) is None
    finally:
        os.close(fd)

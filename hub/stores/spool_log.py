"""The spool's log on disk: the record format, the segment files and the offset file.

Pure file handling, no threads and no store: :class:`hub.stores.spool.SpooledStore` appends
with it and its forwarder reads with it. In ``directory``::

    0000000000000001.seg   segments: records appended, a new segment past ``segment_bytes``
    0000000000000002.seg   (and at every start); deleted once fully forwarded
    offset                 the next record to forward: <seq u64><position u64><crc32 u32>

    record  = <length u32><crc32 u32><written_at_ns u64><payload: length bytes>
    payload = 0x01 + zlib(JSON [[measurement, tags, fields, time_ns], ...])

The CRC covers ``written_at_ns`` and the payload. :func:`scan_segment` stops at the first
record that is short or fails its CRC (a torn write of a crash); the spool cuts the segment
there. An offset that fails its CRC reads as ``None`` (:func:`read_offset`): the spool then
resends from the oldest segment, so nothing is lost.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hub.points import Point

__all__ = [
    "HEADER",
    "Record",
    "decode_payload",
    "encode_batch",
    "fsync_directory",
    "read_offset",
    "read_points",
    "scan_segment",
    "segment_path",
    "segment_seqs",
    "write_offset",
]

log = logging.getLogger(__name__)

HEADER = struct.Struct("<IIQ")  # length, crc32, written_at_ns
_OFFSET = struct.Struct("<QQI")  # segment seq, position, crc32 of the first 16 bytes
_FORMAT_ZLIB_JSON = b"\x01"
_MAX_RECORD = 1 << 31
_SUFFIX = ".seg"


@dataclass(frozen=True, slots=True)
class Record:
    """Where one record lies: its segment, its position in it, its size and when it was
    written."""

    seq: int
    position: int
    size: int  # header + payload
    written_at_ns: int


def encode_batch(points: Sequence[Point], written_at_ns: int) -> bytes:
    """One spool record (header and payload) holding ``points``."""
    rows = [[p.measurement, p.tags, p.fields, p.time_ns] for p in points]
    payload = _FORMAT_ZLIB_JSON + zlib.compress(json.dumps(rows, separators=(",", ":")).encode(), 1)
    stamp = struct.pack("<Q", written_at_ns)
    return HEADER.pack(len(payload), zlib.crc32(stamp + payload), written_at_ns) + payload


def decode_payload(payload: bytes) -> list[Point]:
    if payload[:1] != _FORMAT_ZLIB_JSON:
        raise ValueError(f"unknown spool record format {payload[:1]!r}")
    rows = json.loads(zlib.decompress(payload[1:]))
    return [Point(m, tags, fields, time_ns) for m, tags, fields, time_ns in rows]


def scan_segment(path: Path, seq: int) -> tuple[list[Record], int]:
    """The valid records of a segment and the length they cover (the torn tail excluded)."""
    records: list[Record] = []
    data = path.read_bytes()
    position = 0
    while position + HEADER.size <= len(data):
        length, crc, written_at = HEADER.unpack_from(data, position)
        end = position + HEADER.size + length
        if length > _MAX_RECORD or end > len(data):
            break
        payload = data[position + HEADER.size : end]
        if zlib.crc32(struct.pack("<Q", written_at) + payload) != crc:
            break
        records.append(Record(seq, position, end - position, written_at))
        position = end
    return records, position


def read_points(directory: Path, record: Record) -> list[Point]:
    """The points of one record, read back from its segment."""
    with segment_path(directory, record.seq).open("rb") as segment:
        segment.seek(record.position + HEADER.size)
        payload = segment.read(record.size - HEADER.size)
    return decode_payload(payload)


def segment_path(directory: Path, seq: int) -> Path:
    return directory / f"{seq:016d}{_SUFFIX}"


def segment_seqs(directory: Path) -> list[int]:
    """The sequence numbers of the segments in ``directory``, oldest first."""
    return sorted(int(path.stem) for path in directory.glob(f"*{_SUFFIX}") if path.stem.isdigit())


def read_offset(fd: int) -> tuple[int, int] | None:
    """The ``(seq, position)`` of the next record to forward; ``None`` when the offset file is
    empty or fails its CRC."""
    raw = os.pread(fd, _OFFSET.size, 0)
    if len(raw) != _OFFSET.size:
        return None
    seq, position, crc = _OFFSET.unpack(raw)
    if zlib.crc32(raw[:16]) != crc:
        log.warning("spool offset is corrupt: resending from the oldest segment")
        return None
    return seq, position


def write_offset(fd: int, seq: int, position: int) -> None:
    """Store the next record to forward, durably (fsync)."""
    raw = struct.pack("<QQ", seq, position)
    os.pwrite(fd, raw + struct.pack("<I", zlib.crc32(raw)), 0)
    os.fsync(fd)


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

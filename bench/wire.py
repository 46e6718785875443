"""A minimal MQTT v5 QoS 1 publisher on a raw socket, so that publishing is not the bottleneck.

paho-mqtt publishes QoS 1 at about 5k msg/s on the development machine (its network loop is
Python, one PUBACK at a time); the drain test needs to preload 200k messages per consumer and
the live test needs 10k msg/s while leaving the CPU to the hub. Here the PUBLISH packets are
encoded up front and written in large slices; a reader thread counts PUBACKs. Packet ids cycle
through 1..65535 with at most ``window`` unacknowledged, below the broker's Receive Maximum
(the project config's ``max_inflight_messages 0`` gives 65535).

Only what the benchmark needs: no TLS, no authentication, no properties, no retries.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Sequence

from bench.workload import Message

__all__ = ["RawPublisher"]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value % 128, value // 128
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _string(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("!H", len(data)) + data


def encode_publish(topic: str, payload: bytes, packet_id: int) -> bytes:
    """A QoS 1 PUBLISH without properties."""
    body = _string(topic) + struct.pack("!H", packet_id) + b"\x00" + payload
    return b"\x32" + _varint(len(body)) + body


class RawPublisher:
    """One MQTT v5 connection publishing QoS 1; ``acked`` counts the broker's PUBACKs."""

    def __init__(self, port: int, client_id: str, host: str = "127.0.0.1") -> None:
        self._sock = socket.create_connection((host, port), timeout=30)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        variable = _string("MQTT") + bytes([5, 0x02]) + struct.pack("!H", 60) + b"\x00"
        body = variable + _string(client_id)
        self._sock.sendall(b"\x10" + _varint(len(body)) + body)
        header = self._read_packet()
        if header[0] >> 4 != 2 or header[1][1] != 0:
            raise ConnectionError(f"broker refused the connection: {header[1][:2]!r}")
        self._sock.settimeout(None)  # the reader thread blocks until PUBACKs arrive
        self.acked = 0
        self.sent = 0
        self._next_id = 1
        self._ack_event = threading.Condition()
        self._reader = threading.Thread(target=self._read_acks, name="bench-puback", daemon=True)
        self._reader.start()

    def _recv_exact(self, size: int) -> bytes:
        chunks = []
        while size:
            chunk = self._sock.recv(size)
            if not chunk:
                raise ConnectionError("broker closed the connection")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def _read_packet(self) -> tuple[int, bytes]:
        first = self._recv_exact(1)[0]
        length, shift = 0, 0
        while True:
            byte = self._recv_exact(1)[0]
            length += (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return first, self._recv_exact(length) if length else b""

    def _read_acks(self) -> None:
        buffer = b""
        try:
            while True:
                chunk = self._sock.recv(1 << 16)
                if not chunk:
                    return
                buffer += chunk
                count = 0
                # PUBACK: 0x40, remaining length (2, or more with a reason code), packet id
                while len(buffer) >= 2:
                    length = buffer[1]
                    if length & 0x80:  # never for a PUBACK; stop parsing defensively
                        raise ConnectionError("unexpected packet from the broker")
                    if len(buffer) < 2 + length:
                        break
                    if buffer[0] >> 4 == 4:
                        count += 1
                    buffer = buffer[2 + length :]
                if count:
                    with self._ack_event:
                        self.acked += count
                        self._ack_event.notify_all()
        except OSError:
            return

    def encode(self, messages: Sequence[Message]) -> list[bytes]:
        """PUBLISH packets for ``messages``, with the packet ids they will be sent under."""
        packets = []
        packet_id = self._next_id
        for topic, payload in messages:
            packets.append(encode_publish(topic, payload, packet_id))
            packet_id = packet_id % 65535 + 1
        self._next_id = packet_id
        return packets

    def send(self, packets: Sequence[bytes], window: int = 30_000, slice_size: int = 500) -> None:
        """Write ``packets`` with at most ``window`` unacknowledged at any time."""
        for start in range(0, len(packets), slice_size):
            chunk = packets[start : start + slice_size]
            with self._ack_event:
                while self.sent + len(chunk) - self.acked > window:
                    if not self._ack_event.wait(30):
                        raise TimeoutError("no PUBACK from the broker for 30 s")
            self._sock.sendall(b"".join(chunk))
            self.sent += len(chunk)

    def wait_acked(self, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        with self._ack_event:
            while self.acked < self.sent:
                if not self._ack_event.wait(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"{self.sent - self.acked} PUBACKs missing")

    def publish_all(self, messages: Sequence[Message]) -> float:
        """Publish and wait for every PUBACK; returns the rate in msg/s."""
        packets = self.encode(messages)
        started = time.perf_counter()
        self.send(packets)
        self.wait_acked()
        return len(packets) / (time.perf_counter() - started)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.sendall(b"\xe0\x00")
        self._sock.close()
        self._reader.join(5)

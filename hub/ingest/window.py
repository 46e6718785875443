"""The in-flight window between the MQTT client and the pipeline, bounded in bytes and messages.

MQTT v5's Receive Maximum caps the number of unacknowledged messages a broker may send, not
their size, and Mosquitto 2.0.11 does not even honour the number (it sent a client that
announced 10,000 up to 27,590): a backlog of 1 MB messages would then fill the hub's memory.
So the client itself stops reading from the broker's socket while the messages it handed to
the pipeline and that the pipeline has not finished (stored and acknowledged, or dead-lettered)
reach ``max_bytes`` or ``max_messages``: :meth:`acquire` blocks paho's network thread, TCP
flow control holds the rest in the broker, and :meth:`release` (called when a batch is done)
lets it read on. A single message larger than the window still passes when the window is
empty, so nothing can wedge it.
"""

from __future__ import annotations

import threading

__all__ = ["InflightWindow"]


class InflightWindow:
    def __init__(self, max_bytes: int, max_messages: int) -> None:
        self.max_bytes = max_bytes
        self.max_messages = max_messages
        self.bytes = 0
        self.messages = 0
        self._closed = False
        self._changed = threading.Condition()

    def _full(self, size: int) -> bool:
        if self.messages == 0:
            return False
        return self.bytes + size > self.max_bytes or self.messages >= self.max_messages

    def acquire(self, size: int) -> bool:
        """Wait for room for one message of ``size`` bytes; ``False`` once closed."""
        with self._changed:
            while self._full(size) and not self._closed:
                self._changed.wait(1.0)
            if self._closed:
                return False
            self.bytes += size
            self.messages += 1
            return True

    def release(self, size: int, messages: int) -> None:
        with self._changed:
            self.bytes = max(0, self.bytes - size)
            self.messages = max(0, self.messages - messages)
            self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

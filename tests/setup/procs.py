"""Helpers for the set-up tests: a process's descendants, and checking they are all gone."""

from __future__ import annotations

import time

import psutil


def descendants(pid: int) -> list[int]:
    """PIDs of every process below ``pid`` (broker, MQTT client process, resource tracker)."""
    return [child.pid for child in psutil.Process(pid).children(recursive=True)]


def alive(pids: list[int]) -> list[int]:
    """The PIDs still running (a zombie awaiting its reaper counts as gone)."""
    running = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                running.append(pid)
        except psutil.NoSuchProcess:
            pass
    return running


def assert_gone(pids: list[int], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = alive(pids)
    assert not left, f"still alive after the stop: {[psutil.Process(p).cmdline() for p in left]}"

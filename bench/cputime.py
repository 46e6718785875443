"""CPU time of a process and everything it started, read while they live.

``resource.getrusage(RUSAGE_CHILDREN)`` sees a child only once it is reaped, and
``psutil.Process.cpu_times()`` only the process itself; the hub runs its MQTT client in a
child process, so both would miss about half of its work.
"""

from __future__ import annotations

import psutil

__all__ = ["process_tree_cpu_s"]


def process_tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` and its live descendants so far."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total

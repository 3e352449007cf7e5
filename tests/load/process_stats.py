"""CPU time and memory of a server process, read from /proc (Linux): what the load drivers
and the server benchmarks measure; and the one `percentile` their reports use.

    cpu = cpu_seconds(pid); peak = RssPeak(pid); peak.start(); ...; peak.stop()
"""

from __future__ import annotations

import contextlib
import os
import threading


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads, not its children), in seconds.

    Args:
        pid: the process.

    Returns:
        Its CPU seconds so far (OSError once it has gone).
    """
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def total_cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the given processes together, in seconds; those gone count 0.

    Args:
        pids: the processes (e.g. `process_tree(pid)`).

    Returns:
        Their CPU seconds so far, summed.
    """
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += cpu_seconds(pid)
    return total


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine (all processes, all cores), from /proc/stat.

    Returns:
        The seconds the machine's cores were not idle since boot, summed.
    """
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def status_kib(pid: int, key: str) -> int | None:
    """One "kB" line of /proc/PID/status (e.g. "VmRSS", "VmHWM").

    Args:
        pid: the process.
        key: the line's name, without the colon.

    Returns:
        Its value in KiB, or None once the process has gone (or without that line).
    """
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_mib(pid: int) -> float:
    """Resident memory of one process in MiB; NaN once it has gone."""
    kib = status_kib(pid, "VmRSS")
    return float("nan") if kib is None else kib / 1024


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants, from /proc/PID/task/*/children.

    Args:
        pid: the root process.

    Returns:
        Its pid first, then those of its descendants (those gone meanwhile left out).
    """
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo += [int(c) for c in children.read().split()]
        except OSError:
            pass
    return tree


def percentile(values: list[float], q: float) -> float | None:
    """The `q` quantile of `values`, interpolated linearly between the two nearest ranks (as
    numpy's default), or None without values.

    Args:
        values: the measurements, in any order.
        q: the quantile, 0 to 1 (0.95 for p95).

    Returns:
        The quantile, or None for no values.
    """
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class RssPeak(threading.Thread):
    """The largest resident memory of `pid` seen while it runs, sampled every `period` s."""

    def __init__(self, pid: int, period: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.period, self.peak, self.done = pid, period, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            rss = rss_mib(self.pid)
            if rss == rss:  # not NaN
                self.peak = max(self.peak, rss)
            self.done.wait(self.period)

    def stop(self) -> float:
        """Stop sampling; the peak in MiB."""
        self.done.set()
        self.join(5)
        return self.peak

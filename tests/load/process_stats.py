"""CPU time and memory of a server process, read from /proc (Linux): what the load driver and
the server benchmarks measure.

    cpu = cpu_seconds(pid); peak = RssPeak(pid); peak.start(); ...; peak.stop()
"""

from __future__ import annotations

import os
import threading


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads, not its children), in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """Resident memory of one process in MiB; NaN once it has gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


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

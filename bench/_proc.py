"""Process plumbing for the bench: spawning pinned processes, JSON-line workers, /proc readings.

Everything here is synchronous and bounded in time: every wait has a deadline, and a process
that overruns it is killed and reported as failed (``BenchError``) with the reason.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import queue
import resource
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class BenchError(Exception):
    """A round that failed: a process died, stalled past its deadline, or misbehaved."""


def raise_nofile_limit() -> int:
    """Raises this process's soft open-file limit to the hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def cpu_count() -> int:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def server_cpu() -> int | None:
    """The CPU the server under test is pinned to (None when there is only one)."""
    return 0 if cpu_count() >= 2 else None


def load_cpu() -> int | None:
    """The CPU the load generators are pinned to (None when there is only one)."""
    return 1 if cpu_count() >= 2 else None


def _die_with_parent() -> None:
    """Asks Linux to SIGKILL this (child) process when its parent dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def child_setup(cpu: int | None) -> Callable[[], None]:
    """A ``preexec_fn``: pin to ``cpu`` (if any) and die with the orchestrator."""

    def pre() -> None:
        _die_with_parent()
        if cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {cpu})

    return pre


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def proc_cpu_s(pid: int) -> float:
    """User+system CPU seconds of a process (and its reaped children), from /proc/PID/stat."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = data[data.rindex(")") + 2 :].split()
    # fields[11] = utime, fields[12] = stime (0-based after the comm field)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB, from /proc/PID/status (0 if gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def group_pids(pgid: int) -> list[int]:
    """The pids of the processes in process group ``pgid`` (from /proc)."""
    out: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            data = (entry / "stat").read_text()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:
            out.append(int(entry.name))
    return out


def machine_busy_s() -> float:
    """Busy CPU seconds of the whole machine since boot (all CPUs), from /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return 0.0
    vals = [int(v) for v in first[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return (sum(vals[:8]) - idle) / CLK_TCK


def wait_quiet(max_wait_s: float, busy_fraction: float = 0.10) -> float:
    """Waits (at most ``max_wait_s``) until the machine is mostly idle; returns seconds waited."""
    t0 = time.monotonic()
    ncpu = os.cpu_count() or 1
    while time.monotonic() - t0 < max_wait_s:
        b0 = machine_busy_s()
        time.sleep(0.3)
        if (machine_busy_s() - b0) / (0.3 * ncpu) < busy_fraction:
            break
    return time.monotonic() - t0


class Server:
    """A server under test: one pinned process, its log file, readiness and teardown."""

    def __init__(self, name: str, argv: Sequence[str], port: int, log_path: Path,
                 cwd: str | None = None, env: dict[str, str] | None = None,
                 cpu: int | None = None, multi_process: bool = False) -> None:
        self.name = name
        self.multi_process = multi_process
        self.port = port
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            cwd=cwd, env=env, preexec_fn=child_setup(cpu), start_new_session=True,
        )
        self.pid = self.proc.pid

    def wait_listening(self, timeout_s: float) -> float:
        """Waits until the port accepts a TCP connection; returns seconds taken."""
        t0 = time.monotonic()
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited with {self.proc.returncode} before "
                                 f"listening: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return time.monotonic() - t0
            except OSError:
                pass
            if time.monotonic() - t0 > timeout_s:
                raise BenchError(f"{self.name} not listening after {timeout_s:.0f}s: "
                                 f"{self.log_tail()}")
            time.sleep(0.05)

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise BenchError(f"{self.name} died (rc {self.proc.returncode}): {self.log_tail()}")

    def cpu_s(self) -> float:
        """CPU seconds of the server (all its worker processes, when it has several)."""
        if not self.multi_process:
            return proc_cpu_s(self.pid)
        return sum(proc_cpu_s(p) for p in group_pids(self.pid))

    def rss_kib(self) -> int:
        """RSS of the server (summed over its worker processes, when it has several)."""
        if not self.multi_process:
            return proc_rss_kib(self.pid)
        return sum(proc_rss_kib(p) for p in group_pids(self.pid))

    def log_tail(self, n: int = 600) -> str:
        with contextlib.suppress(OSError):
            self._log.flush()
            data = self.log_path.read_bytes()
            return data[-n:].decode("utf-8", "replace").strip()
        return ""

    def stop(self, graceful_s: float = 0.0) -> None:
        """SIGKILL to the whole process group (graceful shutdown is not what is measured).

        With ``graceful_s``, SIGTERM first and wait that long (a profiled server writes its
        profile on a clean exit).
        """
        if graceful_s and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(graceful_s)
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        self._log.close()


class Worker:
    """A load-generator process speaking JSON lines (commands on stdin, events on stdout)."""

    def __init__(self, python: str, script: Path, cfg: dict[str, Any], log_path: Path,
                 cpu: int | None, cwd: str) -> None:
        self.cfg = cfg
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [python, str(script), json.dumps(cfg)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._log, cwd=cwd, text=True, bufsize=1,
            preexec_fn=child_setup(cpu), start_new_session=True,
        )
        self.pid = self.proc.pid
        self._events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        assert self.proc.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: TextIO) -> None:
        for line in stream:
            line = line.strip()
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    self._events.put(json.loads(line))
        self._events.put(None)

    def send(self, **cmd: Any) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise BenchError(f"load worker {self.pid} gone: {exc}; {self.log_tail()}")

    def wait(self, ev: str, timeout_s: float) -> dict[str, Any]:
        """Waits for the next event named ``ev`` (other events are skipped)."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"load worker {self.pid} gave no {ev!r} within {timeout_s:.0f}s")
            try:
                event = self._events.get(timeout=left)
            except queue.Empty:
                continue
            if event is None:
                raise BenchError(f"load worker {self.pid} exited while waiting for {ev!r}: "
                                 f"{self.log_tail()}")
            if event.get("ev") == ev:
                return event

    def cpu_s(self) -> float:
        return proc_cpu_s(self.pid)

    def log_tail(self, n: int = 600) -> str:
        with contextlib.suppress(OSError):
            self._log.flush()
            return self.log_path.read_bytes()[-n:].decode("utf-8", "replace").strip()
        return ""

    def stop(self, grace_s: float = 2.0) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(BenchError):
                self.send(cmd="close")
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait(5)
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        self._log.close()

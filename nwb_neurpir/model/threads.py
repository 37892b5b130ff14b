"""How many CPU threads torch runs with: what ``num_threads=0`` (``OMP_NUM_THREADS``, else every CPU this process
may use) resolves to.

A process may use the CPUs it may run on (its affinity), but no more than its cgroup's CPU quota (how Kubernetes,
JupyterHub and systemd limit a container or a service to, say, one CPU's worth of time on a many-core node);
torch's own default counts every core the process may run on and ignores a quota, so on a quota'd or busy machine
its threads wait on each other. ``OMP_NUM_THREADS``, when set, is the count asked for, as torch takes it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path, PurePosixPath

import torch

__all__ = ["CGROUP_ROOT", "OWN_CGROUPS", "available_cpus", "cgroup_cpu_quota", "omp_num_threads", "thread_count",
           "use_threads"]

CGROUP_ROOT = Path("/sys/fs/cgroup")
"""Where the cgroup hierarchies are mounted (cgroup v2 itself; v1's ``cpu`` controller in ``cpu/``)."""
OWN_CGROUPS = Path("/proc/self/cgroup")
"""The process's own cgroup in each hierarchy (``0::/path`` for v2, ``N:cpu,cpuacct:/path`` for v1)."""


def available_cpus(cgroup_root: Path = CGROUP_ROOT, own_cgroups: Path = OWN_CGROUPS) -> int:
    """The CPUs this process may use: those it may run on, capped by its cgroup CPU quota rounded up; at least 1."""
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = cgroup_cpu_quota(cgroup_root, own_cgroups)
    return max(1, allowed if quota is None else min(allowed, math.ceil(quota)))


def cgroup_cpu_quota(cgroup_root: Path = CGROUP_ROOT, own_cgroups: Path = OWN_CGROUPS) -> float | None:
    """The CPU time per period the process's cgroup, or one above it, may use (2.0: two CPUs' worth), the smallest
    where several set one: cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``; None when none
    sets a quota (or there are no cgroups to read)."""
    paths = _own_cgroup_paths(own_cgroups)
    quotas = [_v2_quota(folder) for folder in _with_ancestors(cgroup_root, paths.get("v2", "/"))]
    quotas += [_v1_quota(folder) for folder in _with_ancestors(cgroup_root / "cpu", paths.get("v1", "/"))]
    return min((quota for quota in quotas if quota is not None), default=None)


def thread_count(requested: int, processes: int = 1) -> int:
    """``requested`` threads, or for 0 the ``OMP_NUM_THREADS`` count when set, else this process's share of
    :func:`available_cpus` when ``processes`` run (``torchrun``), at least 1."""
    return requested or omp_num_threads() or max(1, available_cpus() // processes)


def omp_num_threads() -> int | None:
    """The thread count ``OMP_NUM_THREADS`` asks for (its first one, in a nested list like ``4,2``); None when it is
    unset or not a positive integer (OpenMP ignores it then too)."""
    first = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(first) if first.isdigit() and int(first) > 0 else None


def use_threads(requested: int, processes: int = 1) -> int:
    """Make torch run with :func:`thread_count` threads; returns the count."""
    count = thread_count(requested, processes)
    torch.set_num_threads(count)
    return count


def _own_cgroup_paths(own_cgroups: Path) -> dict[str, str]:
    """The process's cgroup path in the v2 hierarchy (``"v2"``) and in v1's ``cpu`` controller (``"v1"``)."""
    try:
        lines = own_cgroups.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    paths = {}
    for line in lines:
        number, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if number == "0" and not controllers:
            paths["v2"] = path
        elif "cpu" in controllers.split(","):
            paths["v1"] = path
    return paths


def _with_ancestors(root: Path, path: str) -> list[Path]:
    """``root/path`` and each folder above it up to ``root`` (a container may see its own cgroup as ``root``)."""
    parts = [part for part in PurePosixPath(path).parts if part not in ("/", "..")]
    return [root.joinpath(*parts[:depth]) for depth in range(len(parts), -1, -1)]


def _v2_quota(folder: Path) -> float | None:
    """``cpu.max`` (``"<quota> <period>"`` or ``"max <period>"``) as CPUs; None without a quota."""
    fields = _read_words(folder / "cpu.max")
    if len(fields) != 2 or fields[0] == "max":
        return None
    return _ratio(fields[0], fields[1])


def _v1_quota(folder: Path) -> float | None:
    """``cpu.cfs_quota_us`` (-1: none) over ``cpu.cfs_period_us`` as CPUs; None without a quota."""
    quota, period = _read_words(folder / "cpu.cfs_quota_us"), _read_words(folder / "cpu.cfs_period_us")
    if len(quota) != 1 or len(period) != 1:
        return None
    return _ratio(quota[0], period[0])


def _ratio(quota: str, period: str) -> float | None:
    """``quota / period`` when both are positive integers, else None (no quota, or one not understood)."""
    try:
        quota_us, period_us = int(quota), int(period)
    except ValueError:
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def _read_words(path: Path) -> list[str]:
    """The whitespace-separated words of a small file; none when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError):
        return []

"""Which process holds something, and whether it is certainly gone.

A token names a process as `host:machine:pid:start`: the host name; a tag of this boot and PID
namespace (so a container or another machine that shares the host name is never mistaken for
this one); the pid; and the process's start time (field 22 of /proc/PID/stat, in clock ticks since
boot), so a pid the kernel handed to a new process does not keep a dead holder alive. Where /proc is
missing (macOS, Windows) the tag and start are '-' and nothing is ever judged gone: callers fall
back to their timeouts.
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket

_UNKNOWN = "-"


def current() -> str:
    """This process's token."""
    return token(os.getpid()) or f"{socket.gethostname()}:{_UNKNOWN}:{os.getpid()}:{_UNKNOWN}"


def token(pid: int) -> str | None:
    """The token of the running process `pid` on this machine, or None (no such process, no /proc)."""
    start = _start_time(pid)
    machine = _machine_tag()
    if start is None or machine is None:
        return None
    return f"{socket.gethostname()}:{machine}:{pid}:{start}"


def is_gone(holder: str) -> bool:
    """True only when `holder` (a token) names a process of this machine that no longer runs.

    Anything else (another machine, an unreadable or older token, no /proc here) is False.
    """
    return _judge(holder) is False


def is_running(holder: str) -> bool:
    """True only when `holder` names a process of this machine that is running now."""
    return _judge(holder) is True


def _judge(holder: str) -> bool | None:
    """Running (True), gone (False), or cannot tell from here (None)."""
    parts = holder.split(":")
    if len(parts) != 4 or _UNKNOWN in parts or not parts[2].isdigit():
        return None
    host, machine, pid, start = parts
    if host != socket.gethostname() or machine != _machine_tag():
        return None
    return _start_time(int(pid)) == start


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or ')': split after the last.
    fields = stat[stat.rfind(b")") + 2:].split()
    return fields[19].decode() if len(fields) > 19 else None     # field 22 of the whole line


@functools.lru_cache(maxsize=1)
def _machine_tag() -> str | None:
    """A short tag of this boot and PID namespace; None where Linux's /proc is not there."""
    try:
        with open("/proc/sys/kernel/random/boot_id", "rb") as f:
            boot = f.read().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None
    return hashlib.blake2b(boot + b":%d" % namespace, digest_size=6).hexdigest()

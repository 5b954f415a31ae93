"""Who holds a UDP port: for the one-line error when ours is taken (Linux /proc; best effort)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["udp_port_owner"]


def _socket_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def udp_port_owner(port: int) -> str | None:
    """ "pid N (command line)" of a process bound to UDP ``port``, or None if it cannot be told."""
    inodes = {f"socket:[{inode}]" for inode in _socket_inodes(port)}
    if not inodes:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:
            continue
        if links & inodes:
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                command = ""
            return f"pid {entry.name}" + (f" ({command[:80]})" if command else "")
    return None

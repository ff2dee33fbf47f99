"""`synthgp serve` started for real, as a user starts it: a subprocess on a free localhost port."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(out: Path, *args: str) -> Iterator[str]:
    """The server over `out` (extra CLI `args`), yielding its base URL once it answers and its search index is
    built (so searches take the path a served practice takes); stopped after."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "synthgp", "serve", str(out), "--port", str(port), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(base + "/status", timeout=1).json().get("search_index") == "ready":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            proc.kill()
            pytest.fail(f"server did not start: {proc.stderr.read().decode()}")
        yield base
    finally:
        proc.terminate()
        proc.wait(10)

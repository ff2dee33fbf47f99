"""Shared by the benchmark scripts: run a measurement in a fresh Python process, read its JSON."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile


def run_child(code: str, *args: object, env: dict | None = None) -> dict:
    """Run `code` with `args` in a new interpreter (so peak memory is the run's own); return the
    JSON object it prints last. `env` replaces the environment (e.g. PYTHONPATH for another checkout)."""
    r = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                       cwd=tempfile.gettempdir(), env=env)
    if r.returncode:
        sys.exit(r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])

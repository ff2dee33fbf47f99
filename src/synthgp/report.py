"""Self-contained HTML reports (inline CSS and SVG, nothing fetched) written beside their JSON, atomically."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import jinja2

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("synthgp", "templates"),
                          autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def _pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def _num(x: Any, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, (list, tuple)):
        return "-".join(_num(v, digits) for v in x)
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:,.{digits}f}" if abs(x) < 1000 else f"{x:,.0f}"


_ENV.filters.update(pct=_pct, num=_num)


def render(template: str, **context: Any) -> str:
    return _ENV.get_template(template).render(**context)


def write(dest: Path, template: str, data: dict[str, Any], figures: dict[str, str]) -> Path:
    """Write DEST/report.html and DEST/report.json together: both appear, or neither changes."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    tmp.chmod(0o755)
    try:
        (tmp / "report.json").write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")
        (tmp / "report.html").write_text(render(template, r=data, fig=figures))
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(dest, old)
            os.replace(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest / "report.html"

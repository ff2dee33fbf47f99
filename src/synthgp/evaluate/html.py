"""Self-contained HTML reports (inline CSS and SVG, nothing fetched) written beside their JSON, atomically."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import jinja2

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("synthgp.evaluate", "templates"),
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


def json_ready(x: Any) -> Any:
    """JSON-safe: NaN becomes null, dates become ISO strings."""
    if isinstance(x, dict):
        return {str(k): json_ready(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_ready(v) for v in x]
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, (dt.date, dt.datetime)):
        return x.isoformat()
    if hasattr(x, "item"):  # numpy / decimal scalars
        return json_ready(x.item())
    return x


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

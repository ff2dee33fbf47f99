"""`synthgp serve DIR`: the record viewer and a read-only FHIR R4 API over an output's DuckDB file."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from synthgp.cli import fail, formatter


def add_parser(sub) -> None:
    v = sub.add_parser("serve", formatter_class=formatter, help="browse an output and serve it as a FHIR API",
                       description=textwrap.dedent("""\
            Start the record viewer (pages for clinicians: find a patient, the record, the BP chart,
            the practice dashboard and recall lists) and a read-only FHIR R4 API under /fhir, over an
            output's DuckDB file. Binds to 127.0.0.1 unless told otherwise.

            examples:
              synthgp serve practice                      # then open http://127.0.0.1:8000/
              curl 'http://127.0.0.1:8000/fhir/Observation?code=75367002&_count=5'"""))
    v.add_argument("dir", type=Path, metavar="DIR", help="an output folder written by `synthgp generate` (with duckdb)")
    v.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    v.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    v.set_defaults(run=run)


def run(a: argparse.Namespace) -> int:
    import uvicorn

    from synthgp.serve.app import create_app

    if not 0 < a.port < 65536:
        return fail(f"--port: {a.port} is not a port (1-65535)")
    try:
        app = create_app(a.dir)
    except ValueError as exc:
        return fail(str(exc))
    print(f"synthgp serve: record viewer at http://{a.host}:{a.port}/ , FHIR API at http://{a.host}:{a.port}/fhir "
          "(Ctrl-C to stop)", file=sys.stderr)
    uvicorn.run(app, host=a.host, port=a.port, log_level="warning")
    return 0

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
              curl 'http://127.0.0.1:8000/fhir/Observation?code=75367002&_count=5'
              synthgp apps add practice --client-id my-app --redirect-uri http://127.0.0.1:9000/ \
                  --launch-url http://127.0.0.1:9000/launch.html
              synthgp serve practice --require-auth       # SMART sandbox: the API answers only tokens

            SMART App Launch (docs/sandbox.md): /fhir/.well-known/smart-configuration, EHR launch from
            the patient page, standalone launch with a patient picker, PKCE, patient-scoped tokens."""))
    v.add_argument("dir", type=Path, metavar="DIR", help="an output folder written by `synthgp generate` (with duckdb)")
    v.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    v.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    v.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="a further host name clients may use to reach the server (repeatable); requests naming "
                        "any other host get 400, against DNS rebinding (localhost, 127.0.0.1 and --host are allowed)")
    v.add_argument("--apps", type=Path, metavar="FILE",
                   help="the SMART sandbox's registered apps (default DIR/smart-apps.toml, written by `synthgp apps add`)")
    v.add_argument("--require-auth", action="store_true",
                   help="the FHIR API answers only requests with a SMART bearer token (401 otherwise); by default it "
                        "also reads openly without one")
    v.add_argument("--writable", action="store_true",
                   help="apps under test may create resources (POST /fhir/Observation and so on); they are kept in "
                        "DIR/sandbox-overlay.duckdb beside the practice, which stays unchanged, until POST /sandbox/reset")
    v.set_defaults(run=run)


def run(a: argparse.Namespace) -> int:
    import uvicorn

    from synthgp.serve.app import create_app

    if not 0 < a.port < 65536:
        return fail(f"--port: {a.port} is not a port (1-65535)")
    if (why := _port_taken(a.host, a.port)) is not None:
        return fail(f"cannot listen on {a.host}:{a.port}: {why} (another server? choose another --port)")
    if a.apps is not None and not a.apps.exists():
        return fail(f"--apps: {a.apps} does not exist (register an app with `synthgp apps add --file {a.apps}`)")
    hosts = ["127.0.0.1", "localhost", a.host, *a.allowed_host]
    try:
        app = create_app(a.dir, allowed_hosts=hosts, apps=a.apps, require_auth=a.require_auth, writable=a.writable)
    except ValueError as exc:
        return fail(str(exc))
    if not _loopback(a.host):
        print(f"synthgp serve: warning: --host {a.host} makes the practice reachable from other machines; "
              + ("only SMART tokens read it (a sandbox: no sign-in)" if a.require_auth else "the API has no authentication"),
              file=sys.stderr)
    print(f"synthgp serve: record viewer at http://{a.host}:{a.port}/ , FHIR API at http://{a.host}:{a.port}/fhir "
          "(Ctrl-C to stop)", file=sys.stderr)
    # h11's default (16 KiB) drops a longer request line without an answer: let the app see up to
    # 1 MiB and answer 414 past its own limit (serve/app.py MAX_URL)
    uvicorn.run(app, host=a.host, port=a.port, log_level="warning", h11_max_incomplete_event_size=1 << 20)
    return 0


def _port_taken(host: str, port: int) -> str | None:
    """Why (host, port) cannot be listened on, or None: checked before the banner promises it."""
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            s.bind((host, port))
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

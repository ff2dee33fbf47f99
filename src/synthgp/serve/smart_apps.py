"""The SMART sandbox's registered test apps: a TOML file (by default `smart-apps.toml` in the output
folder), read and written here, every field checked with an error that names the file, the app and
the field.

    [[app]]
    client_id = "bp-tracker"                       # letters, digits, . _ -
    name = "BP tracker"                            # optional, shown on the patient page and the picker
    redirect_uris = ["http://127.0.0.1:9000/"]     # where the code is sent: exact match
    launch_url = "http://127.0.0.1:9000/launch.html"  # optional: EHR launch from the patient page
    scopes = ["launch", "patient/*.read"]          # optional: the most it may be granted (default: any)
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

FILE_NAME = "smart-apps.toml"
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# resource scopes: context/type.permissions, SMART v1 (read, write, *) and v2 (any of c r u d s, in order)
RESOURCE_SCOPE_RE = re.compile(r"^(patient|user)/(\*|[A-Z][A-Za-z]{1,40})\.(read|write|\*|c?r?u?d?s?)$")
CONTEXT_SCOPES = ("launch", "launch/patient", "openid", "fhirUser")
FIELDS = {"client_id", "name", "redirect_uris", "launch_url", "scopes"}


class AppsError(ValueError):
    """A registered-apps file or an app's fields that cannot be used; the message says what to change."""


@dataclass(frozen=True)
class App:
    client_id: str
    redirect_uris: tuple[str, ...]
    name: str = ""
    launch_url: str | None = None
    scopes: tuple[str, ...] | None = None  # None: any supported scope

    @property
    def label(self) -> str:
        return self.name or self.client_id

    def allows(self, scope: str) -> bool:
        """Whether the app may be granted `scope` (a registered `patient/*.read` covers `patient/Observation.read`)."""
        if self.scopes is None or scope in self.scopes:
            return True
        m = RESOURCE_SCOPE_RE.match(scope)
        if not m:
            return False
        for own in self.scopes:
            o = RESOURCE_SCOPE_RE.match(own)
            if o and o[1] == m[1] and o[2] in ("*", m[2]) and (o[3] in ("*", m[3]) or set(m[3]) <= set(o[3]) or
                                                               (o[3] == "read" and m[3] in ("r", "s", "rs"))):
                return True
        return False


def valid_scope(scope: str) -> bool:
    return scope in CONTEXT_SCOPES or bool(RESOURCE_SCOPE_RE.match(scope)) and not scope.endswith(".")


def _url(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise AppsError(f"{where}: give a URL as a string, not {value!r}")
    u = urlsplit(value)
    if u.scheme not in ("http", "https") or not u.netloc or u.fragment:
        raise AppsError(f"{where}: '{value}' is not an absolute http(s) URL without a #fragment")
    return value


def check(entry: dict, where: str) -> App:
    """One app's fields, checked; `where` names it in errors."""
    unknown = set(entry) - FIELDS
    if unknown:
        raise AppsError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}; the fields are {', '.join(sorted(FIELDS))}")
    cid = entry.get("client_id")
    if not isinstance(cid, str) or not CLIENT_ID_RE.match(cid):
        raise AppsError(f"{where}: client_id {cid!r} must be 1 to 64 letters, digits, '.', '_' or '-'")
    where = f"{where} ({cid})"
    uris = entry.get("redirect_uris")
    if isinstance(uris, str):
        uris = [uris]
    if not isinstance(uris, list) or not uris:
        raise AppsError(f"{where}: redirect_uris must list at least one URL the authorization code may be sent to")
    uris = tuple(_url(u, f"{where} redirect_uris") for u in uris)
    launch = entry.get("launch_url")
    if launch is not None:
        launch = _url(launch, f"{where} launch_url")
    name = entry.get("name", "")
    if not isinstance(name, str) or len(name) > 100:
        raise AppsError(f"{where}: name must be text of at most 100 characters")
    scopes = entry.get("scopes")
    if scopes is not None:
        if isinstance(scopes, str):
            scopes = scopes.split()
        bad = [s for s in scopes if not isinstance(s, str) or not valid_scope(s)]
        if not isinstance(scopes, list) or bad:
            raise AppsError(f"{where}: scopes {bad or scopes!r} not understood; use {', '.join(CONTEXT_SCOPES)} and "
                            "patient/<Type or *>.read or user/<Type or *>.read (SMART v2 .rs also)")
        scopes = tuple(scopes)
    return App(cid, uris, name, launch, scopes)


def load(path: Path) -> dict[str, App]:
    """The apps registered in `path` by client id ({} if the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AppsError(f"{path}: not valid TOML ({exc})") from None
    unknown = set(data) - {"app"}
    if unknown or not isinstance(data.get("app", []), list):
        raise AppsError(f"{path}: expected only [[app]] tables, found {', '.join(sorted(unknown)) or 'app = ...'}")
    apps: dict[str, App] = {}
    for i, entry in enumerate(data.get("app", []), 1):
        app = check(entry, f"{path}: app {i}")
        if app.client_id in apps:
            raise AppsError(f"{path}: app {i}: client_id '{app.client_id}' is registered twice")
        apps[app.client_id] = app
    return apps


def _toml(v: object) -> str:
    """A TOML value for a string or a list of strings (JSON's string escapes are TOML's)."""
    return "[" + ", ".join(map(json.dumps, v)) + "]" if isinstance(v, (list, tuple)) else json.dumps(v)


def save(path: Path, apps: dict[str, App]) -> None:
    lines = ["# Test apps registered with the synthgp SMART sandbox (docs/sandbox.md).", ""]
    for a in apps.values():
        lines.append("[[app]]")
        for key in ("client_id", "name", "redirect_uris", "launch_url", "scopes"):
            v = getattr(a, key)
            if v not in (None, ""):
                lines.append(f"{key} = {_toml(v)}")
        lines.append("")
    tmp = Path(path).with_suffix(".toml.tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    tmp.replace(path)

"""`synthgp apps add|list|remove DIR`: the test apps registered with the SMART sandbox of `synthgp serve`."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from synthgp.cli import fail, formatter


def add_parser(sub) -> None:
    p = sub.add_parser("apps", formatter_class=formatter, help="register test apps with the SMART sandbox",
                       description=textwrap.dedent("""\
            Register the apps an innovation lab tests against the practice (SMART App Launch,
            docs/sandbox.md). They are kept in DIR/smart-apps.toml (or --file), which `synthgp serve`
            reads when it starts: restart it after a change.

            examples:
              synthgp apps add practice --client-id bp-tracker --name "BP tracker" \\
                  --redirect-uri http://127.0.0.1:9000/ --launch-url http://127.0.0.1:9000/launch.html
              synthgp apps list practice
              synthgp apps remove practice --client-id bp-tracker"""))
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", formatter_class=formatter, help="register an app (or replace one of the same client id)")
    add.add_argument("--client-id", required=True, help="the app's OAuth client_id (letters, digits, . _ -)")
    add.add_argument("--redirect-uri", action="append", required=True, metavar="URL",
                     help="where the authorization code is sent, matched exactly (repeatable)")
    add.add_argument("--launch-url", metavar="URL", help="the app's launch page: the patient page then offers an EHR launch")
    add.add_argument("--name", default="", help="a name shown on the patient page and the patient picker")
    add.add_argument("--scope", action="append", metavar="SCOPE",
                     help="a scope the app may be granted (repeatable; default: any, e.g. launch, launch/patient, "
                          "patient/*.read, user/*.read, openid, fhirUser)")
    rm = actions.add_parser("remove", formatter_class=formatter, help="unregister an app")
    rm.add_argument("--client-id", required=True)
    actions.add_parser("list", formatter_class=formatter, help="list the registered apps")
    for sp in (add, rm, *[actions.choices["list"]]):
        sp.add_argument("dir", type=Path, metavar="DIR", help="an output folder written by `synthgp generate`")
        sp.add_argument("--file", type=Path, help="the apps file (default DIR/smart-apps.toml)")
        sp.set_defaults(run=run)


def run(a: argparse.Namespace) -> int:
    from synthgp.core.output import Output
    from synthgp.serve import smart_apps

    try:
        Output.open(a.dir, database=False)
        path = a.file or a.dir / smart_apps.FILE_NAME
        apps = smart_apps.load(path)
        if a.action == "add":
            entry = {"client_id": a.client_id, "redirect_uris": a.redirect_uri, "name": a.name,
                     **({"launch_url": a.launch_url} if a.launch_url else {}), **({"scopes": a.scope} if a.scope else {})}
            app = smart_apps.check(entry, "the app")
            apps[app.client_id] = app
            smart_apps.save(path, apps)
            print(f"Registered {app.client_id} in {path}; restart `synthgp serve` to use it")
        elif a.action == "remove":
            if apps.pop(a.client_id, None) is None:
                return fail(f"no app '{a.client_id}' in {path}; registered: {', '.join(apps) or 'none'}")
            smart_apps.save(path, apps)
            print(f"Removed {a.client_id} from {path}")
        else:
            for app in apps.values():
                print(f"{app.client_id}\t{app.label}\tredirect {' '.join(app.redirect_uris)}\t"
                      f"launch {app.launch_url or '-'}\tscopes {' '.join(app.scopes) if app.scopes else 'any'}")
            if not apps:
                print(f"No apps registered in {path}")
    except ValueError as exc:
        return fail(str(exc))
    return 0

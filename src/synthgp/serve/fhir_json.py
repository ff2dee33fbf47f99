"""FHIR JSON as the API sends it: a resource from DuckDB's JSON text is passed on as text (with its meta's
versionId and lastUpdated spliced in), never parsed and dumped again, and a Bundle is written around such
texts. At 100,000 patients a `$everything` Bundle holds up to a thousand resources and a megabyte."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from fastapi.responses import JSONResponse

FHIR_JSON = "application/fhir+json"
_HEAD = re.compile(r'\{"resourceType":"[A-Za-z]+","id":"[A-Za-z0-9\-.]*","meta":\{')  # how DuckDB's text begins


class Raw(str):
    """A resource's JSON text, sent as it is."""


def resource(text: str, updated: str) -> Raw | dict:
    """The resource of DuckDB's JSON `text`, with meta.versionId "1" and meta.lastUpdated `updated` first in its meta:
    as text when its top-level meta can be found by position (DuckDB writes resourceType, id and meta first), else
    parsed."""
    head = _HEAD.match(text)
    if head and '"versionId"' not in text and '"lastUpdated"' not in text:
        at = head.end()
        return Raw(f'{text[:at]}"versionId":"1","lastUpdated":{json.dumps(updated)}'
                   f'{"," if text[at] != "}" else ""}{text[at:]}')
    res = json.loads(text)
    res["meta"] = {"versionId": "1", "lastUpdated": updated, **res.get("meta", {})}
    return res


def parsed(res: Raw | dict) -> dict:
    return json.loads(res) if isinstance(res, Raw) else res


def dumps(content: Any) -> str:
    """`content` as compact JSON, each Raw in it written as its text."""
    raws: list[str] = []
    nonce = secrets.token_hex(8)  # no string a client wrote can pass for a mark

    def mark(o):
        if isinstance(o, Raw):
            raws.append(o)
            return f"\0{nonce}:{len(raws) - 1}\0"
        if isinstance(o, dict):
            return {k: mark(v) for k, v in o.items()}
        if isinstance(o, list):
            return [mark(v) for v in o]
        return o

    text = json.dumps(mark(content), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    if not raws:
        return text
    return re.sub(rf'"\\u0000{nonce}:(\d+)\\u0000"', lambda m: raws[int(m[1])], text)


class FhirResponse(JSONResponse):
    """A JSON response (application/fhir+json) whose content may hold Raw resources."""

    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")

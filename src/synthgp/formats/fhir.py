"""FHIR R4 (UK Core) output: bulk-data NDJSON, and on request one transaction Bundle per patient.

`fhir/<ResourceType>.ndjson` holds one resource per line, as a FHIR Bulk Data export writes them, with
`fhir/export.json` listing the files and their counts the way a bulk-data manifest does. DuckDB builds
and writes each file streaming (memory stays flat with the size of the run).

`fhir-bundles/<pracid>/<patid>.json` holds one transaction Bundle per patient: the practice, the staff
the record refers to (Practitioner and PractitionerRole), and the patient's resources, each as a PUT of its own id with a fullUrl (a UUID
URN made from type and id), so posting the bundle to a FHIR server is idempotent and every reference
resolves inside it. Each practice folder holds only bundles, so a loader that takes a folder of
bundle files (every file .json, no subfolders) loads a practice from it. Bundles are built a batch of
patients at a time.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
from pathlib import Path

import duckdb

from synthgp.core.ids import PATID_MULT
from synthgp.formats import fhir_resources as fhir

SUBDIR = "fhir"
BUNDLE_SUBDIR = "fhir-bundles"
BUNDLE_BATCH = 200  # patients per bucket when assembling bundles (a bucket's bundles are held in memory: 500 ran out of
# the export's 1 GB once long-term repeats took drug issues to about 110 a patient)


def write(con: duckdb.DuckDBPyConnection, out: Path, sc: object = None) -> None:
    folder = Path(out) / SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    output = []
    # One thread makes the row order, and so the files, the same on every run without sorting gigabytes
    # of JSON (a sort cost as much time as the second thread saved, and ran out of memory at 100k patients).
    threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    con.execute("SET threads = 1")
    try:
        from tqdm import tqdm

        for kind in tqdm(fhir.TYPES, desc="FHIR resources", unit="type", disable=not sys.stderr.isatty(), file=sys.stderr):
            path = folder / f"{kind}.ndjson"
            select = fhir.QUERIES[kind](fhir.everyone)
            # COPY answers with the number of rows it wrote
            n = con.execute(f"COPY (SELECT resource FROM ({select})) TO '{path.as_posix()}' "
                            "(FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\t')").fetchall()[0][0]
            output.append({"type": kind, "url": path.name, "count": n})
    finally:
        con.execute(f"SET threads = {int(threads)}")
    manifest = {
        "transactionTime": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "request": "synthgp export --format fhir", "requiresAccessToken": False,
        "output": output, "error": [],
        "profiles": {k: fhir.type_profile(k) for k in fhir.TYPES},
    }
    (folder / "export.json").write_text(json.dumps(manifest, indent=2) + "\n")


def entries(flt: fhir.Filter = fhir.everyone) -> str:
    """SQL for (patid, rank, kind, id, resource): every resource of the patients `flt` keeps, with the
    practice and the staff their records refer to, ranked in bundle order."""
    parts = [f"SELECT p.patid, 0 AS rank, 'Organization' AS kind, o.id, o.resource "
             f"FROM patient p JOIN ({fhir.organization()}) o ON o.id = CAST(p.pracid AS VARCHAR) WHERE {flt('p')}",
             f"SELECT sr.patid, 1 AS rank, 'Practitioner' AS kind, pr.id, pr.resource FROM ({fhir.staff_referenced(flt)}) sr "
             f"JOIN ({fhir.practitioner()}) pr ON pr.id = CAST(sr.staffid AS VARCHAR)",
             # the roles Encounter.participant names (each staff member's PractitionerRole has their staffid)
             f"SELECT sr.patid, 2 AS rank, 'PractitionerRole' AS kind, pr.id, pr.resource FROM ({fhir.staff_referenced(flt)}) sr "
             f"JOIN ({fhir.practitioner_role()}) pr ON pr.id = CAST(sr.staffid AS VARCHAR)"]
    for rank, kind in enumerate(fhir.PATIENT_TYPES, start=3):
        parts.append(f"SELECT patid, {rank} AS rank, '{kind}' AS kind, id, resource FROM ({fhir.QUERIES[kind](flt)})")
    return "\nUNION ALL\n".join(parts)


def full_url(kind: str, rid: str) -> str:
    """SQL for an entry's fullUrl: urn:uuid: and a UUID made from the resource's type and id (the same
    resource has the same fullUrl in every bundle and every run; 45 characters, as loaders keying on it
    allow)."""
    h = f"md5({kind} || '/' || {rid})"
    return (f"'urn:uuid:' || substr({h}, 1, 8) || '-' || substr({h}, 9, 4) || '-3' || substr({h}, 14, 3) || '-' || "
            f"substr('89ab', ascii(substr({h}, 17, 1)) % 4 + 1, 1) || substr({h}, 18, 3) || '-' || "
            f"substr({h}, 21, 12)")


def bundle_sql(source: str) -> str:
    """SQL for (patid, bundle JSON), one transaction Bundle per patient, from rows of `entries()`."""
    return f"""
SELECT patid,
  '{{"resourceType":"Bundle","id":"patient-' || patid || '","type":"transaction","entry":[' ||
  string_agg('{{"fullUrl":"' || {full_url("kind", "id")} || '","resource":' || resource ||
             ',"request":{{"method":"PUT","url":"' || kind || '/' || id || '"}}}}', ',' ORDER BY rank, id) || ']}}' AS bundle
FROM ({source}) GROUP BY patid ORDER BY patid"""


def write_bundles(con: duckdb.DuckDBPyConnection, out: Path, sc: object = None, progress: bool | None = None) -> None:
    """Each resource query runs once over everyone, staged as Parquet split into buckets of about
    BUNDLE_BATCH patients; the bundles are then assembled a bucket at a time, so memory stays flat."""
    from tqdm import tqdm

    progress = sys.stderr.isatty() if progress is None else progress
    folder = Path(out) / BUNDLE_SUBDIR
    stage = Path(out) / f".{BUNDLE_SUBDIR}-stage"
    folder.mkdir(parents=True, exist_ok=True)
    n = con.execute("SELECT count(*) FROM patient").fetchall()[0][0]
    k = max(1, -(-n // BUNDLE_BATCH))
    try:
        con.execute(f"COPY (SELECT *, (patid // {PATID_MULT}) % {k} AS bucket FROM ({entries()})) TO '{stage.as_posix()}' "
                    "(FORMAT parquet, PARTITION_BY (bucket), COMPRESSION lz4)")
        pracs = dict(con.execute("SELECT patid, pracid FROM patient").fetchall())
        with tqdm(total=n, unit="patient", desc="FHIR bundles", disable=not progress, file=sys.stderr) as bar:
            for b in range(k):
                part = stage / f"bucket={b}"
                if not part.exists():
                    continue
                rows = con.execute(bundle_sql(f"SELECT * FROM read_parquet('{part.as_posix()}/*.parquet')")).fetchall()
                for patid, text in rows:
                    d = folder / str(pracs[patid])
                    d.mkdir(exist_ok=True)
                    (d / f"{patid}.json").write_text(text)
                bar.update(len(rows))
    finally:
        shutil.rmtree(stage, ignore_errors=True)

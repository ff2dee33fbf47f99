"""Clinical codes by name. Every SNOMED CT concept synthgp writes is a row of data/codes.csv with a
`key`; code asks for it by that key and never types an id. Medicines (dm+d, prodcodeid) are named the
same way in data/medicines.toml.

    codes.medcode("bp_systolic")        # the record's medcodeid
    codes.snomed("bp_systolic")         # its SNOMED CT concept id, an int
    codes.sql("bp_systolic", "abpm_systolic", "hbpm_systolic")   # the three ids as "a, b, c", for IN (...)
    codes.sql_case("sct", {"never_smoked": 0, "ex_smoker": 1})    # "CASE sct WHEN <id> THEN 0 WHEN <id> THEN 1 END"

(The examples name no ids on purpose: tests/core/test_codes.py fails on any id typed into the package.)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from synthgp.core import reference


@dataclass(frozen=True)
class Code:
    key: str
    medcodeid: int
    snomed: int | None  # None where no SNOMED CT id could be confirmed (status "unresolved")
    term: str
    cluster: str
    status: str


@cache
def table() -> dict[str, Code]:
    """Every code by key, in the order of data/codes.csv."""
    out: dict[str, Code] = {}
    for r in reference.csv_rows("codes.csv"):
        sct = int(r["snomedctconceptid"]) if r["snomedctconceptid"] else None
        out[r["key"]] = Code(r["key"], int(r["medcodeid"]), sct, r["term"], r["cluster"], r["status"])
    return out


def get(key: str) -> Code:
    """The row named `key` (KeyError naming the key if codes.csv has none)."""
    try:
        return table()[key]
    except KeyError:
        raise KeyError(f"no code named {key!r} in data/codes.csv") from None


def medcode(key: str) -> int:
    """The medcodeid the record carries for the code named `key`."""
    return get(key).medcodeid


def snomed(key: str) -> int:
    """The SNOMED CT concept id of the code named `key` (KeyError if it has none)."""
    sct = get(key).snomed
    if sct is None:
        raise KeyError(f"code {key!r} has no confirmed SNOMED CT id (status {get(key).status})")
    return sct


def in_cluster(cluster: str) -> list[Code]:
    """Every code of `cluster` (codes.csv's cluster column, e.g. "HYP"), in file order."""
    return [c for c in table().values() if c.cluster == cluster]


def sql(*keys: str) -> str:
    """SNOMED CT ids of `keys` as a SQL list body, for `snomedctconceptid IN (...)`."""
    return ", ".join(str(snomed(k)) for k in keys)


def sql_case(column: str, values: dict[str, object]) -> str:
    """A SQL CASE mapping the SNOMED CT id in `column` to a value per code key, NULL for any other id:
    sql_case("sct", {"never_smoked": 0, "ex_smoker": 1}) -> "CASE sct WHEN <id> THEN 0 WHEN <id> THEN 1 END".
    Values are written as SQL literals: numbers as they are, strings quoted."""
    def lit(v: object) -> str:
        return "'" + v.replace("'", "''") + "'" if isinstance(v, str) else str(v)
    whens = " ".join(f"WHEN {snomed(k)} THEN {lit(v)}" for k, v in values.items())
    return f"CASE {column} {whens} END"

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

# synthgp's own medcodeids and prodcodeids (where no public CPRD list gives the real one): RESERVED_BASE + 1000 n + 999.
# They end in partition identifier 99, which no SNOMED CT identifier (and so no EMIS id built on one) can have.
RESERVED_BASE = 9_000_000_000_000_000_000
RESERVED_PARTITION = 99


@dataclass(frozen=True)
class Code:
    key: str
    medcodeid: int
    snomed: int | None  # None where no SNOMED CT id is given (status "unresolved")
    term: str
    cluster: str
    status: str
    source: str = ""  # the public list that shows the SNOMED CT id with this meaning (repo:path)
    medcode_source: str = ""  # the public CPRD Aurum list that gives the medcodeid; empty for a reserved one
    medcode_term: str = ""  # that list's term for the medcodeid, where it differs from `term`
    description_id: int | None = None  # MedicalDictionary.snomedctdescriptionid
    original_read: str = ""  # MedicalDictionary.originalreadcode
    cleansed_read: str = ""  # MedicalDictionary.cleansedreadcode
    emis_category: int | None = None  # MedicalDictionary.emiscodecategoryid


def _int(text: str | None) -> int | None:
    return int(text) if text else None


@cache
def table() -> dict[str, Code]:
    """Every code by key, in the order of data/codes.csv."""
    out: dict[str, Code] = {}
    for r in reference.csv_rows("codes.csv"):
        out[r["key"]] = Code(
            r["key"], int(r["medcodeid"]), _int(r["snomedctconceptid"]), r["term"], r["cluster"], r["status"],
            r.get("source") or "", r.get("medcode_source") or "", r.get("medcode_term") or "",
            _int(r.get("snomedctdescriptionid")), r.get("originalreadcode") or "", r.get("cleansedreadcode") or "",
            _int(r.get("emiscodecategoryid")))
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


# ---------------------------------------------------------------- identifier structure

_D = ((0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5), (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
      (3, 4, 0, 1, 2, 8, 9, 5, 6, 7), (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
      (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3), (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
      (9, 8, 7, 6, 5, 4, 3, 2, 1, 0))
_P = ((0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4), (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
      (8, 9, 1, 6, 0, 4, 3, 5, 2, 7), (9, 4, 5, 3, 1, 2, 6, 8, 7, 0), (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
      (2, 7, 9, 3, 8, 0, 6, 4, 1, 5), (7, 0, 4, 6, 9, 1, 3, 2, 5, 8))


def verhoeff_ok(identifier: int) -> bool:
    """True if the last digit of `identifier` is its Verhoeff check digit, as in every SNOMED CT identifier."""
    c = 0
    for i, digit in enumerate(reversed(str(identifier))):
        c = _D[c][_P[i % 8][int(digit)]]
    return c == 0


def partition(identifier: int) -> int:
    """The SNOMED CT partition identifier: the two digits before the check digit (01 and 11 are descriptions)."""
    return identifier // 10 % 100


def reserved(n: int) -> int:
    """synthgp's n-th own id (n >= 1), in the range no real medcodeid or prodcodeid can take."""
    if not 1 <= n < 10**14:  # so that every id fits a signed 64-bit integer
        raise ValueError(f"reserved id number {n} out of range")
    return RESERVED_BASE + 1000 * n + 10 * RESERVED_PARTITION + 9


def is_reserved(identifier: int) -> bool:
    """True for an id of synthgp's reserved range (never a real EMIS or SNOMED CT id)."""
    return identifier >= RESERVED_BASE and identifier % 1000 == 10 * RESERVED_PARTITION + 9

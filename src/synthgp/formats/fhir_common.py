"""Helpers the FHIR resource queries share (fhir_resources.py): SQL literals, the packaged mapping
(data/fhir.toml), and the SQL of FHIR datatypes (Reference, CodeableConcept, Quantity, instant)."""

from __future__ import annotations

from functools import cache
from typing import Callable

from synthgp.core import reference

# a filter on a table alias, e.g. lambda a: f"{a}.patid IN (SELECT patid FROM sel)"
Filter = Callable[[str], str]


def everyone(alias: str) -> str:
    """The filter that keeps every row."""
    return "TRUE"


def q(text: str) -> str:
    """A SQL string literal (for the packaged mapping's own constants, never user input)."""
    return "'" + str(text).replace("'", "''") + "'"


@cache
def mapping() -> dict:
    return reference.toml("fhir.toml")


def profile(name: str) -> str:
    return mapping()["profile_base"] + f"UKCore-{name}"


def type_profile(kind: str) -> str:
    """The UK Core profile the resources of a type claim (DiagnosticReport: the lab report's)."""
    return profile(mapping()["diagnostic_report"]["profile"] if kind == "DiagnosticReport" else kind)


def _sys(key: str) -> str:
    return q(mapping()["system"][key])


def _meta(name: str) -> str:
    return f"{{'profile': [{q(profile(name))}]}}"


def _ref(kind: str, col: str) -> str:
    """A Reference, or NULL when the id column is NULL."""
    return f"CASE WHEN {col} IS NOT NULL THEN {{'reference': '{kind}/' || CAST({col} AS VARCHAR)}} END"


def _nonempty(expr: str) -> str:
    """A list without its NULL elements, or NULL when none are left (FHIR forbids empty arrays)."""
    return (f"CASE WHEN len(list_filter({expr}, lambda x: x IS NOT NULL)) > 0 "
            f"THEN list_filter({expr}, lambda x: x IS NOT NULL) END")


def _case(col: str, table: dict, cast: str = "") -> str:
    whens = " ".join(f"WHEN {k if cast else q(k)} THEN {q(v)}" for k, v in table.items())
    return f"CASE {col}{cast} {whens} END"


def _concept(sct: str, term: str, extra: str = "", text: str | None = None) -> str:
    """CodeableConcept of a record code: SNOMED CT coding when the code has a concept id, text always
    (the term, or `text` where a profile fixes it)."""
    coding = f"{{'system': {_sys('snomed')}, 'code': CAST({sct} AS VARCHAR), 'display': {term}}}"
    codings = f"[{coding}{', ' + extra if extra else ''}]"
    return f"{{'coding': CASE WHEN {sct} IS NOT NULL THEN {codings} END, 'text': {text or term}}}"


def _quantity(value: str, unit: str, unit_text: str | None = None) -> str:
    """A Quantity with the UCUM code of the record's unit; `unit_text` where a profile fixes the unit's text."""
    ucum = _case(unit, mapping()["ucum"])
    return (f"CASE WHEN {value} IS NOT NULL THEN {{'value': {value}, 'unit': {unit_text or unit}, "
            f"'system': CASE WHEN {ucum} IS NOT NULL THEN {_sys('ucum')} END, 'code': {ucum}}} END")


def _instant(day: str) -> str:
    """A FHIR instant for a record date (the record keeps no time: midnight UTC), NULL for NULL."""
    return f"strftime({day}, '%Y-%m-%dT00:00:00Z')"


def _json(struct: str) -> str:
    return f"json_strip_nulls(to_json({struct}))::VARCHAR AS resource"


def _coding(c: dict, system: str | None = None) -> str:
    """A Coding of a mapping entry {system?, code, display}."""
    return f"{{'system': {q(system or c['system'])}, 'code': {q(c['code'])}, 'display': {q(c['display'])}}}"


def _not_condition() -> str:
    return "(" + ", ".join(q(c) for c in mapping()["cluster"]["not_condition"]) + ")"

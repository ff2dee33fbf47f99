"""Blood-test figures of a generated practice, for `synthgp calibrate`: anaemia prevalence from the truth by sex
and age band, glycaemic control and non-diabetic hyperglycaemia from recorded HbA1c, and the rates of blood tests
among people with long-term conditions. Reads only the output's DuckDB file."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from synthgp.core import codes
from synthgp.evaluate.sampling import Share

ANAEMIA_BANDS = (("women 18-49", 2, 18, 50), ("men 65-74", 1, 65, 75), ("women 65-74", 2, 65, 75),
                 ("men 85+", 1, 85, 200), ("women 85+", 2, 85, 200))  # (part, gender, from age, below age)
LTC_PANELS = {"ue": "ue_panel", "lft": "lft_panel", "fbc": "fbc_panel"}  # figure part -> codes.csv key
LTC_YEARS = 5  # the window of the test-rate figure, ending at the study's end (the published study: 5 years)
PANDEMIC = dt.date(2020, 3, 1)  # the published window (June 2013 - May 2018) is before it: so is ours, where the study allows


def _has(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [table]).fetchone()[0])


def _age(day: str) -> str:
    return (f"(date_diff('year', t.date_of_birth, DATE '{day}') - "
            f"(strftime(t.date_of_birth, '%m%d') > strftime(DATE '{day}', '%m%d'))::INT)")


def anaemia_prevalence(con: duckdb.DuckDBPyConnection, end: dt.date) -> dict[str, float]:
    """Share anaemic (lab_truth) on 1 July of the last whole calendar year, of the regular patients registered and
    alive that day, by sex and age band (ANAEMIA_BANDS)."""
    year = end.year if (end.month, end.day) == (12, 31) else end.year - 1
    d = f"{year}-07-01"
    rows = con.execute(f"""
        WITH reg AS (SELECT p.patid, p.gender, {_age(d)} AS a FROM patient p JOIN person_truth t USING (patid)
                     WHERE p.patienttypeid = 3 AND p.regstartdate <= DATE '{d}'
                       AND coalesce(p.regenddate, p.cprd_ddate, DATE '9999-12-31') > DATE '{d}'
                       AND coalesce(p.cprd_ddate, DATE '9999-12-31') > DATE '{d}'),
             an AS (SELECT DISTINCT patid FROM lab_truth WHERE condition LIKE 'anaemia%'
                    AND start <= DATE '{d}' AND "end" >= DATE '{d}')
        SELECT gender, a, count(*), count(an.patid) FROM reg LEFT JOIN an USING (patid) WHERE a >= 18 GROUP BY 1, 2""").fetchall()
    out = {}
    for part, sex, lo, hi in ANAEMIA_BANDS:
        n = sum(c for g, a, c, _ in rows if g == sex and lo <= a < hi)
        k = sum(x for g, a, _, x in rows if g == sex and lo <= a < hi)
        if n:
            out[part] = Share(k / n, n)
    return out


def hba1c_figures(con: duckdb.DuckDBPyConnection, end: dt.date) -> dict[str, float]:
    """Of the diabetes register on the end date with an HbA1c in the last 15 months, the share whose latest is
    58 mmol/mol or less; of adults never coded with diabetes with an HbA1c in the last 3 years, the share whose
    latest is 42-47 (non-diabetic hyperglycaemia)."""
    d = end.isoformat()
    hba1c = codes.medcode("hba1c")
    base = f"""
        WITH cur AS (SELECT p.patid, {_age(d)} AS a FROM patient p JOIN person_truth t USING (patid)
                     WHERE p.regenddate IS NULL AND p.cprd_ddate IS NULL AND p.patienttypeid = 3),
             dm AS (SELECT DISTINCT o.patid FROM observation o JOIN medical_dictionary m USING (medcodeid) WHERE m.cluster = 'DM'),
             last AS (SELECT patid, obsdate, value, row_number() OVER (PARTITION BY patid ORDER BY obsdate DESC, obsid DESC) AS rn
                      FROM observation WHERE medcodeid = {hba1c} AND obsdate <= DATE '{d}')"""
    out: dict[str, float] = {}
    ctl = con.execute(f"""{base} SELECT avg((l.value <= 58)::INT) FROM cur JOIN dm USING (patid) JOIN last l USING (patid)
                          WHERE l.rn = 1 AND l.obsdate > DATE '{d}' - INTERVAL 15 MONTH""").fetchone()[0]
    ndh = con.execute(f"""{base} SELECT avg((l.value BETWEEN 42 AND 47)::INT) FROM cur JOIN last l USING (patid)
                          WHERE cur.a >= 18 AND cur.patid NOT IN (SELECT patid FROM dm) AND l.rn = 1
                            AND l.obsdate > DATE '{d}' - INTERVAL 3 YEAR""").fetchone()[0]
    if ctl is not None:
        out["hba1c_controlled_diabetes"] = ctl
    if ndh is not None:
        out["hba1c_ndh_of_tested"] = ndh
    return out


def ltc_test_rates(con: duckdb.DuckDBPyConnection, end: dt.date) -> dict[str, float]:
    """Panels (their headers) per 1,000 person-years in the last LTC_YEARS years among people diagnosed with
    hypertension, type 2 diabetes or CKD, counted from their diagnosis (or the window's start) while registered."""
    w0 = (end - dt.timedelta(days=round(LTC_YEARS * 365.25) - 1)).isoformat()
    d = end.isoformat()
    heads = ", ".join(str(codes.medcode(k)) for k in LTC_PANELS.values())
    rows = con.execute(f"""
        WITH dx AS (SELECT o.patid, min(o.obsdate) AS first FROM observation o JOIN medical_dictionary m USING (medcodeid)
                    WHERE m.cluster IN ('HYP', 'DM', 'CKD') GROUP BY 1),
             span AS (SELECT p.patid, greatest(p.regstartdate, dx.first, DATE '{w0}') AS a,
                             least(coalesce(p.regenddate, DATE '{d}'), coalesce(p.cprd_ddate, DATE '{d}'), DATE '{d}') AS b
                      FROM patient p JOIN dx USING (patid)),
             py AS (SELECT sum(greatest(date_diff('day', a, b) + 1, 0)) / 365.25 AS years FROM span)
        SELECT o.medcodeid, count(*), any_value(py.years) FROM observation o JOIN span s USING (patid), py
        WHERE o.medcodeid IN ({heads}) AND o.obsdate BETWEEN s.a AND s.b GROUP BY 1""").fetchall()
    got = {m: (n, y) for m, n, y in rows}
    years = next(iter(got.values()))[1] if got else None
    if not years:
        return {}
    return {part: 1000 * got.get(codes.medcode(k), (0, years))[0] / years for part, k in LTC_PANELS.items()}


def measure(con: duckdb.DuckDBPyConnection, end: dt.date, start: dt.date | None = None) -> dict[str, Any]:
    """The blood-test figures of calibration.toml (keys as its ids). The test rates' window ends before the
    pandemic when the study (from `start`) holds five years before it, as the published one did."""
    if not _has(con, "lab_truth"):
        return {}
    out: dict[str, Any] = {"anaemia_prevalence": anaemia_prevalence(con, end)}
    out.update(hba1c_figures(con, end))
    before = PANDEMIC - dt.timedelta(days=1)  # the pandemic postponed routine reviews and their bloods (covid.toml)
    held = start is not None and start <= before - dt.timedelta(days=round(LTC_YEARS * 365.25) - 1) and end > before
    rates = ltc_test_rates(con, before if held else end)
    if rates:
        out["ltc_blood_tests_per_1000py"] = rates
    return out

"""Each calibration figure (data/calibration.toml) beside the generated practice's own.

Reads only the output's DuckDB file, never the simulation engine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from synthgp.core import codes, reference
from synthgp.evaluate import care_gaps, childhood, consultations, covid, flu, labs, prevention, qof, registers, sampling
from synthgp.evaluate.sampling import share

AGE_BANDS = ("0-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80+")
BROAD = ("Asian", "Black", "Mixed", "Other", "White")
SYSTOLIC = codes.sql("bp_systolic", "abpm_systolic", "hbpm_systolic")  # the parent of each BP pair
CKD_STAGE5 = codes.snomed("ckd_stage5")


@dataclass(frozen=True)
class Row:
    id: str
    what: str
    part: str  # band or level, "" for a single figure
    target: float | tuple[float, float]
    generated: float
    tolerance: float | None
    role: str
    source: str
    relative: bool = False
    n: int | None = None  # people the generated share was measured over, where it is a share
    per: float = 1.0  # the share's scale: 100,000 for a share of people given per 100,000
    per_years: tuple[float, float] | None = None  # a rate's (person-years, per): its margin is Poisson's

    @property
    def passed(self) -> bool:
        """Within the figure's tolerance (or range)."""
        return self._within(0.0)

    @property
    def noise(self) -> float:
        """The 95% sampling margin of the generated share (or rate) at this run's size (0 when neither)."""
        if self.per_years is not None:
            return sampling.rate_margin(sum(self.target) / 2 if isinstance(self.target, tuple) else self.target,
                                        *self.per_years)
        if self.n is None:
            return 0.0
        t = self.target
        return self.per * sampling.margin((sum(t) / 2 if isinstance(t, tuple) else t) / self.per, self.n)

    @property
    def status(self) -> str:
        """`pass` within tolerance; `noise` outside it but within the tolerance widened by the run's sampling
        margin (the run is too small to tell); `FAIL` otherwise."""
        if self.passed:
            return "pass"
        return "noise" if self._within(self.noise) else "FAIL"

    def _within(self, extra: float) -> bool:
        if isinstance(self.target, tuple):
            return self.target[0] - extra <= self.generated <= self.target[1] + extra
        if self.relative:
            return abs(self.generated - self.target) <= (self.tolerance or 0) * self.target + extra
        return abs(self.generated - self.target) <= (self.tolerance or 0) + extra


def _resolve(input_ref: str) -> Any:
    file, key = input_ref.split(":")
    node: Any = reference.toml(file)
    for part in key.split("."):
        node = node[part]
    return node


def _target(f: dict) -> Any:
    """A figure's published value: its `value`, or the data-file entry its `input` names. A figure of one
    season (`season = Y`) takes the element for Y of an input listed by season (the list beside the
    table's own `season` list, as flu.toml's uptake tables are)."""
    if "input" not in f:
        return f["value"]
    target = _resolve(f["input"])
    if "season" in f:
        file, key = f["input"].split(":")
        seasons = _resolve(f"{file}:{key.rsplit('.', 1)[0]}.season")
        target = target[seasons.index(f["season"])]
    return target


def _flu_seasons() -> set[int]:
    """The seasons calibration.toml asks a flu coverage figure of."""
    return {f["season"] for f in reference.toml("calibration.toml")["figure"] if f["id"] == "flu_coverage_65_plus"}


def _flu(con: duckdb.DuckDBPyConnection, end: dt.date, years: float) -> dict[str, Any]:
    """65+ flu vaccination coverage by season (evaluate/flu.py's definition, from the record alone), pooled
    over practices, for the seasons the figures ask of that lie within the study and ended by its end."""
    start = end - dt.timedelta(days=round(years * 365.25) - 1)
    got = {}
    for season in sorted(_flu_seasons()):
        rows = con.execute(flu.coverage_sql(season)).fetchall()
        cohort, vaccinated = sum(r[4] for r in rows), sum(r[5] for r in rows)
        over = dt.date(season + 1, 3, 1) - dt.timedelta(days=1) <= end and all(r[3] for r in rows)
        if dt.date(season, 9, 1) >= start and over and cohort:
            got[season] = vaccinated / cohort
    return {"flu_coverage_65_plus": got} if got else {}


def _current(end: dt.date) -> str:
    """Patients on the list at the end date (regular, not deregistered, alive)."""
    return ("FROM patient p JOIN person_truth t USING (patid) "
            "WHERE p.regenddate IS NULL AND p.cprd_ddate IS NULL AND p.patienttypeid = 3")


def measure(con: duckdb.DuckDBPyConnection, end: dt.date, years: float) -> dict[str, Any]:
    """The generated figures, keyed like calibration.toml ids."""
    q = lambda sql, *a: con.execute(sql, list(a)).fetchall()  # noqa: E731
    cur = _current(end)
    age = "(date_diff('year', t.date_of_birth, ?::DATE) - (strftime(t.date_of_birth, '%m%d') > strftime(?::DATE, '%m%d'))::INT)"
    band_sql = ("CASE WHEN a < 20 THEN 0 WHEN a < 30 THEN 1 WHEN a < 40 THEN 2 WHEN a < 50 THEN 3 "
                "WHEN a < 60 THEN 4 WHEN a < 70 THEN 5 WHEN a < 80 THEN 6 ELSE 7 END")
    rows = q(f"SELECT {band_sql} b, count(*) FROM (SELECT {age} a {cur}) GROUP BY 1", end, end)
    n = sum(c for _, c in rows)
    bands = [0.0] * len(AGE_BANDS)
    for b, c in rows:
        bands[b] = c / n
    out: dict[str, Any] = {"age_band_share": bands, "list_total": n}
    out["aged_65_plus_share"] = q(f"SELECT avg(({age} >= 65)::INT) {cur}", end, end)[0][0]
    out["adult_male_share"] = q(f"SELECT avg((p.gender = 1)::INT) {cur} AND {age} >= 18", end, end)[0][0]
    # the record counts quintiles as CPRD does (1 least deprived); the published shares start at the most deprived
    imd = dict(q(f"SELECT 6 - d.e2019_imd_5, count(*) {cur.replace('WHERE', 'JOIN patient_deprivation d USING (patid) WHERE')} GROUP BY 1"))
    out["imd_quintile_share"] = [imd.get(k, 0) / n for k in range(1, 6)]
    eth = dict(q(f"SELECT t.ethnicity_broad, count(*) {cur} GROUP BY 1"))
    out["ethnicity_broad_share"] = {k: eth.get(k, 0) / n for k in BROAD}
    out["white_share"] = out["ethnicity_broad_share"]["White"]
    out["ethnicity_unrecorded"] = q(
        "SELECT 1 - (SELECT count(DISTINCT o.patid) FROM observation o JOIN medical_dictionary m USING (medcodeid) "
        "WHERE m.term LIKE '%ethnic category%') / count(*) FROM patient")[0][0]
    out.update(_hypertension(con, end))
    out.update(_flu(con, end, years))
    out.update(covid.measure(con, end - dt.timedelta(days=round(years * 365.25) - 1), end))
    out.update(childhood.measure(con, end - dt.timedelta(days=round(years * 365.25) - 1), end))
    out.update(consultations.measure(con, end - dt.timedelta(days=round(years * 365.25) - 1), end))
    out.update(prevention.measure(con, end - dt.timedelta(days=round(years * 365.25) - 1), end))
    out.update(care_gaps.accelerated_incidence(con, end - dt.timedelta(days=round(years * 365.25) - 1), end))
    if con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'hypertension_truth'").fetchone()[0]:
        out.update(registers.measure(con))
    out.update(labs.measure(con, end, end - dt.timedelta(days=round(years * 365.25) - 1)))  # blood tests (evaluate/labs.py)
    deaths = q("SELECT count(*) FROM patient WHERE cprd_ddate IS NOT NULL")[0][0]
    out["crude_death_rate"] = 1000 * deaths / years / n
    return out


def _hypertension(con: duckdb.DuckDBPyConnection, end: dt.date) -> dict[str, Any]:
    """QOF-style figures computed from the record itself, and the undiagnosed share from the truth."""
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'hypertension_truth'").fetchone()[0]:
        return {}
    con.execute("SET VARIABLE end_date = ?::DATE", [end])
    q = lambda sql: con.execute(sql).fetchall()  # noqa: E731
    base = f"""
        WITH cur AS (SELECT p.patid, {_AGE} AS age FROM patient p JOIN person_truth t USING (patid)
                     WHERE p.regenddate IS NULL AND p.cprd_ddate IS NULL AND p.patienttypeid = 3),
        reg AS (SELECT DISTINCT o.patid FROM observation o JOIN medical_dictionary m USING (medcodeid) WHERE m.cluster = 'HYP'),
        bp AS (SELECT o.patid, o.obsdate, o.value AS sbp, d.value AS dbp,
                      row_number() OVER (PARTITION BY o.patid ORDER BY o.obsdate DESC, o.obsid DESC) AS rn
               FROM observation o JOIN observation d ON d.parentobsid = o.obsid AND d.patid = o.patid
               JOIN medical_dictionary m ON m.medcodeid = o.medcodeid
               WHERE m.snomedctconceptid IN ({SYSTOLIC})
                 AND o.obsdate > getvariable('end_date') - INTERVAL 12 MONTH AND o.obsdate <= getvariable('end_date'))"""
    out: dict[str, Any] = {}
    out["hypertension_register"] = share(*q(f"{base} SELECT avg((patid IN (SELECT patid FROM reg))::INT), count(*) FROM cur")[0])
    bands = q(f"""{base} SELECT CASE WHEN age < 30 THEN 0 WHEN age < 40 THEN 1 WHEN age < 50 THEN 2 WHEN age < 60 THEN 3
                                     WHEN age < 70 THEN 4 WHEN age < 80 THEN 5 ELSE 6 END AS b,
                              avg((patid IN (SELECT patid FROM reg))::INT), count(*)
                       FROM cur WHERE age >= 20 GROUP BY 1 ORDER BY 1""")
    out["register_by_age"] = [share(v, n) for _, v, n in bands]
    ctl = {k: share(v, n) for k, v, n in q(f"""{base} SELECT cur.age >= 80, avg(CASE WHEN bp.sbp IS NULL THEN 0
                         WHEN cur.age >= 80 THEN (bp.sbp <= 150 AND bp.dbp <= 90)::INT
                         ELSE (bp.sbp <= 140 AND bp.dbp <= 90)::INT END), count(*)
                     FROM cur JOIN reg USING (patid) LEFT JOIN bp ON bp.patid = cur.patid AND bp.rn = 1 GROUP BY 1""")}
    out["controlled_under80"] = ctl.get(False, float("nan"))
    out["controlled_80_plus"] = ctl.get(True, float("nan"))
    young = dict(q(f"""{base} SELECT cur.age < 50, avg(CASE WHEN bp.sbp IS NULL THEN 0
                         WHEN cur.age >= 80 THEN (bp.sbp <= 150 AND bp.dbp <= 90)::INT
                         ELSE (bp.sbp <= 140 AND bp.dbp <= 90)::INT END)
                     FROM cur JOIN reg USING (patid) LEFT JOIN bp ON bp.patid = cur.patid AND bp.rn = 1
                     WHERE cur.age >= 18 GROUP BY 1"""))
    if 0 < young.get(True, 0) < 1 and 0 < young.get(False, 0) < 1:  # odds of control, under 50 against 50+
        out["control_odds_under50"] = young[True] / (1 - young[True]) / (young[False] / (1 - young[False]))
    truth = q(f"""{base}, mi AS (SELECT o.patid, min(o.obsdate) AS d FROM observation o JOIN medical_dictionary m USING (medcodeid)
                                WHERE m.cluster = 'MI' GROUP BY 1),
                  own AS (SELECT o.patid, m.cluster, min(o.obsdate) AS d FROM observation o JOIN medical_dictionary m
                          USING (medcodeid) WHERE m.cluster IN ('CHD', 'HF', 'AF') GROUP BY ALL),
                  treated AS (SELECT DISTINCT i.patid FROM drug_issue i JOIN {qof.classes_sql()} USING (prodcodeid)
                              LEFT JOIN mi USING (patid) WHERE (mi.d IS NULL OR i.issuedate < mi.d)
                                AND NOT (cls.subclass = 'beta-blocker' AND EXISTS (SELECT 1 FROM own x WHERE x.patid = i.patid
                                         AND x.d <= i.issuedate))
                                AND NOT (cls.class = 'A' AND EXISTS (SELECT 1 FROM own x WHERE x.patid = i.patid
                                         AND x.cluster = 'HF' AND x.d <= i.issuedate)))
                                       -- antihypertensives (not statins, antiplatelets or anticoagulants), not an
                                       -- ACE inhibitor or beta-blocker begun as care after an MI (NICE CG172), nor a
                                       -- beta-blocker after angina, heart failure or AF, nor an ACE inhibitor in heart
                                       -- failure (their own indications, as the NG136 audit leaves them out)
                  SELECT avg((h.diagnosed_date IS NULL)::INT), count(*) FROM cur JOIN hypertension_truth h USING (patid)
                  WHERE cur.age >= 18 AND (h.hypertensive_at_end = 1 OR cur.patid IN (SELECT patid FROM treated))""")
    out["undiagnosed_share"] = share(*truth[0])
    out["antihypertensive_two_plus"] = share(*q(f"""{base}, k AS (SELECT i.patid, count(DISTINCT cls.class) AS n FROM drug_issue i
                  JOIN {qof.classes_sql()} USING (prodcodeid)
                  WHERE i.issuedate > getvariable('end_date') - INTERVAL 6 MONTH AND i.issuedate <= getvariable('end_date')
                  GROUP BY 1)
        SELECT avg((k.n >= 2)::INT), count(*) FROM cur JOIN k USING (patid) WHERE cur.age >= 18""")[0])
    adults = q(f"{base} SELECT count(*) FROM cur WHERE age >= 18")[0][0]
    out["true_hypertension_adults"] = truth[0][1] / adults
    out["diabetes_register"] = share(*q(f"""{base}, dm AS (SELECT DISTINCT o.patid FROM observation o JOIN medical_dictionary m USING (medcodeid) WHERE m.cluster = 'DM')
        SELECT avg((patid IN (SELECT patid FROM dm))::INT), count(*) FROM cur WHERE age >= 17""")[0])
    ckd, s5, n = q(f"""{base},
        ckd AS (SELECT o.patid, max(m.snomedctconceptid = {CKD_STAGE5}) AS s5 FROM observation o
                JOIN medical_dictionary m USING (medcodeid) WHERE m.cluster = 'CKD' GROUP BY 1)
        SELECT avg((ckd.patid IS NOT NULL)::INT), avg(coalesce(ckd.s5, false)::INT), count(*)
        FROM cur LEFT JOIN ckd USING (patid) WHERE cur.age >= 18""")[0]
    out["ckd_register"], out["ckd_stage5_adults"] = share(ckd, n), share(s5, n)
    smokers, obese, n = q(f"""{base} SELECT avg((r.smoking IN ('light', 'moderate', 'heavy'))::INT),
               avg((r.bmi_at_end >= 30)::INT), count(*) FROM cur JOIN risk_factor_truth r USING (patid) WHERE cur.age >= 18""")[0]
    out["current_smokers"], out["obesity"] = share(smokers, n), share(obese, n)
    return out


_AGE = ("(date_diff('year', t.date_of_birth, getvariable('end_date')) - "
        "(strftime(t.date_of_birth, '%m%d') > strftime(getvariable('end_date'), '%m%d'))::INT)")


def compare(db_path: Path, region: str, end: dt.date, years: float) -> list[Row]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        got = measure(con, end, years)
    finally:
        con.close()
    rows: list[Row] = []
    for f in reference.toml("calibration.toml")["figure"]:
        if f.get("region") not in (None, region):
            continue
        target = _target(f)
        if f["id"] not in got:
            continue
        g = got[f["id"]]
        if "season" in f:  # a figure of one season: skipped when the study does not hold that season whole
            if f["season"] not in g:
                continue
            g = g[f["season"]]
        rel = "relative_tolerance" in f
        common = dict(id=f["id"], what=f["what"], tolerance=f.get("relative_tolerance", f.get("tolerance")),
                      role=f["role"], source=f["source"], relative=rel)
        if "season" in f:
            rows.append(Row(part=flu.season_label(f["season"]), target=target, generated=g, n=_n(g), per=_per(g), **common))
        elif isinstance(target, list) and len(target) == 2 and not isinstance(g, list):
            rows.append(Row(part="", target=(target[0], target[1]), generated=g, n=_n(g), per=_per(g), **common))
        elif isinstance(target, list):
            parts = {"age_band_share": AGE_BANDS, "register_by_age": AGE_BANDS[1:], **consultations.PARTS}.get(
                f["id"], [str(i) for i in range(1, len(target) + 1)])
            rows += [Row(part=p, target=t, generated=v, n=_n(v), **common) for p, t, v in zip(parts, target, g)]
        elif isinstance(target, dict):
            rows += [Row(part=k, target=t, generated=g[k], n=_n(g[k]), per=_per(g[k]), **common) for k, t in target.items() if k in g]
        else:
            rate = (g.years, g.per) if isinstance(g, sampling.Rate) else None
            rows.append(Row(part="", target=target, generated=g, n=_n(g), per=_per(g), per_years=rate, **common))
    return rows


def _n(g: Any) -> int | None:
    """The denominator a generated share carries (evaluate/sampling.Share), or None."""
    return getattr(g, "n", None)


def _per(g: Any) -> float:
    """The scale a generated share carries (100,000 for a rate per 100,000), 1 for a plain share."""
    return getattr(g, "per", 1.0)


def list_size(out: Path) -> int:
    from synthgp.core.output import Output

    with Output.open(out).connect() as con:
        return con.execute("SELECT count(*) FROM patient WHERE regenddate IS NULL AND cprd_ddate IS NULL "
                           "AND patienttypeid = 3").fetchone()[0]


def for_output(out: Path) -> list[Row]:
    from synthgp.core.output import Output

    output = Output.open(out)
    m = output.manifest
    start, end = (dt.date.fromisoformat(m["period"][k]) for k in ("start", "end"))
    return compare(output.db, m["scenario"]["population"]["region"], end,
                   ((end - start).days + 1) / 365.25)


def format_table(rows: list[Row], list_size: int | None = None) -> str:
    def fmt(x: float | tuple[float, float]) -> str:
        if isinstance(x, tuple):
            return f"{_num(x[0])}-{_num(x[1])}"
        return _num(x)

    w = max([7, *(len(r.part) for r in rows)])
    head = (f"{'figure':<24} {'part':<{w}} {'target':>11} {'generated':>10} {'tol':>6} {'noise':>6}  {'role':<11} "
            f"{'ok':<5}")
    lines = [head, "-" * len(head)]
    for r in rows:
        tol = "" if r.tolerance is None else (f"{r.tolerance:.0%}" if r.relative else _num(r.tolerance))
        noise = _num(r.noise) if r.n or r.per_years else ""
        lines.append(f"{r.id:<24} {r.part:<{w}} {fmt(r.target):>11} {_num(r.generated):>10} {tol:>6} {noise:>6}  "
                     f"{r.role:<11} {r.status}")
    counts = {k: sum(r.status == k for r in rows) for k in ("pass", "noise", "FAIL")}
    lines.append(f"\n{counts['pass']} of {len(rows)} within tolerance; {counts['noise']} outside it by less than this "
                 f"run's sampling noise; {counts['FAIL']} failed. calibration = a parameter was fitted to the figure; "
                 "validation = not fitted, so agreement is evidence.")
    if list_size is not None:
        lines.append(f"The list holds {list_size:,} people on the end date. Tolerances are sized for runs of 200,000 "
                     "patients or more. `noise` is the 95% sampling margin of a share at this run's size, "
                     "1.96 sqrt(p(1-p)/n) over the n people it was measured on: a figure outside its tolerance by "
                     "less than that is marked `noise` (the run is too small to tell), not `pass`.")
    return "\n".join(lines)


def _num(x: float) -> str:
    return f"{x:.3f}" if abs(x) < 10 else f"{x:,.1f}"

"""QOF hypertension indicators and recall lists, computed from the record itself (never the truth).

On the practice's last collection date (the study end), among patients registered and alive then:
  register  - a hypertension diagnosis (HYP cluster) ever recorded and not ended;
  HYP008    - register aged under 80 whose last BP in the 12 months up to the date was <= 140/90;
  HYP009    - register aged 80 or over whose last BP in those 12 months was <= 150/90;
  overdue   - register with no BP reading in the last 12 months, less those registered in the 3 months up to the
              date (QOF's new-registration exception, data/audit.toml [qof]);
  uncontrolled_on_three - register whose last BP is above target while issued antihypertensives of
              three or more classes (A, C, D, S) in the last 6 months (class O medicines, such as
              olanzapine or prednisolone, are not antihypertensives and do not count).
Targets and ages follow QOF 2023/24 (HYP008/HYP009) and NICE NG136, from data/ng136.toml's clinic targets. HYP008
and HYP009 leave out of their denominators patients registered in those 3 months who are not already at target
(the exception removes a patient only where the indicator was not met).
"""

from __future__ import annotations

from synthgp.core import reference


def classes_sql() -> str:
    """The antihypertensive products as a SQL table cls(prodcodeid, drug, class, subclass), from
    data/medicines.toml; class O medicines (not antihypertensives) are left out."""
    meds = reference.toml("medicines.toml")
    rows = [f"({lv['prodcodeid']}, '{name}', '{v['class']}', '{v['subclass']}')" for name, v in meds.items()
            if isinstance(v, dict) and v.get("class") in ("A", "C", "D", "S") for lv in v["levels"]]
    return "(VALUES " + ", ".join(rows) + ") AS cls(prodcodeid, drug, class, subclass)"


def targets() -> dict[str, float]:
    """Clinic BP targets by age (data/ng136.toml, NG136 1.4.20-1.4.24; QOF uses the same)."""
    t = reference.toml("ng136.toml")["targets"]
    return {k: float(t[k]) for k in ("under80_sbp", "under80_dbp", "over80_sbp", "over80_dbp")}


def new_registration_months() -> int:
    """QOF's new-registration exception window, in months up to the achievement date (data/audit.toml)."""
    return int(reference.toml("audit.toml")["qof"]["new_registration_months"])


def status_sql(pracid_filter: str = "TRUE") -> str:
    """One row per patient on the hypertension register: age, last BP and its date, classes issued
    in the last 6 months, and flags for each indicator. `pracid_filter` is SQL on alias p."""
    t = targets()
    return f"""
WITH ref AS (SELECT pracid, lcd FROM practice),
reg AS (
  SELECT p.patid, p.pracid, r.lcd, p.regstartdate > r.lcd - INTERVAL {new_registration_months()} MONTH AS new_registrant,
    date_diff('year', i.date_of_birth, r.lcd)
           - CASE WHEN strftime(i.date_of_birth, '%m%d') > strftime(r.lcd, '%m%d') THEN 1 ELSE 0 END AS age
  FROM patient p JOIN patient_identity i USING (patid) JOIN ref r USING (pracid)
  WHERE p.regenddate IS NULL AND p.emis_ddate IS NULL AND {pracid_filter}
    AND p.patid IN (SELECT pr.patid FROM problem pr JOIN observation o ON o.obsid = pr.obsid
                    JOIN medical_dictionary d ON d.medcodeid = o.medcodeid
                    WHERE d.cluster = 'HYP' AND pr.probenddate IS NULL)),
bp AS (
  SELECT s.patid, s.obsdate, s.value AS sbp, d.value AS dbp
  FROM observation s JOIN observation d ON d.parentobsid = s.obsid
  JOIN medical_dictionary m ON m.medcodeid = s.medcodeid
  WHERE m.cluster = 'BP' AND s.patid IN (SELECT patid FROM reg)),
last_bp AS (SELECT patid, max(obsdate) AS bp_date, arg_max(sbp, obsdate) AS sbp, arg_max(dbp, obsdate) AS dbp
            FROM bp GROUP BY patid),
drugs AS (
  SELECT di.patid, count(DISTINCT cls.class) AS classes
  FROM drug_issue di JOIN {classes_sql()} USING (prodcodeid) JOIN reg USING (patid)
  WHERE di.issuedate > reg.lcd - INTERVAL 6 MONTH GROUP BY di.patid)
SELECT reg.patid, reg.pracid, reg.age, reg.new_registrant, lb.bp_date, lb.sbp, lb.dbp, coalesce(dr.classes, 0) AS classes,
  CASE WHEN reg.age < 80 THEN {t['under80_sbp']} ELSE {t['over80_sbp']} END AS target_sbp,
  CASE WHEN reg.age < 80 THEN {t['under80_dbp']} ELSE {t['over80_dbp']} END AS target_dbp,
  lb.bp_date IS NOT NULL AND lb.bp_date > reg.lcd - INTERVAL 12 MONTH AS bp_in_year,
  lb.sbp <= CASE WHEN reg.age < 80 THEN {t['under80_sbp']} ELSE {t['over80_sbp']} END
    AND lb.dbp <= CASE WHEN reg.age < 80 THEN {t['under80_dbp']} ELSE {t['over80_dbp']} END AS at_target
FROM reg LEFT JOIN last_bp lb USING (patid) LEFT JOIN drugs dr USING (patid)"""


def indicators_sql() -> str:
    """Per practice: list size, register, HYP008 and HYP009 numerators and denominators, recall counts."""
    return f"""
WITH s AS (SELECT *, coalesce(bp_in_year AND at_target, false) AS met FROM ({status_sql()})),
list AS (SELECT pracid, count(*) AS list_size FROM patient WHERE regenddate IS NULL AND emis_ddate IS NULL GROUP BY pracid)
SELECT pr.pracid, pr.name, l.list_size, count(s.patid) AS register,
  count(*) FILTER (WHERE s.age < 80 AND (s.met OR NOT s.new_registrant)) AS hyp008_den,
  count(*) FILTER (WHERE s.age < 80 AND s.met) AS hyp008_num,
  count(*) FILTER (WHERE s.age >= 80 AND (s.met OR NOT s.new_registrant)) AS hyp009_den,
  count(*) FILTER (WHERE s.age >= 80 AND s.met) AS hyp009_num,
  count(*) FILTER (WHERE s.patid IS NOT NULL AND NOT coalesce(s.bp_in_year, false) AND NOT s.new_registrant) AS overdue,
  count(*) FILTER (WHERE NOT coalesce(s.at_target, true) AND s.classes >= 3) AS uncontrolled_on_three
FROM practice pr JOIN list l USING (pracid) LEFT JOIN s USING (pracid)
GROUP BY pr.pracid, pr.name, l.list_size ORDER BY pr.pracid"""

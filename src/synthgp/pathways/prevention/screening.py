"""Cervical screening (data/prevention.toml [cervical]): women aged 25-64, invited from 24.5, every 3 years to 49
and every 5 years from 50 (from 1 July 2025 every 5 years at 25-49 too after an HPV-negative result), a year
later after an abnormal or HPV-positive result or a missed invitation. Whether an invitation is taken up
follows a propensity that persists from one invitation to the next. A nurse takes the sample; the result is
entered from the laboratory a fortnight or so later: cytology (negative, or borderline and worse) until HPV
primary screening (December 2019), then HPV negative or positive.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np

from synthgp.engine.sim import YEAR
from synthgp.pathways.prevention.vaccines import NEVER, birthday, day_of

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim
    from synthgp.pathways.prevention import Prevention


def first_due(cfg: dict, sim: "Sim", male: np.ndarray, dob: np.ndarray, ent: np.ndarray) -> np.ndarray:
    """Each woman's first invitation in the simulation: at 24.5, or (already 25-64 at entry) a day within her
    age's interval after entry; NEVER for men and from 65."""
    age = (ent - dob) / YEAR
    interval = np.where(age >= cfg["old_from_age"], cfg["interval_years_old"], cfg["interval_years_young"]) * YEAR
    within = ent + np.floor(sim.stream("prev.cx.first").uniform(sim.everyone) * interval).astype(np.int64)
    due = np.where(age < cfg["first_invitation_age"], birthday(dob, cfg["first_invitation_age"]), within)
    return np.where(male | (due >= birthday(dob, cfg["age_to"]) - 90), NEVER, due)


def history(pv: "Prevention", sim: "Sim") -> None:
    """The last test before the record's start of a woman already 25-64 at entry (one interval before her first
    invitation here), if she took up that invitation: a negative result, from this practice after registration
    or transferred from the previous one."""
    s, cfg, rec = pv.s, pv.cfg["cervical"], sim.record
    adults = sim.adults
    pos = adults[(s.cx_due[adults] < NEVER) & ~s.male[adults]]
    age = (s.ent[pos] - s.dob[pos]) / YEAR
    years = np.where(age >= cfg["old_from_age"], cfg["interval_years_old"], cfg["interval_years_young"])
    last = s.cx_due[pos] - np.round(years * YEAR).astype(np.int64)
    ok = (last < s.ent[pos]) & (last >= birthday(s.dob[pos], cfg["first_invitation_age"])) & (last < birthday(s.dob[pos], cfg["age_to"]))
    pos, last, old = pos[ok], last[ok], age[ok] >= cfg["old_from_age"]
    r = cfg["persistence"]
    latent = np.sqrt(r) * pv.cx_propensity[pos] + np.sqrt(1 - r) * sim.stream("prev.cx.invite").normal(pos, -1)
    go = latent < _threshold(np.array([cfg["attend_25_49"], cfg["attend_50_64"]]))[old.astype(int)]
    pos, last = pos[go], last[go]
    result = np.where(last >= pv.hpv_from, rec.code("cervical_hpv_negative"), rec.code("cervical_smear_negative"))
    moved = last < s.first_allowed[pos]
    for sel, kw in ((~moved, {}), (moved, {"transferred": True})):
        p, d = pos[sel], last[sel]
        delay = s.first_allowed[p] - d if kw else None
        rec.observation(p, d, rec.code("cervical_screening_done"), obstype=rec.obstype("Observation"), enter_delay=delay, **kw)
        rec.observation(p, d, result[sel], obstype=rec.obstype("Investigation"), enter_delay=delay if kw else 14, **kw)


def _threshold(p: np.ndarray) -> np.ndarray:
    return np.array([NormalDist().inv_cdf(min(max(float(x), 0.001), 0.999)) for x in p])


def screen(pv: "Prevention", sim: "Sim", month: "Month") -> None:
    """The invitations falling due this month: taken up (a test, its result, the next recall) or not."""
    s, cfg, act, m, rec = pv.s, pv.cfg["cervical"], month.act, month.m, sim.record
    pos = act[s.cx_due[act] < month.day1]
    if not len(pos):
        return
    due = np.maximum(s.cx_due[pos], month.day0)
    end_age = birthday(s.dob[pos], cfg["age_to"])
    over = due >= end_age - 90  # no invitation in the last quarter before 65: the test would fall after it
    s.cx_due[pos[over]] = NEVER
    pos, due, end_age = pos[~over], due[~over], end_age[~over]
    age = (due - s.dob[pos]) / YEAR
    old = age >= cfg["old_from_age"]
    r = cfg["persistence"]
    latent = np.sqrt(r) * pv.cx_propensity[pos] + np.sqrt(1 - r) * sim.stream("prev.cx.invite").normal(pos, m)
    go = latent < _threshold(np.array([cfg["attend_25_49"], cfg["attend_50_64"]]))[old.astype(int)]
    _missed(pv, sim, pos[~go], due[~go], m)
    pos, due, end_age, old = pos[go], due[go], end_age[go], old[go]
    lo, hi = cfg["delay_days"]
    day = np.minimum(due + lo + sim.stream("prev.cx.delay").integers(pos, hi - lo + 1, m), end_age - 14)
    day = np.maximum(day, birthday(s.dob[pos], cfg["first_invitation_age"]))
    day = sim.contacts.weekday(day, pos)  # the clinic's working day (at most 13 days on: still before 65), for the result too
    cons = sim.contacts.book(pos, day, "nurse", "cx", m, "Clinic")
    rec.observation(pos, day, rec.code("cervical_screening_done"), cons=cons, obstype=rec.obstype("Observation"))
    hpv = day >= pv.hpv_from
    u = sim.stream("prev.cx.result").uniform(pos, m)
    abnormal = u < np.where(hpv, cfg["hpv_positive"], cfg["abnormal_cytology"])
    keys = np.select([hpv & abnormal, hpv, abnormal],
                     [rec.code("cervical_hpv_positive"), rec.code("cervical_hpv_negative"), rec.code("cervical_smear_borderline")],
                     rec.code("cervical_smear_negative"))
    rlo, rhi = cfg["result_days"]
    delay = rlo + sim.stream("prev.cx.result.day").integers(pos, rhi - rlo + 1, m)
    rec.observation(pos, day, keys, obstype=rec.obstype("Investigation"), enter_delay=delay)
    five = old | (hpv & ~abnormal & (day >= pv.five_yearly_from))
    years = np.where(abnormal, cfg["early_recall_years"], np.where(five, cfg["interval_years_old"], cfg["interval_years_young"]))
    s.cx_due[pos] = day + np.round(years * YEAR).astype(np.int64)


def _missed(pv: "Prevention", sim: "Sim", pos: np.ndarray, due: np.ndarray, m: int) -> None:
    """An invitation not taken up: sometimes coded as not attended, invited again a year later."""
    cfg, rec = pv.cfg["cervical"], sim.record
    coded = sim.stream("prev.cx.dna").uniform(pos, m) < cfg["not_attended_coded"]
    rec.observation(pos[coded], due[coded] + 90, rec.code("cervical_screening_not_attended"), obstype=rec.obstype("Observation"))
    pv.s.cx_due[pos] = due + int(round(cfg["retry_years"] * YEAR))


def hpv_dates(cfg: dict) -> tuple[int, int]:
    return day_of(cfg["hpv_primary_from"]), day_of(cfg["five_yearly_hpv_negative_from"])

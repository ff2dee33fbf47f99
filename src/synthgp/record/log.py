"""Rows a pathway emits, collected as arrays and turned into the record's tables at the end.

Pathways emit by local patient index and day; ids (consid, obsid, issueid) are assigned once,
in (patient, day, emission) order, as ((seq << 16) | k) * 100000 + pracid, so they are unique per
practice and the same whatever the emission batching. Rows dated outside a patient's time in the
record (before birth or registration, after death or leaving) are dropped here, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthgp.core.ids import OBS_PER_PATIENT_BITS, PATID_MULT

# Observation kinds
PLAIN, BP_SYSTOLIC, BP_DIASTOLIC = 0, 1, 2


def _cat(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.empty(0, dtype=dtype)


class EventLog:
    def __init__(self, first_day: np.ndarray, last_day: np.ndarray):
        self.first_day = first_day  # per local patient: first day rows may carry
        self.last_day = last_day  # per local patient: last day (may move earlier: fatal events)
        self._cons: dict[str, list] = {k: [] for k in ("pat", "day", "staff", "source", "key")}
        self._obs: dict[str, list] = {k: [] for k in ("pat", "day", "enter", "medcode", "value", "unit", "obstype",
                                                       "cons", "kind", "problem", "referral", "low", "high", "key")}
        self._issue: dict[str, list] = {k: [] for k in ("pat", "day", "staff", "prod", "qty", "qunit", "duration",
                                                         "cost", "course", "dosage")}
        self._n_cons = 0
        self._n_obs = 0

    # ------------------------------------------------------------ emitting
    def consultation(self, pat: np.ndarray, day: np.ndarray, staff: np.ndarray, source: int | np.ndarray) -> np.ndarray:
        n = len(pat)
        keys = np.arange(self._n_cons, self._n_cons + n)
        self._n_cons += n
        for k, v in (("pat", pat), ("day", day), ("staff", staff), ("source", np.broadcast_to(source, n)), ("key", keys)):
            self._cons[k].append(np.asarray(v))
        return keys

    def observation(self, pat, day, medcode, *, cons=None, value=None, unit=0, obstype=5, kind=PLAIN,
                    problem=0, referral=0, low=None, high=None, enter_delay=None) -> np.ndarray:
        """Emit observations; returns their keys. `problem` 1/2 = active/past problem, `referral` = urgency id."""
        n = len(pat)
        keys = np.arange(self._n_obs, self._n_obs + n)
        self._n_obs += n
        day = np.asarray(day)
        nan = np.full(n, np.nan)
        cols = {
            "pat": pat, "day": day, "enter": day + (0 if enter_delay is None else enter_delay),
            "medcode": np.broadcast_to(medcode, n), "value": nan if value is None else value,
            "unit": np.broadcast_to(unit, n), "obstype": np.broadcast_to(obstype, n),
            "cons": np.full(n, -1) if cons is None else cons, "kind": np.broadcast_to(kind, n),
            "problem": np.broadcast_to(problem, n), "referral": np.broadcast_to(referral, n),
            "low": nan if low is None else np.broadcast_to(low, n), "high": nan if high is None else np.broadcast_to(high, n),
            "key": keys,
        }
        for k, v in cols.items():
            self._obs[k].append(np.asarray(v))
        return keys

    def blood_pressure(self, pat, day, sbp, dbp, cons, codes: tuple[int, int], unit: int, obstype: int) -> None:
        """A systolic and a diastolic row, the diastolic's parent the systolic (aurum.md)."""
        order = np.argsort(np.arange(2 * len(pat)) % len(pat), kind="stable") if len(pat) else np.empty(0, int)
        pat2 = np.concatenate([pat, pat])[order]
        self.observation(pat2, np.concatenate([day, day])[order], np.concatenate([np.full(len(pat), codes[0]), np.full(len(pat), codes[1])])[order],
                         cons=np.concatenate([cons, cons])[order], value=np.concatenate([sbp, dbp])[order].astype(np.float64),
                         unit=unit, obstype=obstype,
                         kind=np.concatenate([np.full(len(pat), BP_SYSTOLIC), np.full(len(pat), BP_DIASTOLIC)])[order])

    def issue(self, pat, day, staff, prod, qty, qunit, duration, cost, course, dosage) -> None:
        n = len(pat)
        for k, v in (("pat", pat), ("day", day), ("staff", staff), ("prod", prod), ("qty", qty), ("qunit", qunit),
                     ("duration", duration), ("cost", cost), ("course", course), ("dosage", dosage)):
            self._issue[k].append(np.broadcast_to(np.asarray(v), n))

    # ------------------------------------------------------------ finishing
    def _keep(self, pat: np.ndarray, day: np.ndarray) -> np.ndarray:
        return (day >= self.first_day[pat]) & (day <= self.last_day[pat])

    def finish(self, patid: np.ndarray, pracid: np.ndarray) -> "Finished":
        seq = patid // PATID_MULT

        def ids(pat: np.ndarray, day: np.ndarray, emitted: np.ndarray, table: int) -> tuple[np.ndarray, np.ndarray]:
            """Ids in (patient, day, emission) order; `table` (1-3) keeps each table's ids apart, so an
            obsid can never equal a consid or an issueid."""
            order = np.lexsort((emitted, day, pat))
            p = pat[order]
            start = np.r_[0, np.flatnonzero(p[1:] != p[:-1]) + 1]
            k = np.arange(len(p)) - np.repeat(start, np.diff(np.r_[start, len(p)]))
            if len(k) and k.max() >= 1 << OBS_PER_PATIENT_BITS:
                raise OverflowError("more than 65,536 rows of one kind for one patient")
            return order, (((seq[p] << OBS_PER_PATIENT_BITS) | k) * 4 + table) * PATID_MULT + pracid[p]

        c = {k: _cat(v, np.float64 if k == "x" else np.int64) for k, v in self._cons.items()}
        keep = self._keep(c["pat"], c["day"])
        c = {k: v[keep] for k, v in c.items()}
        order, consid = ids(c["pat"], c["day"], c["key"], 1)
        c = {k: v[order] for k, v in c.items()}
        c["consid"] = consid
        cons_map = np.full(max(self._n_cons, 1), -1, dtype=np.int64)
        cons_map[c["key"]] = consid

        o = {k: _cat(v, np.float64 if k in ("value", "low", "high") else np.int64) for k, v in self._obs.items()}
        keep = self._keep(o["pat"], o["day"])
        # a BP pair stands or falls together (same patient and day, so it always does)
        o = {k: v[keep] for k, v in o.items()}
        order, obsid = ids(o["pat"], o["day"], o["key"], 2)
        o = {k: v[order] for k, v in o.items()}
        o["obsid"] = obsid
        o["consid"] = np.where(o["cons"] >= 0, cons_map[np.maximum(o["cons"], 0)], -1)
        parent = np.full(len(obsid), -1, dtype=np.int64)
        dia = np.flatnonzero(o["kind"] == BP_DIASTOLIC)
        if len(dia):
            assert (o["kind"][dia - 1] == BP_SYSTOLIC).all() and (o["pat"][dia - 1] == o["pat"][dia]).all()
            parent[dia] = obsid[dia - 1]
        o["parentobsid"] = parent
        obs_map = np.full(self._n_obs, -1, dtype=np.int64)
        obs_map[o["key"]] = obsid

        i = {k: _cat(v, np.float64 if k in ("qty", "cost") else (object if k == "dosage" else np.int64))
             for k, v in self._issue.items()}
        keep = self._keep(i["pat"], i["day"])
        i = {k: v[keep] for k, v in i.items()}
        order, issueid = ids(i["pat"], i["day"], np.arange(len(i["pat"])), 3)
        i = {k: v[order] for k, v in i.items()}
        i["issueid"] = issueid
        # a course's drug record id is the id of its first issue
        if len(issueid):
            uniq, first = np.unique(i["course"], return_index=True)
            rec = issueid[first][np.searchsorted(uniq, i["course"])]
        else:
            rec = np.empty(0, dtype=np.int64)
        i["drugrecid"] = rec
        return Finished(c, o, i, obs_map)


@dataclass
class Finished:
    cons: dict[str, np.ndarray]
    obs: dict[str, np.ndarray]
    issue: dict[str, np.ndarray]
    obs_map: np.ndarray  # observation key -> obsid (-1 if dropped)

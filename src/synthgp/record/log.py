"""Rows a pathway emits, collected in batches and turned into the record's tables at the end.

Pathways emit by local patient index and day; ids (consid, obsid, issueid) are assigned once,
in (patient, day, emission) order, as ((seq << 16) | k) * 100000 + pracid, so they are unique per
practice and the same whatever the emission batching. Rows dated outside a patient's time in the
record (before birth or registration, after death or leaving) are dropped here, in one place. History
transferred from a previous practice (GP2GP) is the one exception: an observation emitted with
`transferred=True` keeps its original date, before registration but never before birth, and is kept if it
was entered (filed) on or after registration.

A batch's column is an array or one value for the whole batch; single values are spread only when
the log is finished, so emitting costs little more than keeping references.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from synthgp.core import dates
from synthgp.core.ids import OBS_PER_PATIENT_BITS, PATID_MULT
from synthgp.record import log_kernel

# Observation kinds
PLAIN, BP_SYSTOLIC, BP_DIASTOLIC = 0, 1, 2


class _Rows:
    """Columns of a table emitted batch by batch; row k of the whole is the k-th row emitted. Per
    column, a batch's single value goes in `fill` (its rows spread by one repeat at the end) and an
    array in `arrays` with its batch number."""

    def __init__(self, dtypes: dict[str, type]):
        self.dtypes = dtypes
        self.fill: dict[str, list] = {k: [] for k in dtypes}
        self.arrays: dict[str, list[tuple[int, np.ndarray]]] = {k: [] for k in dtypes}
        self.sizes: list[int] = []
        self.n = 0

    def add(self, n: int, cols: dict) -> np.ndarray:
        """Add a batch of `n` rows; returns their keys (emission order)."""
        if n == 0:
            return np.empty(0, dtype=np.int64)
        b = len(self.sizes)
        for k in self.dtypes:
            v = cols[k]
            if isinstance(v, np.ndarray) and v.ndim > 0 or not np.isscalar(v) and np.ndim(v) > 0:
                self.arrays[k].append((b, np.asarray(v)))
                self.fill[k].append(None if self.dtypes[k] is object else 0)
            else:
                self.fill[k].append(v.item() if isinstance(v, np.generic) else v)
        self.sizes.append(n)
        self.n += n
        return np.arange(self.n - n, self.n)

    def column(self, name: str) -> np.ndarray:
        dtype, arrays = self.dtypes[name], self.arrays[name]
        if len(arrays) == len(self.sizes):  # every batch gave an array
            parts = [a for _, a in arrays]
            return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype=dtype)
        fill = np.array(self.fill[name], dtype=dtype)
        if log_kernel.runs is not None and dtype is not object:
            out = log_kernel.runs(fill, np.asarray(self.sizes, dtype=np.int64), self.n)
        else:
            out = np.repeat(fill, self.sizes)
        if arrays:
            starts = np.cumsum(self.sizes) - np.asarray(self.sizes)
            for b, a in arrays:
                out[starts[b]:starts[b] + len(a)] = a
        return out


def _by_patient_and_day(pat: np.ndarray, day: np.ndarray) -> np.ndarray:
    """The stable order by (patient, day): rows of a patient and day keep their emission order. Two
    passes of numpy's radix sort when both fit 16 bits (a block under 65,536 patients, days of
    1880-2059), else lexsort."""
    i16 = np.iinfo(np.int16)
    if len(pat) and pat.max() < 1 << 16 and i16.min <= day.min() and day.max() <= i16.max:
        by_day = np.argsort(day.astype(np.int16), kind="stable")
        return by_day[np.argsort(pat.astype(np.uint16)[by_day], kind="stable")]
    return np.lexsort((np.arange(len(pat)), day, pat))


def _ranks(pat: np.ndarray, day: np.ndarray, n_pat: int) -> np.ndarray:
    """Per row, its 0-based rank among its patient's rows in (day, emission) order."""
    if log_kernel.ranks is not None and len(pat):
        return log_kernel.ranks(np.ascontiguousarray(pat, dtype=np.int64), np.ascontiguousarray(day, dtype=np.int64), n_pat)
    order = _by_patient_and_day(pat, day)
    p = pat[order]
    start = np.r_[0, np.flatnonzero(p[1:] != p[:-1]) + 1]
    k = np.empty(len(p), dtype=np.int64)
    k[order] = np.arange(len(p)) - np.repeat(start, np.diff(np.r_[start, len(p)]))
    return k


class EventLog:
    def __init__(self, first_day: np.ndarray, last_day: np.ndarray, birth_day: np.ndarray | None = None):
        self.first_day = first_day  # per local patient: first day rows may carry
        self.birth_day = first_day if birth_day is None else birth_day  # first day transferred history may carry
        self.last_day = last_day  # per local patient: last day (may move earlier: fatal events)
        i64, f64 = np.int64, np.float64
        self._cons = _Rows({"pat": i64, "day": i64, "staff": i64, "source": i64})
        self._obs = _Rows({"pat": i64, "day": i64, "enter": i64, "medcode": i64, "value": f64, "unit": i64, "obstype": i64,
                           "cons": i64, "kind": i64, "problem": i64, "referral": i64, "low": f64, "high": f64,
                           "transferred": i64, "parent": i64})
        self._issue = _Rows({"pat": i64, "day": i64, "staff": i64, "prod": i64, "qty": f64, "qunit": i64, "duration": i64,
                             "cost": f64, "course": i64, "dosage": object})
        self._ends = _Rows({"pat": i64, "day": i64, "medcode": i64})  # problems resolved: (patient, day, its code)

    # ------------------------------------------------------------ emitting
    def consultation(self, pat: np.ndarray, day: np.ndarray, staff: np.ndarray, source: int | np.ndarray) -> np.ndarray:
        return self._cons.add(len(pat), {"pat": pat, "day": day, "staff": staff, "source": source})

    def observation(self, pat, day, medcode, *, cons=None, value=None, unit=0, obstype=5, kind=PLAIN,
                    problem=0, referral=0, low=None, high=None, enter_delay=None, transferred=False,
                    parent=None) -> np.ndarray:
        """Emit observations; returns their keys. `problem` 1/2 = active/past problem, `referral` = urgency id,
        `transferred`: history from a previous practice, dated before registration and entered on or after it,
        `parent`: the key of each one's parent observation (parentobsid; a lab result's panel header)."""
        day = np.asarray(day)
        return self._obs.add(len(pat), {
            "pat": pat, "day": day, "enter": day if enter_delay is None else day + enter_delay, "medcode": medcode,
            "value": np.nan if value is None else value, "unit": unit, "obstype": obstype,
            "cons": -1 if cons is None else cons, "kind": kind, "problem": problem, "referral": referral,
            "low": np.nan if low is None else low, "high": np.nan if high is None else high, "transferred": int(transferred),
            "parent": -1 if parent is None else parent})

    def blood_pressure(self, pat, day, sbp, dbp, cons, codes: tuple[int, int], unit: int, obstype: int) -> None:
        """A systolic and a diastolic row, the diastolic's parent the systolic (aurum.md)."""
        n = len(pat)
        if n == 0:
            return

        def pairs(a, b):
            out = np.empty(2 * n, dtype=np.result_type(a, b))
            out[0::2], out[1::2] = a, b
            return out

        self.observation(pairs(pat, pat), pairs(day, day), pairs(codes[0], codes[1]), cons=pairs(cons, cons),
                         value=pairs(np.asarray(sbp, np.float64), np.asarray(dbp, np.float64)), unit=unit, obstype=obstype,
                         kind=pairs(BP_SYSTOLIC, BP_DIASTOLIC))

    def end_problem(self, pat, day, medcode) -> None:
        """The active problems of `medcode` each patient has on `day` end then (a later stage supersedes them)."""
        self._ends.add(len(pat), {"pat": pat, "day": day, "medcode": medcode})

    def _problem_ends(self, o: dict[str, np.ndarray]) -> np.ndarray:
        """Per kept observation: the day its problem ended (the first end of its code on or after it, dated in the
        patient's time), or dates.NONE."""
        end = np.full(len(o["pat"]), dates.NONE, dtype=np.int64)
        if not self._ends.n:
            return end
        e_pat, e_day, e_code = (self._ends.column(k) for k in ("pat", "day", "medcode"))
        ok = (e_day >= self.first_day[e_pat]) & (e_day <= self.last_day[e_pat])
        pr = np.flatnonzero(o["problem"] > 0)
        pr = pr[np.isin(o["pat"][pr], e_pat[ok])]
        if not len(pr):
            return end
        # problems and ends in one order by (patient, code, day), a problem before an end of the same day: each
        # problem's end is the first end after it within its (patient, code)
        pat = np.r_[o["pat"][pr], e_pat[ok]]
        code = np.r_[o["medcode"][pr], e_code[ok]]
        day = np.r_[o["day"][pr], e_day[ok]]
        is_end = np.r_[np.zeros(len(pr), dtype=bool), np.ones(ok.sum(), dtype=bool)]
        order = np.lexsort((is_end, day, code, pat))
        pat, code, day, is_end = pat[order], code[order], day[order], is_end[order]
        n = len(order)
        nxt = np.where(is_end, np.arange(n), n)
        nxt = np.minimum.accumulate(nxt[::-1])[::-1]  # the next end at or after each position
        has = nxt < n
        j = np.minimum(nxt, n - 1)
        same = has & (pat[j] == pat) & (code[j] == code)
        hit = ~is_end & same
        end[pr[order[hit]]] = day[j[hit]]
        return end

    def issue(self, pat, day, staff, prod, qty, qunit, duration, cost, course, dosage) -> None:
        self._issue.add(len(pat), {"pat": pat, "day": day, "staff": staff, "prod": prod, "qty": qty, "qunit": qunit,
                                   "duration": duration, "cost": cost, "course": course, "dosage": dosage})

    # ------------------------------------------------------------ finishing
    def _kept_with_ids(self, rows: _Rows, seq: np.ndarray, pracid: np.ndarray, table: int) -> tuple[dict, np.ndarray, np.ndarray]:
        """The rows dated inside each patient's time, in emission order: (columns, their emission keys,
        their ids). Ids follow (patient, day, emission) order; the rows themselves are not reordered
        (the DuckDB store sorts every table). `table` (1-3) keeps each table's ids apart, so an obsid
        can never equal a consid or an issueid."""
        full = {"pat": rows.column("pat"), "day": rows.column("day")}  # columns built once, whole
        pat, day = full["pat"], full["day"]
        inside = day >= self.first_day[pat]
        if "transferred" in rows.dtypes:  # observations: GP2GP history keeps its date, filed after registration
            full["transferred"] = rows.column("transferred")
            moved = full["transferred"] != 0
            if moved.any():
                full["enter"] = rows.column("enter")
                inside |= moved & (day >= self.birth_day[pat]) & (full["enter"] >= self.first_day[pat])
        keep = np.flatnonzero(inside & (day <= self.last_day[pat]))
        all_kept = len(keep) == rows.n
        cols = {}
        for k in rows.dtypes:
            c = full[k] if k in full else rows.column(k)
            cols[k] = c if all_kept else c[keep]
        p = cols["pat"]
        k = _ranks(p, cols["day"], len(seq))
        if len(k) and k.max() >= 1 << OBS_PER_PATIENT_BITS:
            raise OverflowError("more than 65,536 rows of one kind for one patient")
        ids = (((seq[p] << OBS_PER_PATIENT_BITS) | k) * 4 + table) * PATID_MULT + pracid[p]
        return cols, keep, ids

    def finish(self, patid: np.ndarray, pracid: np.ndarray, pool: Executor | None = None) -> "Finished":
        """The kept rows with their ids. With a `pool`, consultations and issues are sorted in its
        threads while this one sorts the observations (numpy and the compiled ranks release the GIL)."""
        seq = patid // PATID_MULT
        later = None
        if pool is not None:
            later = (pool.submit(self._kept_with_ids, self._cons, seq, pracid, 1),
                     pool.submit(self._kept_with_ids, self._issue, seq, pracid, 3))
            o_done = self._kept_with_ids(self._obs, seq, pracid, 2)
        c, c_key, consid = later[0].result() if later else self._kept_with_ids(self._cons, seq, pracid, 1)
        c["consid"] = consid
        cons_map = np.full(max(self._cons.n, 1), -1, dtype=np.int64)
        cons_map[c_key] = consid

        # a BP pair stands or falls together (same patient and day), and is emitted as adjacent rows
        o, o_key, obsid = o_done if later else self._kept_with_ids(self._obs, seq, pracid, 2)
        o["obsid"] = obsid
        o["consid"] = np.where(o["cons"] >= 0, cons_map[np.maximum(o["cons"], 0)], -1)
        obs_map = np.full(self._obs.n, -1, dtype=np.int64)
        obs_map[o_key] = obsid
        # a row's parent by its key (a lab result's header: same patient and day, so kept with it)
        pkey = o.pop("parent")
        parent = np.where(pkey >= 0, obs_map[np.maximum(pkey, 0)], -1)
        dia = np.flatnonzero(o["kind"] == BP_DIASTOLIC)
        if len(dia):
            assert (o["kind"][dia - 1] == BP_SYSTOLIC).all() and (o["pat"][dia - 1] == o["pat"][dia]).all()
            parent[dia] = obsid[dia - 1]
        o["parentobsid"] = parent
        o["probend"] = self._problem_ends(o)

        i, _, issueid = later[1].result() if later else self._kept_with_ids(self._issue, seq, pracid, 3)
        i["issueid"] = issueid
        # a course's drug record id is the id of its first issue (its lowest id)
        if len(issueid):
            by_course = np.lexsort((issueid, i["course"]))
            course = i["course"][by_course]
            first = np.r_[True, course[1:] != course[:-1]]
            head = np.repeat(issueid[by_course][first], np.diff(np.r_[np.flatnonzero(first), len(course)]))
            rec = np.empty(len(issueid), dtype=np.int64)
            rec[by_course] = head
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

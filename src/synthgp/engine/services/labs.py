"""Labs: blood tests. A blood draw is one sample on one day: the panels ordered for it (full blood count,
liver, thyroid, lipids, HbA1c, urea and electrolytes; data/labs.toml) are each a header observation (cluster
PANEL) and its results (cluster LAB, parentobsid the header's), drawn from the person's truth (anaemia, thyroid
disease, diabetes, the liver, kidney function and the drugs they take; engine/services/lab_results.py), each with
the reference range a lab reports.

    sim.labs.order(pos, day, "tft", cons)     # a consultation's test order: the panel on that day's draw
    got = sim.labs.sample(pos, day, full)     # the U&E (and with `full` HbA1c, lipids and urine ACR); results back

One draw a day, whoever orders: an order for a person and day that already has a draw adds to it only the
panels it lacked, under the draw's consultation, and a panel already tested that day is not repeated. The last
DRAWS draws of each person are kept, so pathways that order out of day order within a month (each picks its
own days) still meet the same draw. A pathway that reacts to a result (CKD stages coded when an eGFR first shows
them) registers a hook instead of re-reading the record. Monitoring the service orders itself (`monitor`): ALT
3 and 12 months after a statin starts (NICE NG238); the registers pathway orders the rest (TFT after
levothyroxine and yearly, lipids after a statin, the reviews' bloods).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from synthgp.core import dates, reference
from synthgp.engine.component import Service
from synthgp.engine.services import lab_results
from synthgp.engine.services.prescribing import REGULAR
from synthgp.engine.sim import YEAR

if TYPE_CHECKING:
    from synthgp.engine.sim import Month, Sim

EgfrHook = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]  # (pos, day, reported egfr, potassium)
FbcHook = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]  # (pos, day, haemoglobin, iron-deficient)

ORDERABLE = ("fbc", "lft", "tft", "lipids", "hba1c", "ue")
PANELS = ("ue", "lipids", "hba1c", "acr", "fbc", "lft", "tft")  # drawing order; the urine ACR (with a "full"
# sample) has no header
BIT = {p: 1 << i for i, p in enumerate(PANELS)}
FULL = BIT["ue"] | BIT["hba1c"] | BIT["lipids"] | BIT["acr"]
DRAWS = 4  # draws kept per person
VALUES = ("egfr", "k", "tc", "hdl", "acr")  # results a draw keeps for sample() to give back
NEVER = np.iinfo(np.int64).max // 4


class Labs(Service):
    name = "labs"
    fields = {"potassium_level": "the person's own serum potassium, mmol/L, before drugs and CKD",
              "draw_day": "per kept draw: its day, or NONE", "draw_panels": "per kept draw: the panels tested (bits)",
              "draw_cons": "per kept draw: the consultation key it was ordered at, or -1",
              "draw_values": "per kept draw: eGFR, potassium, total and HDL cholesterol, ACR (NaN if not tested)",
              "draw_next": "the kept-draw slot the next new draw takes",
              "sample_egfr": "the eGFR of the person's last U&E (NaN: none)", "sample_acr": "their last urine ACR (NaN: none)",
              "hb_level": "the person's own haemoglobin when not anaemic, g/L",
              "anaemia_z": "the person's lasting propensity to anaemia (a normal draw)",
              "hba1c_level": "the person's own HbA1c without diabetes, mmol/mol, before age and pre-diabetes",
              "alt_z": "the person's own ALT (a normal draw)",
              "hyper_onset": "day hyperthyroidism starts, or NEVER"}
    reads = ("male", "dob", "black", "ent", "lst", "first_allowed", "egfr", "onset_ckd", "onset_type2", "rf_total_cholesterol", "rf_hdl",
             "regular_drug", "regular_from", "regular_until")
    truth = ("lab_truth",)

    def init(self, sim: "Sim") -> dict[str, np.ndarray]:
        cfg = reference.toml("labs.toml")
        n, ev = sim.n, sim.everyone
        return {"potassium_level": cfg["labs"]["potassium_mean"] + cfg["labs"]["potassium_person_sd"] * sim.draws("potassium").normal(ev),
                "draw_day": np.full((n, DRAWS), dates.NONE, dtype=np.int64), "draw_panels": np.zeros((n, DRAWS), dtype=np.int64),
                "draw_cons": np.full((n, DRAWS), -1, dtype=np.int64), "draw_values": np.full((n, DRAWS, len(VALUES)), np.nan),
                "draw_next": np.zeros(n, dtype=np.int64), "sample_egfr": np.full(n, np.nan), "sample_acr": np.full(n, np.nan),
                **lab_results.person_truth(sim, cfg)}

    def bind(self, sim: "Sim") -> None:
        super().bind(sim)
        self.sim, self.record, self.rx = sim, sim.record, sim.rx
        cfg = self.cfg = reference.toml("labs.toml")
        self.visit_sd = reference.toml("blood_pressure.toml")["kidney"]["visit_sd"]
        self.egfr_hooks: list[EgfrHook] = []
        self.fbc_hooks: list[FbcHook] = []
        self.k_per_egfr = reference.toml("kidney.toml")["drugs"]["potassium_per_egfr_below_30"]
        self.with_ue = dict(cfg["monitoring"]["with_ue"])  # panel -> share of a condition's U&E draws it joins
        rec = self.record
        self.header = {p: rec.code(cfg["panels"][p]["header"]) for p in ORDERABLE}
        self.investigation = rec.obstype("Investigation")
        ranges = cfg["labs"]["ranges"]
        self._code = {}  # per result: code, unit, (low, high) for men and for women
        for k, unit in [(k, cfg["units"].get(k, "mmol/L")) for k in ranges]:
            r = ranges[k]
            lo, hi = r.get("low", np.nan), r.get("high", np.nan)
            self._code[k] = (rec.code(k), rec.unit(unit), lo, hi, r.get("low_female", lo), r.get("high_female", hi))
        self.results = lab_results.Results(self, sim, cfg)
        self._rows: dict[str, tuple[np.ndarray, ...]] = {}

    def on_egfr(self, hook: EgfrHook) -> None:
        """Call `hook(pos, day, egfr, k)` with every sample's reported eGFR and potassium, before the results are recorded."""
        self.egfr_hooks.append(hook)

    def on_fbc(self, hook: FbcHook) -> None:
        """Call `hook(pos, day, hb, iron)` with every adult's full blood count: its reported haemoglobin and whether the
        truth's anaemia that year is of iron deficiency (what the MCV and a ferritin would show)."""
        self.fbc_hooks.append(hook)

    # ------------------------------------------------------------ ordering
    def order(self, pos: np.ndarray, day, panel: str, cons=None) -> None:
        """`panel` (one of ORDERABLE) for each of `pos` on `day` (one or one each), ordered at consultation
        `cons` (a key, one each, or None): added to that day's draw, or a new draw."""
        if panel not in ORDERABLE:
            raise ValueError(f"no blood panel {panel!r}; panels: {', '.join(ORDERABLE)}")
        pos = np.asarray(pos, dtype=np.int64)
        if len(pos):
            self._request(pos, np.broadcast_to(np.asarray(day, dtype=np.int64), len(pos)), np.full(len(pos), BIT[panel]), cons)

    def last_value(self, pos: np.ndarray, value: str) -> tuple[np.ndarray, np.ndarray]:
        """(day, result) of each person's latest kept draw that measured `value` (one of VALUES); (-NEVER, NaN)
        for none."""
        j = VALUES.index(value)
        s = self.s
        v = s.draw_values[pos, :, j]
        d = np.where(np.isnan(v) | (s.draw_day[pos] == dates.NONE), -NEVER, s.draw_day[pos])
        k = np.argmax(d, axis=1)
        rows = np.arange(len(pos))
        day = d[rows, k]
        return day, np.where(day > -NEVER, v[rows, k], np.nan)

    def sample(self, pos: np.ndarray, day, full: bool | np.ndarray, extras: bool = True) -> dict[str, np.ndarray] | None:
        """A blood sample from each of `pos` on `day` for a long-term condition: urea and electrolytes (often with a
        liver panel and a full blood count, data/labs.toml [monitoring] with_ue), and with `full` (for all, or one
        flag each) HbA1c, lipids and urine ACR; returns eGFR and potassium (and with `full` total and HDL cholesterol
        and ACR) as the draw gave them. One draw a day: a second order the same day gets that draw's results.
        `extras=False`: no liver panel or FBC added (bloods that are not a long-term condition's, e.g. a Health Check's)."""
        if not len(pos):
            return None
        pos = np.asarray(pos, dtype=np.int64)
        day = np.broadcast_to(np.asarray(day, dtype=np.int64), len(pos))
        bits = np.where(np.broadcast_to(full, len(pos)), FULL, BIT["ue"])
        for panel, share in (self.with_ue if extras else {}).items():  # a long-term condition's usual bloods
            bits |= np.where(self.sim.draws(f"lab.with_ue.{panel}").uniform(pos, day) < share, BIT[panel], 0)
        up, slot, back = self._request(pos, day, bits, None)
        v = self.s.draw_values[up, slot][back]
        out = {"egfr": v[:, 0], "k": v[:, 1]}
        if np.any(full):
            out.update(tc=v[:, 2], hdl=v[:, 3], acr=v[:, 4])
        return out

    def _request(self, pos: np.ndarray, day: np.ndarray, bits: np.ndarray, cons) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The panels in `bits` on each (pos, day)'s draw; returns the distinct (pos, day) rows' positions, their
        draw slots, and each request's row among them."""
        s = self.s
        cons = np.broadcast_to(np.asarray(-1 if cons is None else cons, dtype=np.int64), len(pos))
        key = pos * (1 << 32) + (day - dates.NONE)
        if len(key) > 1 and (np.diff(np.sort(key)) == 0).any():  # one patient twice on one day: one draw
            _, first, back = np.unique(key, return_index=True, return_inverse=True)
            merged = np.zeros(len(first), dtype=np.int64)
            np.bitwise_or.at(merged, back, bits)
            pos, day, bits, cons = pos[first], day[first], merged, cons[first]
        else:
            back = np.arange(len(pos))
        hit = s.draw_day[pos] == day[:, None]
        found = hit.any(axis=1)
        slot = np.where(found, hit.argmax(axis=1), 0)
        new = np.flatnonzero(~found)
        if len(new):
            p = pos[new]
            order = np.argsort(p, kind="stable")  # a person's new draws in one call take successive slots
            ps = p[order]
            start = np.r_[0, np.flatnonzero(ps[1:] != ps[:-1]) + 1]
            rank = np.empty(len(p), dtype=np.int64)
            rank[order] = np.arange(len(p)) - np.repeat(start, np.diff(np.r_[start, len(p)]))
            sl = (s.draw_next[p] + rank) % DRAWS
            slot[new] = sl
            s.draw_day[p, sl], s.draw_panels[p, sl], s.draw_cons[p, sl] = day[new], 0, cons[new]
            s.draw_values[p, sl] = np.nan
            np.add.at(s.draw_next, p, 1)
            s.draw_next[p] %= DRAWS
        have = s.draw_panels[pos, slot]
        todo = bits & ~have
        s.draw_cons[pos, slot] = np.where(s.draw_cons[pos, slot] >= 0, s.draw_cons[pos, slot], cons)
        if todo.any():
            delay = self.sim.draws("lab.delay").integers(pos, 3, day)  # the draw's results come in together
            drawn = []
            for panel in PANELS:
                sel = np.flatnonzero(todo & BIT[panel])
                if len(sel):
                    drawn.append((panel, sel, self.results.draw(panel, pos[sel], day[sel], slot[sel])))
            self._record(drawn, pos, day, s.draw_cons[pos, slot], delay)
            s.draw_panels[pos, slot] = have | todo
        return pos, slot, back

    def _panel_rows(self, panel: str, keys: tuple[str, ...]) -> tuple[np.ndarray, ...]:
        """A panel's results' codes, units and ranges (men's low and high, women's), cached."""
        got = self._rows.get(panel)
        if got is None:
            got = self._rows[panel] = tuple(np.array([self._code[k][i] for k in keys]) for i in range(6))
        return got

    def _record(self, drawn: list, pos: np.ndarray, day: np.ndarray, cons: np.ndarray, delay: np.ndarray) -> None:
        """The panels drawn for the rows `sel` of (pos, day, cons, delay): their headers (none for the ACR) as one
        batch of rows, then every result as another, each result's parent its panel's header."""
        rec, inv = self.record, self.investigation
        heads = [(panel, sel) for panel, sel, _ in drawn if panel in self.header]
        parents: dict[str, np.ndarray] = {}
        if heads:
            hsel = np.concatenate([sel for _, sel in heads])
            hcode = np.concatenate([np.full(len(sel), self.header[panel]) for panel, sel in heads])
            keys = rec.observation(pos[hsel], day[hsel], hcode, cons=cons[hsel], obstype=inv, enter_delay=delay[hsel])
            at = 0
            for panel, sel in heads:
                parents[panel], at = keys[at:at + len(sel)], at + len(sel)
        parts: list[list[np.ndarray]] = [[] for _ in range(7)]
        for panel, sel, results in drawn:
            n, k = len(sel), len(results)
            code, unit, lo_m, hi_m, lo_f, hi_f = (np.repeat(x, n) for x in self._panel_rows(panel, tuple(results)))
            female = np.tile(~self.s.male[pos[sel]], k)
            rsel = np.tile(sel, k)
            parent = np.tile(parents[panel], k) if panel in parents else np.full(n * k, -1)
            low, high = np.where(female, lo_f, lo_m), np.where(female, hi_f, hi_m)
            age = (day[sel] - self.s.dob[pos[sel]]) / YEAR
            for j, key in enumerate(results):  # a child's result: the children's range of that age
                child, clo, chi = self.results.child.at(key, age)
                if child.any():
                    low[j * n:(j + 1) * n] = np.where(child, clo, low[j * n:(j + 1) * n])
                    high[j * n:(j + 1) * n] = np.where(child, chi, high[j * n:(j + 1) * n])
            for lst, x in zip(parts, (rsel, code, unit, low, high,
                                      np.concatenate(list(results.values())), parent)):
                lst.append(x)
        rsel, code, unit, low, high, value, parent = (np.concatenate(x) for x in parts)
        rec.observation(pos[rsel], day[rsel], code, value=value, unit=unit, low=low, high=high, cons=cons[rsel], obstype=inv,
                        enter_delay=delay[rsel], parent=parent)

    # ------------------------------------------------------------ monitoring
    def monitor(self, sim: "Sim", month: "Month") -> None:
        """Monitoring the service orders itself: ALT (the liver panel) 3 and 12 months after a statin starts
        (NICE NG238 1.6), on the day the registers' lipid check falls for the first; a DOAC's yearly FBC, U&E and
        LFT (data/labs.toml [monitoring])."""
        s, day0, day1 = self.s, month.day0, month.day1
        j = self.results.statin_slot
        act = month.act
        start = s.regular_from[act, j]
        on = (s.regular_drug[act, j] >= 0) & (start > -NEVER)
        for after in self.cfg["liver"]["statin_alt_days"]:
            due = start + after
            sel = on & (due >= day0) & (due < day1) & (due < s.regular_until[act, j])
            if sel.any():
                self.order(act[sel], due[sel], "lft")
        for drug, panels in self.cfg["monitoring"]["yearly"].items():  # each anniversary of a start
            j = REGULAR.index(drug)
            start = s.regular_from[act, j]
            k = np.ceil((day0 - start) / YEAR)
            due = start + np.round(np.maximum(k, 1) * YEAR).astype(np.int64)
            sel = (s.regular_drug[act, j] >= 0) & (start > -NEVER) & (due >= day0) & (due < day1) & (due < s.regular_until[act, j])
            for panel in panels:
                self.order(act[sel], due[sel], panel)

    # ------------------------------------------------------------ truth
    def truth_tables(self, sim: "Sim") -> dict[str, dict[str, np.ndarray]]:
        return {"lab_truth": lab_results.truth_rows(self, sim)}

"""Names that follow sex, ethnic group and birth cohort (data/names.toml, given_names.csv, surnames.csv).

A White British woman born in 1928 is named from ONS's top 100 of 1924 or 1934; a Bangladeshi man carries a
Bangladeshi surname, and Begum is borne by women only. Every draw is keyed by (seed, purpose, person), so a name
is the same whatever the block.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from synthgp.core import reference
from synthgp.core.rng import Draws

COHORT = "cohort"


@dataclass(frozen=True)
class _List:
    """A weighted list of names: the names and their cumulative weights."""

    names: np.ndarray
    cum: np.ndarray

    @classmethod
    def of(cls, names: list[str], weights: list[float]) -> "_List":
        w = np.asarray(weights, dtype=np.float64)
        return cls(np.asarray(names, dtype=object), np.cumsum(w) / w.sum())

    def pick(self, u: np.ndarray) -> np.ndarray:
        return self.names[np.minimum(np.searchsorted(self.cum, u, side="right"), len(self.names) - 1)]


@dataclass(frozen=True)
class Names:
    years: np.ndarray  # ONS list years, ascending
    cohort: dict[tuple[int, bool], _List]  # (list year, male) -> names
    given: dict[tuple[str, bool], _List]  # (given-name group, male) -> names
    cohort_share: dict[str, float]  # given-name group -> share named from the cohort lists
    surnames: dict[tuple[str, bool], _List]  # (surname group, male) -> names
    groups: list[tuple[str, str]]  # per ethnicity index: (surname group, given-name group)
    staff_born: tuple[int, int]


@cache
def data() -> Names:
    cfg = reference.toml("names.toml")
    skip = set(cfg["cohort"]["not_for_cohort_groups"])
    by_list: dict[tuple[int, bool], tuple[list[str], list[float]]] = {}
    for r in reference.csv_rows("given_names.csv"):
        if r["name"] in skip:
            continue
        names, weights = by_list.setdefault((int(r["year"]), r["sex"] == "M"), ([], []))
        names.append(r["name"])
        weights.append(float(r["count"]) if r["count"] else 1.0 / int(r["rank"]))
    cohort = {k: _List.of(*v) for k, v in by_list.items()}
    by_group: dict[tuple[str, bool], tuple[list[str], list[float]]] = {}
    for r in reference.csv_rows("surnames.csv"):
        for male in (True, False):
            if r["sex"] != ("F" if male else "M"):
                names, weights = by_group.setdefault((r["group"], male), ([], []))
                names.append(r["name"])
                weights.append(float(r["weight"]))
    given = {(g, male): _List.of(v["male" if male else "female"], [1.0] * len(v["male" if male else "female"]))
             for g, v in cfg["given"].items() for male in (True, False)}
    eth = reference.toml("population.toml")["ethnicity"]["groups"]
    return Names(
        years=np.array(sorted({y for y, _ in cohort})), cohort=cohort, given=given,
        cohort_share={g: v["cohort_share"] for g, v in cfg["given"].items()},
        surnames={k: _List.of(*v) for k, v in by_group.items()},
        groups=[tuple(cfg["groups"][e]) for e in eth],
        staff_born=(cfg["staff"]["born_from"], cfg["staff"]["born_to"]))


def british_surnames() -> np.ndarray:
    """The British surnames (streets and practices are named after them)."""
    return data().surnames[("british", True)].names


def _list_year(d: Names, seed: int, ids: np.ndarray, year: np.ndarray, purpose: str) -> np.ndarray:
    """Per person, the ONS list year their given name is drawn from: one of the two either side of their birth."""
    y = np.clip(year, d.years[0], d.years[-1])
    hi = np.clip(np.searchsorted(d.years, y, side="left"), 1, len(d.years) - 1)
    lo_y, hi_y = d.years[hi - 1], d.years[hi]
    later = Draws(seed, f"{purpose}.cohort").uniform(ids) < (y - lo_y) / (hi_y - lo_y)
    return np.where(later, hi_y, lo_y)


def names(seed: int, ids: np.ndarray, male: np.ndarray, birth_year: np.ndarray, ethnicity: np.ndarray | None,
          purpose: str) -> tuple[np.ndarray, np.ndarray]:
    """(given names, surnames) as object arrays. `birth_year` may be fractional; `ethnicity` indexes population.toml's
    groups (None: British)."""
    d = data()
    n = len(ids)
    sur_group = np.array(["british"] * n, dtype=object) if ethnicity is None else \
        np.array([g[0] for g in d.groups], dtype=object)[ethnicity]
    giv_group = np.array([COHORT] * n, dtype=object) if ethnicity is None else \
        np.array([g[1] for g in d.groups], dtype=object)[ethnicity]
    share = np.array([d.cohort_share.get(g, 1.0) for g in giv_group])
    use_cohort = Draws(seed, f"{purpose}.given.cohort_share").uniform(ids) < share
    u_given = Draws(seed, f"{purpose}.given").uniform(ids)
    list_year = _list_year(d, seed, ids, np.asarray(birth_year, dtype=np.float64), purpose)
    given = np.empty(n, dtype=object)
    for (year, m), lst in d.cohort.items():
        sel = use_cohort & (list_year == year) & (male == m)
        given[sel] = lst.pick(u_given[sel])
    for (g, m), lst in d.given.items():
        sel = ~use_cohort & (giv_group == g) & (male == m)
        given[sel] = lst.pick(u_given[sel])
    u_sur = Draws(seed, f"{purpose}.family").uniform(ids)
    family = np.empty(n, dtype=object)
    for (g, m), lst in d.surnames.items():
        sel = (sur_group == g) & (male == m)
        family[sel] = lst.pick(u_sur[sel])
    return given, family

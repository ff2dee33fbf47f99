"""The learner, with its default settings, on public clinical tables shipped in scikit-survival
(no network): the issue's bars. TSTR AUC within 0.03 of TRTR at 5,000 rows or more and within 0.05
below (TSTR: an ensemble over 10 synthetic tables, see synthgp/learn/public.py); every column within
the real-resample KL band; no copied rows; membership inference no better than chance by 3 standard
errors (see synthgp/learn/public.py for the margin). Validation, not
calibration: the defaults are chosen per table by held-out likelihood, never by these figures."""

from __future__ import annotations

import pandas as pd
import pytest

from synthgp.learn import public


@pytest.fixture(scope="module")
def results() -> dict[str, dict]:
    return {}


def _run(name: str, folds: int, results: dict) -> dict:
    if name not in results:
        results[name] = public.assess(public.TABLES[name](), folds=folds)
    return results[name]


@pytest.mark.parametrize("name, folds", [("whas500", 5), ("gbsg2", 5), ("aids", 5), ("flchain", 3)])
def test_public_table_meets_the_bars(name, folds, results):
    r = _run(name, folds, results)
    print(public.summary_line(r))
    assert r["auc_bar"] == (0.03 if r["rows"] >= 5000 else 0.05)
    assert r["synthetic_tables"] == public.DRAWS == 10 and r["tstr_auc_single"] is not None  # both TSTRs reported
    assert r["passes"] == {"utility": True, "columns": True, "copies": True, "membership": True}, public.summary_line(r)
    # no more synthetic rows than the holdout's own rate sit within the holdout's 5% closest distance
    assert r["share_closer_than_holdout_p5"] < 0.08
    assert all(run["edges"] > 0 for run in r["runs"])  # the defaults keep links on a few hundred rows
    # the network itself as a classifier, against trees on the real rows (measured: 0.812 vs 0.801,
    # 0.652 vs 0.645, aids 0.736 vs 0.711, 0.834 vs 0.819); 0.03 is the bar at 5,000 rows. On aids
    # this is what shows the signal is in the model: a classifier trained on one same-size synthetic
    # table also learns that table's sampling noise, which the ensemble over DRAWS tables averages out.
    assert r["network_auc"] >= r["trtr_auc"] - 0.03, public.summary_line(r)


class _Copy:
    """A 'synthesizer' that returns its training rows: every privacy measure must catch it."""

    def __init__(self, df: pd.DataFrame):
        self.df = df

    def sample(self, n: int, random_state: int = 0) -> pd.DataFrame:
        return self.df.sample(n, random_state=random_state).reset_index(drop=True)


def test_the_privacy_measures_catch_a_verbatim_copy():
    r = public.assess(public.TABLES["whas500"](), folds=2, fit=lambda df, s: _Copy(df))
    assert not r["passes"]["copies"] and r["exact_copies"] > 0
    assert not r["passes"]["membership"] and r["membership_auc"] > 0.9

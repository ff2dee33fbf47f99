"""docs/learn_example.md runs as written, and its figures hold: every code block, in order, in one
namespace. Generates a 4,000-patient practice (about 20 s) and fits the learner once."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).parents[2] / "docs" / "learn_example.md"


def test_the_worked_example_runs_and_says_what_the_text_says():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 4
    ns: dict = {}
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), ns)  # noqa: S102 - the page's own code, run as a reader would
    assert 1400 <= len(ns["table"]) <= 1900 and len(ns["columns"]) == 22
    # defaults chosen by held-out likelihood, and the seeded latents kept
    assert ns["settings"]["bins"] in (4, 6, 10) and ns["model"].fit_info["settings"]["how"].endswith("likelihood")
    assert set(ns["model"].latent_variables) == {"latent_1", "latent_2"}
    s = ns["s"]
    assert s["columns_kl_within_band"] == s["columns"]
    # coincidences on a coarse table (see the page): a handful at most, and nothing linkable
    assert ns["p"]["exact_copy_share_synthetic"] < 0.005 and ns["p"]["linkability"]["risk"] < 0.05
    assert s["trtr_auc"] - s["tstr_auc"] <= 0.05
    # against the truth: the latent's states separate truly hypertensive people from the rest (a state with few, and
    # one with several times as many; the shares move with the practice's content: 0.13-0.73, then 0.10-0.52)
    share = ns["by_state"]["mean"]
    assert share.min() < 0.2 and share.max() > 2.5 * share.min(), share
    assert not (ns["synth"].query("gender == 'F'")["impot"] == 1).any()

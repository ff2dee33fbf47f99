"""The journal as a GP system shows it, in a real server and headless Chromium: a consultation with its date,
clinician and role, mode, reason, results under their panel with ranges and flags, immunisation and the
prescription issued at it; the patient's immunisations; the dashboard's coverage. The records are hand-made
(tests/formats/handmade.py) on a generated practice, as the pathways that write them land separately."""

from __future__ import annotations

import duckdb
import pytest

from synthgp.core import codes
from synthgp.serve import journal

from tests.conftest import SHOTS, chromium_page, generate
from tests.formats import handmade
from tests.serve.running import serving


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> handmade.Made:
    base = generate(tmp_path_factory.mktemp("journal") / "base", 1200, seed=41, formats=("duckdb",))
    return handmade.add(base, tmp_path_factory.mktemp("journal") / "out")


def test_a_consultation_shows_reason_and_results_under_their_panel(made):
    reason = codes.get(handmade.STAND_INS["REASON"][0]).term
    with serving(made.out) as server, chromium_page() as page:
        page.goto(f"{server}/patient/{made.patid}")
        cons = page.locator(f"#cons-{made.consid}")
        head = cons.locator("h3").inner_text()
        assert made.consdate.strftime("%d %b %Y") in head and "(General Medical Practitioner)" in head
        assert "Face to face consultation" in head
        # headings in the journal's order, each entry under its own
        assert cons.locator("dt").all_inner_texts() == ["Reason", "Results", "Immunisation", "Medication"]
        assert cons.locator("dd.h-reason").inner_text().strip() == reason
        panel = cons.locator(f"dd.h-results .panel[data-panel='{made.panel}']")
        assert panel.locator(".panel-name").inner_text() == handmade.STAND_INS["PANEL"][2]
        rows = panel.locator("tr.result")
        assert [rows.nth(k).get_attribute("data-obsid") for k in range(rows.count())] == [str(i) for i in made.results]
        first = rows.nth(0).inner_text()  # cholesterol 5.6 against 0-5: high
        assert "5.6" in first and "mmol/L" in first and "(0–5)" in first and first.strip().endswith("H")
        assert "abnormal" not in (rows.nth(1).get_attribute("class") or "")
        assert "acute" in cons.locator("dd.h-medication").inner_text()
        cons.screenshot(path=str(SHOTS / "journal-consultation.png"))
        # the immunisations section lists the new programme beside flu and COVID-19
        imm = page.locator("#vaccinations").inner_text()
        assert codes.get(handmade.STAND_INS["IMM_TEST"][0]).term in imm
        page.goto(server + "/")
        row = page.locator("#immunisation-coverage tr[data-cluster='IMM_TEST']")
        assert row.count() == 1 and "(1/" in row.inner_text()  # the one person vaccinated, in their age band
        assert page.locator("#flu-seasons tbody tr").count() >= 5


def test_headings_and_panels(made):
    """The placement rules, on the hand-made rows and the generated record around them."""
    con = duckdb.connect(str(made.out / "synthgp.duckdb"), read_only=True)
    obs = journal.entries(con, made.patid)
    by_id = {o["obsid"]: o for o in obs}
    assert journal.heading(by_id[made.reason]) == "Reason"
    assert journal.heading(by_id[made.vaccination]) == "Immunisation"
    assert {journal.heading(by_id[i]) for i in (made.panel, *made.results)} == {"Results"}
    groups = journal._panels([by_id[i] for i in (made.results[0], made.panel, *made.results[1:])], by_id)
    assert len(groups) == 1 and [e["obsid"] for e in groups[0]["results"]] == made.results
    assert [journal.flag(by_id[i]) for i in made.results] == ["H", "", ""]
    assert journal.flag({"value": 0.5, "low": 1.0, "high": None}) == "L"
    assert [journal.reference_range({"low": lo, "high": hi}) for lo, hi in ((3.5, 5.3), (90.0, None), (None, 5.0), (None, None))] \
        == ["(3.5–5.3)", "(> 90)", "(< 5)", ""]
    kinds = {journal.heading(o) for o in obs if o["cluster"] == "BP"} | {journal.heading(o) for o in obs if o["cluster"] == "FLU"}
    assert kinds <= {"Examination", "Immunisation"}


def test_results_filed_without_a_consultation_are_journal_items_of_their_own(made):
    con = duckdb.connect(str(made.out / "synthgp.duckdb"), read_only=True)
    patid = con.execute("""SELECT o.patid FROM observation o JOIN medical_dictionary d USING (medcodeid)
        WHERE d.cluster = 'LAB' AND o.consid IS NULL ORDER BY o.patid LIMIT 1""").fetchone()[0]
    obs = journal.entries(con, patid)
    items = journal.build(journal.consultations(con, patid), obs, [])
    filed = [c for c in items if c["filed"]]
    loose = {o["obsid"] for o in obs if o["consid"] is None and o["cluster"] in journal.RESULT_CLUSTERS}
    heads = {o["obsid"] for o in obs if o["obsid"] in loose and o["cluster"] == "PANEL"}  # a panel's header heads its group
    shown = [e["obsid"] for c in filed for _, groups in c["sections"] for g in groups for e in g["results"]]
    shown_heads = {g["panel"]["obsid"] for c in filed for _, groups in c["sections"] for g in groups if g["panel"]}
    assert loose and sorted(shown) == sorted(loose - heads)  # each filed result once, on its own day's item
    assert heads <= shown_heads
    assert all(e["obsdate"] == c["consdate"] for c in filed for e in c["entries"])
    dates = [c["consdate"] for c in items]
    assert dates == sorted(dates, reverse=True)  # one journal, newest first

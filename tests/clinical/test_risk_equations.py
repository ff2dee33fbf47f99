"""The scores before QRISK3: Framingham 1991 and QRISK2-2015, and the score a practice records by date.

Framingham reference values: the worked examples of Anderson et al. (Am Heart J 1991) as reproduced by
cvdcheck.org.au (5-year CVD risk, rounded to whole percent): a 55-year-old woman, BP 135, smoker,
TC/HDL 230/48, diabetic: 18%; a 55-year-old man, BP 130, smoker, TC/HDL 240/45: 13%; the same woman
without diabetes at BP 130, TC/HDL 240/45: 9%.
"""

import numpy as np

from synthgp.clinical import framingham, qrisk3
from synthgp.core import codes

from tests.clinical.test_qrisk3 import CASES, _inputs
from tests.engine.build import day, emitted, make_sim, put


def test_framingham_reproduces_the_published_worked_examples():
    got = framingham.score(np.array([0, 1, 0]), np.full(3, 55.0), np.array([135.0, 130, 130]), np.ones(3),
                           np.array([230 / 48, 240 / 45, 240 / 45]), np.array([1, 0, 0]), years=5)
    assert np.round(got).tolist() == [18, 13, 9]
    ten = framingham.score(np.array([0, 1, 0]), np.full(3, 55.0), np.array([135.0, 130, 130]), np.ones(3),
                           np.array([230 / 48, 240 / 45, 240 / 45]), np.array([1, 0, 0]))
    assert (ten > got).all()  # ten years' risk is larger than five's


def _qrisk2_by_hand(male: bool, age: float, bmi: float, ratio: float, sbp: float, town: float, smoke: int,
                    eth: int, af: int) -> float:
    """QRISK2-2015 written out term by term for one person (not through data/qrisk2.toml's generic form)."""
    if male:
        a1, a2 = (age / 10) ** -1 - 0.233734160661697, (age / 10) ** 2 - 18.304403305053711
        b1 = (bmi / 10) ** -2 - 0.146269768476486
        b2 = (bmi / 10) ** -2 * np.log(bmi / 10) - 0.140587374567986
        r, s, t = ratio - 4.321151256561279, sbp - 130.589752197265620, town - 0.551009356975555
        eth_c = [0, 0.3173321430481919, 0.4738590786081116, 0.5171314655968146, 0.1370301157366419,
                 -0.3885522304972664, -0.3812495485312195, -0.4064461381650995, -0.2285715521377336][eth - 1]
        smoke_c = [0, 0.2684479158158020, 0.6307674973877592, 0.7178078883378696, 0.8704172533465485][smoke]
        a = (eth_c + smoke_c - 18.043731255037727 * a1 + 0.023648645425430694 * a2 + 2.5388084343581578 * b1
             - 9.1034725871528597 * b2 + 0.16843976361369095 * r + 0.010500308938075482 * s + 0.032380163763448759 * t
             + 1.0363048000259454 * af + 8.0382925558108482 * a1 * af + 0.0052471594895864343 * a2 * af
             + 33.848988101276760 * a1 * b1 - 140.67070254048971 * a1 * b2 + 0.050128366883072054 * a1 * s
             - 0.19882682171868507 * a1 * t + 0.062741075751394565 * a2 * b1 - 0.23829149093857321 * a2 * b2
             - 0.000052370098795143509 * a2 * s - 0.0012518116569283104 * a2 * t)
        if smoke:
            a += [0.6186864699379684, 1.5522017055600055, 2.4407210657517648, 3.5140494491884624][smoke - 1] * a1
            a += [-0.0040893975066796338, -0.0056065852346001768, -0.0018261006189440492,
                  -0.0014997157296173290][smoke - 1] * a2
        return 100 * (1 - 0.978794217109680 ** np.exp(a))
    a1, a2 = (age / 10) ** 0.5 - 2.086397409439087, age / 10 - 4.353054523468018
    b1 = (bmi / 10) ** -2 - 0.152244374155998
    b2 = (bmi / 10) ** -2 * np.log(bmi / 10) - 0.143282383680344
    r, s, t = ratio - 3.506655454635620, sbp - 125.040039062500000, town - 0.416743695735931
    eth_c = [0, 0.2574099349831926, 0.6129795430571779, 0.3362159841669621, 0.1512517303224336,
             -0.1794156259657768, -0.3503423610057745, -0.2778372483233217, -0.1592734122665366][eth - 1]
    smoke_c = [0, 0.2119377108760385, 0.6618634379685942, 0.7570714587132306, 0.9496298251457036][smoke]
    a = (eth_c + smoke_c + 4.4417863976316578 * a1 + 0.028163721067299918 * a2 + 0.89423653047106633 * b1
         - 6.5748047596104335 * b2 + 0.14339005616214209 * r + 0.012897179584361372 * s + 0.066477263001143885 * t
         + 1.6284780236484424 * af - 7.0177986441269269 * a1 * af + 1.1395776028337732 * a2 * af
         + 0.17971962070446823 * a1 * b1 + 40.242816676065814 * a1 * b2 - 0.036257523389977446 * a1 * s
         + 0.37351380314334426 * a1 * t + 0.13192766227118777 * a2 * b1 - 7.3211322435546409 * a2 * b2
         + 0.0045842850495397955 * a2 * s - 0.095237030084599078 * a2 * t)
    if smoke:
        a += [0.74644061443916665, 0.25685417118796666, -1.5452226707866523, -1.7113013709043405][smoke - 1] * a1
        a += [-0.1927057741748231, -0.15269650634589327, 0.23135639765214294, 0.23071650138682967][smoke - 1] * a2
    return 100 * (1 - 0.989747583866119 ** np.exp(a))


def test_qrisk2_generic_form_equals_the_equation_written_out():
    people = [(False, 64.0, 25.2, 4.0, 180.0, 0.0, 0, 2, 0), (True, 47.0, 31.0, 5.5, 138.0, 2.5, 3, 1, 0),
              (False, 71.0, 22.0, 3.2, 150.0, -1.5, 4, 7, 1), (True, 58.0, 27.5, 4.4, 126.0, 4.0, 1, 4, 1)]
    n = len(people)
    inp = qrisk3.Inputs(male=np.array([p[0] for p in people]), age=np.array([p[1] for p in people]),
                        ethnicity=np.array([p[7] for p in people]), smoking=np.array([p[6] for p in people]),
                        bmi=np.array([p[2] for p in people]), chol_ratio=np.array([p[3] for p in people]),
                        sbp=np.array([p[4] for p in people]), sbp_sd=np.full(n, 12.0),
                        townsend=np.array([p[5] for p in people]), flags={"af": np.array([p[8] for p in people])})
    want = [_qrisk2_by_hand(*p) for p in people]
    assert np.allclose(qrisk3.score(inp, "qrisk2"), want, rtol=1e-10)


def test_qrisk2_ignores_what_only_qrisk3_reads():
    base = qrisk3.score(_inputs(CASES[:1]), "qrisk2")
    steroid = qrisk3.score(_inputs(CASES[2:3]), "qrisk2")  # corticosteroids: a QRISK3 input only
    assert base[0] == steroid[0] and qrisk3.score(_inputs(CASES[:1]))[0] != qrisk3.score(_inputs(CASES[2:3]))[0]


def test_the_practice_records_each_eras_own_equation():
    sim = make_sim()
    pos = sim.adults[:3]
    put(sim, pos, smoking=[3, 0, 2], known_type2=[day(2030), day(2030), day(2030)], rf_type1=False)
    lab = {"tc": np.array([5.5, 6.0, 4.8]), "hdl": np.array([1.2, 1.5, 1.1])}
    sbp, bmi = np.array([150.0, 128, 141]), np.array([27.0, 31, 24])
    got = {}
    for when in (day(2006, 5, 1), day(2012, 5, 1), day(2020, 5, 1)):
        put(sim, pos, dob=when - np.array([55, 62, 70]) * 36525 // 100)
        score, ok = sim.risk.cvd_risk(pos, when, sbp, lab, bmi)
        assert ok.all()
        got[when] = score
    obs = emitted(sim, "obs")
    assert obs["medcode"][::3].tolist() == [codes.medcode(k) for k in ("framingham_risk", "qrisk2", "qrisk3")]
    assert np.allclose(obs["value"], np.round(np.concatenate(list(got.values())), 1))
    s2006 = got[day(2006, 5, 1)]
    want = framingham.score(sim.state.array("male")[pos], np.array([55, 62, 70]) * 36525 // 100 / 365.25, sbp,
                            np.array([3, 0, 2]) >= 2, lab["tc"] / lab["hdl"], np.zeros(3))
    assert np.allclose(s2006, want, atol=0.05)
    assert not np.allclose(got[day(2012, 5, 1)], got[day(2020, 5, 1)])  # QRISK2 and QRISK3 differ


def test_framingham_is_raised_half_again_for_a_family_history_from_nice_cg67():
    """NICE CG67 (May 2008): premature CHD in a first-degree relative multiplies the Framingham risk by 1.5
    (data/framingham.toml [uk_adjustment]); JBS2's charts before it were not adjusted."""
    risk = np.array([10.0, 10.0, 80.0, 10.0])
    fh = np.array([True, False, True, True])
    after = framingham.nice_adjusted(risk, fh, day(2008, 9, 1))
    assert after.tolist() == [15.0, 10.0, 100.0, 15.0]  # capped at 100
    assert framingham.nice_adjusted(risk, fh, day(2007, 9, 1)).tolist() == risk.tolist()


def test_the_practice_records_the_adjusted_framingham_score_with_a_family_history():
    sim = make_sim()
    pos = sim.adults[:2]
    put(sim, pos, smoking=[0, 0], known_type2=day(2030), rf_type1=False, male=True)
    lab = {"tc": np.array([5.5, 5.5]), "hdl": np.array([1.2, 1.2])}
    sbp, bmi = np.array([150.0, 150.0]), np.array([27.0, 27.0])
    got = {}
    for when in (day(2007, 5, 1), day(2008, 11, 1)):
        put(sim, pos, dob=when - 60 * 36525 // 100, rf_fh_cvd=[True, False])
        got[when], ok = sim.risk.cvd_risk(pos, when, sbp, lab, bmi)
        assert ok.all()
    before, after = got[day(2007, 5, 1)], got[day(2008, 11, 1)]
    assert before[0] == before[1]  # the same person twice, the family history not yet counted
    assert after[0] == 1.5 * after[1] and after[1] == before[1]

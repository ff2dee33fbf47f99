"""Record invariants on generated populations, over many seeds, sizes and scenarios (Hypothesis)."""

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthgp.core import scenario
from synthgp.evaluate import integrity
from synthgp.population import plan as population
from synthgp.record import tables as record
from synthgp.simulate import block


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 3000))
def test_tables_match_their_schema_and_each_other(seed, n):
    plan = population.make_plan(scenario.load(), seed, n)
    tables = block.block_tables(plan, 0, n)
    from synthgp.core import schema

    for name, t in tables.items():
        assert t.schema == schema.BY_NAME[name].arrow_schema
    pat = tables["patient"].to_pydict()
    obs = tables["observation"].to_pydict()
    assert set(obs["patid"]) <= set(pat["patid"])
    reg = dict(zip(pat["patid"], pat["regstartdate"]))
    born = dict(zip(tables["person_truth"]["patid"].to_pylist(), tables["person_truth"]["date_of_birth"].to_pylist()))
    # dated in registration, or history from a previous practice: after birth, entered on or after registration
    assert all(d >= reg[p] or (d >= born[p] and e >= reg[p]) for p, d, e in zip(obs["patid"], obs["obsdate"], obs["enterdate"]))
    assert all(e >= d for d, e in zip(obs["obsdate"], obs["enterdate"]))
    assert len(set(obs["obsid"])) == len(obs["obsid"])


def _memory_db(plan, tables):
    con = duckdb.connect()
    everything = dict(tables)
    everything.update(record.plan_tables(plan))
    look = record.lookup_tables()
    everything["medical_dictionary"] = look["MedicalDictionary"]
    everything["product_dictionary"] = look["ProductDictionary"]
    for name, t in everything.items():
        con.register(f"_{name}", t)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM _{name}")
    return con


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n=st.integers(50, 2500), region=st.sampled_from(["south_west", "england"]),
       inertia=st.floats(0, 1), adherence=st.floats(0, 1))
def test_invariants_hold_over_seeds_sizes_and_behaviour(seed, n, region, inertia, adherence):
    sc = scenario.build({"population": {"region": region}, "care": {"inertia": inertia, "nonadherent_share": adherence}})
    plan = population.make_plan(sc, seed, n)
    con = _memory_db(plan, block.block_tables(plan, 0, n))
    assert integrity.check(con) == {k: 0 for k in integrity.CHECKS}

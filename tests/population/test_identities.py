"""Patient identities (population/identities.py): artificial and well formed."""

import re

import duckdb

from synthgp.core import nhs_number, reference


def test_identities_are_artificial_and_well_formed(small):
    con = duckdb.connect(str(small / "synthgp.duckdb"), read_only=True)
    cur = con.execute("SELECT * FROM patient_identity")
    cols = [d[0] for d in cur.description]
    ident = [dict(zip(cols, row)) for row in cur.fetchall()]
    nhs = [r["nhs_number"] for r in ident]
    assert len(set(nhs)) == len(nhs) == con.execute("SELECT count(*) FROM patient").fetchone()[0]
    assert all(nhs_number.is_valid(n) and n.startswith("999") for n in nhs)
    outward = {r["outward"] for r in reference.csv_rows("postcodes.csv") if r["region"] == "south_west"}
    drama = re.compile(r"^(07700 900\d{3}|01632 960\d{3}|0117 496 0\d{3}|020 7946 0\d{3})$")
    for r in ident:
        out, inward = r["postcode"].split(" ")
        assert out in outward and re.fullmatch(r"\d[ABD-HJLNP-UW-Z]{2}", inward)
        for ph in (r["phone_home"], r["phone_mobile"]):
            assert ph is None or drama.match(ph), ph
        assert r["email"] is None or r["email"].split("@")[1] in {"example.com", "example.org", "example.net"}
        assert r["given_name"] and r["family_name"] and r["title"]
    # names come from the name data files (population/names.py)
    surnames = {r["name"] for r in reference.csv_rows("surnames.csv")}
    given = {r["name"] for r in reference.csv_rows("given_names.csv")}
    given |= {n for g in reference.toml("names.toml")["given"].values() for n in g["male"] + g["female"]}
    assert {r["family_name"] for r in ident} <= surnames
    assert {r["given_name"] for r in ident} <= given

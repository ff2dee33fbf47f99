"""Identifiable details for artificial patients and staff, built column-wise with Arrow.

Names follow sex, birth cohort and ethnic group (population/names.py: ONS's top baby names by year,
surnames by naming tradition), drawn with synthgp's counter-based generator, so each patient's name is
a pure function of the seed and the patient and a million identities take seconds. Addresses lie in the
practice's own postcode district. Everything that could reach a real
person is taken from a reserved range: NHS numbers (nhs_number.py), Ofcom drama telephone
numbers, RFC 2606 e-mail domains, and invented inward postcodes.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthgp.core import dates, nhs_number, reference
from synthgp.core.rng import Draws
from synthgp.population import names
from synthgp.population.people import People
from synthgp.population.plan import Plan, postcode_table


def _pick(values: np.ndarray, index: np.ndarray) -> pa.Array:
    return pa.array(values).take(pa.array(index))


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _digits(values: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pa.array(values).cast(pa.string()), width=width, padding="0")


def person_names(seed: int, ids: np.ndarray, male: np.ndarray, birth_year: np.ndarray,
                 ethnicity: np.ndarray | None, purpose: str) -> tuple[pa.Array, pa.Array]:
    """Given names and surnames by sex, birth cohort and ethnic group (population/names.py)."""
    given, family = names.names(seed, ids, male, birth_year, ethnicity, purpose)
    return pa.array(given, type=pa.string()), pa.array(family, type=pa.string())


def _titles(seed: int, ids: np.ndarray, male: np.ndarray, age: np.ndarray) -> pa.Array:
    u = Draws(seed, "identity.title").uniform(ids)
    adult_f = np.where(u < 0.45, "Mrs", np.where(u < 0.80, "Ms", "Miss"))
    adult = np.where(male, "Mr", adult_f)
    adult = np.where(u > 0.99, "Dr", adult)
    child = np.where(male, "Master", "Miss")
    return pa.array(np.where(age >= 18, adult, child))


def inward_codes(seed: int, ids: np.ndarray, purpose: str) -> pa.Array:
    letters = np.array(list(reference.toml("practice.toml")["addresses"]["inward_letters"]))
    d = Draws(seed, purpose)
    return _join(_digits(d.integers(ids, 10, step=0), 1), _pick(letters, d.integers(ids, len(letters), step=1)),
                 _pick(letters, d.integers(ids, len(letters), step=2)))


def practice_identity(plan: Plan) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Each practice's name (its town's or a surname, with a suffix), town and postcode."""
    cfg = reference.toml("practice.toml")
    pcs = postcode_table()
    ids = np.arange(plan.n_practices)
    suffixes = np.array(cfg["practice_names"]["suffixes"])
    town = _pick(pcs.towns, plan.town)
    suffix = _pick(suffixes, Draws(plan.seed, "practice.name_suffix").integers(ids, len(suffixes)))
    surname_pool = names.british_surnames()
    surname = _pick(surname_pool, Draws(plan.seed, "practice.name").integers(ids, len(surname_pool)))
    use_town = Draws(plan.seed, "practice.name_form").uniform(ids) < 0.5
    name = pc.if_else(pa.array(use_town), _join(town, " ", suffix), _join(surname, " ", suffix))
    postcode = _join(_pick(pcs.outward, plan.outward), " ", inward_codes(plan.seed, ids, "practice.inward"))
    return name, town, postcode


def _phone(prefixes: pa.Array, seed: int, ids: np.ndarray, purpose: str, present: np.ndarray) -> pa.Array:
    digits = _digits(Draws(seed, purpose).integers(ids, 1000), 3)
    return pc.if_else(pa.array(present), _join(prefixes, digits), pa.scalar(None, pa.string()))


def patient_identity(plan: Plan, people: People) -> pa.Table:
    seed, ids = plan.seed, people.index
    cfg = reference.toml("practice.toml")
    age_end = (plan.end_day - people.dob) / 365.25
    given, family = person_names(seed, ids, people.male, 1970 + people.dob / dates.DAYS_PER_YEAR, people.ethnicity,
                                 "identity")

    # Address: in the practice's catchment, its own postcode district (population.toml [catchment]).
    pcs = postcode_table()
    outward_row = plan.outward[people.practice]
    town = _pick(pcs.towns, pcs.town_index[outward_row])
    postcode = _join(_pick(pcs.outward, outward_row), " ", inward_codes(seed, ids, "identity.inward"))

    streets = names.british_surnames()
    street_types = np.array(cfg["addresses"]["street_types"])
    house = 1 + np.floor(Draws(seed, "identity.house").exponential(ids, 40.0)).astype(np.int64) % 250
    street = _join(_pick(streets, Draws(seed, "identity.street").integers(ids, len(streets))), " ",
                   _pick(street_types, Draws(seed, "identity.street_type").integers(ids, len(street_types))))
    address = _join(pa.array(house).cast(pa.string()), " ", street)

    ph = cfg["phones"]
    by_town = ph["landline_by_town"]
    prefix_by_town = np.array([by_town.get(t, ph["landline_default"]) for t in pcs.towns])
    land_prefix = _pick(prefix_by_town, pcs.town_index[outward_row])
    home = _phone(land_prefix, seed, ids, "identity.phone_home",
                  Draws(seed, "identity.has_landline").uniform(ids) < ph["has_landline"])
    mobile = _phone(pa.array(np.full(len(ids), ph["mobile_prefix"])), seed, ids, "identity.phone_mobile",
                    (Draws(seed, "identity.has_mobile").uniform(ids) < ph["has_mobile"]) & (age_end >= 13))

    domains = np.array(cfg["addresses"]["email_domains"])
    local = pc.utf8_lower(pc.replace_substring_regex(_join(given, ".", family), r"[^A-Za-z.]", ""))
    email = _join(local, _digits(Draws(seed, "identity.email_n").integers(ids, 100), 2), "@",
                  _pick(domains, Draws(seed, "identity.email_domain").integers(ids, len(domains))))
    email = pc.if_else(pa.array((Draws(seed, "identity.has_email").uniform(ids) < ph["has_email"]) & (age_end >= 16)),
                       email, pa.scalar(None, pa.string()))

    nhs = pa.array(nhs_number.for_indices(ids)).cast(pa.string())
    from synthgp.core.schema import IDENTITY

    return pa.Table.from_arrays([
        pa.array(people.patid), nhs, _titles(seed, ids, people.male, age_end), given, family,
        dates.arrow(people.dob), pa.array(np.where(people.male, "male", "female")),
        address, town, postcode, home, mobile, email,
    ], schema=IDENTITY.arrow_schema)


def staff_names(plan: Plan, staffid: np.ndarray, jobcat_key: np.ndarray) -> tuple[pa.Array, pa.Array, pa.Array]:
    male = Draws(plan.seed, "staff.male").uniform(staffid) < 0.45
    lo, hi = names.data().staff_born
    born = lo + Draws(plan.seed, "staff.birth_year").integers(staffid, hi - lo + 1)
    given, family = person_names(plan.seed, staffid, male, born, None, "staff")
    doctor = np.isin(jobcat_key, ["gp"])
    u = Draws(plan.seed, "staff.title").uniform(staffid)
    title = np.where(doctor, "Dr", np.where(male, "Mr", np.where(u < 0.5, "Mrs", "Ms")))
    return pa.array(title), given, family

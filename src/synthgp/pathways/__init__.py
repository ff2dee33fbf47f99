"""Care pathways, one module per condition or programme, and the practice they make together.

`practice()` lists the services and pathways of a simulation and the order their steps run in:
`HISTORY` once, for what the record already holds when each person joins it, then `MONTHLY`. A new
pathway is a module here, an entry in `practice()`, and its steps placed in the schedule
(docs/architecture.md walks through one).
"""

from __future__ import annotations

from synthgp.engine.component import Component
from synthgp.engine.services import default_services
from synthgp.pathways.cardiovascular import Cardiovascular
from synthgp.pathways.childhood import Childhood
from synthgp.pathways.conditions import Conditions
from synthgp.pathways.consultations import Consultations
from synthgp.pathways.covid import Covid
from synthgp.pathways.flu import Flu
from synthgp.pathways.health_check import HealthCheck
from synthgp.pathways.hypertension import Hypertension
from synthgp.pathways.kidney import Kidney
from synthgp.pathways.prevention import Prevention
from synthgp.pathways.registers import Registers
from synthgp.pathways.repeats import Repeats
from synthgp.pathways.statins import Statins

HISTORY: list[tuple[str, str]] = [
    ("conditions", "history"),  # diagnoses brought at registration, other QRISK3 conditions
    ("hypertension", "history"),  # a diagnosis, and the regimen, from before
    ("life", "history"),  # BMI and smoking status at entry
    ("prevention", "history"),  # vaccinations between registration and entry
    ("hypertension", "last_check"),  # the last BP check before entry
    ("registers", "history"),  # long-term-condition registers: diagnoses before entry, their medicines
    ("statins", "history"),  # primary-prevention statins held at entry
    ("repeats", "history"),  # long-term repeats held at entry (PPIs, analgesics, pills, HRT...), with their indication
    ("conditions", "medicines"),  # regular medicines and their last year of issues
    ("childhood", "plan"),  # every child's immunisation visits and baby check; vaccinations from before joining
]

MONTHLY: list[tuple[str, str]] = [
    ("life", "advance"),  # each person's day of the month, age, BMI
    ("vitals", "advance"),  # the BP they live with this month
    ("hypertension", "track"),  # truth of onset; stopping treatment, unseen
    ("life", "quit_smoking"),
    ("kidney", "decline"),
    ("conditions", "diagnose"),
    ("contacts", "consult"),  # who is seen this month (every age), when, by whom, how
    ("consultations", "reasons"),  # why (a coded reason) and what comes of it
    ("hypertension", "opportunistic"),  # BP checks at those consultations
    ("health_check", "invite"),
    ("registers", "care"),  # register diagnoses, reviews (their BP readings go to bp_screens), checks after a start
    ("labs", "monitor"),  # bloods the labs service orders itself (ALT after a statin starts)
    ("statins", "follow_up"),  # lipids after a primary-prevention start, restarts (starts follow recorded risk scores)
    ("hypertension", "diagnose"),  # raised readings followed up, diagnoses
    ("hypertension", "review"),
    ("repeats", "review"),  # long-term repeats started (a GP codes the indication) and stopped by age, sex and year
    ("rx", "issue"),  # repeats due
    ("cardiovascular", "events"),
    ("flu", "invite"),  # at a season's start: who is eligible, who will be vaccinated, when and where
    ("flu", "vaccinate"),
    ("prevention", "vaccinate"),  # PPV23 and shingles, by eligibility and date
    ("prevention", "screen"),  # cervical screening invitations due
    ("prevention", "review_medicines"),  # annual medication reviews of people on repeats
    ("covid", "infect"),  # from February 2020: infections, tests, admissions, deaths
    ("covid", "vaccinate"),  # from December 2020: JCVI groups offered in order, doses given (after this month's deaths)
    ("childhood", "baby_check"),  # the 6-8 week check by a GP (children of every age: month.all)
    ("childhood", "postnatal"),  # births to the list's women, the mother's 6-8 week check by a GP
    ("childhood", "vaccinate"),  # the routine immunisation schedule, by a practice nurse
    ("childhood", "flu"),  # from 2013/14: nasal flu vaccine for children aged 2 and 3
]


def practice() -> tuple[list[Component], list[Component]]:
    """(services, pathways) of a simulation, in the order they initialise."""
    return default_services(), [Conditions(), Kidney(), HealthCheck(), Hypertension(), Cardiovascular(),
                                 Registers(), Statins(), Flu(), Covid(), Childhood(), Consultations(), Prevention(),
                                 Repeats()]

"""The services every pathway shares (engine/component.py Service): recording, registration and
life, contacts, prescribing, vitals, labs (blood tests) and risk scores."""

from __future__ import annotations

from synthgp.engine.component import Component


def default_services() -> list[Component]:
    """One of each service, in the order they initialise (each may use those before it)."""
    from synthgp.engine.services.contacts import Contacts
    from synthgp.engine.services.labs import Labs
    from synthgp.engine.services.life import Life
    from synthgp.engine.services.prescribing import Prescribing
    from synthgp.engine.services.recording import Recording
    from synthgp.engine.services.risk_scores import RiskScores
    from synthgp.engine.services.vitals import Vitals

    return [Recording(), Life(), Contacts(), Prescribing(), Vitals(), Labs(), RiskScores()]

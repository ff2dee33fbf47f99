"""The registered population: practices and staff (the plan), people a block at a time, their
identities, and their risk factors (built in, or drawn from a learned model through cohort.py)."""

"""The tests, by layer, as src/synthgp is: core/, clinical/, population/, engine/, pathways/, simulate/,
formats/, evaluate/, learn/, serve/, cli/ (with the facade and the README). tests is a package: helpers are
imported by their full name, from any folder (tests.conftest.generate and chromium_page, tests.engine.build
for a hand-made Sim, tests.golden.digest), and `python -m tests.golden.digest` runs from the repository root.
The generated practices several modules read are session fixtures in tests/conftest.py."""

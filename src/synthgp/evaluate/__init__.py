"""Evidence about an output, read from its record alone: calibration, record integrity, QOF and
NG136 audits, fidelity and privacy against a reference, and the offline HTML reports."""

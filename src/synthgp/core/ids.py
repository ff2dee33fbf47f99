"""How synthgp's record ids are built (aurum.md): unique per practice, with the practice id in the
low digits as CPRD's are."""

PATID_MULT = 100_000  # patid = seq * 100000 + pracid; staffid = k * 100000 + pracid
OBS_PER_PATIENT_BITS = 16  # obsid = (((seq << 16) | k) * 4 + table) * 100000 + pracid

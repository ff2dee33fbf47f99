"""The record schema: every table synthgp writes, declared once.

Each table has a group that says who may see it:
  record    - what a practice's system holds (pseudonymised; the Aurum files are drawn from these)
  identity  - identifiable details a real record carries (names, NHS numbers); never in Aurum files
  truth     - the latent truth behind the record, for scoring algorithms; never in the record
  reference - dictionaries and lookups
Writers, the DuckDB loader and the docs read these declarations; nothing else lists columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    doc: str
    aurum: bool = True  # part of the Aurum file of this table


@dataclass(frozen=True)
class Table:
    name: str
    group: str
    doc: str
    columns: tuple[Column, ...]
    aurum_file: str | None = None  # file name under aurum/, if the table is written there

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type) for c in self.columns])

    @property
    def aurum_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.aurum]


I64, I32, I16, I8 = pa.int64(), pa.int32(), pa.int16(), pa.int8()
F64, STR, DATE = pa.float64(), pa.string(), pa.date32()

PRACTICE = Table("practice", "record", "One row per practice.", (
    Column("pracid", I32, "Practice id, 90001 upwards (no real CPRD practice uses this range)."),
    Column("lcd", DATE, "Last collection date: the study end date."),
    Column("uts", DATE, "Up-to-standard date."),
    Column("region", I16, "Region id (aurum/lookups/Region.txt)."),
    Column("name", STR, "Practice name.", aurum=False),
    Column("town", STR, "Post town of the practice.", aurum=False),
    Column("postcode", STR, "Practice postcode (real outward code, invented inward code).", aurum=False),
    Column("list_size", I32, "Patients registered on the study end date.", aurum=False),
), aurum_file="Practice.txt")

STAFF = Table("staff", "record", "One row per member of practice staff.", (
    Column("staffid", I64, "Staff id; its last five digits are the pracid."),
    Column("pracid", I32, "Practice."),
    Column("jobcatid", I16, "Job category (aurum/lookups/JobCat.txt)."),
), aurum_file="Staff.txt")

STAFF_IDENTITY = Table("staff_identity", "identity", "Names of staff, for FHIR Practitioner and the viewer.", (
    Column("staffid", I64, "Staff id."),
    Column("title", STR, "Title."),
    Column("given_name", STR, "Given name."),
    Column("family_name", STR, "Family name."),
))

PATIENT = Table("patient", "record", "One row per patient ever registered in the study period.", (
    Column("patid", I64, "Patient id; its last five digits are the pracid."),
    Column("pracid", I32, "Practice."),
    Column("usualgpstaffid", I64, "Usual GP (a staffid of the practice)."),
    Column("gender", I8, "1 male, 2 female, 3 indeterminate."),
    Column("yob", I16, "Year of birth."),
    Column("mob", I8, "Month of birth, given for patients under 16 on the study end date."),
    Column("emis_ddate", DATE, "Date of death as recorded by the practice."),
    Column("regstartdate", DATE, "Start of the current registration."),
    Column("patienttypeid", I8, "Patient type (aurum/lookups/PatientType.txt)."),
    Column("regenddate", DATE, "End of registration (empty if still registered)."),
    Column("acceptable", I8, "1 if the record meets CPRD's research-quality rules."),
    Column("cprd_ddate", DATE, "CPRD-derived date of death."),
), aurum_file="Patient.txt")

OBSERVATION = Table("observation", "record", "Coded clinical observations (this release: ethnicity).", (
    Column("patid", I64, "Patient."),
    Column("consid", I64, "Consultation (empty if none)."),
    Column("pracid", I32, "Practice."),
    Column("obsid", I64, "Observation id; its last five digits are the pracid."),
    Column("obsdate", DATE, "Date of the observation."),
    Column("enterdate", DATE, "Date entered (on or after obsdate)."),
    Column("staffid", I64, "Staff who recorded it."),
    Column("parentobsid", I64, "Parent observation (e.g. systolic for a diastolic)."),
    Column("medcodeid", I64, "Code (MedicalDictionary.txt)."),
    Column("value", F64, "Numeric value."),
    Column("numunitid", I16, "Unit of value (lookups/NumUnit.txt)."),
    Column("obstypeid", I16, "Observation type (lookups/ObsType.txt)."),
    Column("numrangelow", F64, "Reference range low."),
    Column("numrangehigh", F64, "Reference range high."),
    Column("probobsid", I64, "Problem this observation belongs to."),
), aurum_file="Observation.txt")

DEPRIVATION = Table("patient_deprivation", "record",
    "Area deprivation of the patient's postcode, as CPRD's linked small-area data gives it.", (
    Column("patid", I64, "Patient."),
    Column("pracid", I32, "Practice."),
    Column("e2019_imd_5", I8, "IMD 2019 quintile, 1 most deprived."),
    Column("townsend", F64, "Townsend deprivation score (QRISK3 input)."),
), aurum_file="linked/patient_2019_imd.txt")

IDENTITY = Table("patient_identity", "identity",
    "Identifiable details (never in the Aurum files). All artificial: NHS numbers in the 999 test range, "
    "Ofcom drama phone numbers, reserved e-mail domains, invented inward postcodes.", (
    Column("patid", I64, "Patient."),
    Column("nhs_number", STR, "Ten digits, valid modulus-11 check, in a range never issued."),
    Column("title", STR, "Title."),
    Column("given_name", STR, "Given name (Faker en_GB name lists)."),
    Column("family_name", STR, "Family name."),
    Column("date_of_birth", DATE, "Date of birth."),
    Column("sex", STR, "male or female."),
    Column("address_line", STR, "House number and street."),
    Column("town", STR, "Post town."),
    Column("postcode", STR, "Real South West (or regional) outward code with an invented inward code."),
    Column("phone_home", STR, "Landline in an Ofcom drama range, or empty."),
    Column("phone_mobile", STR, "Mobile in the Ofcom drama range, or empty."),
    Column("email", STR, "Address at a reserved example domain, or empty."),
))

PERSON_TRUTH = Table("person_truth", "truth",
    "The truth about each person, whether or not the record shows it.", (
    Column("patid", I64, "Patient."),
    Column("ethnicity", STR, "Census 2021 ethnic group (always known here; the record may lack it)."),
    Column("ethnicity_broad", STR, "Census 2021 broad group."),
    Column("date_of_birth", DATE, "Date of birth."),
    Column("date_of_death", DATE, "Date of death, if in the study period."),
    Column("exit_reason", STR, "died, moved, temporary, or empty if registered at the end."),
))

BLOCK_TABLES: tuple[Table, ...] = (PATIENT, OBSERVATION, DEPRIVATION, IDENTITY, PERSON_TRUTH)
PLAN_TABLES: tuple[Table, ...] = (PRACTICE, STAFF, STAFF_IDENTITY)
ALL_TABLES: tuple[Table, ...] = PLAN_TABLES + BLOCK_TABLES
BY_NAME = {t.name: t for t in ALL_TABLES}

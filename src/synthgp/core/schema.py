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
    Column("uts", DATE, "Up-to-standard date: empty, as in CPRD Aurum (CPRD derives none for Aurum practices)."),
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

CONSULTATION = Table("consultation", "record", "One row per consultation (face to face, telephone, clinic, results).", (
    Column("patid", I64, "Patient."),
    Column("consid", I64, "Consultation id; its last five digits are the pracid (ids of each table are distinct)."),
    Column("pracid", I32, "Practice."),
    Column("consdate", DATE, "Date of the consultation."),
    Column("enterdate", DATE, "Date entered."),
    Column("staffid", I64, "Staff member."),
    Column("conssourceid", I16, "Kind of consultation (lookups/ConsSource.txt)."),
    Column("cprdconstype", I16, "CPRD consultation type (empty: not derived)."),
    Column("consmedcodeid", I64, "Code of the consultation type (MedicalDictionary.txt; cluster CONS of codes.csv)."),
), aurum_file="Consultation.txt")

OBSERVATION = Table("observation", "record",
    "Coded observations: ethnicity, blood pressure (systolic and diastolic paired by parentobsid), tests, "
    "diagnoses, risk factors, reviews, referrals.", (
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

PROBLEM = Table("problem", "record", "Problems: a diagnosis observation with the same obsid made a problem.", (
    Column("patid", I64, "Patient."),
    Column("obsid", I64, "The observation that is the problem."),
    Column("pracid", I32, "Practice."),
    Column("parentprobobsid", I64, "Parent problem."),
    Column("probenddate", DATE, "End of the problem (empty if active)."),
    Column("expduration", I32, "Expected duration in days."),
    Column("lastrevdate", DATE, "Last reviewed."),
    Column("lastrevstaffid", I64, "Who last reviewed it."),
    Column("parentprobrelid", I16, "Relation to the parent problem."),
    Column("probstatusid", I16, "Status (lookups/ProbStatus.txt)."),
    Column("signid", I16, "Significance (lookups/Sign.txt)."),
), aurum_file="Problem.txt")

REFERRAL = Table("referral", "record", "Referrals: a referral observation with the same obsid.", (
    Column("patid", I64, "Patient."),
    Column("obsid", I64, "The referral observation."),
    Column("pracid", I32, "Practice."),
    Column("refsourceorgid", I64, "Referring organisation."),
    Column("reftargetorgid", I64, "Organisation referred to."),
    Column("refurgencyid", I16, "Urgency (lookups/RefUrgency.txt)."),
    Column("refservicetypeid", I16, "Service type (lookups/RefServiceType.txt)."),
    Column("refmodeid", I16, "Mode (lookups/RefMode.txt)."),
), aurum_file="Referral.txt")

DRUG_ISSUE = Table("drug_issue", "record", "Prescriptions issued (acute and repeat).", (
    Column("patid", I64, "Patient."),
    Column("issueid", I64, "Issue id; its last five digits are the pracid."),
    Column("pracid", I32, "Practice."),
    Column("probobsid", I64, "Problem the drug was issued for (the hypertension diagnosis)."),
    Column("drugrecid", I64, "Drug record (the course: same product from one start)."),
    Column("issuedate", DATE, "Date of issue."),
    Column("enterdate", DATE, "Date entered."),
    Column("staffid", I64, "Prescriber."),
    Column("prodcodeid", I64, "Product (ProductDictionary.txt)."),
    Column("dosageid", STR, "Dosage (lookups/common_dosages.txt)."),
    Column("quantity", F64, "Quantity issued."),
    Column("quantunitid", I16, "Unit of quantity (lookups/QuantUnit.txt)."),
    Column("duration", I32, "Days the issue lasts."),
    Column("estnhscost", F64, "Estimated NHS cost, pounds."),
), aurum_file="DrugIssue.txt")

DEPRIVATION = Table("patient_deprivation", "record",
    "Area deprivation of the patient's postcode, as CPRD's linked small-area data gives it.", (
    Column("patid", I64, "Patient."),
    Column("pracid", I32, "Practice."),
    Column("e2019_imd_5", I8, "IMD 2019 quintile, as CPRD's linkage gives it: 1 least deprived, 5 most deprived."),
    Column("townsend", F64, "Townsend deprivation score (QRISK3 input)."),
), aurum_file="linked/patient_2019_imd.txt")

IDENTITY = Table("patient_identity", "identity",
    "Identifiable details (never in the Aurum files). All artificial: NHS numbers in the 999 test range, "
    "Ofcom drama phone numbers, reserved e-mail domains, invented inward postcodes.", (
    Column("patid", I64, "Patient."),
    Column("nhs_number", STR, "Ten digits, valid modulus-11 check, in a range never issued."),
    Column("title", STR, "Title."),
    Column("given_name", STR, "Given name, by sex, birth cohort and ethnic group (ONS baby-name lists; population/names.py)."),
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

HYPERTENSION_TRUTH = Table("hypertension_truth", "truth",
    "Per adult: the true hypertension state behind the record, and what the practice made of it.", (
    Column("patid", I64, "Patient."),
    Column("true_hypertension_onset", DATE, "First day the usual (untreated, no white-coat) BP was >= 140/90 while "
           "in the record; the record start if already then."),
    Column("hypertensive_at_end", I8, "1 if hypertensive (usual BP >= 140/90 untreated) on the last day in the record."),
    Column("diagnosed_date", DATE, "When the practice recorded the diagnosis (may be before the study for prior diagnoses)."),
    Column("prior_diagnosis", I8, "1 if the diagnosis predates the person's record in this practice."),
    Column("usual_sbp_entry", F64, "Usual untreated systolic BP at the record start."),
    Column("white_coat_sbp", F64, "Person's white-coat effect, systolic (negative: masked)."),
    Column("drug_response", F64, "Multiplier on the average drug effect."),
    Column("adherence", F64, "Share of prescribed doses taken (when taking them at all)."),
    Column("stopped_treatment_date", DATE, "When the person stopped all antihypertensives, if they did."),
    Column("arm_difference_sbp", F64, "The person's left-arm minus right-arm systolic BP (data/blood_pressure.toml "
           "[both_arms]); the usual BP is the right arm's."),
    Column("reading_arm", I8, "The arm clinic readings were taken in at the end: 0 both arms never compared (the right), "
           "1 right, 2 left (a both-arms check found it higher by more than the era's figure twice, NG136 1.2.4)."),
))

BP_TRUTH_YEAR = Table("bp_truth_year", "truth", "True mean BP per person and calendar year (months in the record).", (
    Column("patid", I64, "Patient."),
    Column("year", I16, "Calendar year."),
    Column("usual_sbp", F64, "Mean usual systolic BP without treatment."),
    Column("usual_dbp", F64, "Mean usual diastolic BP without treatment."),
    Column("treated_sbp", F64, "Mean systolic BP with treatment as taken."),
    Column("treated_dbp", F64, "Mean diastolic BP with treatment as taken."),
    Column("months", I8, "Months of the year in the record."),
))

DECISION_TRUTH = Table("decision_truth", "truth", "Every treatment decision and the rule that made it.", (
    Column("patid", I64, "Patient."),
    Column("date", DATE, "Date of the decision."),
    Column("decision", STR, "start, titrate, add, switch, refer, no_change, declined, lifestyle, restart."),
    Column("drug", STR, "Drug concerned, if any."),
    Column("rule", STR, "NG136 recommendation, or the behaviour parameter, behind it."),
))

OUTCOME_TRUTH = Table("outcome_truth", "truth", "Cardiovascular events (all are also coded in the record).", (
    Column("patid", I64, "Patient."),
    Column("date", DATE, "Date of the event."),
    Column("event", STR, "stroke, mi or heart_failure."),
    Column("fatal", I8, "1 if the person died of it within 30 days."),
    Column("treated_sbp", F64, "True systolic BP (as treated) when it happened."),
))

RISK_TRUTH = Table("risk_factor_truth", "truth", "QRISK3 inputs as they truly were when the person's record started.", (
    Column("patid", I64, "Patient."),
    Column("bmi", F64, "Body mass index at the record start."),
    Column("bmi_at_end", F64, "Body mass index on the person's last day in the record."),
    Column("smoking", STR, "never, ex, light, moderate, heavy."),
    Column("alcohol_at_end", STR, "Usual drinking on the person's last day: non_drinker, lower_risk, increasing_risk, higher_risk."),
    Column("type1", I8, "Type 1 diabetes."),
    Column("type2", I8, "Type 2 diabetes."),
    Column("af", I8, "Atrial fibrillation."),
    Column("ckd", I8, "CKD stage 3-5."),
    Column("ra", I8, "Rheumatoid arthritis."),
    Column("sle", I8, "Systemic lupus erythematosus."),
    Column("migraine", I8, "Migraine."),
    Column("semi", I8, "Severe mental illness."),
    Column("atypical_antipsychotic", I8, "On atypical antipsychotics."),
    Column("corticosteroids", I8, "On regular corticosteroids."),
    Column("impotence", I8, "Erectile dysfunction (men)."),
    Column("fh_cvd", I8, "Family history of premature CHD."),
    Column("total_cholesterol", F64, "Total cholesterol, mmol/L."),
    Column("hdl", F64, "HDL cholesterol, mmol/L."),
    Column("type2_onset_age", F64, "Age at type 2 diabetes onset (empty: never)."),
    Column("ckd_onset_age", F64, "Age at CKD 3-5 onset (empty: never)."),
    Column("af_onset_age", F64, "Age at AF onset (empty: never)."),
))

FLU_TRUTH = Table("flu_truth", "truth",
                  "Each adult's seasonal flu vaccination season by season while eligible and registered at its start: "
                  "whether vaccinated, where, and whether the practice's record learned of it.", (
    Column("patid", I64, "Patient."),
    Column("season", I16, "Season by the year it starts (2023 is 2023/24)."),
    Column("eligible_as", STR, "age_65_plus, clinical_risk or age_50_64 (the first that applies)."),
    Column("vaccinated", I8, "1 if vaccinated in the season."),
    Column("date", DATE, "Date of vaccination (empty if not vaccinated)."),
    Column("place", STR, "practice or pharmacy (empty if not vaccinated)."),
    Column("recorded", I8, "1 if the practice record holds the vaccination (a pharmacy's notification can be lost)."),
))

COVID_TRUTH = Table("covid_truth", "truth",
                    "Every SARS-CoV-2 infection of an adult while simulated, whether or not it was tested or recorded: "
                    "its severity and the person's vaccination and infection history when it started.", (
    Column("patid", I64, "Patient."),
    Column("date", DATE, "Day the infection started."),
    Column("variant", STR, "Period of the variant (data/covid.toml variants.names)."),
    Column("symptomatic", I8, "1 if it gave symptoms."),
    Column("tested", I8, "1 if a test found it (PCR or lateral flow; every admission is tested)."),
    Column("recorded", I8, "1 if a positive result reached the practice record."),
    Column("admitted", I8, "1 if admitted to hospital."),
    Column("icu", I8, "1 if admitted to critical care (HDU or ICU) during that admission."),
    Column("died", I8, "1 if it caused the person's death."),
    Column("oximetry", I8, "1 if monitored at home with a pulse oximeter (COVID Oximetry @home, November 2020 to July 2022)."),
    Column("long_covid", I8, "1 if symptoms lasted 12 weeks or more (long COVID), whether or not the practice coded it."),
    Column("doses", I8, "Vaccine doses the person had had when it started."),
    Column("previous", I8, "Earlier infections of the person."),
))

COVID_GROUPS = Table("covid_groups", "truth",
                     "Each adult's JCVI priority group for the first COVID-19 vaccine doses, set when their group was "
                     "offered, with whether they lived in a care home or were a frontline health or social care worker.", (
    Column("patid", I64, "Patient."),
    Column("date", DATE, "Day their group was offered the vaccine."),
    Column("jcvi_group", I8, "JCVI group, as an index into data/covid.toml vaccination.groups (0: care home residents)."),
    Column("care_home", I8, "1 if living in a care home for older adults when the programme started."),
    Column("health_worker", I8, "1 if a frontline health or social care worker when the programme started."),
))

LAB_TRUTH = Table("lab_truth", "truth",
                  "The conditions blood tests reveal, for adults while simulated: anaemia by calendar year (burn-in included) "
                  "(iron deficiency or other causes), hyperthyroidism and hypothyroidism with their span.", (
    Column("patid", I64, "Patient."),
    Column("condition", STR, "anaemia_iron_deficiency, anaemia_other, hyperthyroidism or hypothyroidism."),
    Column("start", DATE, "First day (anaemia: of the year or of the record; hypothyroidism: onset, maybe before entry)."),
    Column("end", DATE, "Last day (empty: lasting)."),
))

BLOCK_TABLES: tuple[Table, ...] = (PATIENT, CONSULTATION, OBSERVATION, PROBLEM, REFERRAL, DRUG_ISSUE, DEPRIVATION,
                                   IDENTITY, PERSON_TRUTH, HYPERTENSION_TRUTH, BP_TRUTH_YEAR, DECISION_TRUTH,
                                   OUTCOME_TRUTH, RISK_TRUTH, FLU_TRUTH, COVID_TRUTH, COVID_GROUPS, LAB_TRUTH)
PLAN_TABLES: tuple[Table, ...] = (PRACTICE, STAFF, STAFF_IDENTITY)
ALL_TABLES: tuple[Table, ...] = PLAN_TABLES + BLOCK_TABLES
BY_NAME = {t.name: t for t in ALL_TABLES}

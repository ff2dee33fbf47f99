# rAURUM on a synthgp Aurum folder: the steps a new user takes.
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]
suppressMessages(library(rAURUM))
step <- function(name, expr) {
  r <- tryCatch({ v <- expr; cat(sprintf("STEP %s OK %s\n", name, v)) }, error = function(e) cat(sprintf("STEP %s FAIL %s\n", name, conditionMessage(e))))
}
db <- connect_database(tempfile(fileext = ".sqlite"))
pat <- NULL
step("extract_cohort", { pat <<- extract_cohort(filepath = dir); nrow(pat) })
for (ft in c("observation", "drugissue", "referral", "problem", "consultation")) {
  step(paste0("cprd_extract_", ft), { invisible(capture.output(cprd_extract(db = db, filepath = dir, filetype = ft), file = nullfile()));
    RSQLite::dbGetQuery(db, paste0("SELECT count(*) AS n FROM ", ft))$n })
}
step("obs_na_values", { d <- RSQLite::dbGetQuery(db, "SELECT count(*) n FROM observation WHERE obsdate IS NULL"); d$n })
cl <- system.file("codelists", package = "rAURUM")
if (!is.null(pat)) {
  pat$fup_start <- as.Date("2020-01-01")
  pat$fup_end <- as.Date("2024-12-31")
  step("extract_bmi", { r <- extract_bmi(cohort = pat, codelist.bmi.vector = args[2], codelist.weight.vector = args[3],
     codelist.height.vector = args[4], indexdt = "fup_start", time.prev = 365.25 * 10, db.open = db, return.output = TRUE);
     sprintf("%d of %d with bmi, median %.1f", sum(!is.na(r$bmi)), nrow(r), median(r$bmi, na.rm = TRUE)) })
  step("extract_bmi_from_height_weight_only", { r <- extract_bmi(cohort = pat, codelist.bmi.vector = "0", codelist.weight.vector = args[3],
     codelist.height.vector = args[4], indexdt = "fup_start", time.prev = 365.25 * 10, db.open = db, return.output = TRUE);
     sprintf("%d of %d with bmi, median %.1f", sum(!is.na(r$bmi)), nrow(r), median(r$bmi, na.rm = TRUE)) })
  step("extract_test_data_sbp", { r <- extract_test_data(cohort = pat, codelist.vector = args[5], indexdt = "fup_start",
     time.prev = 365.25 * 10, db.open = db, return.output = TRUE);
     sprintf("%d values", nrow(r)) })
}

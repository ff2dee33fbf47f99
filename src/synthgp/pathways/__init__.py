"""Care pathways, one module per condition. Each runs on a block of people and emits record rows
into an EventLog, plus its own ground-truth tables."""

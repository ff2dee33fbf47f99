"""The foundations every layer uses: counter-based random draws, dates, packaged reference data, ids,
the record's table schema and the validated scenario. Imports nothing else of synthgp."""

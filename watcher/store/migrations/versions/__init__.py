"""One module per schema revision, oldest first: ``r0001_baseline`` is the schema of 2026."""

"""crampbot's knowledge: content models, the SQLite store, search and triage. No Discord here."""

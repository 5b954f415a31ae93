"""The secure channel: PASE and CASE session establishment (Core spec 4.14), one file per role.

Layering: ``session/`` holds what lies *below* the exchange layer (session records, keys and
counters, the session table); this package runs *above* it, as exchange delegates, and installs
the sessions it establishes through one factory (:mod:`.sessions`).
"""

"""The CSA Distributed Compliance Ledger (DCL) as a source of published OTA images."""

"""Persistent state: one SQLite database (WAL) in the state directory."""

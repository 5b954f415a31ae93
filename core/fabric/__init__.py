"""Fabrics: the fabric table, operational identities, group keys, access control."""

"""Cryptography for the Matter stack: primitives from ``cryptography``, plus the P-256
point arithmetic and SPAKE2+ that it does not provide."""

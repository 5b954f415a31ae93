"""Wire codecs: Matter TLV, message and protocol headers, StatusReport, status codes.

Pure functions and immutable dataclasses; no I/O.
"""

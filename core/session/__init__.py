"""Sessions: message counters and replay windows, unsecured and secure sessions, PASE and CASE."""

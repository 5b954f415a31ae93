"""Transports: the only layer that touches sockets."""

"""Endpoint-0 clusters: one file per cluster; root.py assembles the node's data model."""

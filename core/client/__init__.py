"""The OTA requestor side: a client that queries a provider and downloads over BDX."""

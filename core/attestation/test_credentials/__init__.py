"""Public Matter test attestation credentials; see README.md."""

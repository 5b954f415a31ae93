"""Device attestation credentials (DAC, PAI, Certification Declaration)."""

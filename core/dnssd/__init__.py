"""DNS-SD advertising of the commissionable and operational services."""

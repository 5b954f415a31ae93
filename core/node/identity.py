"""Who the node is, read from its state or minted once: the PASE salt of its setup passcode and its
device attestation credentials (given as files, or a test DAC kept in the state)."""

from __future__ import annotations

import logging
import secrets

from ..attestation.credentials import AttestationError, DeviceCredentials
from ..securechannel.pase_credentials import PaseCredentials
from ..storage.database import Database
from .config import NodeConfig

__all__ = ["PBKDF_ITERATIONS", "load_attestation", "load_pase_credentials"]

log = logging.getLogger(__name__)

PBKDF_ITERATIONS = 1000
_ATTESTATION_PARTS = ("dac", "pai", "dac_key", "cd")


def load_pase_credentials(db: Database, passcode: int) -> PaseCredentials:
    """The verifier of the setup passcode, with a salt drawn once and kept: a commissioner that read
    the PBKDF parameters before a restart still computes the same verifier after it."""
    salt = db.get_setting("pase/salt")
    if salt is None:
        salt = secrets.token_bytes(32)
        db.set_setting("pase/salt", salt)
    return PaseCredentials.from_passcode(passcode, salt, PBKDF_ITERATIONS)


def load_attestation(db: Database, config: NodeConfig) -> DeviceCredentials:
    """The DAC chain given as files (checked against the VID/PID the node announces), else the test
    DAC kept in the state, else a new one minted for the configured VID/PID and kept."""
    if config.attestation_files is not None:
        credentials = DeviceCredentials.from_files(*config.attestation_files)
        if (credentials.vendor_id, credentials.product_id) != (config.vendor_id, config.product_id):
            raise AttestationError(
                f"the DAC is for VID 0x{credentials.vendor_id:04X} PID 0x{credentials.product_id:04X}; "
                f"start with --vendor-id 0x{credentials.vendor_id:04X} --product-id 0x{credentials.product_id:04X}"
            )
        return credentials
    stored = {name: db.get_setting(f"attestation/{name}") for name in _ATTESTATION_PARTS}
    complete = {name: value for name, value in stored.items() if value}
    if len(complete) == len(_ATTESTATION_PARTS):
        try:
            credentials = DeviceCredentials.from_storage(complete)
        except (ValueError, IndexError, TypeError) as exc:  # our own test DAC, damaged: a new one is made
            log.warning("the stored test attestation credentials are damaged (%s): new ones are made", exc)
        else:
            if (credentials.vendor_id, credentials.product_id) == (config.vendor_id, config.product_id):
                return credentials
    credentials = DeviceCredentials.generate(config.vendor_id, config.product_id)
    with db.transaction() as cursor:
        for name, value in credentials.to_storage().items():
            cursor.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (f"attestation/{name}", value),
            )
    return credentials

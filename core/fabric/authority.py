"""A small certificate authority for fabrics we create ourselves (the demo fabric, tests).

A real commissioner brings its own root and issues our NOC; this authority plays that role
when the provider and its simulated requestors need a fabric of their own.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec

from ..crypto.certificates import FABRIC_ID, NOC_CAT, NODE_ID, RCAC_ID, MatterCertificate, issue_certificate
from .table import Fabric

__all__ = ["FabricAuthority"]

DEFAULT_VALID_FROM = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@dataclass
class FabricAuthority:
    fabric_id: int
    vendor_id: int = 0xFFF1
    root_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    rcac_id: int = field(default_factory=lambda: secrets.randbits(63) + 1)
    ipk_epoch_key: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    valid_from: dt.datetime = DEFAULT_VALID_FROM
    rcac_tlv: bytes | None = None  # the root certificate minted before, kept: its bytes must not change

    def __post_init__(self) -> None:
        self._root_dn = ((RCAC_ID, self.rcac_id), (FABRIC_ID, self.fabric_id))
        self.rcac: MatterCertificate
        if self.rcac_tlv is not None:
            self.rcac = MatterCertificate.from_tlv(self.rcac_tlv)
            return
        self.rcac = issue_certificate(
            subject=self._root_dn,
            public_key=self.root_key.public_key(),
            issuer=self._root_dn,
            issuer_key=self.root_key,
            is_ca=True,
            not_before=self.valid_from,
            serial=secrets.randbits(63) + 1,
        )

    def issue_noc(
        self, node_id: int, public_key: ec.EllipticCurvePublicKey, cats: tuple[int, ...] = ()
    ) -> MatterCertificate:
        subject = ((NODE_ID, node_id), (FABRIC_ID, self.fabric_id), *((NOC_CAT, cat) for cat in cats))
        return issue_certificate(
            subject=subject,
            public_key=public_key,
            issuer=self._root_dn,
            issuer_key=self.root_key,
            is_ca=False,
            not_before=self.valid_from,
            serial=secrets.randbits(63) + 1,
        )

    def join(self, node_id: int, fabric_index: int = 1, cats: tuple[int, ...] = (), label: str = "") -> Fabric:
        """A complete fabric entry for ``node_id``: new operational key, NOC, this root and IPK."""
        key = ec.generate_private_key(ec.SECP256R1())
        noc = self.issue_noc(node_id, key.public_key(), cats)
        return Fabric.create(
            fabric_index,
            rcac=self.rcac.to_tlv(),
            icac=None,
            noc=noc.to_tlv(),
            ipk_epoch_key=self.ipk_epoch_key,
            vendor_id=self.vendor_id,
            operational_key=key,
            label=label,
        )

"""Commissioning a device onto the bench fabric, stage by stage as the SDK's commissioner does it
(MATTER_STACK.md §4.2): PASE, read the commissioning info, arm the fail-safe, regulatory config,
attestation, CSR, root certificate, NOC, CASE, CommissioningComplete.

A device reached over BLE (PASE over BTP) is given its network after its NOC, as the SDK does: the
Wi-Fi credentials or Thread dataset, ConnectNetwork, then it is looked for on IP by its operational
name, and CASE runs there.

Each stage is timed and reported (``on_stage``); a failure names its stage and says why, and the
fail-safe is disarmed if the device still listens (otherwise it expires there and rolls back).
Nothing is written to our state until the device has accepted its NOC and CommissioningComplete.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from ..api.events import StepState
from ..codec import tlv
from ..codec.tlv import UInt
from ..crypto.primitives import CryptoError, ecdsa_verify_raw
from ..exchange.driver import ExchangeDriver
from ..fabric.table import Fabric
from ..im.messages import AttributePath
from ..node_ids import node_text
from ..presentation.words import socket_address
from ..securechannel.connect import establish_case, establish_pase
from ..session.secure import SecureSession
from .attestation import (
    AttestationInput,
    TrustStore,
    Verdict,
    VerdictKind,
    cd_signer_key_id,
    verify_attestation,
)
from .bench_fabric import BenchFabric
from .calls import CallError, DeviceCalls
from .network_setup import Credentials, Joined, NetworkRefused, add_network, connect_network, find_interface

__all__ = [
    "CommissionedDevice",
    "CommissioningError",
    "NetworkSetup",
    "Stage",
    "StageReport",
    "case_session",
    "commission",
]

# (DAC, PAI) DER -> (why revoked or None, what was checked): the ledger's CRLs (core/dcl)
RevocationCheck = Callable[[bytes, bytes], Awaitable[tuple[str | None, str]]]
# A CD signer's key id -> its certificate looked up (the ledger's) and added to the trust store
CdSignerLookup = Callable[[bytes], Awaitable[None]]

GENERAL_COMMISSIONING, OPERATIONAL_CREDENTIALS, BASIC_INFORMATION = 0x0030, 0x003E, 0x0028
DEFAULT_FAILSAFE_SECONDS = 60
COUNTRY_CODE = "XX"  # "no country", as the SDK commissioner sends without one
_INDOOR_OUTDOOR = 2
_LOCATIONS = {0: "indoor", 1: "outdoor", 2: "indoor and outdoor"}  # RegulatoryLocationTypeEnum
# NodeOperationalCertStatusEnum (Core spec 11.18.4.7), for AddNOC's answer in words.
_NOC_STATUS = {
    1: "invalid public key",
    2: "invalid node id",
    3: "invalid NOC",
    4: "missing CSR",
    5: "fabric table full",
    6: "invalid admin subject",
    9: "fabric conflict (already on this fabric)",
    10: "label conflict",
    11: "invalid fabric index",
}
# CommissioningErrorEnum (Core spec 11.10.6.1).
_COMMISSIONING_ERROR = {
    1: "value outside range",
    2: "invalid authentication",
    3: "no fail-safe armed",
    4: "busy with another administrator",
}


class Stage(enum.Enum):
    BLE = "BLE connect"
    PASE = "secure pairing (PASE)"
    READ = "read commissioning info"
    ARM_FAILSAFE = "arm the fail-safe"
    REGULATORY = "regulatory config"
    ATTESTATION = "device attestation"
    CSR = "operational CSR"
    ROOT = "add trusted root"
    NOC = "add NOC"
    NETWORK = "network credentials"
    JOIN = "join the network"
    FIND = "find on IP"
    CASE = "operational session (CASE)"
    COMPLETE = "commissioning complete"


@dataclass(frozen=True)
class StageReport:
    stage: Stage
    state: StepState  # STARTED, DONE or FAILED
    seconds: float = 0.0
    detail: str = ""

    def text(self) -> str:
        timing = f" in {self.seconds:.2f} s" if self.state is not StepState.STARTED else ""
        return f"{self.stage.value}: {self.state}{timing}" + (f" ({self.detail})" if self.detail else "")


class CommissioningError(RuntimeError):
    def __init__(self, stage: Stage, reason: str) -> None:
        super().__init__(f"{stage.value} failed: {reason}")
        self.stage = stage
        self.reason = reason


@dataclass(frozen=True)
class CommissionedDevice:
    node_id: int
    fabric_index_on_device: int
    vendor_id: int
    product_id: int
    verdict: Verdict
    address: tuple
    session: SecureSession  # the CASE session CommissioningComplete went over


Confirm = Callable[[Verdict], Awaitable[bool]]
FindOnIp = Callable[[int], Awaitable[list[tuple]]]  # node id -> its addresses ([] if not found)


@dataclass(frozen=True)
class NetworkSetup:
    """For a device reached over BLE: the network to give it, and how to find it on IP afterwards."""

    credentials: Credentials
    find_on_ip: FindOnIp


async def _refuse(_: Verdict) -> bool:
    return False


async def commission(
    driver: ExchangeDriver,
    address: tuple,
    passcode: int,
    bench: BenchFabric,
    our_fabric: Fabric,
    node_id: int,
    trust: TrustStore,
    *,
    accept_unverified: Confirm = _refuse,
    on_stage: Callable[[StageReport], None] = lambda report: None,
    timeout: float = 30.0,
    network: NetworkSetup | None = None,
    revocation: RevocationCheck | None = None,
    cd_signer: CdSignerLookup | None = None,
) -> CommissionedDevice:
    """Commission the device at ``address`` as ``node_id``; raise CommissioningError naming the stage.
    ``network``: give the device this network after its NOC and continue on IP (a BLE device)."""
    flow = _Flow(driver, address, bench, our_fabric, node_id, trust, accept_unverified, on_stage, timeout)
    flow.network = network
    flow.revocation = revocation
    flow.cd_signer = cd_signer
    return await flow.run(passcode)


class _Flow:
    def __init__(self, driver, address, bench, our_fabric, node_id, trust, accept_unverified, on_stage, timeout):
        self.driver, self.address, self.bench, self.our_fabric = driver, address, bench, our_fabric
        self.node_id, self.trust, self.accept_unverified, self.on_stage = node_id, trust, accept_unverified, on_stage
        self.timeout = timeout
        self.network: NetworkSetup | None = None
        self.revocation: RevocationCheck | None = None
        self.cd_signer: CdSignerLookup | None = None
        self.failsafe_seconds = DEFAULT_FAILSAFE_SECONDS
        self.device: DeviceCalls | None = None
        self.failsafe_armed = False
        self.breadcrumb = 0
        self.dac: x509.Certificate | None = None  # the verified DAC, to check the NOCSR signature with

    async def run(self, passcode: int) -> CommissionedDevice:
        try:
            return await self._stages(passcode)
        except CommissioningError:
            await self._disarm()
            raise

    async def _stage(self, stage: Stage, work: Callable[[], Awaitable[tuple[Any, str]]]) -> Any:
        """Run one stage, reported started, then done or failed with its time; ``work`` returns
        (its value, a detail for the report). Any failure becomes a CommissioningError naming it."""
        self.on_stage(StageReport(stage, StepState.STARTED))
        started = time.monotonic()
        try:
            value, detail = await work()
        except CommissioningError as exc:
            self.on_stage(StageReport(stage, StepState.FAILED, time.monotonic() - started, exc.reason))
            raise
        except (
            TimeoutError,
            CallError,
            ConnectionError,
            CryptoError,
            NetworkRefused,
            ValueError,
            KeyError,
            TypeError,
        ) as exc:
            reason = str(exc) or type(exc).__name__
            self.on_stage(StageReport(stage, StepState.FAILED, time.monotonic() - started, reason))
            raise CommissioningError(stage, reason) from None
        self.on_stage(StageReport(stage, StepState.DONE, time.monotonic() - started, detail))
        return value

    async def _stages(self, passcode: int) -> CommissionedDevice:
        pase: SecureSession = await self._stage(Stage.PASE, lambda: self._pase(passcode))
        self.device = DeviceCalls(self.driver, pase, timeout=self.timeout)
        info = await self._stage(Stage.READ, self._read_info)
        expiry = int(
            info.get((0, GENERAL_COMMISSIONING, 1), {}).get(0, DEFAULT_FAILSAFE_SECONDS) or DEFAULT_FAILSAFE_SECONDS
        )
        await self._stage(Stage.ARM_FAILSAFE, lambda: self._arm(expiry))
        await self._stage(Stage.REGULATORY, lambda: self._regulatory(info))
        vendor_id, product_id = info[(0, BASIC_INFORMATION, 2)], info[(0, BASIC_INFORMATION, 4)]
        verdict = await self._stage(Stage.ATTESTATION, lambda: self._attest(pase, vendor_id, product_id))
        csr_key = await self._stage(Stage.CSR, lambda: self._csr(pase, verdict))
        await self._stage(Stage.ROOT, self._root)
        fabric_index = await self._stage(Stage.NOC, lambda: self._add_noc(csr_key))
        if self.network is not None:
            network = self.network
            endpoint = await self._stage(Stage.NETWORK, lambda: self._give_network(network))
            joined = await self._stage(Stage.JOIN, lambda: self._join(network, endpoint))
            await self._stage(Stage.FIND, lambda: self._find(network, joined))
        case = await self._stage(Stage.CASE, self._case)
        await self._stage(Stage.COMPLETE, lambda: self._complete(case))
        self.failsafe_armed = False
        return CommissionedDevice(self.node_id, fabric_index, vendor_id, product_id, verdict, self.address, case)

    # ------------------------------------------------------------------ stages

    async def _pase(self, passcode: int) -> tuple[SecureSession, str]:
        where = socket_address(self.address)
        try:
            return await establish_pase(self.driver, self.address, passcode, timeout=self.timeout), ""
        except ConnectionError as exc:
            text = str(exc)
            if "timed out" in text:
                raise CommissioningError(
                    Stage.PASE,
                    f"no answer from {where} within {self.timeout:g} s: is the "
                    "device on that address, and its commissioning window open?",
                ) from None
            if "confirmation" in text:  # the SPAKE2+ confirmations differ: the two sides used other passcodes
                raise CommissioningError(
                    Stage.PASE,
                    f"{where} refused the passcode ({text}): check the setup "
                    "code, or open a new commissioning window on the device",
                ) from None
            raise CommissioningError(Stage.PASE, f"{where}: {text}") from None

    async def _read_info(self):
        paths = [AttributePath(0, GENERAL_COMMISSIONING, a) for a in (0, 1, 2, 3)]
        paths += [AttributePath(0, BASIC_INFORMATION, 2), AttributePath(0, BASIC_INFORMATION, 4)]
        assert self.device is not None
        values = await self.device.read(paths, "the commissioning info read")
        for key, name in (((0, BASIC_INFORMATION, 2), "VendorID"), ((0, BASIC_INFORMATION, 4), "ProductID")):
            if key not in values:
                raise CommissioningError(Stage.READ, f"the device did not report its {name}")
        vendor, product = values[(0, BASIC_INFORMATION, 2)], values[(0, BASIC_INFORMATION, 4)]
        return values, f"VID 0x{vendor:04X} PID 0x{product:04X}"

    async def _arm(self, seconds: int):
        assert self.device is not None
        self.failsafe_seconds = seconds
        self.breadcrumb = 1
        fields = await self.device.invoke(
            GENERAL_COMMISSIONING, 0x00, {0: UInt(seconds), 1: UInt(self.breadcrumb)}, "ArmFailSafe"
        )
        _check_error(Stage.ARM_FAILSAFE, fields, _COMMISSIONING_ERROR)
        self.failsafe_armed = True
        return None, f"{seconds} s"

    async def _regulatory(self, info: dict):
        assert self.device is not None
        capability = info.get((0, GENERAL_COMMISSIONING, 3), 0)
        current = info.get((0, GENERAL_COMMISSIONING, 2), capability)
        config = current if capability == _INDOOR_OUTDOOR else capability
        self.breadcrumb += 1
        fields = await self.device.invoke(
            GENERAL_COMMISSIONING,
            0x02,
            {0: UInt(config), 1: COUNTRY_CODE, 2: UInt(self.breadcrumb)},
            "SetRegulatoryConfig",
        )
        _check_error(Stage.REGULATORY, fields, _COMMISSIONING_ERROR)
        return None, f"{_LOCATIONS.get(config, f'location {config}')}, country {COUNTRY_CODE}"

    async def _root(self):
        assert self.device is not None
        rcac = self.bench.authority.rcac.to_tlv()
        await self.device.invoke(OPERATIONAL_CREDENTIALS, 0x0B, {0: rcac}, "AddTrustedRootCertificate")
        return None, ""

    async def _attest(self, pase: SecureSession, vendor_id: int, product_id: int):
        assert self.device is not None
        chain = {}
        for kind, name in ((2, "PAI"), (1, "DAC")):
            fields = await self.device.invoke(
                OPERATIONAL_CREDENTIALS, 0x02, {0: UInt(kind)}, f"CertificateChainRequest ({name})"
            )
            chain[name] = bytes(fields[0])
        nonce = secrets.token_bytes(32)
        fields = await self.device.invoke(OPERATIONAL_CREDENTIALS, 0x00, {0: nonce}, "AttestationRequest")
        data = AttestationInput(
            chain["DAC"],
            chain["PAI"],
            bytes(fields[0]),
            bytes(fields[1]),
            pase.keys.attestation_challenge,
            nonce,
            vendor_id,
            product_id,
        )
        signer = cd_signer_key_id(data.elements)
        if signer is not None and signer not in self.trust.cd_keys and self.cd_signer is not None:
            await self.cd_signer(signer)  # a production CD's signer, from the ledger (as matter.js looks it up)
        verdict = verify_attestation(data, self.trust)
        if verdict.ok and self.revocation is not None:  # the ledger's CRLs, when it can be reached
            revoked, checked = await self.revocation(chain["DAC"], chain["PAI"])
            if revoked is not None:
                verdict = Verdict(VerdictKind.FAILED, "revocation", revoked)
            else:
                verdict = dataclasses.replace(verdict, revocation=checked)
        if not verdict.ok and not await self.accept_unverified(verdict):
            raise CommissioningError(Stage.ATTESTATION, f"{verdict.check}: {verdict.reason}")
        self.dac = x509.load_der_x509_certificate(chain["DAC"]) if verdict.ok else None
        return verdict, verdict.describe()

    async def _csr(self, pase: SecureSession, verdict: Verdict):
        assert self.device is not None
        nonce = secrets.token_bytes(32)
        fields = await self.device.invoke(OPERATIONAL_CREDENTIALS, 0x04, {0: nonce}, "CSRRequest")
        elements, signature = bytes(fields[0]), bytes(fields[1])
        decoded = tlv.decode(elements)
        if bytes(decoded[2]) != nonce:
            raise CommissioningError(Stage.CSR, "the NOCSR elements carry another nonce than the one we sent")
        if self.dac is not None:  # an accepted unverified device may have no usable DAC to check with
            try:
                ecdsa_verify_raw(self.dac.public_key(), elements + pase.keys.attestation_challenge, signature)  # type: ignore[arg-type]
            except CryptoError:
                raise CommissioningError(Stage.CSR, "the NOCSR signature does not verify with the DAC's key") from None
        csr = x509.load_der_x509_csr(bytes(decoded[1]))
        if not csr.is_signature_valid:
            raise CommissioningError(Stage.CSR, "the CSR's own signature does not verify")
        key = csr.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise CommissioningError(Stage.CSR, "the CSR's key is not a P-256 key")
        return key, ""

    async def _add_noc(self, key: ec.EllipticCurvePublicKey):
        assert self.device is not None
        noc = self.bench.device_noc(self.node_id, key)
        fields = await self.device.invoke(
            OPERATIONAL_CREDENTIALS,
            0x06,
            {
                0: noc.to_tlv(),
                2: self.bench.authority.ipk_epoch_key,
                3: UInt(self.bench.provider_node_id),
                4: UInt(self.bench.authority.vendor_id),
            },
            "AddNOC",
        )
        status = int(fields[0])
        if status != 0:
            why = _NOC_STATUS.get(status, f"status {status}")
            raise CommissioningError(Stage.NOC, f"the device refused its NOC: {why}")
        return int(fields[1]), f"fabric index {int(fields[1])} on the device, node id {node_text(self.node_id)}"

    async def _give_network(self, network: NetworkSetup):
        assert self.device is not None
        endpoint = await find_interface(self.device, network.credentials)
        self.breadcrumb += 1
        await add_network(self.device, endpoint, network.credentials, self.breadcrumb)
        return endpoint, f"{network.credentials.describe()} on endpoint {endpoint}"

    async def _join(self, network: NetworkSetup, endpoint: int):
        assert self.device is not None
        # A fresh fail-safe for joining, finding and CASE, as the SDK re-arms before it enables Wi-Fi.
        self.breadcrumb += 1
        fields = await self.device.invoke(
            GENERAL_COMMISSIONING,
            0x00,
            {0: UInt(self.failsafe_seconds), 1: UInt(self.breadcrumb)},
            "ArmFailSafe",
        )
        _check_error(Stage.JOIN, fields, _COMMISSIONING_ERROR)
        self.breadcrumb += 1
        joined = await connect_network(self.device, endpoint, network.credentials, self.breadcrumb)
        return joined, "joined" if joined.answered else "no answer (the device may have switched its radio)"

    async def _find(self, network: NetworkSetup, joined: Joined):
        addresses = await network.find_on_ip(self.node_id)
        if not addresses:
            said = "said it joined" if joined.answered else "did not answer ConnectNetwork"
            raise CommissioningError(
                Stage.FIND,
                f"the device {said} but does not answer on IP as {node_text(self.node_id)}: is this host on "
                f"that network, and does the network pass mDNS and IPv6 between them?",
            )
        self.address = addresses[0]
        return addresses[0], socket_address(addresses[0])

    async def _case(self):
        return await case_session(self.driver, self.our_fabric, self.node_id, self.address, self.timeout), ""

    async def _complete(self, case: SecureSession):
        calls = DeviceCalls(self.driver, case, timeout=self.timeout)
        fields = await calls.invoke(GENERAL_COMMISSIONING, 0x04, None, "CommissioningComplete")
        _check_error(Stage.COMPLETE, fields, _COMMISSIONING_ERROR)
        return None, ""

    async def _disarm(self) -> None:
        """ArmFailSafe(0): the device rolls back at once. Best effort: a vanished device lets its
        fail-safe expire instead, which rolls back the same way."""
        if not self.failsafe_armed or self.device is None:
            return
        self.device.timeout = min(self.device.timeout, 3.0)
        with contextlib.suppress(TimeoutError, CallError, ConnectionError):
            await self.device.invoke(GENERAL_COMMISSIONING, 0x00, {0: UInt(0), 1: UInt(0)}, "ArmFailSafe(0)")
        self.failsafe_armed = False


async def case_session(
    driver: ExchangeDriver, fabric: Fabric, node_id: int, address: tuple, timeout: float
) -> SecureSession:
    """A CASE session to ``node_id`` at ``address``; ConnectionError saying why not."""
    return await establish_case(driver, fabric, node_id, address, timeout=timeout)


def _check_error(stage: Stage, fields, names: dict[int, str]) -> None:
    """ArmFailSafe, SetRegulatoryConfig and CommissioningComplete answer {ErrorCode, DebugText}."""
    code = int(fields[0]) if fields is not None else 0
    if code:
        text = f" ({fields[1]})" if fields.get(1) else ""
        raise CommissioningError(stage, f"the device answered {names.get(code, f'error {code}')}{text}")

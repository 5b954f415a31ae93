"""Runs under the Matter SDK's Python controller (home-assistant-chip-core), not our venv.

    python sdk_controller.py STORAGE.json STEPS.json VERDICTS.jsonl
    python sdk_controller.py STORAGE.json - VERDICTS.jsonl   (steps as JSON lines on stdin, one
        verdict each, until stdin closes: one controller for a whole bench; each step's node's
        sessions are expired first, as a node may have restarted since)
STEPS is a JSON list of steps run in order; each appends one JSON line with its outcome to
VERDICTS (a file of its own: the SDK's native log shares stdout and could glue into a line):
  {"do": "commission-discovery", "node": 1, "passcode": 20202021, "discriminator": 3840}
  {"do": "commission-code", "node": 1, "code": "MT:..."}
  {"do": "commission-ble-wifi", "node": 1, "passcode": 20202021, "discriminator": 3840, "ssid": "..",
   "passphrase": ".."}  (over BLE, the adapter in $CHIP_BLE_ADAPTER, default hci0)
  {"do": "read-basic", "node": 1}
  {"do": "read-acl", "node": 1}
  {"do": "write-acl-add-ota", "node": 1}
  {"do": "invoke-query-image", "node": 1}
  {"do": "invoke-time-snapshot", "node": 1}
  {"do": "subscribe-node-label", "node": 1, "label": "bench"}
  {"do": "open-window", "node": 1, "seconds": 300, "passcode": 20202021, "discriminator": 3841}
  {"do": "write-provider-acl", "node": 2, "requestor": 1}    (TC_SUTestBase.create_acl_entry)
  {"do": "announce-provider", "node": 1, "provider": 2}      (TC_SUTestBase.announce_ota_provider)
  {"do": "read-update-state", "node": 1}
  {"do": "announce-and-watch", "node": 1, "provider": 2, "until": {"event": 0, "newState": 5}, "seconds": 60}
     (subscribe to the requestor's StateTransition and DownloadError events, as TC-SU-2.7 does,
      announce, and collect them until one matches ``until``)
Controllers: "controller" names one (node id, fabric id) pair: default {"id": 112233, "fabric": 1}.
"""

import asyncio
import json
import logging
import os
import sys
import time
import traceback

import chip.CertificateAuthority
import chip.ChipStack
import chip.clusters as Clusters
import chip.discovery
import chip.logging
import chip.native
from chip.clusters.Types import NullValue

LOG_LINES = []


class _Collect(logging.Handler):
    def emit(self, record):
        LOG_LINES.append(self.format(record))


VERDICTS = sys.argv[3] if len(sys.argv) > 3 else None


def say(**fields):
    with open(VERDICTS, "a") as out:
        out.write(json.dumps(fields, default=str) + "\n")


async def main(storage: str, steps: list) -> int:
    try:
        await run_steps(storage, steps)
    finally:
        os._exit(0)  # the SDK's threads would keep the process alive


async def run_steps(storage: str, steps: list) -> None:
    logging.basicConfig(level=logging.INFO, handlers=[_Collect()])
    chip.native.Init(bluetoothAdapter=int(os.environ.get("CHIP_BLE_ADAPTER", "hci0").removeprefix("hci")))
    chip.logging.RedirectToPythonLogging()
    stack = chip.ChipStack.ChipStack(persistentStoragePath=storage, enableServerInteractions=False)
    authorities = chip.CertificateAuthority.CertificateAuthorityManager(stack, stack.GetStorageManager())
    authorities.LoadAuthoritiesFromStorage()
    ca = authorities.activeCaList[0] if authorities.activeCaList else authorities.NewCertificateAuthority()
    controllers = {}

    def controller(spec):
        spec = spec or {}
        key = (spec.get("id", 112233), spec.get("fabric", 1))
        if key not in controllers:
            admins = [a for a in ca.adminList if a.fabricId == key[1]]
            admin = admins[0] if admins else ca.NewFabricAdmin(vendorId=0xFFF1, fabricId=key[1])
            controllers[key] = admin.NewController(nodeId=key[0], paaTrustStorePath=os.environ["PAA_TRUST_STORE"])
        return controllers[key]

    failures = 0
    async for step in _each(steps):
        ctrl = controller(step.get("controller"))
        node = step.get("node", 1)
        if steps is None:
            ctrl.ExpireSessions(node)
        start = time.monotonic()
        try:
            result = await asyncio.wait_for(run_step(ctrl, node, step), step.get("timeout", 60))
            say(step=step["do"], ok=True, seconds=round(time.monotonic() - start, 3), **(result or {}))
        except Exception as exc:  # report and go on: the test decides what matters
            failures += 1
            status = getattr(exc, "status", None)
            say(
                step=step["do"],
                ok=False,
                error=f"{type(exc).__name__}: {exc}",
                status=str(status),
                trace=traceback.format_exc()[-1500:],
                log=LOG_LINES[-40:],
            )
    os._exit(0)


async def _each(steps):
    """The steps given, or (None) those read from stdin, one JSON object per line."""
    if steps is not None:
        for step in steps:
            yield step
        return
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        if line.strip():
            yield json.loads(line)


UPDATE_TOKENS: dict[int, bytes] = {}  # the last UpdateToken each node offered


async def run_step(ctrl, node, step):
    do = step["do"]
    if do == "commission-discovery":
        await ctrl.CommissionOnNetwork(
            node,
            step["passcode"],
            filterType=chip.discovery.FilterType.LONG_DISCRIMINATOR,
            filter=step["discriminator"],
        )
        return {}
    if do == "commission-ble-wifi":
        await ctrl.CommissionWiFi(step["discriminator"], step["passcode"], node, step["ssid"], step["passphrase"])
        return {}
    if do == "commission-code":
        await ctrl.CommissionWithCode(step["code"], node)
        return {}
    if do == "read-basic":
        attrs = Clusters.BasicInformation.Attributes
        data = await ctrl.ReadAttribute(node, [(0, attrs.VendorID), (0, attrs.ProductID), (0, attrs.SoftwareVersion)])
        values = data[0][Clusters.BasicInformation]
        return {
            "vendorId": values[attrs.VendorID],
            "productId": values[attrs.ProductID],
            "softwareVersion": values[attrs.SoftwareVersion],
        }
    if do == "read-acl":
        data = await ctrl.ReadAttribute(
            node, [(0, Clusters.AccessControl.Attributes.Acl)], fabricFiltered=step.get("fabricFiltered", True)
        )
        entries = data[0][Clusters.AccessControl][Clusters.AccessControl.Attributes.Acl]
        if not isinstance(entries, list):  # an error status object (e.g. UnsupportedAccess 0x7e)
            raise RuntimeError(f"read failed with status {getattr(entries, 'Reason', entries)}")
        return {
            "acl": [
                {
                    "privilege": int(e.privilege),
                    "authMode": int(e.authMode),
                    "subjects": e.subjects,
                    "targets": None if e.targets is NullValue else [t.cluster for t in e.targets],
                    **({"fabricIndex": e.fabricIndex} if not step.get("fabricFiltered", True) else {}),
                }
                for e in entries
            ]
        }
    if do == "write-acl-add-ota":
        acl = Clusters.AccessControl
        current = (await ctrl.ReadAttribute(node, [(0, acl.Attributes.Acl)]))[0][acl][acl.Attributes.Acl]
        target = acl.Structs.AccessControlTargetStruct(cluster=0x29, endpoint=NullValue, deviceType=NullValue)
        added = acl.Structs.AccessControlEntryStruct(
            privilege=acl.Enums.AccessControlEntryPrivilegeEnum.kOperate,
            authMode=acl.Enums.AccessControlEntryAuthModeEnum.kCase,
            subjects=step.get("subjects", NullValue),
            targets=NullValue if step.get("all_targets") else [target],
        )
        entries = [*current, added]
        result = await ctrl.WriteAttribute(node, [(0, acl.Attributes.Acl(entries))])
        return {"status": [str(r.Status) for r in result]}
    if do == "invoke-query-image":
        ota = Clusters.OtaSoftwareUpdateProvider.Commands
        command = ota.QueryImage(
            vendorID=step.get("vid", 0xFFF1),
            productID=step.get("pid", 0x8000),
            softwareVersion=step.get("version", 1),
            protocolsSupported=[0],
            requestorCanConsent=False,
        )
        r = await ctrl.SendCommand(node, 0, command)
        if r.updateToken:
            UPDATE_TOKENS[node] = r.updateToken
        return {
            "status": int(r.status),
            "imageURI": r.imageURI,
            "softwareVersion": r.softwareVersion,
            "softwareVersionString": r.softwareVersionString,
            "delayedActionTime": r.delayedActionTime,
            "updateToken": r.updateToken.hex() if r.updateToken else None,
            "userConsentNeeded": r.userConsentNeeded,
        }
    if do == "invoke-apply-update":
        token = bytes.fromhex(step["token"]) if "token" in step else UPDATE_TOKENS[node]
        command = Clusters.OtaSoftwareUpdateProvider.Commands.ApplyUpdateRequest(
            updateToken=token, newVersion=step.get("version", 3)
        )
        r = await ctrl.SendCommand(node, 0, command)
        return {"action": int(r.action), "delayedActionTime": r.delayedActionTime}
    if do == "invoke-notify-applied":
        token = bytes.fromhex(step["token"]) if "token" in step else UPDATE_TOKENS[node]
        command = Clusters.OtaSoftwareUpdateProvider.Commands.NotifyUpdateApplied(
            updateToken=token, softwareVersion=step.get("version", 3)
        )
        await ctrl.SendCommand(node, 0, command)
        return {}
    if do == "subscribe-node-label":
        attrs = Clusters.BasicInformation.Attributes
        updates = asyncio.Queue()
        loop = asyncio.get_running_loop()
        subscription = await ctrl.ReadAttribute(node, [(0, attrs.NodeLabel)], reportInterval=(0, 30))
        subscription.SetAttributeUpdateCallback(
            lambda path, transaction: loop.call_soon_threadsafe(updates.put_nowait, transaction.GetAttribute(path))
        )
        await ctrl.WriteAttribute(node, [(0, attrs.NodeLabel(step["label"]))])
        value = await asyncio.wait_for(updates.get(), 10)
        subscription.Shutdown()
        return {"reported": value}
    if do == "read-events":
        # [[cluster name, event name], ...] on endpoint 0, e.g. [["BasicInformation", "StartUp"]]
        wanted = [(0, getattr(getattr(Clusters, c).Events, e)) for c, e in step["events"]]
        results = await ctrl.ReadEvent(node, wanted, fabricFiltered=step.get("fabricFiltered", True))
        return {"events": [_event(r) for r in results]}
    if do == "subscribe-acl-events-then-write-acl":
        # An events-only subscription: the ACL write must come back as AccessControlEntryChanged.
        acl = Clusters.AccessControl
        loop = asyncio.get_running_loop()
        seen = asyncio.Queue()
        subscription = await ctrl.ReadEvent(node, [(0, acl.Events.AccessControlEntryChanged, 1)], reportInterval=(0, 5))
        subscription.SetEventUpdateCallback(lambda event, _t: loop.call_soon_threadsafe(seen.put_nowait, event))
        current = (await ctrl.ReadAttribute(node, [(0, acl.Attributes.Acl)]))[0][acl][acl.Attributes.Acl]
        target = acl.Structs.AccessControlTargetStruct(cluster=0x29, endpoint=NullValue, deviceType=NullValue)
        added = acl.Structs.AccessControlEntryStruct(
            privilege=acl.Enums.AccessControlEntryPrivilegeEnum.kOperate,
            authMode=acl.Enums.AccessControlEntryAuthModeEnum.kCase,
            subjects=NullValue,
            targets=[target],
        )
        await ctrl.WriteAttribute(node, [(0, acl.Attributes.Acl([*current, added]))])
        events = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                event = await asyncio.wait_for(seen.get(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                break
            events.append(_event(event))
            if int(event.Data.changeType) == 1:  # Added
                break
        subscription.Shutdown()
        return {"events": events}
    if do == "write-provider-acl":
        # As the certification scripts' create_acl_entry: the whole list replaced by an Administer
        # entry for this controller and Operate on the provider cluster for the requestor.
        acl = Clusters.AccessControl
        entries = [
            acl.Structs.AccessControlEntryStruct(
                privilege=acl.Enums.AccessControlEntryPrivilegeEnum.kAdminister,
                authMode=acl.Enums.AccessControlEntryAuthModeEnum.kCase,
                subjects=[ctrl.nodeId],
                targets=NullValue,
            ),
            acl.Structs.AccessControlEntryStruct(
                privilege=acl.Enums.AccessControlEntryPrivilegeEnum.kOperate,
                authMode=acl.Enums.AccessControlEntryAuthModeEnum.kCase,
                subjects=[step["requestor"]],
                targets=[acl.Structs.AccessControlTargetStruct(cluster=0x29, endpoint=NullValue, deviceType=NullValue)],
            ),
        ]
        result = await ctrl.WriteAttribute(node, [(0, acl.Attributes.Acl(entries))])
        return {"status": [str(r.Status) for r in result]}
    if do == "announce-provider":
        await ctrl.SendCommand(node, 0, _announcement(step["provider"]))
        return {}
    if do == "announce-and-watch":
        requestor = Clusters.OtaSoftwareUpdateRequestor
        loop = asyncio.get_running_loop()
        seen = asyncio.Queue()
        wanted = [(0, requestor.Events.StateTransition, 1), (0, requestor.Events.DownloadError, 1)]
        subscription = await ctrl.ReadEvent(node, wanted, reportInterval=(0, 5))
        subscription.SetEventUpdateCallback(lambda event, _t: loop.call_soon_threadsafe(seen.put_nowait, event))
        first = max([r.Header.EventNumber for r in (await ctrl.ReadEvent(node, wanted))] or [0])
        if step.get("announce", True):
            await ctrl.SendCommand(node, 0, _announcement(step["provider"]))
        until = step.get("until", {})
        events = []
        deadline = time.monotonic() + step.get("seconds", 30)
        while time.monotonic() < deadline:
            try:
                event = await asyncio.wait_for(seen.get(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                break
            if event.Header.EventNumber <= first:
                continue  # from before the announce
            events.append(_event(event))
            if (
                until
                and all(events[-1]["data"].get(k) == v for k, v in until.items() if k != "event")
                and (until.get("event") in (None, events[-1]["event"]))
            ):
                break
        subscription.Shutdown()
        return {"events": events}
    if do == "read-update-state":
        attrs = Clusters.OtaSoftwareUpdateRequestor.Attributes
        data = await ctrl.ReadAttribute(node, [(0, attrs.UpdateState), (0, attrs.UpdateStateProgress)])
        values = data[0][Clusters.OtaSoftwareUpdateRequestor]
        progress = values[attrs.UpdateStateProgress]
        return {"updateState": int(values[attrs.UpdateState]), "progress": None if progress is NullValue else progress}
    if do == "invoke-time-snapshot":
        response = await ctrl.SendCommand(node, 0, Clusters.GeneralDiagnostics.Commands.TimeSnapshot())
        return {"response": str(response)}
    if do == "open-window":
        params = await ctrl.OpenCommissioningWindow(node, step.get("seconds", 300), 1000, step["discriminator"], 1)
        return {"setupPinCode": params.setupPinCode, "qr": params.setupQRCode, "manual": params.setupManualCode}
    raise ValueError(f"unknown step {do}")


def _announcement(provider: int):
    """As the certification scripts' announce_ota_provider: UpdateAvailable, vendor 0xFFF1, endpoint 0."""
    requestor = Clusters.OtaSoftwareUpdateRequestor
    return requestor.Commands.AnnounceOTAProvider(
        providerNodeID=provider,
        vendorID=0xFFF1,
        announcementReason=requestor.Enums.AnnouncementReasonEnum.kUpdateAvailable,
        metadataForNode=None,
        endpoint=0,
    )


def _event(result):
    header = result.Header
    data = result.Data
    fields = {k: (int(v) if isinstance(v, int) else str(v)) for k, v in vars(data).items()} if data else {}
    return {
        "endpoint": header.EndpointId,
        "cluster": header.ClusterId,
        "event": header.EventId,
        "number": header.EventNumber,
        "priority": int(getattr(header.Priority, "value", header.Priority)),
        "data": fields,
    }


if __name__ == "__main__":
    if sys.argv[2] == "-":
        sys.exit(asyncio.run(main(sys.argv[1], None)))
    with open(sys.argv[2]) as f:
        sys.exit(asyncio.run(main(sys.argv[1], json.load(f))))

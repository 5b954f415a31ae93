// A matter.js OTA Requestor device for the interop tests: a commissionable ServerNode with the
// stock OtaSoftwareUpdateRequestorServer on endpoint 0. "Applying" an update is a restart of the
// node with the new SoftwareVersion, after which matter.js sends NotifyUpdateApplied by itself.
//
//     node requestor.mjs CONFIG.json
// CONFIG: {verdict, storage, port, passcode, discriminator, vendorId, productId, version,
//          timeFactor, timerCapMs?, maxRestarts, light?, canConsent?, ble?, network?}
// light: an On/Off Light on endpoint 1 as well, as a product has. matter.js then treats peers it
// knows nothing of (the provider) as a "fast" network, not with its conservative profile, which
// adds 1.5 s to every MRP retransmission (@matter/node ServerNetworkRuntime#detectFallbackProfile).
// canConsent: the requestor says it can ask its user; it grants at once (a "consent" verdict).
// ble: the unix socket of ble_peripheral.py; network: its Wi-Fi or Thread network (ble_device.mjs).
// Such a device is commissionable over BLE only, and joins the IP network on ConnectNetwork.
// Verdict lines (JSON): ready (pairing codes), state, progress, consent, applying, restarted,
// versionApplied, downloadError, timer, stopped.
import { fork } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { Environment, LogDestination, Logger, LogLevel, NodeId, ServerNode, Time } from "@matter/main";
import { OtaSoftwareUpdateRequestorServer } from "@matter/main/behaviors/ota-software-update-requestor";
import { OnOffLightDevice } from "@matter/main/devices/on-off-light";
import { installBle, networkCommissioning } from "./ble_device.mjs";
import { compressOtaTimers, readConfig, verdictChannel } from "./verdict.mjs";

const config = await readConfig();
const say = verdictChannel(config.verdict);
Logger.facilityLevels = { OtaSoftwareUpdateRequestorServer: "info" };
Environment.default.vars.set("storage.path", config.storage);
if (process.env.BENCH_DEVICE_VERSION !== undefined) {
    compressOtaTimers(Time, config.timeFactor ?? 1, say, config.timerCapMs);
    reportFailedQueries();
}

let applied; // resolves with the new version when the provider says Proceed

class BenchRequestor extends OtaSoftwareUpdateRequestorServer {
    async requestUserConsent(newVersion, newVersionString) {
        say({ event: "consent", version: newVersion, versionString: newVersionString });
        return true;
    }

    async applyUpdate(newVersion, fileDesignator) {
        const blob = await fileDesignator.openBlob();
        const bytes = new Uint8Array(await blob.arrayBuffer());
        const sha256 = createHash("sha256").update(bytes).digest("hex");
        say({ event: "applying", version: newVersion, bytes: bytes.length, sha256 });
        // The bootloader consumes the staged image. Left in place, matter.js 0.17.9 validates it
        // after the reboot (#performUpdateQuery), deletes it as "not newer", and every later
        // download in that process then fails with "The blob could not be read".
        await fileDesignator.delete();
        // matter.js 0.17.9 marks updateInProgressDetails non-volatile but does not persist it, so
        // our "bootloader" keeps it across the reboot, as a device's update agent would.
        const { location, updateToken } = this.state.updateInProgressDetails;
        writeFileSync(`${config.storage}.in-progress.json`, JSON.stringify({
            newSoftwareVersion: newVersion,
            location: { fabricIndex: location.fabricIndex, providerNodeId: String(location.providerNodeId),
                        endpoint: location.endpoint },
            updateToken: Buffer.from(updateToken).toString("hex"),
        }));
        // "Reboot" once matter.js has committed updateInProgressDetails (it does so after we return);
        // on the next start it reports the new version with NotifyUpdateApplied.
        setTimeout(() => applied(newVersion), 1000);
    }
}

function inProgressDetails() {
    const path = `${config.storage}.in-progress.json`;
    if (!existsSync(path)) return null;
    const saved = JSON.parse(readFileSync(path, "utf8"));
    unlinkSync(path);
    const { fabricIndex, providerNodeId, endpoint } = saved.location;
    return {
        newSoftwareVersion: saved.newSoftwareVersion,
        location: { fabricIndex, providerNodeId: NodeId(BigInt(providerNodeId)), endpoint },
        updateToken: new Uint8Array(Buffer.from(saved.updateToken, "hex")),
    };
}

async function runNode(version) {
    const network = config.network ? networkCommissioning(config.network, say) : undefined;
    if (config.ble) installBle(Environment.default, config.ble, say);
    const root = network ? ServerNode.RootEndpoint.with(BenchRequestor, network.behavior) : ServerNode.RootEndpoint.with(BenchRequestor);
    const node = await ServerNode.create(root, {
        id: "requestor",
        network: config.ble
            ? { port: config.port, ble: true, discoveryCapabilities: { ble: true, onIpNetwork: false } }
            : { port: config.port },
        ...(network ? { networkCommissioning: network.state } : {}),
        commissioning: { passcode: config.passcode, discriminator: config.discriminator },
        productDescription: { name: "bench requestor", deviceType: 0x0012 },
        basicInformation: {
            vendorName: "matter.js",
            vendorId: config.vendorId,
            productName: "bench requestor",
            productId: config.productId,
            nodeLabel: "requestor",
            serialNumber: `mjs-${config.discriminator}`,
            softwareVersion: version,
            softwareVersionString: `v${version}`,
            hardwareVersion: 1,
        },
        otaSoftwareUpdateRequestor: { canConsent: !!config.canConsent, updateInProgressDetails: inProgressDetails() },
    });
    if (config.light) await node.add(OnOffLightDevice, { id: "light" });
    const ota = node.eventsOf(BenchRequestor);
    ota.stateTransition.on(({ previousState, newState, reason, targetSoftwareVersion }) =>
        say({ event: "state", previousState, newState, reason, targetSoftwareVersion }),
    );
    ota.versionApplied.on(({ softwareVersion, productId }) => say({ event: "versionApplied", softwareVersion, productId }));
    ota.downloadError.on((fields) => say({ event: "downloadError", ...fields }));
    ota.updateStateProgress$Changed.on((progress) => say({ event: "progress", progress }));
    const done = new Promise((resolve) => (applied = resolve));
    await node.start();
    const codes = node.state.commissioning.pairingCodes;
    say({ event: "ready", version, manual: codes.manualPairingCode, qr: codes.qrPairingCode,
          commissioned: node.state.commissioning.commissioned });
    return { node, done };
}

// matter.js reports a failed QueryImage (an IM status such as UnsupportedAccess) only in its log:
// a log destination of our own turns that record into a verdict, with the status code.
function reportFailedQueries() {
    Logger.destinations.verdict = LogDestination({
        name: "verdict",
        level: LogLevel.INFO,
        add(message) {
            const [text] = message.values;
            if (message.facility !== "OtaSoftwareUpdateRequestorServer" || typeof text !== "string") return;
            if (!text.startsWith("OTA provider communication failed")) return;
            const error = message.values.find((value) => value instanceof Error);
            say({ event: "queryFailed", status: error?.code ?? null, error: String(error?.message ?? "") });
        },
    });
}

// "Rebooting" is a new process, as on a device: the supervisor (this script without
// BENCH_DEVICE_VERSION) runs the device as a child and starts it again with the version it applied,
// or with the same version when sent SIGUSR2.
const REBOOT = 75;
const deviceVersion = process.env.BENCH_DEVICE_VERSION;
if (deviceVersion === undefined) {
    let version = config.version;
    for (let boots = 0; ; boots++) {
        const child = fork(process.argv[1], process.argv.slice(2), {
            env: { ...process.env, BENCH_DEVICE_VERSION: String(version) },
        });
        const forward = () => child.kill("SIGTERM");
        const reboot = () => child.kill("SIGUSR2");
        process.once("SIGTERM", forward);
        process.on("SIGUSR2", reboot);
        const code = await new Promise((resolve) => child.once("exit", (c) => resolve(c)));
        process.off("SIGTERM", forward);
        process.off("SIGUSR2", reboot);
        if (code !== REBOOT || boots >= (config.maxRestarts ?? 1)) break;
        version = Number(readFileSync(`${config.storage}.next-version`, "utf8"));
        say({ event: "restarted", version });
    }
    say({ event: "stopped" });
    process.exit(0);
} else {
    const { node, done } = await runNode(Number(deviceVersion));
    // SIGUSR2: a reboot into the same version (the certification scripts' restart_requestor).
    process.once("SIGUSR2", () => applied(Number(deviceVersion)));
    const newVersion = await Promise.race([done, stopped()]);
    await node.close();
    if (newVersion !== undefined) writeFileSync(`${config.storage}.next-version`, String(newVersion));
    process.exit(newVersion === undefined ? 0 : REBOOT);
}

function stopped() {
    return new Promise((resolve) => process.once("SIGTERM", () => resolve(undefined)));
}

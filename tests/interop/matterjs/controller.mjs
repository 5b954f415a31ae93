// The matter.js commissioner (legacy CommissioningController API, as Home Assistant's matter
// server and Matterbridge use it) driven by a list of steps, for the interop tests.
//
//     node controller.mjs CONFIG.json
// CONFIG: {verdict, storage, steps: [...]}; each step writes one verdict line
// {step, ok, seconds, ...result} or {step, ok: false, error, status}. Steps:
//   {do: "commission", passcode, discriminator, ip?, port?, countryCode?, as?} -> {node}
// A step's "as" names its node id; later steps may then say {node: "$name"} (or provider: "$name").
//   {do: "read-basic", node}                                        -> {vendorId, productId, softwareVersion}
//   {do: "read-acl", node}                                          -> {acl: [...]}
//   {do: "write-acl-add-ota", node, subjects?}                      keeps every entry, adds Operate on 0x0029
//   {do: "read-events", node, events: [[cluster, event], ...]}     -> {events: [...]}
//   {do: "read-nocs", node, fabricFiltered}                         -> {nocs: [...]}
//   {do: "read-fabrics", node, fabricFiltered}                      -> {fabrics: [...]}
//   {do: "write-default-providers", node, provider, endpoint?}
//   {do: "announce", node, provider, vendorId?, reason?}
//   {do: "read-requestor", node}                                    -> {updateState, progress, providers}
//   {do: "open-window", node, passcode, discriminator, seconds?}    an enhanced commissioning window
//   {do: "sleep", seconds}
import { Crypto, Environment, Logger, NodeId, Seconds } from "@matter/main";
import {
    AccessControl,
    AdministratorCommissioning,
    BasicInformation,
    GeneralDiagnostics,
    OperationalCredentials,
    OtaSoftwareUpdateRequestor,
} from "@matter/main/clusters";
import { PaseClient } from "@matter/protocol";
import { CommissioningController } from "@project-chip/matter.js";
import { readConfig, verdictChannel } from "./verdict.mjs";

const CLUSTERS = { AccessControl, BasicInformation, GeneralDiagnostics, OperationalCredentials };

const config = await readConfig();
const say = verdictChannel(config.verdict);
Environment.default.vars.set("storage.path", config.storage);
if (config.logLevel) Logger.defaultLogLevel = config.logLevel;

const controller = new CommissioningController({
    environment: { environment: Environment.default, id: "controller" },
    autoConnect: false,
    adminFabricLabel: "matter.js bench",
});
await controller.start();
say({ event: "started", nodeId: controller.nodeId });

const clients = new Map();
async function client(node) {
    const key = String(node);
    if (!clients.has(key)) clients.set(key, await controller.createInteractionClient(NodeId(BigInt(node))));
    return clients.get(key);
}

async function read(node, cluster, attribute, fabricFiltered = true) {
    return (await client(node)).getAttribute({
        endpointId: 0,
        clusterId: cluster.id,
        attribute: cluster.attributes[attribute],
        isFabricFiltered: fabricFiltered,
        requestFromRemote: true,
    });
}

async function write(node, cluster, attribute, value) {
    await (await client(node)).setAttribute({
        attributeData: { endpointId: 0, clusterId: cluster.id, attribute: cluster.attributes[attribute], value },
    });
}

async function invoke(node, cluster, command, request) {
    return (await client(node)).invoke({ endpointId: 0, clusterId: cluster.id, command: cluster.commands[command], request });
}

const steps = {
    async commission(step) {
        const discovery = { identifierData: { longDiscriminator: step.discriminator }, timeout: Seconds(step.discoveryTimeout ?? 30) };
        if (step.ip) discovery.knownAddress = { ip: step.ip, port: step.port ?? 5540, type: "udp" };
        const node = await controller.commissionNode(
            {
                commissioning: { regulatoryLocation: 2, regulatoryCountryCode: step.countryCode ?? "XX" },
                discovery,
                passcode: step.passcode,
            },
            { connectNodeAfterCommissioning: false },
        );
        return { node };
    },
    async "read-basic"({ node }) {
        const cluster = BasicInformation.Cluster;
        return {
            vendorId: await read(node, cluster, "vendorId"),
            productId: await read(node, cluster, "productId"),
            softwareVersion: await read(node, cluster, "softwareVersion"),
            location: await read(node, cluster, "location"),
        };
    },
    async "read-acl"({ node }) {
        return { acl: await read(node, AccessControl.Cluster, "acl") };
    },
    async "write-acl-add-ota"({ node, subjects }) {
        const current = await read(node, AccessControl.Cluster, "acl");
        const entry = {
            privilege: AccessControl.AccessControlEntryPrivilege.Operate,
            authMode: AccessControl.AccessControlEntryAuthMode.Case,
            subjects: subjects ? subjects.map((s) => NodeId(BigInt(s))) : null,
            targets: [{ cluster: 0x29, endpoint: null, deviceType: null }],
            fabricIndex: current[0].fabricIndex,
        };
        await write(node, AccessControl.Cluster, "acl", [...current, entry]);
        return { entries: current.length + 1 };
    },
    async "read-events"({ node, events }) {
        // events: [[cluster name, event name], ...] on endpoint 0, e.g. [["BasicInformation", "startUp"]]
        const found = [];
        for (const [clusterName, eventName] of events) {
            const cluster = CLUSTERS[clusterName].Cluster;
            const read = await (await client(node)).getEvent({
                endpointId: 0, clusterId: cluster.id, event: cluster.events[eventName], isFabricFiltered: true,
            });
            for (const { eventNumber, priority, data } of read ?? []) {
                found.push({ cluster: clusterName, event: eventName, number: eventNumber, priority, data });
            }
        }
        return { events: found };
    },
    async "read-nocs"({ node, fabricFiltered }) {
        return { nocs: await read(node, OperationalCredentials.Cluster, "nocs", fabricFiltered) };
    },
    async "read-fabrics"({ node, fabricFiltered }) {
        return { fabrics: await read(node, OperationalCredentials.Cluster, "fabrics", fabricFiltered) };
    },
    async "write-default-providers"({ node, provider, endpoint }) {
        const fabricIndex = await read(node, OperationalCredentials.Cluster, "currentFabricIndex");
        const entry = { providerNodeId: NodeId(BigInt(provider)), endpoint: endpoint ?? 0, fabricIndex };
        await write(node, OtaSoftwareUpdateRequestor.Cluster, "defaultOtaProviders", [entry]);
        return { fabricIndex };
    },
    async announce({ node, provider, vendorId, reason }) {
        await invoke(node, OtaSoftwareUpdateRequestor.Cluster, "announceOtaProvider", {
            providerNodeId: NodeId(BigInt(provider)),
            vendorId: vendorId ?? 0xfff1,
            announcementReason: reason ?? OtaSoftwareUpdateRequestor.AnnouncementReason.UrgentUpdateAvailable,
            endpoint: 0,
        });
        return {};
    },
    async "read-requestor"({ node }) {
        const cluster = OtaSoftwareUpdateRequestor.Cluster;
        return {
            updateState: await read(node, cluster, "updateState"),
            progress: await read(node, cluster, "updateStateProgress"),
            providers: await read(node, cluster, "defaultOtaProviders"),
        };
    },
    async "open-window"({ node, seconds, passcode, discriminator }) {
        // An enhanced commissioning window, as a phone ecosystem opens one to share a device: the
        // PAKE verifier for a passcode the test chose (it computes the manual code from it), sent
        // in a timed OpenCommissioningWindow, as PairedNode.openEnhancedCommissioningWindow does.
        const crypto = Environment.default.get(Crypto);
        const salt = crypto.randomBytes(32);
        const iterations = 1000;
        const pakePasscodeVerifier = await PaseClient.generatePakePasscodeVerifier(crypto, passcode, { iterations, salt });
        await (await client(node)).invoke({
            endpointId: 0,
            clusterId: AdministratorCommissioning.Cluster.id,
            command: AdministratorCommissioning.Cluster.commands.openCommissioningWindow,
            request: { commissioningTimeout: seconds ?? 300, pakePasscodeVerifier, salt, iterations, discriminator },
            timedRequestTimeout: Seconds(10),
        });
        return {};
    },
    async sleep({ seconds }) {
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
        return {};
    },
};

const names = {};
const resolve = (value) => (typeof value === "string" && value.startsWith("$") ? names[value.slice(1)] : value);

for (const raw of config.steps) {
    const step = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, resolve(v)]));
    const start = performance.now();
    const seconds = () => Math.round(performance.now() - start) / 1000;
    try {
        const run = steps[step.do];
        if (!run) throw new Error(`unknown step ${step.do}`);
        const result = await withTimeout(run(step), (step.timeout ?? 60) * 1000);
        if (step.as && result.node !== undefined) names[step.as] = result.node;
        say({ step: step.do, ok: true, seconds: seconds(), ...result });
    } catch (error) {
        say({ step: step.do, ok: false, seconds: seconds(), error: String(error?.message ?? error),
              status: error?.code ?? error?.status ?? null });
    }
}
say({ event: "done" });
await withTimeout(controller.close(), 5000).catch(() => {});
process.exit(0);

function withTimeout(promise, ms) {
    let timer;
    const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)));
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

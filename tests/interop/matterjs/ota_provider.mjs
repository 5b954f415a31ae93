// matter.js's own OTA provider, the peer our provider is measured against: a CommissioningController
// with enableOtaProvider (as the OHF matter server runs it) that stores a local image in its OTA
// storage, commissions the requestor (which points the requestor at it: announceAsDefaultProvider),
// and forces the update (consent given, the requestor told to query), then serves until SIGTERM.
//
//     node ota_provider.mjs CONFIG.json
// CONFIG: {verdict, storage, image, discriminator, passcode, ip?, port?, vendorId, productId, version, goFile?}
// goFile: the update is forced only once this file exists.
// Verdict lines: started, stored (the image's header), commissioned {node}, forced.
import { createReadStream, existsSync } from "node:fs";
import { Readable } from "node:stream";
import { Environment, Seconds } from "@matter/main";
import { SoftwareUpdateManager } from "@matter/node";
import { PeerAddress } from "@matter/main/protocol";
import { CommissioningController } from "@project-chip/matter.js";
import { readConfig, verdictChannel } from "./verdict.mjs";

const config = await readConfig();
const say = verdictChannel(config.verdict);
Environment.default.vars.set("storage.path", config.storage);
const controller = new CommissioningController({
    environment: { environment: Environment.default, id: "mjs-provider" },
    autoConnect: false,
    adminFabricLabel: "matter.js provider",
    enableOtaProvider: true,
});
await controller.start();
say({ event: "started", nodeId: controller.nodeId });

const endpoint = controller.otaProvider;
await endpoint.act(async (agent) => {
    const service = agent.get(SoftwareUpdateManager).internal.otaService;
    const info = await service.updateInfoFromStream(Readable.toWeb(createReadStream(config.image)), `file://${config.image}`);
    await service.store(Readable.toWeb(createReadStream(config.image)), info, true);
    say({ event: "stored", version: info.softwareVersion, vid: info.vid, pid: info.pid });
});

const discovery = { identifierData: { longDiscriminator: config.discriminator }, timeout: Seconds(30) };
if (config.ip) discovery.knownAddress = { ip: config.ip, port: config.port ?? 5540, type: "udp" };
const nodeId = await controller.commissionNode(
    { commissioning: { regulatoryLocation: 2, regulatoryCountryCode: "XX" }, discovery, passcode: config.passcode },
    { connectNodeAfterCommissioning: true },
);
say({ event: "commissioned", node: nodeId });
// The benchmark sets up the link (loss) between commissioning and the update: it says go with a file.
if (config.goFile) {
    while (!existsSync(config.goFile)) await new Promise((resolve) => setTimeout(resolve, 50));
}
const fabricIndex = controller.fabric.fabricIndex;
await endpoint.act(async (agent) => {
    await agent.get(SoftwareUpdateManager).forceUpdate(
        PeerAddress({ fabricIndex, nodeId }), config.vendorId, config.productId, config.version);
});
say({ event: "forced" });
await new Promise((resolve) => process.once("SIGTERM", resolve));
await controller.close().catch(() => {});
process.exit(0);

// matter.js's own ledger client as an oracle: DclOtaUpdateService (@matter/protocol dcl/) pointed
// at the test's replica of the ledger, asked for each device what it would update it to, and made
// to download and check that image. The test compares its verdicts with ours.
//
//     NODE_EXTRA_CA_CERTS=ca.pem node dcl_oracle.mjs CONFIG.json
// CONFIG: {verdict, storage, url, devices: [{vendorId, productId, current}]}
// Verdict lines: {event: "device", vendorId, productId, current, chosen, stored, seconds, error?}, then done.
import { Environment } from "@matter/main";
import { DclOtaUpdateService } from "@matter/main/protocol";
import { readConfig, verdictChannel } from "./verdict.mjs";

const config = await readConfig();
const say = verdictChannel(config.verdict);
Environment.default.vars.set("storage.path", config.storage);
const service = new DclOtaUpdateService(Environment.default, {
    productionDclConfig: { url: config.url },
    testDclConfig: { url: config.url },
});
await service.construction;
for (const device of config.devices) {
    const { vendorId, productId, current } = device;
    const verdict = { event: "device", vendorId, productId, current, chosen: null, stored: false };
    const started = performance.now();
    try {
        const info = await service.checkForUpdate({
            vendorId,
            productId,
            currentSoftwareVersion: current,
            isProduction: true,
        });
        if (info !== undefined) {
            verdict.chosen = info.softwareVersion;
            try {
                await service.downloadUpdate(info, true);
                verdict.stored = true;
            } catch (error) {
                verdict.error = `${error.message}${error.cause ? `: ${error.cause.message}` : ""}`;
            }
        }
    } catch (error) {
        verdict.error = error.message;
    }
    verdict.seconds = (performance.now() - started) / 1000;
    say(verdict);
}
await service.close();
say({ event: "done" });
process.exit(0);

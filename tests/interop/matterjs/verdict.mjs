// The verdict channel of our matter.js helper scripts: one JSON object per line, appended to the
// file the test names, so matter.js's own logging (stdout/stderr) can never reorder or glue into it.
import { appendFileSync } from "node:fs";

export function verdictChannel(path) {
    if (!path) throw new Error("no verdict file given");
    return (fields) => appendFileSync(path, JSON.stringify({ t: Date.now() / 1000, ...fields }, jsonSafe) + "\n");
}

// BigInt node ids and byte arrays as the test can read them.
function jsonSafe(_key, value) {
    if (typeof value === "bigint") return Number(value) <= Number.MAX_SAFE_INTEGER ? Number(value) : value.toString();
    if (value instanceof Uint8Array) return Buffer.from(value).toString("hex");
    return value;
}

// Our scripts take one argument: a JSON file with their settings (never flags: matter.js reads
// options such as --storage-* from argv).
export async function readConfig() {
    const { readFileSync } = await import("node:fs");
    const path = process.argv[2];
    if (!path) {
        process.stderr.write(`usage: node ${process.argv[1]} CONFIG.json\n`);
        process.exit(2);
    }
    return JSON.parse(readFileSync(path, "utf8"));
}

// Durations in the requestor's OTA timers are divided by this factor (the spec's 1..600 s jitter
// and matter.js's 120 s minimum busy back-off would make each scenario take minutes); the
// requested duration is reported so the test can still check what the requestor decided.
// capMs (optional) bounds each compressed duration under an hour (the announce jitter, the busy
// back-off, DelayedActionTime), for tests that need a requestor to act within a second; the daily
// periodic query stays compressed only, so a requestor never queries on its own during a test.
export function compressOtaTimers(Time, factor, say, capMs) {
    if (!factor || factor <= 1) return;
    const original = Time.getTimer;
    Time.getTimer = (name, duration, callback) => {
        if (typeof name === "string" && name.startsWith("OTA")) {
            const requested = duration;
            say({ event: "timer", name, requestedMs: Number(duration), factor });
            duration = Math.max(10, Math.round(Number(duration) / factor));
            if (capMs && Number(requested) < 3_600_000) duration = Math.min(duration, capMs);
        }
        return original(name, duration, callback);
    };
}

// matter.js's own BTP, the peripheral's side (@matter/protocol BtpSessionHandler), with no radio:
// the test is the central, and the BLE link is this process's stdin and stdout.
//
//     node btp_peer.mjs MAX_DATA_SIZE
// stdin, one per line:  "w <hex>"  a C1 write (the first is the handshake request)
// stdout, one per line: "i <hex>"  a C2 indication; "closed" when matter.js ends the session.
// Every Matter message it receives is sent back reversed, so the test checks both directions.
import { createInterface } from "node:readline";
import { Bytes, Logger, LogLevel } from "@matter/general";
import { BtpSessionHandler } from "@matter/protocol";

Logger.defaultLogLevel = LogLevel.ERROR;
const maxDataSize = Number(process.argv[2] ?? 20);
const emit = (line) => process.stdout.write(`${line}\n`);
let session;

for await (const line of createInterface({ input: process.stdin })) {
    const [kind, hex] = line.split(" ");
    if (kind !== "w") continue;
    const data = Bytes.fromHex(hex ?? "");
    try {
        if (session === undefined) {
            session = await BtpSessionHandler.createFromHandshakeRequest(
                maxDataSize,
                data,
                async (out) => emit(`i ${Bytes.toHex(out)}`),
                async () => emit("closed"),
                async (message) => {
                    const reversed = Uint8Array.from(Bytes.of(message)).reverse();
                    await session.sendMatterMessage(reversed);
                },
            );
        } else {
            await session.handleIncomingBleData(data);
        }
    } catch (error) {
        emit(`closed ${String(error?.message ?? error).replaceAll("\n", " ")}`);
    }
}

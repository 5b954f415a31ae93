// What a factory-fresh device adds to requestor.mjs: a BLE peripheral and a Network Commissioning
// cluster (Wi-Fi or Thread). The BTP is matter.js's own BtpSessionHandler; the radio is
// ble_peripheral.py (a GATT application in BlueZoo), reached over a unix socket, one line each way:
//   to the shim:   "adv HEX" (the Matter service data to advertise), "unadv", "i HEX" (a C2 indication)
//   from the shim: "w HEX" (a C1 write), "sub" (C2 subscribed), "unsub"
// As in matter.js's own BLE peripheral (@matter/nodejs-ble BlenoBleServer), the handshake request
// written to C1 is kept until the central subscribes to C2, and only then answered.
//
// The IP network is gated: until ConnectNetwork joins the network the test configured, the device's
// namespace drops every datagram (an nftables table the test made, removed here on joining), as a
// device with no Wi-Fi or Thread credentials is reachable only over BLE.
import { execFileSync } from "node:child_process";
import { createConnection } from "node:net";
import { createInterface } from "node:readline";
import { Bytes, ChannelType } from "@matter/main";
import { GeneralCommissioningBehavior } from "@matter/main/behaviors/general-commissioning";
import { NetworkCommissioningServer } from "@matter/main/behaviors/network-commissioning";
import { NetworkCommissioning } from "@matter/main/clusters/network-commissioning";
import { Ble, BleChannel, BtpSessionHandler, DeviceAdvertiser, DeviceCommissioner } from "@matter/main/protocol";

const Status = NetworkCommissioning.NetworkCommissioningStatus;
const SERVICE_DATA_TYPE = 0x16; // an advertising data structure: 16-bit UUID service data
const MATTER_SERVICE = 0xfff6;

// The Matter service data inside the EIR data matter.js hands to advertise().
function serviceData(eir) {
    const bytes = Bytes.of(eir);
    for (let at = 0; at + 1 < bytes.length; at += bytes[at] + 1) {
        const length = bytes[at];
        if (length >= 3 && bytes[at + 1] === SERVICE_DATA_TYPE && (bytes[at + 2] | (bytes[at + 3] << 8)) === MATTER_SERVICE) {
            return bytes.slice(at + 4, at + 1 + length);
        }
    }
    throw new Error(`no Matter service data in ${Bytes.toHex(bytes)}`);
}

class RelayedPeripheral extends BleChannel {
    name = "ble://relay";
    #socket;
    #listener;
    #handshake;
    #session;
    #say;

    constructor(path, say) {
        super();
        this.#say = say;
        this.#socket = createConnection(path);
        const lines = createInterface({ input: this.#socket });
        lines.on("line", (line) => this.#received(line).catch((error) => say({ event: "bleError", error: String(error) })));
    }

    async #received(line) {
        const [kind, hex] = line.split(" ");
        if (kind === "w") {
            const data = Bytes.fromHex(hex);
            if (data.length === 9 && data[0] === 0x65 && data[1] === 0x6c) {
                this.#handshake = data; // answered once C2 is subscribed
            } else if (this.#session !== undefined) {
                await this.#session.handleIncomingBleData(data);
            } else {
                throw new Error(`C1 write before a BTP session: ${hex}`);
            }
        } else if (kind === "sub") {
            if (this.#handshake === undefined) throw new Error("C2 subscribed before a handshake request");
            const handshake = this.#handshake;
            this.#handshake = undefined;
            this.#session = await BtpSessionHandler.createFromHandshakeRequest(
                244,
                handshake,
                async (out) => this.#line(`i ${Bytes.toHex(out)}`),
                async () => this.#ended(),
                async (message) => this.#listener?.(this, message),
            );
            this.#say({ event: "btp" });
        } else if (kind === "unsub") {
            await this.#ended();
        }
    }

    #line(text) {
        this.#socket.write(`${text}\n`);
    }

    async #ended() {
        const session = this.#session;
        this.#session = undefined;
        if (session !== undefined) await session.close().catch(() => {});
    }

    // Transport
    onData(listener) {
        this.#listener = listener;
        return { close: async () => (this.#listener = undefined) };
    }

    supports(type) {
        return type === ChannelType.BLE;
    }

    async openChannel() {
        throw new Error("a peripheral opens no channels");
    }

    async advertise(advertiseData) {
        this.#line(`adv ${Bytes.toHex(serviceData(advertiseData))}`);
    }

    async stopAdvertising() {
        this.#line("unadv");
    }

    // Channel
    async send(data) {
        if (this.#session === undefined) throw new Error("no BTP session to send on");
        await this.#session.sendMatterMessage(data);
    }

    async close() {
        await this.#ended();
        this.emitClosed();
    }

    onClose(listener) {
        const closed = () => listener();
        this.closed.on(closed);
        return { close: async () => this.closed.off(closed) };
    }

    async *[Symbol.asyncIterator]() {}
}

class RelayedBle extends Ble {
    #peripheral;

    constructor(path, say) {
        super();
        this.#peripheral = new RelayedPeripheral(path, say);
    }

    get peripheralInterface() {
        return this.#peripheral;
    }

    get centralInterface() {
        throw new Error("this device is a peripheral only");
    }

    get scanner() {
        throw new Error("this device is a peripheral only");
    }
}

export function installBle(environment, path, say) {
    environment.set(Ble, new RelayedBle(path, say));
}

// The nftables table the test made in the device's namespace: gone once the device has joined.
function joinIpNetwork(gate) {
    if (gate) execFileSync("nft", ["delete", "table", "inet", gate]);
}

function keepBreadcrumb(behavior, breadcrumb) {
    if (breadcrumb !== undefined) behavior.agent.get(GeneralCommissioningBehavior).state.breadcrumb = breadcrumb;
}

function failsafeArmed(behavior) {
    behavior.env.get(DeviceCommissioner).assertFailsafeArmed("the fail-safe must be armed to change networks");
}

// network: {kind: "wifi", ssid, passphrase, gate, onIp} or {kind: "thread", dataset (hex), gate, onIp}.
// A network is accepted as given; ConnectNetwork joins only the one the test configured: another
// SSID or dataset is NetworkNotFound, a wrong passphrase AuthFailure (802.11 status 15, the 4-way
// handshake timing out, as a Wi-Fi stack reports it). onIp false: joined, but never reachable.
export function networkCommissioning(network, say) {
    const wifi = network.kind === "wifi";
    const feature = wifi ? "WiFiNetworkInterface" : "ThreadNetworkInterface";
    const expectedId = wifi ? Bytes.fromString(network.ssid) : extendedPanId(Bytes.fromHex(network.dataset));
    let stored; // {networkId, secret}

    class BenchNetworkCommissioning extends NetworkCommissioningServer.with(feature) {
        scanNetworks({ breadcrumb }) {
            keepBreadcrumb(this, breadcrumb);
            this.state.lastNetworkingStatus = Status.Success;
            say({ event: "network", command: "scan" });
            if (wifi) {
                const security = { unencrypted: false, wep: false, wpaPersonal: false, wpa2Personal: true, wpa3Personal: false };
                return {
                    networkingStatus: Status.Success,
                    wiFiScanResults: [{ security, ssid: expectedId, bssid: Bytes.fromHex("020000000001"), channel: 6, wiFiBand: 0, rssi: -48 }],
                };
            }
            return { networkingStatus: Status.Success, threadScanResults: [] };
        }

        addOrUpdateWiFiNetwork({ ssid, credentials, breadcrumb }) {
            failsafeArmed(this);
            keepBreadcrumb(this, breadcrumb);
            stored = { networkId: ssid, secret: credentials };
            return this.#added(ssid);
        }

        addOrUpdateThreadNetwork({ operationalDataset, breadcrumb }) {
            failsafeArmed(this);
            keepBreadcrumb(this, breadcrumb);
            const networkId = extendedPanId(operationalDataset);
            stored = { networkId, secret: operationalDataset };
            return this.#added(networkId);
        }

        #added(networkId) {
            this.state.networks = [{ networkId, connected: false }];
            this.state.lastNetworkingStatus = Status.Success;
            say({ event: "network", command: "add", networkId: Bytes.toHex(networkId) });
            return { networkingStatus: Status.Success, networkIndex: 0 };
        }

        removeNetwork({ networkId, breadcrumb }) {
            failsafeArmed(this);
            keepBreadcrumb(this, breadcrumb);
            if (stored === undefined || !Bytes.areEqual(stored.networkId, networkId)) {
                return { networkingStatus: Status.NetworkIdNotFound };
            }
            stored = undefined;
            this.state.networks = [];
            return { networkingStatus: Status.Success, networkIndex: 0 };
        }

        async connectNetwork({ networkId, breadcrumb }) {
            failsafeArmed(this);
            keepBreadcrumb(this, breadcrumb);
            const answer = (networkingStatus, errorValue = null) => {
                this.state.lastNetworkingStatus = networkingStatus;
                this.state.lastNetworkId = networkId;
                this.state.lastConnectErrorValue = errorValue;
                say({ event: "network", command: "connect", status: networkingStatus });
                return { networkingStatus, errorValue };
            };
            if (stored === undefined || !Bytes.areEqual(stored.networkId, networkId)) return answer(Status.NetworkIdNotFound);
            if (!Bytes.areEqual(networkId, expectedId)) return answer(Status.NetworkNotFound);
            if (wifi && Bytes.toString(stored.secret) !== network.passphrase) return answer(Status.AuthFailure, 15);
            if (!wifi && Bytes.toHex(stored.secret) !== network.dataset.toLowerCase()) return answer(Status.AuthFailure, null);
            this.state.networks = [{ networkId, connected: true }];
            if (network.onIp !== false) joinIpNetwork(network.gate);
            this.env.get(DeviceAdvertiser).restartAdvertisement(); // announced anew, now that it is heard
            return answer(Status.Success);
        }

        reorderNetwork({ breadcrumb }) {
            keepBreadcrumb(this, breadcrumb);
            return { networkingStatus: Status.Success, networkIndex: 0 };
        }
    }

    const common = { maxNetworks: 1, networks: [], interfaceEnabled: true, lastNetworkingStatus: null,
                     lastNetworkId: null, lastConnectErrorValue: null, scanMaxTimeSeconds: 10, connectMaxTimeSeconds: 20 };
    const state = wifi
        ? { ...common, supportedWiFiBands: [NetworkCommissioning.WiFiBand["2G4"]] }
        : { ...common, supportedThreadFeatures: { isFullThreadDevice: true }, threadVersion: 4 };
    return { behavior: BenchNetworkCommissioning, state };
}

// The Extended PAN ID TLV (type 2) of a Thread operational dataset: its network id.
function extendedPanId(dataset) {
    const bytes = Bytes.of(dataset);
    for (let at = 0; at + 1 < bytes.length; at += 2 + bytes[at + 1]) {
        if (bytes[at] === 2 && bytes[at + 1] === 8) return bytes.slice(at + 2, at + 10);
    }
    throw new Error("the dataset has no Extended PAN ID");
}

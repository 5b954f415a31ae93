"""A BLE peripheral with matter.js's BTP behind it, for the BLE tests with no radio.

    python ble_peripheral.py ADAPTER --echo SERVICE_DATA_HEX MAX_DATA_SIZE
    python ble_peripheral.py ADAPTER --relay SOCKET [--drop-after-writes N]

Registers, in BlueZ (BlueZoo on the test's private bus), a GATT application with the Matter service
(C1 write, C2 indicate, C3 read) and an LE advertisement with the Matter service data.

--echo: every C1 write goes to ``node btp_peer.mjs`` (matter.js's BtpSessionHandler, echoing each
message reversed); every line it prints is a C2 indication. The advertisement is the one given.
--relay: a matter.js device (requestor.mjs with ble_device.mjs) connects to SOCKET and runs its own
BtpSessionHandler: C1 writes and C2 subscriptions go to it, its lines are indications, and it says
what to advertise and when to stop. --drop-after-writes: the link is lost (this process exits at
once, as a device that resets) after N C1 writes.

Prints "ready" once BlueZ has the application, then "write HEX" and "indicate HEX" per packet.
"""

# dbus-fast reads D-Bus signatures from the annotations ("s", "a{sv}"), and BlueZ names the methods.
# ruff: noqa: F821, F722

import argparse
import asyncio
import os
from pathlib import Path

from dbus_fast import BusType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_property, method

SERVICE = "0000fff6-0000-1000-8000-00805f9b34fb"
C1 = "18ee2ef5-263d-4559-959f-4f9c429f9d11"
C2 = "18ee2ef5-263d-4559-959f-4f9c429f9d12"
C3 = "64630238-8772-45f2-b87d-748a83218f04"
APP = "/org/otaprovider/test"
MATTERJS = Path(__file__).with_name("matterjs")


def say(line: str) -> None:
    print(line, flush=True)


class Advertisement(ServiceInterface):
    def __init__(self, service_data: bytes) -> None:
        super().__init__("org.bluez.LEAdvertisement1")
        self.service_data = service_data

    @method()
    def Release(self) -> None:
        pass

    @dbus_property(access=PropertyAccess.READ)
    def Type(self) -> "s":
        return "peripheral"

    @dbus_property(access=PropertyAccess.READ)
    def ServiceUUIDs(self) -> "as":
        return ["fff6"]

    @dbus_property(access=PropertyAccess.READ)
    def ServiceData(self) -> "a{sv}":
        return {"fff6": Variant("ay", self.service_data)}

    @dbus_property(access=PropertyAccess.READ)
    def Discoverable(self) -> "b":
        return True  # without it BlueZoo never reports the advertisement

    @dbus_property(access=PropertyAccess.READ)
    def LocalName(self) -> "s":
        return "MATTER-TEST"


class Characteristic(ServiceInterface):
    def __init__(self, uuid: str, flags: list[str], on_write=None, on_subscribe=None) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self.uuid, self.flags, self.on_write, self.on_subscribe = uuid, flags, on_write, on_subscribe
        self.value = b""

    def properties(self) -> dict:
        return {
            "UUID": Variant("s", self.uuid),
            "Service": Variant("o", APP + "/service0"),
            "Flags": Variant("as", self.flags),
        }

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> "o":
        return APP + "/service0"

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> "as":
        return self.flags

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> "ay":
        return self.value

    @method()
    def ReadValue(self, options: "a{sv}") -> "ay":
        return b"\x00"  # C3: no additional data

    @method()
    def WriteValue(self, value: "ay", options: "a{sv}") -> None:
        if self.on_write is not None:
            self.on_write(bytes(value))

    @method()
    def StartNotify(self) -> None:
        say("subscribed")
        if self.on_subscribe is not None:
            self.on_subscribe(True)

    @method()
    def StopNotify(self) -> None:
        if self.on_subscribe is not None:
            self.on_subscribe(False)

    @method()
    def Confirm(self) -> None:  # BlueZoo confirms each indication
        pass

    def indicate(self, data: bytes) -> None:
        self.value = data
        self.emit_properties_changed({"Value": data})


class Application(ServiceInterface):
    def __init__(self, characteristics: dict[str, Characteristic]) -> None:
        super().__init__("org.freedesktop.DBus.ObjectManager")
        self.characteristics = characteristics

    @method()
    def GetManagedObjects(self) -> "a{oa{sa{sv}}}":
        objects = {
            APP + "/service0": {
                "org.bluez.GattService1": {"UUID": Variant("s", SERVICE), "Primary": Variant("b", True)}
            }
        }
        for path, characteristic in self.characteristics.items():
            objects[path] = {"org.bluez.GattCharacteristic1": characteristic.properties()}
        return objects


class Service(ServiceInterface):
    def __init__(self) -> None:
        super().__init__("org.bluez.GattService1")

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return SERVICE

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> "b":
        return True


class Air:
    """The GATT application and the advertisement on one adapter."""

    def __init__(self, adapter: str, on_write, on_subscribe=None) -> None:
        self.adapter = adapter
        self.c2 = Characteristic(C2, ["indicate", "read"], on_subscribe=on_subscribe)
        self.characteristics = {
            APP + "/service0/char0": Characteristic(C1, ["write"], on_write),
            APP + "/service0/char1": self.c2,
            APP + "/service0/char2": Characteristic(C3, ["read"]),
        }
        self.bus: MessageBus | None = None
        self.advertising = False

    async def start(self) -> None:
        bus = self.bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        bus.export(APP, Application(self.characteristics))
        bus.export(APP + "/service0", Service())
        for path, characteristic in self.characteristics.items():
            bus.export(path, characteristic)
        await (await self._manager("GattManager1")).call_register_application(APP, {})

    async def _manager(self, name: str):
        assert self.bus is not None
        path = f"/org/bluez/{self.adapter}"
        proxy = self.bus.get_proxy_object("org.bluez", path, await self.bus.introspect("org.bluez", path))
        return proxy.get_interface(f"org.bluez.{name}")

    async def advertise(self, service_data: bytes) -> None:
        assert self.bus is not None
        await self.stop_advertising()
        self.bus.export(APP + "/advertisement0", Advertisement(service_data))
        await (await self._manager("LEAdvertisingManager1")).call_register_advertisement(APP + "/advertisement0", {})
        self.advertising = True

    async def stop_advertising(self) -> None:
        if not self.advertising or self.bus is None:
            return
        self.advertising = False
        manager = await self._manager("LEAdvertisingManager1")
        await manager.call_unregister_advertisement(APP + "/advertisement0")
        self.bus.unexport(APP + "/advertisement0")

    def indicate(self, data: bytes) -> None:
        say(f"indicate {data.hex()}")
        self.c2.indicate(data)


async def echo(adapter: str, service_data: bytes, max_data_size: int) -> None:
    peer = await asyncio.create_subprocess_exec(
        "node",
        "btp_peer.mjs",
        str(max_data_size),
        cwd=MATTERJS,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert peer.stdin is not None and peer.stdout is not None

    held: list[bytes] = []  # the handshake request, answered once C2 is subscribed (as bleno's server does)
    subscribed = False

    def relay_write(data: bytes) -> None:
        say(f"write {data.hex()}")
        if subscribed:
            peer.stdin.write(f"w {data.hex()}\n".encode())
        else:
            held.append(data)

    def subscribe(on: bool) -> None:
        nonlocal subscribed
        subscribed = on
        while on and held:
            peer.stdin.write(f"w {held.pop(0).hex()}\n".encode())

    air = Air(adapter, relay_write, subscribe)
    await air.start()
    await air.advertise(service_data)
    say("ready")
    async for raw in peer.stdout:
        line = raw.decode().strip()
        if line.startswith("i "):
            air.indicate(bytes.fromhex(line[2:]))
        elif line.startswith("closed"):
            say(line)


async def relay(adapter: str, socket_path: str, drop_after_writes: int | None) -> None:
    device: asyncio.StreamWriter | None = None
    writes = 0

    def to_device(line: str) -> None:
        if device is not None:
            device.write(f"{line}\n".encode())

    def relay_write(data: bytes) -> None:
        nonlocal writes
        say(f"write {data.hex()}")
        writes += 1
        if drop_after_writes is not None and writes > drop_after_writes:
            say("dropping the link")
            os._exit(0)  # as a device that resets: no goodbye on any layer
        to_device(f"w {data.hex()}")

    air = Air(adapter, relay_write, lambda subscribed: to_device("sub" if subscribed else "unsub"))
    await air.start()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal device
        device = writer
        say("device connected")
        async for raw in reader:
            kind, _, value = raw.decode().strip().partition(" ")
            if kind == "i":
                air.indicate(bytes.fromhex(value))
            elif kind == "adv":
                await air.advertise(bytes.fromhex(value))
                say(f"advertising {value}")
            elif kind == "unadv":
                await air.stop_advertising()
                say("advertising stopped")
        device = None

    server = await asyncio.start_unix_server(serve, socket_path)
    say("ready")
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("adapter")
    parser.add_argument("--echo", nargs=2, metavar=("SERVICE_DATA", "MAX_DATA_SIZE"))
    parser.add_argument("--relay", metavar="SOCKET")
    parser.add_argument("--drop-after-writes", type=int)
    args = parser.parse_args()
    if args.echo:
        asyncio.run(echo(args.adapter, bytes.fromhex(args.echo[0]), int(args.echo[1])))
    else:
        asyncio.run(relay(args.adapter, args.relay, args.drop_after_writes))


if __name__ == "__main__":
    main()

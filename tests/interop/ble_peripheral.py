"""A BLE peripheral with matter.js's BTP behind it, for the BLE tests with no radio.

    python ble_peripheral.py ADAPTER SERVICE_DATA_HEX MAX_DATA_SIZE

Registers, in BlueZ (BlueZoo on the test's private bus), an LE advertisement with the Matter service
data and a GATT application with the Matter service (C1 write, C2 indicate, C3 read). Every C1 write
goes to ``node btp_peer.mjs`` (matter.js's BtpSessionHandler as the peripheral); every line it
prints is a C2 indication. Prints "ready" once BlueZ has both registrations, then "write HEX" and
"indicate HEX" per packet, so the test sees the air.
"""

# dbus-fast reads D-Bus signatures from the annotations ("s", "a{sv}"), and BlueZ names the methods.
# ruff: noqa: F821, F722

import asyncio
import sys
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
    def __init__(self, uuid: str, flags: list[str], on_write=None) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self.uuid, self.flags, self.on_write = uuid, flags, on_write
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

    @method()
    def StopNotify(self) -> None:
        pass

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


async def main(adapter: str, service_data: bytes, max_data_size: int) -> None:
    peer = await asyncio.create_subprocess_exec(
        "node",
        "btp_peer.mjs",
        str(max_data_size),
        cwd=MATTERJS,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert peer.stdin is not None and peer.stdout is not None

    def relay_write(data: bytes) -> None:
        say(f"write {data.hex()}")
        peer.stdin.write(f"w {data.hex()}\n".encode())

    c2 = Characteristic(C2, ["indicate", "read"])
    characteristics = {
        APP + "/service0/char0": Characteristic(C1, ["write"], relay_write),
        APP + "/service0/char1": c2,
        APP + "/service0/char2": Characteristic(C3, ["read"]),
    }
    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    bus.export(APP, Application(characteristics))
    bus.export(APP + "/service0", Service())
    for path, characteristic in characteristics.items():
        bus.export(path, characteristic)
    bus.export(APP + "/advertisement0", Advertisement(service_data))
    introspection = await bus.introspect("org.bluez", f"/org/bluez/{adapter}")
    hci = bus.get_proxy_object("org.bluez", f"/org/bluez/{adapter}", introspection)
    await hci.get_interface("org.bluez.GattManager1").call_register_application(APP, {})
    await hci.get_interface("org.bluez.LEAdvertisingManager1").call_register_advertisement(APP + "/advertisement0", {})
    say("ready")
    async for raw in peer.stdout:
        line = raw.decode().strip()
        if line.startswith("i "):
            say(f"indicate {line[2:]}")
            c2.indicate(bytes.fromhex(line[2:]))
        elif line.startswith("closed"):
            say(line)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], bytes.fromhex(sys.argv[2]), int(sys.argv[3])))

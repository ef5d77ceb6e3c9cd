"""Discovery reads sysfs and /dev/v4l/by-id as Linux lays them out (a fake tree here): two
nodes per GelSight Mini, the one that streams marked, the sensor model named by its USB id."""

from __future__ import annotations

from pathlib import Path

from drivers.discovery import VideoNode, spacemice, video_nodes

MINI_ID = "usb-Arducam_Technology_Co.__Ltd._GelSight_Mini_R0B_28F5-K4RR_28F5K4RR-video-index"


def fake_tree(root: Path) -> tuple[Path, Path]:
    """video0/1: a GelSight Mini (0c45:636d) on USB 1-2; video2: a webcam with no by-id."""
    sys_video, dev = root / "sys/class/video4linux", root / "dev"
    usb = {"1-2": ("0c45", "636d", "28F5K4RR"), "1-3": ("046d", "0825", "")}
    for port, (vendor, product, serial) in usb.items():
        device = root / "sys/devices/pci0/usb1" / port
        (device / f"{port}:1.0").mkdir(parents=True)
        (device / "idVendor").write_text(vendor + "\n")
        (device / "idProduct").write_text(product + "\n")
        if serial:
            (device / "serial").write_text(serial + "\n")
    nodes = {0: ("1-2", "GelSight Mini R0B 28F5-K4RR", 0), 1: ("1-2", "GelSight Mini R0B", 1),
             2: ("1-3", "HD Webcam C270", 0)}  # fmt: skip
    (dev / "v4l/by-id").mkdir(parents=True)
    for n, (port, name, index) in nodes.items():
        node = sys_video / f"video{n}"
        node.mkdir(parents=True)
        (node / "name").write_text(name + "\n")
        (node / "index").write_text(f"{index}\n")
        (node / "device").symlink_to(root / "sys/devices/pci0/usb1" / port / f"{port}:1.0")
        if port == "1-2":
            (dev / "v4l/by-id" / f"{MINI_ID}{index}").symlink_to(f"../../video{n}")
    return sys_video, dev


def test_nodes_carry_their_stable_name_usb_id_and_sensor(tmp_path: Path) -> None:
    sys_video, dev = fake_tree(tmp_path)
    nodes = video_nodes(sys_video, dev, lambda path: [])
    assert [n.path for n in nodes] == [str(dev / f"video{i}") for i in range(3)]
    mini, meta, webcam = nodes
    assert mini == VideoNode(str(dev / "video0"), "GelSight Mini R0B 28F5-K4RR", 0,
                             str(dev / "v4l/by-id" / f"{MINI_ID}0"), "0c45:636d", "28F5K4RR",
                             "gelsight_mini")  # fmt: skip
    assert meta.index == 1 and meta.by_id is not None and meta.by_id.endswith("index1")
    assert webcam.usb_id == "046d:0825" and webcam.sensor is None and webcam.by_id is None
    assert webcam.serial is None
    assert video_nodes(tmp_path / "nothing", dev) == []


def test_modes_are_read_for_nodes_that_stream_and_failures_are_noted(tmp_path: Path) -> None:
    from drivers.v4l2 import Mode, NotV4L2Error

    sys_video, dev = fake_tree(tmp_path)
    mjpg = Mode("MJPG", 3280, 2464, (25.0,))
    asked: list[str] = []

    def modes(path: str) -> list[Mode]:
        asked.append(path)
        if path.endswith("video2"):
            raise PermissionError(13, "Permission denied")
        return [mjpg]

    mini, meta, webcam = video_nodes(sys_video, dev, modes)
    assert asked == [str(dev / "video0"), str(dev / "video2")]  # never the metadata node
    assert (mini.modes, mini.modes_note) == ((mjpg,), None)
    assert (meta.modes, meta.modes_note) == ((), None)
    assert (webcam.modes, webcam.modes_note) == ((), "modes not read: Permission denied")

    def not_a_camera(path: str) -> list[Mode]:
        raise NotV4L2Error(25, "not a V4L2 device")

    assert video_nodes(sys_video, dev, not_a_camera)[0].modes_note == (
        "answers no V4L2 capture enumeration"
    )


def test_spacemice_are_the_hidraw_nodes_of_3dconnexion(tmp_path: Path) -> None:
    ids = {0: ("0003:0000046D:0000C52B", "Logitech USB Receiver"),  # a mouse: not one
           1: ("0003:0000256F:0000C635", "3Dconnexion SpaceMouse Compact"),
           2: ("0003:0000046D:0000C626", "3Dconnexion SpaceNavigator")}  # fmt: skip
    for n, (hid_id, name) in ids.items():
        device = tmp_path / f"hidraw{n}" / "device"
        device.mkdir(parents=True)
        (device / "uevent").write_text(f"DRIVER=hid-generic\nHID_ID={hid_id}\nHID_NAME={name}\n")
    found = spacemice(tmp_path, Path("/dev"))
    assert [(h.path, h.usb_id) for h in found] == [("/dev/hidraw1", "256f:c635"),
                                                   ("/dev/hidraw2", "046d:c626")]  # fmt: skip
    assert found[0].name == "3Dconnexion SpaceMouse Compact"
    assert spacemice(tmp_path / "absent") == []

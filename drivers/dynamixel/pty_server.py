"""An emulated servo bus on a pseudo-terminal: any Protocol 2.0 client (vitac's bus, ROBOTIS's
DynamixelSDK, Dynamixel Wizard) opens `server.path` as it would /dev/ttyUSB0.

The server owns the pty's master side and answers in a thread; it also keeps the slave side
open, so the port survives clients opening and closing it. `disconnect()` closes both, which is
what a client sees when a USB-serial adapter is pulled: its next read or write fails.
"""

from __future__ import annotations

import os
import select
import threading
import tty

from drivers.dynamixel.emulator import EmulatedBus
from drivers.dynamixel.protocol import PacketReader

POLL_S = 0.05  # how often the thread looks at its stop flag between packets


class PtyServer:
    def __init__(self, bus: EmulatedBus) -> None:
        self.bus = bus
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # bytes as they are: no echo, no line editing
        self.path = os.ttyname(self.slave)
        self.lock = threading.Lock()  # the bus's state, between the thread and callers
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="dxl-emulator", daemon=True)

    def start(self) -> PtyServer:
        self._thread.start()
        return self

    def _serve(self) -> None:
        reader = PacketReader()
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.master], [], [], POLL_S)
                data = os.read(self.master, 4096) if ready else b""
            except (OSError, ValueError):  # closed under us: disconnected
                return
            for packet in reader.feed(data):
                with self.lock:
                    reply = self.bus.handle(packet)
                if reply:
                    try:
                        os.write(self.master, reply)
                    except OSError:
                        return

    def disconnect(self) -> None:
        """Pull the adapter: the thread ends and the client's next read or write fails."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=1.0)
        for fd in (self.master, self.slave):
            if fd >= 0:
                os.close(fd)
        self.master = self.slave = -1

    close = disconnect

    def __enter__(self) -> PtyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

"""``synthspot serve``: the bridge without the desktop app, until Ctrl+C or SIGTERM."""

from __future__ import annotations

import signal
import sys
import threading

from engine.bridge.extension_id import configured_extension_origins
from engine.bridge.pairing import TOKENS_FILE, PairingState
from engine.bridge.server import DEFAULT_PORT, BridgeServer, PortInUseError
from engine.model import Detector
from engine.scanner import Scanner
from engine.store import Store

EXIT_OK = 0
EXIT_PORT_TAKEN = 1
EXIT_BAD_CONFIG = 2


def serve_forever(detector: Detector, store: Store, port: int | None = None) -> int:
    """Serve until interrupted; the pairing code is printed (never logged) whenever it changes."""
    try:
        origins = configured_extension_origins()
    except ValueError as exc:
        print(f"synthspot: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG

    def show_code(code: str) -> None:
        print(f"Pairing code: {code[:3]} {code[3:]}  (enter it in the extension's popup; it changes once used)",
              flush=True)

    pairing = PairingState(store.path.parent / TOKENS_FILE, on_code_changed=show_code)
    stop = threading.Event()
    with Scanner(detector, store=store) as scanner:
        server = BridgeServer(scanner, store, port=DEFAULT_PORT if port is None else port,
                              extension_origins=origins, pairing=pairing)
        try:
            server.start()
        except PortInUseError as exc:
            print(f"synthspot: {exc.strerror}", file=sys.stderr)
            return EXIT_PORT_TAKEN
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            meta = detector.metadata
            print(f"SynthSpot bridge on {server.url} · model {meta.name} {meta.version} on "
                  f"{detector.active_provider.upper()} · results in {store.path}", flush=True)
            print(f"Allowed extension origins: {', '.join(sorted(origins))}", flush=True)
            pairing.code  # noqa: B018 - the first code, printed by show_code
            while not stop.wait(1.0):
                pairing.code  # noqa: B018 - reading it replaces an expired code (and prints the new one)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            server.stop()
    print("SynthSpot bridge stopped", flush=True)
    return EXIT_OK

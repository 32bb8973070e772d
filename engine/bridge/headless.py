"""``synthspot serve``: the bridge without the desktop app, until Ctrl+C or SIGTERM.

With ``--pair`` the terminal is the "Pair a browser" window: pairing is open
for PAIR_WINDOW_S (or until one browser is approved), and each request is shown
with the browser's name and its code, to approve by typing ``y``.
"""

from __future__ import annotations

import functools
import queue
import signal
import sys
import threading
from collections.abc import Callable

from engine.bridge.extension_id import configured_extension_origins
from engine.bridge.pairing import PAIRING_FILE, SUSPENDED_WARNING, PairingState
from engine.bridge.server import DEFAULT_PORT, BridgeServer, PortUnavailableError
from engine.model import Detector
from engine.scanner import Scanner
from engine.store import Store

EXIT_OK = 0
EXIT_PORT_TAKEN = 1
EXIT_BAD_CONFIG = 2
PAIR_WINDOW_S = 600.0


def serve_forever(detector: Detector, store: Store, port: int | None = None, pair: bool = False) -> int:
    """Serve until interrupted; with ``pair``, ask on the terminal about each browser that wants to pair."""
    try:
        origins = configured_extension_origins()
    except ValueError as exc:
        print(f"synthspot: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    pairing = PairingState(store.path.parent / PAIRING_FILE)
    stop = threading.Event()
    with Scanner(detector, store=store) as scanner:
        server = BridgeServer(scanner, store, port=DEFAULT_PORT if port is None else port,
                              extension_origins=origins, pairing=pairing)
        try:
            server.start()
        except PortUnavailableError as exc:  # taken, or not ours to take
            print(f"synthspot: {exc.strerror}", file=sys.stderr)
            return EXIT_PORT_TAKEN
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            meta = detector.metadata
            print(f"SynthSpot bridge on {server.url} · model {meta.name} {meta.version} on "
                  f"{detector.active_provider.upper()} · results in {store.path}", flush=True)
            print(f"Allowed extension origins: {', '.join(sorted(origins))}", flush=True)
            browsers = pairing.browsers()
            print(f"Paired browsers: {', '.join(b.name for b in browsers) if browsers else 'none'}", flush=True)
            if pair:
                _ask_about_pairings(pairing, stop)
            else:
                print("Pairing is closed; run `synthspot serve --pair` to pair a browser.", flush=True)
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            pairing.close_window()
            server.stop()
    print("SynthSpot bridge stopped", flush=True)
    return EXIT_OK


def _ask_about_pairings(pairing: PairingState, stop: threading.Event) -> None:
    """The terminal's "Pair a browser" window: returns once a browser is approved, or the window times out."""
    answers: queue.Queue[str] = queue.Queue()
    ended = threading.Event()
    threading.Thread(target=_read_lines, args=(answers, ended), name="synthspot-pair-input", daemon=True).start()
    pairing.open_window(PAIR_WINDOW_S)
    print(f"Pairing is open for {PAIR_WINDOW_S / 60:.0f} minutes: click Pair in the extension's popup, "
          "then approve the request here.", flush=True)
    asked: set[str] = set()
    while not stop.is_set() and pairing.window_open:
        waiting = [r for r in pairing.pending() if r.request_id not in asked]
        if not waiting and pairing.suspended:
            print(SUSPENDED_WARNING + " Pairing is closed; run `synthspot serve --pair` again to pair.", flush=True)
            break
        if not waiting:
            stop.wait(0.2)
            continue
        if ended.is_set() and answers.empty():
            # No terminal to answer on (stdin is /dev/null, or closed): the browser hears that pairing is
            # closed, not that the person refused it.
            pairing.close_window()
            print("Nothing can be typed here (no terminal): pairing is closed. Run `synthspot serve --pair` "
                  "in a terminal, or pair in the app's Pair a browser window.", flush=True)
            break
        request = waiting[0]
        asked.add(request.request_id)
        _discard_typed_ahead(answers)  # a "y" typed before the code was shown approves nothing
        print(f'Browser "{request.name}" asks to pair; its popup shows the code {request.code[:3]} '
              f"{request.code[3:]}. Approve? [y/N]", flush=True)
        answer = _next_answer(answers, ended, stop, functools.partial(_still_asking, pairing, request.request_id))
        if answer is None:
            print(f'Browser "{request.name}" stopped asking (cancelled in its popup, or expired).', flush=True)
            continue
        if answer.strip().lower() in ("y", "yes"):
            if pairing.approve(request.request_id):
                print(f'Paired "{request.name}". Pairing is closed again.', flush=True)
                break
            print("That request is gone (it expired).", flush=True)
        else:
            pairing.refuse(request.request_id)
            print(f'Refused "{request.name}".', flush=True)
    else:
        if not stop.is_set():
            print("Pairing closed (no browser was approved).", flush=True)
    # Approved answers stay collectable for a while after the window closes (PairingState keeps them).
    pairing.close_window()


def _read_lines(answers: queue.Queue, ended: threading.Event) -> None:
    try:
        for line in sys.stdin:
            answers.put(line)
    finally:
        ended.set()  # no terminal (or it closed): every later request is refused


def _discard_typed_ahead(answers: queue.Queue) -> None:
    while True:
        try:
            answers.get_nowait()
        except queue.Empty:
            return


def _still_asking(pairing: PairingState, request_id: str) -> bool:
    return any(r.request_id == request_id for r in pairing.pending())


def _next_answer(answers: queue.Queue, ended: threading.Event, stop: threading.Event,
                 still_asking: Callable[[], bool]) -> str | None:
    """The line typed; None once the request is no longer waiting (withdrawn by its browser)."""
    while not stop.is_set():
        if not still_asking():
            return None
        try:
            return answers.get(timeout=0.2)
        except queue.Empty:
            if ended.is_set():
                return ""
    return ""

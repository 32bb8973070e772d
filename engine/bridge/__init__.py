"""The localhost bridge between the browser extension and the engine (see server.py)."""

from engine.bridge.extension_id import UNPACKED_EXTENSION_ID, configured_extension_origins, extension_id_from_key
from engine.bridge.guards import RateLimit
from engine.bridge.headless import serve_forever
from engine.bridge.pairing import PairedBrowser, PairingRequest, PairingState
from engine.bridge.server import DEFAULT_PORT, BridgeServer, PortInUseError, PortUnavailableError

__all__ = ["BridgeServer", "PairedBrowser", "PairingRequest", "PairingState", "PortInUseError", "PortUnavailableError",
           "RateLimit",
           "DEFAULT_PORT", "UNPACKED_EXTENSION_ID", "configured_extension_origins", "extension_id_from_key",
           "serve_forever"]

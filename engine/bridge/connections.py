"""Keeping the bridge reachable under a flood of connections.

A local process can open connections faster than idle timeouts close them. Past
a cap well under the file-descriptor limit, each new connection closes the
oldest one with no request in progress (one that never sent a whole head, or
sits idle between requests), so a flood cannot run the server out of
descriptors and a real request still gets through. Should accept() fail anyway,
asyncio would log a traceback per failure: those are counted and logged once
per interval instead.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web_server

from engine.bridge.guards import ClientFaultLog

ACCEPT_FAILED = "socket.accept() out of system resource"
MAX_CONNECTIONS = 1024


def connection_cap() -> int:
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # not on POSIX
        return 256
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    # Half the descriptors: the rest are the app's files, the store, the model, the executor's work.
    return max(16, min(MAX_CONNECTIONS, soft // 2 - 32))


def shed_idle_connections(server: web_server.Server, cap: int) -> None:
    """Wrap ``server.connection_made`` so that connections beyond ``cap`` push out the oldest idle ones."""
    original = server.connection_made

    def connection_made(handler, transport) -> None:
        original(handler, transport)
        excess = len(server._connections) - cap
        if excess <= 0:
            return
        for old in server.connections:  # oldest first
            if excess <= 0:
                break
            # aiohttp marks a handler busy from a complete request head to its answer.
            if old is not handler and not getattr(old, "_request_in_progress", False):
                old.force_close()
                excess -= 1

    server.connection_made = connection_made  # type: ignore[method-assign]  # wraps aiohttp's hook on purpose


def quiet_accept_failures(loop: asyncio.AbstractEventLoop, faults: ClientFaultLog) -> None:
    def handle(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        if str(context.get("message", "")).startswith(ACCEPT_FAILED):
            faults.note("connections refused: out of file descriptors", logging.WARNING)
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handle)

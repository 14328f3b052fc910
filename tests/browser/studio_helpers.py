"""Small helpers for the browser tests."""

from __future__ import annotations

import socket
import time

# Generous: on a loaded 2-core machine the first page (Gradio, a session, its Viser server) takes a while.
# Tests wait for the state they assert (``wait_for``, Playwright's waits); none waits a fixed time.
PAGE_TIMEOUT_MS = 180_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, *, timeout: float = 90.0, interval: float = 0.1, what: str = "condition"):
    """Poll ``condition()`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def port_closed(port: int) -> bool:
    """True when nothing accepts connections on 127.0.0.1:``port``."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


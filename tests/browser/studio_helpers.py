"""Small helpers for the browser tests."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager

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


@contextmanager
def held_after_first_step(service, method: str):
    """The engine's ``method`` stream pauses after its first denoising step until the block ends (or the
    yielded event is set): a test can see (and cancel) a running job without racing a fast or slow engine."""
    engine = service.engine()
    real = getattr(engine, method)
    release = threading.Event()

    def held(*args, **kwargs):
        waited = False
        for event in real(*args, **kwargs):
            yield event
            if event.stage == "denoise" and not waited:
                waited = True
                release.wait(300)

    setattr(engine, method, held)          # an instance attribute shadows the method
    try:
        yield release
    finally:
        release.set()
        delattr(engine, method)

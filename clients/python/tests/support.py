"""Real servers for the tests: `node --import tsx server/entry/main.ts` on port 0 with its own SQLite file.

Also puts `clients/python` on `sys.path`, so the tests run against this tree's package without installing it.
"""

import atexit
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "clients" / "python"))

import switchboard  # noqa: E402

#: A bound, not a wait: a loaded two-core machine has taken 20 s to start a server with a catalogue module.
START_TIMEOUT = 40.0


def node() -> str:
    """The Node the test command runs on (vitest passes it), else the first `node` on PATH."""
    found = os.environ.get("SWITCHBOARD_NODE") or shutil.which("node")
    if not found:
        raise unittest.SkipTest("node is not installed, so no server can be started")
    return found


def wait_until(description: str, condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Polls `condition` until it holds; fails the test naming what did not happen within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {description}")
        time.sleep(0.01)


class Server:
    """One server process on a fixed database file; `kill()` is SIGKILL, `start()` again reuses the port."""

    def __init__(self, db: str, env: Optional[dict[str, str]] = None, port: int = 0) -> None:
        self.db = db
        self.env = env or {}
        self.port = port
        self.url = ""
        self._process: Optional[subprocess.Popen] = None
        self.output: list[str] = []

    def start(self) -> "Server":
        process = subprocess.Popen(
            [node(), "--import", "tsx", "server/entry/main.ts", "--port", str(self.port), "--db", self.db]
            + ["--durability", "normal", "--log-level", "warn"],
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        self._process = process
        lines: queue.Queue[Optional[str]] = queue.Queue()

        def pump() -> None:
            assert process.stdout is not None
            for raw in process.stdout:
                lines.put(raw.decode("utf-8", "replace"))
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                output = "".join(self.output)
                raise AssertionError(f"the server did not listen within {START_TIMEOUT} s: {output}") from None
            if line is None:
                raise AssertionError(f"the server exited: {''.join(self.output)}")
            self.output.append(line)
            match = re.search(r"listening on (http://\S+) ", line)
            if match:
                self.url = match.group(1)
                self.port = int(self.url.rsplit(":", 1)[1])
                return self

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush; only what SQLite committed survives."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
        if self._process is not None:
            self._process.wait(10)
            if self._process.stdout is not None:
                self._process.stdout.close()
        self._process = None


def _die_with_parent() -> None:
    """On Linux, the server gets SIGKILL when this process dies, even by SIGKILL (a test run cut by a timeout)."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    """A port nothing listens on (for a hub that is away from the start); loopback, so no one takes it meanwhile."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerTestCase(unittest.TestCase):
    """A fresh database in a temporary folder per test; servers started through `self.server()` die with it."""

    def setUp(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="switchboard-py-")
        self.addCleanup(self._dir.cleanup)

    def server(self, start: bool = True, port: int = 0) -> Server:
        server = Server(os.path.join(self._dir.name, "hub.db"), port=port)
        self.addCleanup(server.kill)
        return server.start() if start else server


#: Tokens of the shared server: every test against it passes the right one, and one checks the wrong ones.
PUBLISHER_TOKEN = "py-publisher-token-0001"
VIEWER_TOKEN = "py-viewer-token-00000001"
#: A server's environment with those two tokens.
TOKENS_ENV = {"SWITCHBOARD_TOKENS": f"publisher:{PUBLISHER_TOKEN},viewer:{VIEWER_TOKEN}"}
#: With them, one event a second past a burst of a thousand: what the Publishers' tests of a 429 run against.
SLOW_RATE_ENV = {**TOKENS_ENV, "SWITCHBOARD_PUBLISH_RATE": "1", "SWITCHBOARD_PUBLISH_BURST": "1000"}


def quick_retries(retries: list[str]) -> dict[str, Any]:
    """A Publisher's options for those tests: room for 2,000 events, a backoff of at most 50 ms, each retry's
    message noted in `retries`."""
    return {
        "buffer_size": 2_000,
        "retry_initial": 0.01,
        "retry_max": 0.05,
        "on_retry": lambda message, attempt: retries.append(message),
    }
_shared: list[Server] = []


def shared_server() -> Server:
    """One server with tokens for the tests that never kill it: each uses its own agent and workflow ids.
    Started once per run (a server start is most of a test's time) and killed when the run ends."""
    if not _shared:
        folder = tempfile.TemporaryDirectory(prefix="switchboard-py-shared-")
        server = Server(os.path.join(folder.name, "shared.db"), TOKENS_ENV).start()
        _shared.append(server)
        atexit.register(folder.cleanup)
        atexit.register(server.kill)
    return _shared[0]


def stored(url: str, topic: Optional[str] = None, token: Optional[str] = None) -> list[switchboard.Event]:
    query = {"topics": [topic]} if topic else {}
    return list(switchboard.history(url, query, token=token))


def log_event(agent: str, message: str) -> dict[str, object]:
    return {"type": "agent.log", "data": {"agentId": agent, "level": "info", "message": message}}


class Collector:
    """Iterates a subscription in a thread, so a test can wait on what arrived with a deadline."""

    def __init__(self, subscription: switchboard.Subscription) -> None:
        self.subscription = subscription
        self.items: list[switchboard.Event] = []
        self.error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self.subscription:
                self.items.append(item)
        except BaseException as error:  # noqa: BLE001 - handed to the test, which asserts on it
            self.error = error

    def at_least(self, count: int, timeout: float = 15.0) -> list[switchboard.Event]:
        wait_until(
            f"{count} items (have {len(self.items)}, error {self.error!r})", lambda: len(self.items) >= count, timeout
        )
        return self.items

    def close(self) -> None:
        self.subscription.close()
        self._thread.join(5)
        if self._thread.is_alive():
            raise AssertionError("the subscription did not end within 5 s of close()")

"""Fixtures for the Python end-to-end tests.

They build nothing: they start the already-built mock upstream
(`target/debug/reelay-mock-upstream`, built by `cargo test --workspace` or
`cargo build -p reelay-tests --bin reelay-mock-upstream`) and the already-built
Worker (`edge/build/`, `scripts/build-worker`) hosted by
`tests/harness/serve.mjs`, both on 127.0.0.1 and free ports, once per session.
Both children get a stdin pipe that we hold open: closing it (or our death)
stops them.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any, Iterator, NoReturn

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
MOCK_BIN = Path(
    os.environ.get("REELAY_MOCK_BIN", ROOT / "target" / "debug" / "reelay-mock-upstream")
)
HARNESS = ROOT / "tests" / "harness" / "serve.mjs"
WORKER = ROOT / "edge" / "build" / "index.js"

MASTER_KEY = "sk-master-python-0123456789abcdef"
SEALING_KEY = "python-sealing-key-0123456789abcdef0123456789"
GEMINI_KEY = "mock-gemini-key"
# Mock default: the 2nd poll of an operation is the first "done" answer.
MOCK_POLLS = 2
# Mock default size of every served MP4.
MOCK_VIDEO_BYTES = 64 * 1024

STARTUP_TIMEOUT_S = 30.0


class Child:
    """A child process that printed `READY <url>`; its output is drained
    into a short tail kept for failure reports."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None):
        self.name = name
        self.tail: collections.deque[str] = collections.deque(maxlen=200)
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        ready: queue.Queue[str | None] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._drain, args=(self.proc.stdout, ready), daemon=True),
            threading.Thread(target=self._drain, args=(self.proc.stderr, None), daemon=True),
        ]
        for t in self._threads:
            t.start()
        try:
            url = ready.get(timeout=STARTUP_TIMEOUT_S)
        except queue.Empty:
            self.stop()
            raise RuntimeError(
                f"{name} did not print READY within {STARTUP_TIMEOUT_S:.0f} s\n{self.log()}"
            ) from None
        if url is None:
            self.stop()
            raise RuntimeError(
                f"{name} exited (code {self.proc.returncode}) before it was ready\n{self.log()}"
            )
        if not url.startswith(("http://127.0.0.1:", "https://127.0.0.1:")):
            self.stop()
            raise RuntimeError(f"{name} is not on 127.0.0.1: {url}")
        self.url = url

    def _drain(self, stream: Any, ready: queue.Queue[str | None] | None) -> None:
        announced = False
        for line in stream:
            line = line.rstrip("\n")
            if ready is not None and not announced and line.startswith("READY "):
                announced = True
                ready.put(line[len("READY ") :].strip())
                continue
            self.tail.append(line)
        if ready is not None and not announced:
            self.proc.wait()
            ready.put(None)

    def log(self) -> str:
        return "\n".join(self.tail)

    def stop(self) -> None:
        """Closes stdin (the child stops by itself), then terminates and waits."""
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for t in self._threads:
            t.join(timeout=2)


_CHILDREN: list[Child] = []


def abort(message: str) -> NoReturn:
    """Stops the whole run at once: every test needs the mock and the gateway."""
    pytest.exit(message, returncode=1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Appends the mock's and the gateway's recent output to failure reports."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for child in _CHILDREN:
            if child.tail:
                report.sections.append((f"{child.name} output (last lines)", child.log()))


class Mock:
    """The mock upstream and its control API."""

    def __init__(self, child: Child):
        self.child = child
        self.url = child.url
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def reset(self) -> None:
        self.http.post("/_mock/reset").raise_for_status()

    def fault(self, path_contains: str, action: dict[str, Any], times: int = 1) -> None:
        resp = self.http.post(
            "/_mock/faults",
            json={"path_contains": path_contains, "times": times, "action": action},
        )
        assert resp.status_code == 200, resp.text

    def requests(self) -> list[dict[str, Any]]:
        resp = self.http.get("/_mock/requests")
        resp.raise_for_status()
        return resp.json()


class Gateway:
    """The Worker under Miniflare, plus admin helpers."""

    def __init__(self, child: Child):
        self.child = child
        self.url = child.url
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def new_key(self, **body: Any) -> str:
        resp = self.http.post(
            "/key/generate", headers={"Authorization": f"Bearer {MASTER_KEY}"}, json=body
        )
        assert resp.status_code == 200, resp.text
        key = resp.json()["key"]
        assert key.startswith("sk-reelay-"), key
        return key


def gateway_config(mock_url: str) -> dict[str, Any]:
    def group(name: str, dep_id: str, model: str) -> dict[str, Any]:
        return {
            "name": name,
            "deployments": [
                {
                    "id": dep_id,
                    "provider": "gemini",
                    "model": model,
                    "credential": "GEMINI_API_KEY",
                    "api_base": mock_url,
                }
            ],
        }

    return {
        "model_groups": [
            group("veo-3.1", "gemini-veo31", "veo-3.1-generate-preview"),
            group("veo-3.1-fast", "gemini-veo31-fast", "veo-3.1-fast-generate-preview"),
            {
                # The model the seed's VEO3VideoGenerator asks for by name: retired
                # on the Gemini API, so served by Vertex (into the gateway's bucket).
                "name": "veo-3.0-generate-preview",
                "deployments": [
                    {
                        "id": "vertex-veo-seed",
                        "provider": "vertex_ai",
                        "model": "veo-3.1-generate-001",
                        "credential": "VERTEX_SA",
                        "project": "mock-project",
                        "location": "us-central1",
                        "api_base": mock_url,
                        "storage_api_base": mock_url,
                        "storage_uri": "gs://reelay-out/seed/",
                    }
                ],
            },
            # Gemini Omni through the Interactions API (the live group name too).
            group("gemini-omni-1.1-flash", "gemini-omni", "gemini-omni-1.1-flash"),
            {
                # Veo on Vertex AI, with the mock's service account and token endpoint.
                "name": "veo-vertex",
                "deployments": [
                    {
                        "id": "vertex-veo",
                        "provider": "vertex_ai",
                        "model": "veo-3.1-generate-001",
                        "credential": "VERTEX_SA",
                        "project": "mock-project",
                        "location": "us-central1",
                        "api_base": mock_url,
                        "storage_api_base": mock_url,
                    }
                ],
            },
            {
                # The Responses API on two OpenAI keys (two orgs in the mock).
                "name": "gpt-5",
                "deployments": [
                    {
                        "id": "openai-gpt5-a",
                        "provider": "openai",
                        "model": "gpt-5-2025-08-07",
                        "credential": "OPENAI_API_KEY",
                        "api_base": mock_url,
                    },
                    {
                        "id": "openai-gpt5-b",
                        "provider": "openai",
                        "model": "gpt-5-2025-08-07",
                        "credential": "OPENAI_API_KEY_2",
                        "api_base": mock_url,
                    },
                ],
            },
            {
                # Retired upstream (the mock answers Vertex's 404 for it) with
                # no fallback: a clear 410 naming the model and its successor.
                "name": "veo-3.0-retired",
                "successor": "veo-vertex",
                "deployments": [
                    {
                        "id": "vertex-veo30",
                        "provider": "vertex_ai",
                        "model": "veo-3.0-generate-001",
                        "credential": "VERTEX_SA",
                        "project": "mock-project",
                        "location": "us-central1",
                        "api_base": mock_url,
                        "storage_api_base": mock_url,
                    }
                ],
            },
            {
                # Retired upstream with a fallback, which serves it.
                "name": "veo-3.0-fast-retired",
                "fallbacks": ["veo-vertex"],
                "deployments": [
                    {
                        "id": "vertex-veo30-fast",
                        "provider": "vertex_ai",
                        "model": "veo-3.0-fast-generate-001",
                        "credential": "VERTEX_SA",
                        "project": "mock-project",
                        "location": "us-central1",
                        "api_base": mock_url,
                        "storage_api_base": mock_url,
                    }
                ],
            },
            {
                "name": "sora-2",
                "deployments": [
                    {
                        "id": "openai-sora-2",
                        "provider": "openai",
                        "model": "sora-2",
                        "credential": "OPENAI_API_KEY",
                        "api_base": mock_url,
                    }
                ],
            },
            {
                # OpenAI Realtime (client secrets, WebRTC calls) on the mock.
                "name": "gpt-realtime",
                "deployments": [
                    {
                        "id": "openai-realtime",
                        "provider": "openai",
                        "model": "gpt-realtime-2025-08-28",
                        "credential": "OPENAI_API_KEY",
                        "api_base": mock_url,
                    }
                ],
            },
        ]
    }


@pytest.fixture(scope="session")
def mock_upstream() -> Iterator[Mock]:
    if not os.access(MOCK_BIN, os.X_OK):
        abort(
            f"{MOCK_BIN.relative_to(ROOT)} is missing: build it first with "
            "`cargo build -p reelay-tests --bin reelay-mock-upstream` "
            "(scripts/test does, through cargo test --workspace)"
        )
    try:
        child = Child(
            "mock upstream",
            [str(MOCK_BIN), "--port", "0", "--api-key", GEMINI_KEY, "--polls", str(MOCK_POLLS),
             "--video-bytes", str(MOCK_VIDEO_BYTES),
             # Retired upstream models (the retired groups of gateway_config).
             "--retired-model", "veo-3.0-generate-001",
             "--retired-model", "veo-3.0-fast-generate-001"],
        )
    except (OSError, RuntimeError) as e:
        abort(f"cannot start the mock upstream: {e}")
    _CHILDREN.append(child)
    mock = Mock(child)
    try:
        yield mock
    finally:
        mock.http.close()
        child.stop()


@pytest.fixture(scope="session")
def gateway(mock_upstream: Mock) -> Iterator[Gateway]:
    node = shutil.which("node")
    if node is None:
        abort("node is not on PATH (Node 20 hosts the Worker)")
    if not WORKER.exists():
        abort(
            f"{WORKER.relative_to(ROOT)} is missing: build the Worker first (scripts/build-worker)"
        )
    if not (ROOT / "node_modules" / "miniflare").is_dir():
        abort("node_modules/miniflare is missing: run scripts/install-tools")
    options = {
        "config": gateway_config(mock_upstream.url),
        "secrets": {
            "MASTER_KEY": MASTER_KEY,
            "SEALING_KEY": SEALING_KEY,
            "GEMINI_API_KEY": GEMINI_KEY,
            "OPENAI_API_KEY": "mock-openai-key",
            "OPENAI_API_KEY_2": "mock-openai-key-2",
            "VERTEX_SA": mock_upstream.http.get("/_mock/service-account").text,
        },
    }
    env = {**os.environ, "REELAY_HARNESS_OPTIONS": json.dumps(options)}
    try:
        child = Child("gateway", [node, str(HARNESS)], env=env)
    except (OSError, RuntimeError) as e:
        abort(f"cannot start the gateway harness: {e}")
    _CHILDREN.append(child)
    gw = Gateway(child)
    try:
        yield gw
    finally:
        gw.http.close()
        child.stop()


@pytest.fixture
def mock(mock_upstream: Mock) -> Mock:
    """The mock with no recorded requests, faults or operations left over."""
    mock_upstream.reset()
    return mock_upstream


@pytest.fixture(scope="session")
def key(gateway: Gateway) -> str:
    """A key for every `veo-*` model."""
    return gateway.new_key(models=["veo-*"])

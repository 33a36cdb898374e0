"""The official openai SDK's GPT-Live WebSockets (openai 3.57) through the gateway:
`client.live.connect()` (session.start with the model, session.started with reelay's
sealed `live_` id), `client.live.sideband.connect(session_id=…)` with that id, and
`client.live.forks.connect(session_id=…)` starting a forked session. The mock upstream
plays OpenAI's GPT-Live sockets (`tests/src/mock/gpt_live_ws.rs`).

This module starts its own gateway (same mock) with a GPT-Live model group, so the
shared config in conftest stays as it is.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any, Iterator

import pytest
from openai import OpenAI

from conftest import (
    HARNESS,
    MASTER_KEY,
    SEALING_KEY,
    WORKER,
    Child,
    Gateway,
    Mock,
    _CHILDREN,
    abort,
)

OPENAI_KEY = "mock-openai-key"
UPSTREAM_MODEL = "gpt-live-1.1-2026-11-20"
# openai's websocket helper reads frames in a way newer websockets deprecate.
pytestmark = pytest.mark.filterwarnings(
    "ignore:connect\\(\\) must be used as a context manager:DeprecationWarning"
)


@pytest.fixture(scope="module")
def live_gateway(mock_upstream: Mock) -> Iterator[Gateway]:
    node = shutil.which("node")
    if node is None or not WORKER.exists():
        abort("node and the built Worker (scripts/build-worker) are needed")
    options = {
        "config": {
            "model_groups": [
                {
                    "name": "gpt-live",
                    "deployments": [
                        {
                            "id": "openai-live",
                            "provider": "openai",
                            "model": UPSTREAM_MODEL,
                            "credential": "OPENAI_API_KEY",
                            "api_base": mock_upstream.url,
                        }
                    ],
                }
            ]
        },
        "secrets": {
            "MASTER_KEY": MASTER_KEY,
            "SEALING_KEY": SEALING_KEY,
            "OPENAI_API_KEY": OPENAI_KEY,
        },
    }
    env = {**os.environ, "REELAY_HARNESS_OPTIONS": json.dumps(options)}
    try:
        child = Child("gpt-live gateway", [node, str(HARNESS)], env=env)
    except (OSError, RuntimeError) as e:
        abort(f"cannot start the gateway harness: {e}")
    _CHILDREN.append(child)
    gw = Gateway(child)
    try:
        yield gw
    finally:
        gw.http.close()
        child.stop()
        _CHILDREN.remove(child)


def client_for(gateway: Gateway, key: str) -> OpenAI:
    return OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0, timeout=15)


def upstream(mock: Mock) -> dict[str, Any]:
    resp = mock.http.get("/_mock/gpt_live")
    resp.raise_for_status()
    return resp.json()


def test_live_connect_sideband_and_fork(live_gateway: Gateway, mock: Mock) -> None:
    key = live_gateway.new_key(models=["gpt-live"])
    client = client_for(live_gateway, key)

    with client.live.connect(max_retries=0) as conn:
        conn.session.start(session={"model": "gpt-live", "instructions": "Be brief", "store": True})
        started = conn.recv()
        assert started.type == "session.started"
        session_id = started.session.id
        assert session_id.startswith("live_")
        assert started.session.model == "gpt-live"
        upstream_ids = [s["id"] for s in upstream(mock)["sessions"]]
        assert session_id not in upstream_ids

        conn.session.input_audio.append(audio="AAAA")
        kinds = [conn.recv().type for _ in range(4)]
        assert kinds == [
            "session.input_transcript.delta",
            "session.output_audio.delta",
            "session.output_transcript.delta",
            "session.usage.updated",
        ]

        # A sideband on the same session, by the same key.
        with client.live.sideband.connect(
            session_id=session_id, graceful_close=True, max_retries=0
        ) as side:
            updated = side.recv()
            assert updated.type == "session.updated"
            assert updated.session.id.startswith("live_")

        # A fork of the stored session starts a new one.
        with client.live.forks.connect(session_id=session_id, max_retries=0) as fork:
            fork.session.start(session={})
            forked = fork.recv()
            assert forked.type == "session.started"
            assert forked.session.id.startswith("live_")
            assert forked.session.id != session_id
            fork.session.close()
            assert fork.recv().type == "session.closed"

        conn.session.close()
        closed = conn.recv()
        assert closed.type == "session.closed"
        assert closed.usage.seconds == 30

    sockets = upstream(mock)["sockets"]
    assert [s["kind"] for s in sockets] == ["primary", "attach", "fork"]
    assert sockets[0]["first"]["session"]["model"] == UPSTREAM_MODEL
    assert sockets[1]["graceful_close"] is True
    assert sockets[2]["first"] == {"type": "session.start", "session": {}}


def test_another_key_cannot_attach(live_gateway: Gateway, mock: Mock) -> None:
    owner = client_for(live_gateway, live_gateway.new_key(models=["gpt-live"]))
    other = client_for(live_gateway, live_gateway.new_key(models=["gpt-live"]))
    with owner.live.connect(max_retries=0) as conn:
        conn.session.start(session={"model": "gpt-live"})
        session_id = conn.recv().session.id
        with other.live.sideband.connect(session_id=session_id, max_retries=0) as side:
            event = side.recv()
            assert event.type == "error"
            assert event.error.code == "live_session_not_found"
    assert [s["kind"] for s in upstream(mock)["sockets"]] == ["primary"]

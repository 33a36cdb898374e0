"""The official openai Python SDK's Realtime WebSocket (`client.realtime.connect`)
through the gateway.

A server connects with its virtual key; a "browser-like" client connects with only
the token from `client.realtime.client_secrets.create`; a key without access is
refused with an `error` event and a 1008 close. The mock upstream plays OpenAI's
Realtime WebSocket (it sends `session.created`, answers `session.update` and
`response.create`).
"""

from __future__ import annotations

from typing import Any

import pytest
import websockets
from openai import OpenAI

from conftest import Gateway, Mock

OPENAI_KEY = "mock-openai-key"
# openai's websocket helper reads frames in a way websockets 17 deprecates.
pytestmark = pytest.mark.filterwarnings(
    "ignore:connect\\(\\) must be used as a context manager:DeprecationWarning"
)


def make_client(gateway: Gateway, key: str) -> OpenAI:
    return OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0, timeout=15)


def sockets(mock: Mock) -> list[dict[str, Any]]:
    resp = mock.http.get("/_mock/realtime")
    resp.raise_for_status()
    return resp.json()["sockets"]


@pytest.fixture
def rt_key(gateway: Gateway) -> str:
    return gateway.new_key(models=["gpt-realtime"])


def test_connect_with_a_virtual_key(gateway: Gateway, mock: Mock, rt_key: str) -> None:
    client = make_client(gateway, rt_key)
    with client.realtime.connect(model="gpt-realtime", max_retries=0) as conn:
        created = conn.recv()
        assert created.type == "session.created"
        # The session shows the model group, never the deployment's model.
        assert created.session.model == "gpt-realtime"
        conn.session.update(
            session={"type": "realtime", "model": "gpt-realtime", "instructions": "be brief"}
        )
        updated = conn.recv()
        assert updated.type == "session.updated"
        assert updated.session.model == "gpt-realtime"
        conn.response.create()
        kinds = [conn.recv().type for _ in range(3)]
        assert kinds == ["response.created", "response.output_text.delta", "response.done"]
    seen = sockets(mock)
    assert len(seen) == 1
    assert seen[0]["credential"] == "server"
    assert seen[0]["model"] == "gpt-realtime-2025-08-28"
    assert seen[0]["session_models"] == ["gpt-realtime-2025-08-28"]
    upgrade = [r for r in mock.requests() if r["path"] == "/v1/realtime"][0]
    headers = {k.lower(): v for k, v in upgrade["headers"]}
    assert headers["authorization"] == f"Bearer {OPENAI_KEY}"


def test_connect_with_a_minted_token(gateway: Gateway, mock: Mock, rt_key: str) -> None:
    server = make_client(gateway, rt_key)
    secret = server.realtime.client_secrets.create(
        session={"type": "realtime", "model": "gpt-realtime"}
    )
    assert secret.value.startswith("ek_rl_")
    browser = make_client(gateway, secret.value)
    with browser.realtime.connect(model="gpt-realtime", max_retries=0) as conn:
        created = conn.recv()
        assert created.type == "session.created"
        assert created.session.model == "gpt-realtime"
        conn.response.create()
        assert conn.recv().type == "response.created"
    seen = sockets(mock)
    assert seen[-1]["credential"] == "ephemeral"
    # The upstream got the ephemeral key it minted; the client never saw it.
    issued = mock.http.get("/_mock/realtime").json()["ephemeral_keys"][-1]["value"]
    assert issued not in secret.value
    upgrade = [r for r in mock.requests() if r["path"] == "/v1/realtime"][-1]
    headers = {k.lower(): v for k, v in upgrade["headers"]}
    assert headers["authorization"] == f"Bearer {issued}"
    assert issued not in gateway.child.log()


def test_a_key_without_access_is_refused(gateway: Gateway, mock: Mock) -> None:
    key = gateway.new_key(models=["veo-*"])
    client = make_client(gateway, key)
    with client.realtime.connect(model="gpt-realtime", max_retries=0) as conn:
        event = conn.recv()
        assert event.type == "error"
        assert event.error.code == "key_model_access_denied"
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            conn.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert closed.value.rcvd.reason.startswith("key_model_access_denied")
    assert sockets(mock) == []


def test_no_provider_key_in_the_logs(gateway: Gateway) -> None:
    logs = gateway.child.log()
    assert "websocket_closed" in logs
    assert OPENAI_KEY not in logs

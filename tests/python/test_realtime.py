"""The official openai Python SDK against the gateway's Realtime routes.

A server mints a browser-safe session with `client.realtime.client_secrets.create`
(its virtual key), a "browser" client uses only the returned token as its API key
for `client.realtime.calls.create(sdp=...)` (raw SDP, and the multipart form with a
session), and call control (`accept`, `hangup`, `reject`) goes through the call id
in the gateway's `Location`. The mock upstream plays OpenAI's Realtime API.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

import httpx
import openai
import pytest
from openai import OpenAI

from conftest import MASTER_KEY, Gateway, Mock

OPENAI_KEY = "mock-openai-key"
OFFER = (
    "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "a=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
    "a=mid:0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n"
)
SESSION = {"type": "realtime", "model": "gpt-realtime"}
CALL_LOCATION = re.compile(r"^/v1/realtime/calls/(rtc_[A-Za-z0-9_-]+)$")


def make_client(gateway: Gateway, key: str) -> OpenAI:
    return OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0, timeout=15)


@pytest.fixture
def rt_key(gateway: Gateway) -> str:
    return gateway.new_key(models=["gpt-realtime"])


@pytest.fixture
def server(gateway: Gateway, rt_key: str, mock: Mock) -> Iterator[OpenAI]:
    with make_client(gateway, rt_key) as c:
        yield c


def mint(server: OpenAI, **session: Any) -> str:
    secret = server.realtime.client_secrets.create(
        expires_after={"anchor": "created_at", "seconds": 600},
        session={**SESSION, **session},  # type: ignore[typeddict-item]
    )
    assert secret.value.startswith("ek_rl_"), secret.value
    return secret.value


def upstream(mock: Mock, suffix: str) -> list[dict[str, Any]]:
    return [r for r in mock.requests() if r["path"].endswith(suffix)]


def header(request: dict[str, Any], name: str) -> str | None:
    return next((v for k, v in request["headers"] if k.lower() == name), None)


def issued_keys(mock: Mock) -> list[str]:
    state = mock.http.get("/_mock/realtime").json()
    return [k["value"] for k in state["ephemeral_keys"]]


def call_id(answer: Any) -> str:
    location = answer.response.headers["location"]
    match = CALL_LOCATION.match(location)
    assert match, location
    return match.group(1)


def test_mint_then_browser_call_with_raw_sdp_and_control(
    gateway: Gateway, server: OpenAI, mock: Mock
) -> None:
    secret = server.realtime.client_secrets.create(
        expires_after={"anchor": "created_at", "seconds": 600},
        session={"type": "realtime", "model": "gpt-realtime", "instructions": "be brief"},
    )
    assert secret.value.startswith("ek_rl_")
    assert secret.session.type == "realtime"
    assert secret.session.model == "gpt-realtime"  # type: ignore[union-attr]
    assert secret.expires_at > 0
    sent = upstream(mock, "/v1/realtime/client_secrets")
    assert header(sent[0], "authorization") == f"Bearer {OPENAI_KEY}"

    # The browser holds only the token.
    with make_client(gateway, secret.value) as browser:
        answer = browser.realtime.calls.create(sdp=OFFER)
    assert answer.response.status_code == 201
    assert answer.response.headers["content-type"].startswith("application/sdp")
    assert answer.text.startswith("v=0\r\n")
    cid = call_id(answer)

    calls = upstream(mock, "/v1/realtime/calls")
    assert len(calls) == 1
    [ek] = issued_keys(mock)
    assert header(calls[0], "authorization") == f"Bearer {ek}"
    assert header(calls[0], "content-type").startswith("application/sdp")  # type: ignore[union-attr]
    assert calls[0]["body"] == OFFER
    assert ek not in answer.text and ek not in str(answer.response.headers)

    # Call control with the server's key, through reelay's call id.
    server.realtime.calls.accept(cid, type="realtime", model="gpt-realtime", instructions="hi")
    server.realtime.calls.hangup(cid)
    accept = upstream(mock, "/accept")[0]
    assert header(accept, "authorization") == f"Bearer {OPENAI_KEY}"
    assert '"gpt-realtime-2025-08-28"' in accept["body"]
    upstream_id = accept["path"].split("/")[-2]
    assert upstream_id.startswith("rtc_") and upstream_id != cid
    assert upstream(mock, "/hangup")[0]["path"] == f"/v1/realtime/calls/{upstream_id}/hangup"

    # Nothing secret in the gateway's logs.
    log = gateway.child.log()
    assert ek not in log and OPENAI_KEY not in log


def test_multipart_calls_with_token_and_with_virtual_key(
    gateway: Gateway, server: OpenAI, mock: Mock
) -> None:
    token = mint(server)
    with make_client(gateway, token) as browser:
        answer = browser.realtime.calls.create(sdp=OFFER, session=SESSION)  # type: ignore[arg-type]
    assert answer.response.status_code == 201
    call_id(answer)
    sent = upstream(mock, "/v1/realtime/calls")[0]
    assert header(sent, "content-type").startswith("multipart/form-data")  # type: ignore[union-attr]
    assert '"gpt-realtime-2025-08-28"' in sent["body"]

    # A server may skip the token: its own key and a session naming the model.
    answer = server.realtime.calls.create(sdp=OFFER, session=SESSION)  # type: ignore[arg-type]
    assert answer.response.status_code == 201
    cid = call_id(answer)
    sent = upstream(mock, "/v1/realtime/calls")[1]
    assert header(sent, "authorization") == f"Bearer {OPENAI_KEY}"
    server.realtime.calls.reject(cid, status_code=486)
    assert upstream(mock, "/reject")


def test_bad_tokens_are_authentication_errors(
    gateway: Gateway, server: OpenAI, mock: Mock
) -> None:
    token = mint(server)
    mid = len(token) // 2
    forged = token[:mid] + ("A" if token[mid] != "A" else "B") + token[mid + 1 :]
    for bad in (forged, token[:-6], "ek_rl_AAAA"):
        with make_client(gateway, bad) as browser:
            with pytest.raises(openai.AuthenticationError) as err:
                browser.realtime.calls.create(sdp=OFFER)
        assert err.value.status_code == 401
        assert err.value.code == "invalid_realtime_token"

    expired = mint(server, instructions="[[expired]]")
    with make_client(gateway, expired) as browser:
        with pytest.raises(openai.AuthenticationError) as err:
            browser.realtime.calls.create(sdp=OFFER)
    assert err.value.code == "realtime_token_expired"
    assert not upstream(mock, "/v1/realtime/calls")


def test_revoked_key_tokens_stop_working(gateway: Gateway, mock: Mock) -> None:
    key = gateway.new_key(models=["gpt-realtime"])
    with make_client(gateway, key) as server:
        token = mint(server)
    resp = gateway.http.post(
        "/key/delete", headers={"Authorization": f"Bearer {MASTER_KEY}"}, json={"keys": [key]}
    )
    assert resp.status_code == 200, resp.text
    with make_client(gateway, token) as browser:
        with pytest.raises(openai.AuthenticationError) as err:
            browser.realtime.calls.create(sdp=OFFER)
    assert err.value.code == "invalid_realtime_token"
    assert not upstream(mock, "/v1/realtime/calls")


def test_model_outside_the_keys_rules_is_denied(gateway: Gateway, mock: Mock) -> None:
    key = gateway.new_key(models=["veo-*"])
    with make_client(gateway, key) as server:
        with pytest.raises(openai.PermissionDeniedError) as err:
            server.realtime.client_secrets.create(session=SESSION)  # type: ignore[arg-type]
    assert err.value.code == "key_model_access_denied"
    assert not upstream(mock, "/realtime/client_secrets")


def test_raw_http_answer_keeps_no_upstream_secret(gateway: Gateway, rt_key: str, mock: Mock) -> None:
    minted = httpx.post(
        gateway.url + "/v1/realtime/client_secrets",
        headers={"Authorization": f"Bearer {rt_key}"},
        json={"session": SESSION},
        timeout=10,
    )
    assert minted.status_code == 200, minted.text
    assert minted.headers["cache-control"] == "no-store"
    [ek] = issued_keys(mock)
    assert ek not in minted.text
    assert OPENAI_KEY not in minted.text

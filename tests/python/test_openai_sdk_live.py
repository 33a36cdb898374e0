"""The official openai Python SDK (3.57) against the gateway's GPT-Live HTTP routes.

A server (its virtual key) or a page (a browser token the server minted) calls
`client.live.create(session=..., transport={"type": "webrtc", "sdp": ...})`; the
gateway checks the typed configuration and every model it spends on, exchanges the
offer with the mock's GPT-Live API and answers a sealed `live_` id. The follow-ups
(`live.sessions.fork/accept/hangup/refer/reject/download_recording`) carry only that
id and reach the deployment holding the session, with its own key.
"""

from __future__ import annotations

import io
import wave
from typing import Any, Iterator

import openai
import pytest
from openai import OpenAI

from conftest import Gateway, Mock

OPENAI_KEY = "mock-openai-key"
OFFER = (
    "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "a=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
    "a=mid:0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n"
)
TRANSPORT = {"type": "webrtc", "sdp": OFFER}


def make_client(gateway: Gateway, key: str) -> OpenAI:
    return OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0, timeout=15)


@pytest.fixture
def live_key(gateway: Gateway) -> str:
    return gateway.new_key(models=["gpt-live-*", "gpt-5"])


@pytest.fixture
def server(gateway: Gateway, live_key: str, mock: Mock) -> Iterator[OpenAI]:
    with make_client(gateway, live_key) as c:
        yield c


def upstream(mock: Mock, suffix: str) -> list[dict[str, Any]]:
    return [r for r in mock.requests() if r["path"].endswith(suffix)]


def header(request: dict[str, Any], name: str) -> str | None:
    return next((v for k, v in request["headers"] if k.lower() == name), None)


def upstream_sessions(mock: Mock) -> list[dict[str, Any]]:
    return mock.http.get("/_mock/gpt_live_http").json()["sessions"]


def test_create_fork_controls_and_recording(gateway: Gateway, server: OpenAI, mock: Mock) -> None:
    created = server.live.create(
        session={
            "model": "gpt-live-1",
            "instructions": "Be brief",
            "audio": {"output": {"voice": "marin"}},
            "store": True,
            "idle_timeout_s": 30,
            "wake_policy": {"type": "speech", "vad_threshold": 0.6},
            "delegation": {"type": "responses", "responses": {"model": "gpt-5", "instructions": "backend"}},
        },
        transport=TRANSPORT,
    )
    sid = created.session.id
    assert sid.startswith("live_")
    assert created.transport.sdp.startswith("v=0\r\n")
    [sent] = upstream(mock, "/v1/live/sessions")
    assert header(sent, "authorization") == f"Bearer {OPENAI_KEY}"
    assert '"gpt-live-1-2026-11"' in sent["body"]
    [up] = upstream_sessions(mock)
    assert up["id"] not in sid

    forked = server.live.sessions.fork(sid, transport=TRANSPORT, session={"store": True})
    assert forked.session.id.startswith("live_") and forked.session.id != sid
    assert upstream(mock, f"/{up['id']}/fork")

    recording = server.live.sessions.download_recording(sid)
    with wave.open(io.BytesIO(recording.read())) as wav:
        assert wav.getnchannels() == 2
        assert wav.getframerate() == 24000

    server.live.sessions.accept(sid, session={"type": "live", "model": "gpt-live-1"})
    server.live.sessions.refer(sid, target_uri="tel:+14155550123")
    server.live.sessions.reject(sid, status_code=486)
    server.live.sessions.hangup(forked.session.id)
    accept = upstream(mock, "/accept")[0]
    assert accept["path"] == f"/v1/live/sessions/{up['id']}/accept"
    assert header(accept, "authorization") == f"Bearer {OPENAI_KEY}"
    assert '"gpt-live-1-2026-11"' in accept["body"]
    assert upstream(mock, "/refer") and upstream(mock, "/reject") and upstream(mock, "/hangup")

    log = gateway.child.log()
    assert OPENAI_KEY not in log and up["id"] not in log


def test_browser_token_creates_for_its_visitor_only(gateway: Gateway, live_key: str, mock: Mock) -> None:
    def token(subject: str) -> str:
        resp = gateway.http.post(
            "/v1/browser_tokens",
            headers={"Authorization": f"Bearer {live_key}"},
            json={"models": ["gpt-live-1"], "subject": subject},
        )
        assert resp.status_code == 200, resp.text
        return resp.json()["token"]

    with make_client(gateway, token("alice")) as alice:
        created = alice.live.create(session={"model": "gpt-live-1", "store": True}, transport=TRANSPORT)
        with pytest.raises(openai.PermissionDeniedError) as err:
            alice.live.create(
                session={"model": "gpt-live-1",
                         "delegation": {"type": "responses", "responses": {"model": "gpt-5"}}},
                transport=TRANSPORT,
            )
        assert err.value.code == "key_model_access_denied"
    with make_client(gateway, token("bob")) as bob:
        with pytest.raises(openai.NotFoundError) as err:
            bob.live.sessions.hangup(created.session.id)
        assert err.value.code == "live_session_not_found"
    assert len(upstream_sessions(mock)) == 1
    assert not upstream(mock, "/hangup")


def test_unknown_fields_are_precise_400s(server: OpenAI, mock: Mock) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        server.live.create(
            session={"model": "gpt-live-1", "temperature": 0.3},  # type: ignore[typeddict-unknown-key]
            transport=TRANSPORT,
        )
    assert err.value.code == "invalid_request"
    assert err.value.param == "session.temperature"  # type: ignore[attr-defined]
    with pytest.raises(openai.NotFoundError) as err:
        server.live.sessions.refer("live_x", target_uri="tel:+1")
    assert err.value.code == "live_session_not_found"
    assert not upstream(mock, "/live/sessions")

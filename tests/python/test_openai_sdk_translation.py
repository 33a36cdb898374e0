"""OpenAI Realtime Translation with the official openai SDK (3.57) through the
gateway: `realtime.translations.client_secrets.create` returns reelay's sealed
token (never the upstream's `ek_`), and both `realtime.translations.connect` and
`openai.lib.realtime_translation.TranslationSession` run a session with a
virtual key and with only the minted token. The mock upstream plays OpenAI's
translation socket (`session.created`, `session.updated`, transcript and audio
deltas, `session.closed` on `session.close`).
"""

from __future__ import annotations

from typing import Any

import pytest
from openai import OpenAI
from openai.lib.realtime_translation import TranslationSession

from conftest import Gateway, Mock

MODEL = "gpt-realtime-translate"
UPSTREAM_MODEL = "gpt-realtime-translate-2026-11"
SILENCE = "AAAA" * 1600  # 200 ms of 24 kHz PCM16 silence, base64
pytestmark = pytest.mark.filterwarnings(
    "ignore:connect\\(\\) must be used as a context manager:DeprecationWarning"
)


def make_client(gateway: Gateway, key: str) -> OpenAI:
    return OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0, timeout=15)


def state(mock: Mock) -> dict[str, Any]:
    resp = mock.http.get("/_mock/translation")
    resp.raise_for_status()
    return resp.json()


@pytest.fixture
def tr_key(gateway: Gateway) -> str:
    return gateway.new_key(models=[MODEL, "gpt-live-transcribe"])


def mint(client: OpenAI) -> Any:
    return client.realtime.translations.client_secrets.create(
        session={
            "model": MODEL,
            "audio": {
                "output": {"language": "es"},
                "input": {
                    "transcription": {"model": "gpt-live-transcribe"},
                    "noise_reduction": {"type": "near_field"},
                },
            },
        },
        expires_after={"anchor": "created_at", "seconds": 600},
    )


def test_client_secrets_are_sealed(gateway: Gateway, mock: Mock, tr_key: str) -> None:
    secret = mint(make_client(gateway, tr_key))
    assert secret.value.startswith("ek_rl_")
    assert secret.session.type == "translation"
    assert secret.session.model == MODEL
    assert secret.session.audio.output.language == "es"
    issued = [k["value"] for k in state(mock)["ephemeral_keys"]]
    assert issued and all(ek not in secret.model_dump_json() for ek in issued)


def test_connect_with_a_virtual_key(gateway: Gateway, mock: Mock, tr_key: str) -> None:
    client = make_client(gateway, tr_key)
    with client.realtime.translations.connect(model=MODEL, max_retries=0) as conn:
        created = conn.recv()
        assert created.type == "session.created"
        assert created.session.model == MODEL
        conn.session.update(session={"audio": {"output": {"language": "fr"}}})
        updated = conn.recv()
        assert updated.type == "session.updated"
        assert updated.session.audio.output.language == "fr"
        conn.session.input_audio_buffer.append(audio=SILENCE)
        kinds = [conn.recv().type for _ in range(2)]
        assert kinds == ["session.output_transcript.delta", "session.output_audio.delta"]
        conn.session.close()
        assert conn.recv().type == "session.closed"
    sockets = state(mock)["sockets"]
    assert sockets[-1]["credential"] == "server"
    assert sockets[-1]["model"] == UPSTREAM_MODEL


def test_translation_session_with_only_the_minted_token(
    gateway: Gateway, mock: Mock, tr_key: str
) -> None:
    secret = mint(make_client(gateway, tr_key))
    browser = make_client(gateway, secret.value)
    with TranslationSession(browser.realtime.translations, model=MODEL) as conn:
        created = conn.recv(timeout=15)
        assert created.type == "session.created"
        assert created.session.model == MODEL
        conn.send({"type": "session.input_audio_buffer.append", "audio": SILENCE})
        kinds = [conn.recv(timeout=15).type for _ in range(3)]
        assert kinds == [
            "session.input_transcript.delta",
            "session.output_transcript.delta",
            "session.output_audio.delta",
        ]
        conn.send({"type": "session.close"})
        closed = conn.recv(timeout=15)
        assert closed.type == "session.closed"
    sockets = state(mock)["sockets"]
    assert sockets[-1]["credential"] == "ephemeral"
    assert [e["type"] for e in sockets[-1]["events"]] == [
        "session.input_audio_buffer.append",
        "session.close",
    ]


def test_a_minted_token_starts_one_session(gateway: Gateway, tr_key: str) -> None:
    secret = mint(make_client(gateway, tr_key))
    browser = make_client(gateway, secret.value)
    with browser.realtime.translations.connect(model=MODEL, max_retries=0) as conn:
        assert conn.recv().type == "session.created"
    with browser.realtime.translations.connect(model=MODEL, max_retries=0) as conn:
        refused = conn.recv()
        assert refused.type == "error"
        assert refused.error.code == "realtime_token_used"

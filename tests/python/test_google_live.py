"""google-genai Live (`client.aio.live.connect`) through the gateway.

The Python SDK always upgrades the Live scheme to `wss://`, so this module runs its
own gateway over HTTPS with a self-signed certificate made at test time (Miniflare's
`httpsKeyPath`/`httpsCertPath`, through the harness's `https` option), trusted by
the SDK through its SSL context. The mock upstream plays Gemini Live: it answers the
setup with a binary `setupComplete` and echoes client content.

google-genai 3.6.1 defaults the Gemini API to `v1`: the clients here keep the SDK's
default version, so Live goes to `…v1.GenerativeService.BidiGenerateContent`, tokens
are minted on `/v1/auth_tokens` and used on `…v1…BidiGenerateContentConstrained`.

Covered: a virtual key (`x-goog-api-key`), the setup model checked and rewritten to
the deployment's; a gateway-minted ephemeral token (`client.auth_tokens.create`,
then a client holding only `auth_tokens/…` on the constrained method) with its
locked fields applied; a key without access refused with a 1008 close the SDK
reports as an error. Live Interactions (`client.aio.interactions.connect`) with a
key and with a gateway-minted per-interaction token
(`client.interactions.auth_tokens.create`, revoked with `…auth_tokens.delete`).
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import os
import shutil
import ssl
import tempfile
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google import genai
from google.genai import errors, types
from google.genai.interactions import APIWebSocketError

from conftest import (
    _CHILDREN,
    GEMINI_KEY,
    HARNESS,
    MASTER_KEY,
    SEALING_KEY,
    WORKER,
    Child,
    Mock,
    abort,
)

LIVE_MODEL = "gemini-3.8-live"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class LiveGateway:
    def __init__(self, child: Child, cert: Path):
        self.child = child
        self.url = child.url
        self.cert = cert
        self.ssl = ssl.create_default_context(cafile=str(cert))
        self.http = httpx.Client(base_url=self.url, timeout=10, verify=self.ssl)

    def new_key(self, **body: Any) -> str:
        resp = self.http.post(
            "/key/generate", headers={"Authorization": f"Bearer {MASTER_KEY}"}, json=body
        )
        assert resp.status_code == 200, resp.text
        return resp.json()["key"]

    def client(self, api_key: str, api_version: str | None = None) -> genai.Client:
        """A client on the SDK's default API version (`v1`) unless told."""
        options: dict[str, Any] = {
            "base_url": self.url + "/gemini",
            "client_args": {"verify": self.ssl},
            "async_client_args": {"ssl": self.ssl},
        }
        if api_version is not None:
            options["api_version"] = api_version
        return genai.Client(api_key=api_key, http_options=types.HttpOptions(**options))


@pytest.fixture(scope="module")
def live_gateway(mock_upstream: Mock) -> Iterator[LiveGateway]:
    node = shutil.which("node")
    if node is None or not WORKER.exists():
        abort("node and the built Worker (scripts/build-worker) are needed")
    directory = Path(tempfile.mkdtemp(prefix="reelay-live-tls-"))
    cert, key = self_signed(directory)
    config = {
        "model_groups": [
            {
                "name": "gemini-live",
                "deployments": [
                    {
                        "id": "gemini-live-1",
                        "provider": "gemini",
                        "model": LIVE_MODEL,
                        "credential": "GEMINI_API_KEY",
                        "api_base": mock_upstream.url,
                    }
                ],
            },
            {
                "name": "veo-3.1",
                "deployments": [
                    {
                        "id": "gemini-veo",
                        "provider": "gemini",
                        "model": "veo-3.1-generate-preview",
                        "credential": "GEMINI_API_KEY",
                        "api_base": mock_upstream.url,
                    }
                ],
            },
        ]
    }
    options = {
        "config": config,
        "secrets": {
            "MASTER_KEY": MASTER_KEY,
            "SEALING_KEY": SEALING_KEY,
            "GEMINI_API_KEY": GEMINI_KEY,
        },
        "https": {"key": str(key), "cert": str(cert)},
    }
    env = {**os.environ, "REELAY_HARNESS_OPTIONS": json.dumps(options)}
    try:
        child = Child("live gateway (https)", [node, str(HARNESS)], env=env)
    except (OSError, RuntimeError) as e:
        abort(f"cannot start the HTTPS gateway harness: {e}")
    _CHILDREN.append(child)
    assert child.url.startswith("https://127.0.0.1:"), child.url
    gw = LiveGateway(child, cert)
    try:
        yield gw
    finally:
        gw.http.close()
        child.stop()
        shutil.rmtree(directory, ignore_errors=True)


def live_sessions(mock: Mock) -> list[dict[str, Any]]:
    resp = mock.http.get("/_mock/live")
    resp.raise_for_status()
    return resp.json()["sessions"]


async def converse(client: genai.Client, model: str, config: dict[str, Any]) -> str:
    async with client.aio.live.connect(model=model, config=config) as session:
        await session.send_client_content(
            turns={"role": "user", "parts": [{"text": "hello"}]}, turn_complete=True
        )
        text = ""
        async for message in session.receive():
            if message.text:
                text += message.text
        return text


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_live_with_a_virtual_key(live_gateway: LiveGateway, mock: Mock) -> None:
    key = live_gateway.new_key(models=["gemini-live"])
    client = live_gateway.client(key)
    assert client._api_client._http_options.api_version == "v1"
    text = asyncio.run(converse(client, "gemini-live", {"response_modalities": ["TEXT"]}))
    assert text == "echo: hello"
    sessions = live_sessions(mock)
    assert len(sessions) == 1
    assert sessions[0]["api"] == "gemini"
    assert sessions[0]["model"] == f"models/{LIVE_MODEL}"
    assert sessions[0]["setup"]["generationConfig"]["responseModalities"] == ["TEXT"]
    upgrade = [r for r in mock.requests() if r["path"].startswith("/ws/")][0]
    headers = {k.lower(): v for k, v in upgrade["headers"]}
    assert headers["x-goog-api-key"] == GEMINI_KEY


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The SDK's")
def test_live_with_a_gateway_minted_token(live_gateway: LiveGateway, mock: Mock) -> None:
    key = live_gateway.new_key(models=["gemini-live"])
    server = live_gateway.client(key)
    now = datetime.datetime.now(tz=datetime.timezone.utc)
    token = server.auth_tokens.create(
        config={
            "uses": 1,
            "expire_time": now + datetime.timedelta(minutes=30),
            "new_session_expire_time": now + datetime.timedelta(minutes=1),
            "live_connect_constraints": {
                "model": "gemini-live",
                "config": {"temperature": 0.2, "response_modalities": ["TEXT"]},
            },
            "lock_additional_fields": ["temperature"],
        }
    )
    assert token.name is not None and token.name.startswith("auth_tokens/lt_rl_")
    # The SDK default (`v1`; it warns that tokens are `v1alpha` upstream).
    browser = live_gateway.client(token.name)
    text = asyncio.run(
        converse(browser, "gemini-live", {"response_modalities": ["TEXT"], "temperature": 0.9})
    )
    assert text == "echo: hello"
    sessions = live_sessions(mock)
    assert sessions[-1]["model"] == f"models/{LIVE_MODEL}"
    assert sessions[-1]["setup"]["generationConfig"]["temperature"] == 0.2
    # One use only: the second session is refused.
    with pytest.raises(errors.APIError) as refused:
        asyncio.run(converse(browser, "gemini-live", {"response_modalities": ["TEXT"]}))
    assert "live_token_used_up" in str(refused.value)
    assert len(live_sessions(mock)) == 1


def test_no_provider_secret_in_the_logs(live_gateway: LiveGateway, mock_upstream: Mock) -> None:
    logs = live_gateway.child.log()
    assert "websocket_closed" in logs
    assert GEMINI_KEY not in logs


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_key_without_access_is_refused(live_gateway: LiveGateway, mock: Mock) -> None:
    key = live_gateway.new_key(models=["veo-*"])
    with pytest.raises(errors.APIError) as refused:
        asyncio.run(
            converse(live_gateway.client(key), "gemini-live", {"response_modalities": ["TEXT"]})
        )
    assert refused.value.code == 1008
    assert "key_model_access_denied" in str(refused.value)
    assert live_sessions(mock) == []


# ---- Live Interactions ----


async def create_interaction(gw: LiveGateway, key: str) -> str:
    """An interaction created over the socket (the SDK's helper only connects):
    the gateway's sealed `int_` id."""
    url = gw.url.replace("https://", "wss://") + "/gemini/v1/interactions/live"
    async with websockets.connect(
        url, ssl=gw.ssl, additional_headers={"x-goog-api-key": key}
    ) as ws:
        await ws.send(json.dumps({"event_type": "interaction.create", "model": "gemini-live"}))
        created = json.loads(await ws.recv())
        assert created["event_type"] == "interaction.created", created
        await ws.send(json.dumps({"event_type": "interaction.disconnect"}))
        return created["interaction_id"]


async def talk(client: genai.Client, interaction_id: str, text: str) -> list[dict[str, Any]]:
    """Connects, says `text`, completes the interaction; every event received."""
    received: list[dict[str, Any]] = []
    async with client.aio.interactions.connect(interaction_id) as session:
        await session.send(text)
        async for parsed in session.receive():
            # The SDK parses server events into its own models.
            event = parsed.model_dump(mode="json", by_alias=True, exclude_none=True)
            received.append(event)
            if event["event_type"] == "step.stop":
                await session.complete()
    return received


@pytest.mark.filterwarnings("ignore::Warning")
def test_live_interactions_with_a_key_and_a_minted_token(
    live_gateway: LiveGateway, mock: Mock
) -> None:
    key = live_gateway.new_key(models=["gemini-live"])
    interaction_id = asyncio.run(create_interaction(live_gateway, key))
    assert interaction_id.startswith("int_")
    server = live_gateway.client(key)
    events = asyncio.run(talk(server, interaction_id, "hello"))
    kinds = [e["event_type"] for e in events]
    assert kinds == ["interaction.connected", "step.start", "step.delta", "step.stop",
                     "interaction.completed"], kinds
    assert events[0]["id"] == interaction_id
    assert events[2]["delta"]["text"] == "echo: hello"

    # A page gets a token for this interaction only, never Google's.
    expires = datetime.datetime.now(tz=datetime.timezone.utc) + datetime.timedelta(minutes=5)
    token = server.interactions.auth_tokens.create(interaction_id, expire_time=expires)
    assert token.auth_token is not None and token.auth_token.startswith("auth_tokens/lt_rl_")
    assert token.expires_at is not None
    page = live_gateway.client(token.auth_token)
    events = asyncio.run(talk(page, interaction_id, "from the page"))
    assert events[2]["delta"]["text"] == "echo: from the page"
    upstream = mock.http.get("/_mock/live_interactions").json()
    assert [s["auth"] for s in upstream["sockets"]] == ["x-goog-api-key"] * 3
    assert upstream["sockets"][2]["api_revision"] is not None

    # Revoked (the SDK strips `auth_tokens/`): the next connect is refused.
    server.interactions.auth_tokens.delete(
        interaction_id, auth_token=token.auth_token.removeprefix("auth_tokens/")
    )
    with pytest.raises(APIWebSocketError) as refused:
        asyncio.run(talk(page, interaction_id, "again"))
    assert refused.value.close_code == 1008
    assert len(mock.http.get("/_mock/live_interactions").json()["sockets"]) == 3

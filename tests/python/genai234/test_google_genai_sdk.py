"""The official google-genai SDK (Gemini API mode) against the gateway's
Google-shaped routes (`/gemini/v1beta/...`), with the mock Veo upstream
behind it: generate_videos → operations.get until done → download."""

from __future__ import annotations

import httpx
import pytest
from google import genai
from google.genai import errors, types

from conftest import Gateway, Mock

PROMPT = "a red fox trotting through fresh snow at dawn"


def client_for(gateway: Gateway, key: str) -> genai.Client:
    return genai.Client(
        api_key=key, http_options=types.HttpOptions(base_url=f"{gateway.url}/gemini/")
    )


def upstream_creates(mock: Mock) -> list[dict]:
    return [r for r in mock.requests() if r["path"].endswith(":predictLongRunning")]


def test_generate_poll_and_download(gateway: Gateway, mock: Mock, key: str) -> None:
    client = client_for(gateway, key)
    op = client.models.generate_videos(
        model="veo-3.1",
        prompt=PROMPT,
        config=types.GenerateVideosConfig(
            number_of_videos=1, duration_seconds=6, aspect_ratio="9:16", negative_prompt="blurry"
        ),
    )
    assert op.name is not None and op.name.startswith("models/veo-3.1/operations/video_")
    (sent,) = upstream_creates(mock)
    assert sent["path"] == "/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
    body = httpx.Response(200, content=sent["body"]).json()
    assert body["instances"] == [{"prompt": PROMPT}]
    assert body["parameters"]["durationSeconds"] == 6
    assert body["parameters"]["aspectRatio"] == "9:16"
    assert body["parameters"]["negativePrompt"] == "blurry"
    # The gateway's credential went upstream, not the client's key.
    assert dict(sent["headers"]).get("x-goog-api-key") == "mock-gemini-key"

    for _ in range(10):
        if op.done:
            break
        op = client.operations.get(op)
    assert op.done, op
    assert op.error is None
    videos = op.response.generated_videos if op.response else None
    assert videos and videos[0].video and videos[0].video.uri
    uri = videos[0].video.uri
    assert uri.startswith(f"{gateway.url}/gemini/v1beta/files/"), uri
    # Hand-written clients fetch the URI itself (x-goog-api-key); the SDK's
    # own files.download is test_files_download_over_plain_http.
    resp = httpx.get(uri, headers={"x-goog-api-key": key}, timeout=10)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "video/mp4"
    assert resp.content[4:8] == b"ftyp"


def test_files_download_over_plain_http(gateway: Gateway, mock: Mock, key: str) -> None:
    """generate_videos → operations.get → files.download, all through the
    SDK over http://: the SDK takes a file id out of https:// URIs only and
    otherwise asks for `files/{the whole URI}:download`, which the gateway
    serves too. Both samples asked for are made and downloadable."""
    assert gateway.url.startswith("http://")
    client = client_for(gateway, key)
    op = client.models.generate_videos(
        model="veo-3.1", prompt=PROMPT, config=types.GenerateVideosConfig(number_of_videos=2)
    )
    (sent,) = upstream_creates(mock)
    assert httpx.Response(200, content=sent["body"]).json()["parameters"]["sampleCount"] == 2
    for _ in range(10):
        if op.done:
            break
        op = client.operations.get(op)
    assert op.done and op.error is None, op
    videos = op.response.generated_videos if op.response else None
    assert videos and len(videos) == 2
    for generated in videos:
        assert generated.video and generated.video.uri.startswith("http://"), generated
        data = client.files.download(file=generated)
        assert data[4:8] == b"ftyp"
        assert generated.video.video_bytes == data
    assert videos[0].video.video_bytes != videos[1].video.video_bytes


def test_gemini_mode_on_a_vertex_group(gateway: Gateway, mock: Mock, key: str) -> None:
    """google-genai 2.34 in Gemini-API mode on a group served by Vertex (Veo
    left the Gemini API): the gateway creates and polls in Vertex's shape,
    answers in the Gemini API's, and serves the inline result through its
    own file URI to `files.download`."""
    client = client_for(gateway, key)
    op = client.models.generate_videos(
        model="veo-vertex", prompt=PROMPT, config=types.GenerateVideosConfig(duration_seconds=8)
    )
    assert op.name is not None and op.name.startswith("models/veo-vertex/operations/video_"), op.name
    (sent,) = upstream_creates(mock)
    assert sent["path"] == (
        "/v1/projects/mock-project/locations/us-central1/publishers/google/models/"
        "veo-3.1-generate-001:predictLongRunning"
    )
    assert httpx.Response(200, content=sent["body"]).json()["parameters"]["durationSeconds"] == 8
    for _ in range(10):
        if op.done:
            break
        op = client.operations.get(op)
    assert op.done and op.error is None, op
    assert any(r["path"].endswith(":fetchPredictOperation") for r in mock.requests())
    videos = op.response.generated_videos if op.response else None
    assert videos and len(videos) == 1 and videos[0].video
    assert videos[0].video.uri.startswith(f"{gateway.url}/gemini/v1beta/files/"), videos[0].video.uri
    data = client.files.download(file=videos[0])
    assert data[4:8] == b"ftyp"
    other = client_for(gateway, gateway.new_key())
    with pytest.raises(errors.ClientError) as e:
        other.operations.get(op)
    assert e.value.code == 404


def test_errors_surface_as_sdk_errors(gateway: Gateway, mock: Mock, key: str) -> None:
    client = client_for(gateway, key)
    with pytest.raises(errors.ClientError) as e:
        client.models.generate_videos(model="sora-2", prompt=PROMPT)
    assert e.value.code == 403 and e.value.status == "PERMISSION_DENIED"

    # Keep each client referenced: a garbage-collected genai.Client closes its transport.
    stranger = client_for(gateway, "sk-reelay-not-a-real-key-000000000000")
    with pytest.raises(errors.ClientError) as e:
        stranger.models.generate_videos(model="veo-3.1", prompt=PROMPT)
    assert e.value.code == 401 and e.value.status == "UNAUTHENTICATED"

    with pytest.raises(errors.ClientError) as e:
        client.models.generate_videos(
            model="veo-3.1", prompt=PROMPT, config=types.GenerateVideosConfig(duration_seconds=5)
        )
    assert e.value.code == 400 and e.value.status == "INVALID_ARGUMENT"

    mock.fault(":predictLongRunning", {"type": "google_rate_limit", "retry_delay_secs": 47})
    with pytest.raises(errors.ClientError) as e:
        client.models.generate_videos(model="veo-3.1", prompt=PROMPT)
    assert e.value.code == 429 and e.value.status == "RESOURCE_EXHAUSTED"
    assert upstream_creates(mock)  # the rate-limited call did reach upstream once


def test_operations_are_private_to_their_key(gateway: Gateway, mock: Mock, key: str) -> None:
    owner = client_for(gateway, key)
    op = owner.models.generate_videos(model="veo-3.1", prompt=PROMPT)
    other = client_for(gateway, gateway.new_key())
    with pytest.raises(errors.ClientError) as e:
        other.operations.get(op)
    assert e.value.code == 404 and e.value.status == "NOT_FOUND"


def test_vertex_mode_generate_poll_and_bytes(gateway: Gateway, mock: Mock) -> None:
    """google-genai in Vertex mode: the reelay key is the OAuth token; the
    gateway swaps in the deployment's project, location and service-account
    token, and polls with fetchPredictOperation."""
    from google.oauth2.credentials import Credentials

    key = gateway.new_key()
    client = genai.Client(
        vertexai=True,
        project="my-project",
        location="us-central1",
        credentials=Credentials(token=key),
        http_options=types.HttpOptions(base_url=f"{gateway.url}/vertex_ai/"),
    )
    op = client.models.generate_videos(
        model="veo-vertex", prompt=PROMPT, config=types.GenerateVideosConfig(duration_seconds=8)
    )
    prefix = "projects/my-project/locations/us-central1/publishers/google/models/veo-vertex/operations/video_"
    assert op.name is not None and op.name.startswith(prefix), op.name
    (sent,) = upstream_creates(mock)
    assert sent["path"] == (
        "/v1/projects/mock-project/locations/us-central1/publishers/google/models/"
        "veo-3.1-generate-001:predictLongRunning"
    )
    assert dict(sent["headers"])["authorization"].startswith("Bearer ya29.")
    for _ in range(10):
        if op.done:
            break
        op = client.operations.get(op)
    assert op.done and op.error is None, op
    videos = op.response.generated_videos if op.response else None
    assert videos and videos[0].video and videos[0].video.video_bytes
    assert videos[0].video.video_bytes[4:8] == b"ftyp"

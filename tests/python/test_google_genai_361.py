"""google-genai 3.6.1 against the gateway, in both of its modes, and
openai 3.57 `videos.*` on a Vertex-served group:

- Gemini API mode: Gemini Omni video through `client.interactions`
  (`/gemini/v1/interactions…`: create, get, cancel, delete) and the bytes
  through `client.files.download` of the gateway's file link;
- Vertex mode (`vertexai=True`, the reelay key as the OAuth token):
  `models.generate_videos` + `operations.get` on Vertex Veo 3.1, with the
  bytes inline (no bucket) or through the gateway's file link (bucket);
- retired upstreams: a retired-only group answers `410 model_retired`
  naming the model and its successor; a retired group with a fallback is
  served by the fallback.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import openai
import pytest
from google import genai
from google.genai import _interactions_errors as ix_errors
from google.genai import errors, types
from google.oauth2.credentials import Credentials
from openai import OpenAI

from conftest import GEMINI_KEY, MOCK_VIDEO_BYTES, Gateway, Mock

OMNI = "gemini-omni-1.1-flash"
PROMPT = "a calico cat playing piano"


def gemini_client(gateway: Gateway, key: str) -> genai.Client:
    return genai.Client(
        api_key=key, http_options=types.HttpOptions(base_url=f"{gateway.url}/gemini/")
    )


def vertex_client(gateway: Gateway, key: str) -> genai.Client:
    return genai.Client(
        vertexai=True,
        project="my-project",
        location="us-central1",
        credentials=Credentials(token=key),
        http_options=types.HttpOptions(base_url=f"{gateway.url}/vertex_ai/"),
    )


def upstream(mock: Mock, method: str, part: str) -> list[dict[str, Any]]:
    return [r for r in mock.requests() if r["method"] == method and part in r["path"]]


def test_omni_interactions_create_get_download_cancel_delete(
    gateway: Gateway, mock: Mock
) -> None:
    key = gateway.new_key(models=["gemini-omni-*"])
    client = gemini_client(gateway, key)
    ix = client.interactions.create(
        model=OMNI,
        input=PROMPT,
        background=True,
        store=True,
        response_format={"type": "video", "delivery": "uri", "duration": "6s", "resolution": "1080p"},
    )
    assert ix.id.startswith("int_"), ix.id
    assert ix.status == "in_progress"
    (sent,) = upstream(mock, "POST", "/interactions")
    assert sent["path"] == "/v1beta/interactions"
    assert dict(sent["headers"]).get("x-goog-api-key") == GEMINI_KEY
    body = json.loads(sent["body"])
    assert body["model"] == "gemini-omni-1.1-flash" and body["input"] == PROMPT
    assert body["response_format"]["duration"] == "6s"

    for _ in range(10):
        ix = client.interactions.get(ix.id)
        if ix.status != "in_progress":
            break
    assert ix.status == "completed", ix
    video = ix.output_video
    assert video is not None and video.uri, ix
    assert video.uri.startswith(f"{gateway.url}/gemini/v1/files/"), video.uri
    # files.download takes a File, a Video or a name: the output block's uri.
    data = client.files.download(file=video.uri)
    assert len(data) == MOCK_VIDEO_BYTES and data[4:8] == b"ftyp"
    assert "v1_" not in ix.id

    # A conversational edit of the stored interaction runs where it lives.
    edit = client.interactions.create(
        model=OMNI, input="now at night", previous_interaction_id=ix.id, background=True
    )
    assert edit.id.startswith("int_")
    sent = json.loads(upstream(mock, "POST", "/interactions")[-1]["body"])
    assert sent["previous_interaction_id"].startswith("v1_")

    # Cancel the running edit, then delete both.
    cancelled = client.interactions.cancel(edit.id)
    assert cancelled.status == "cancelled"
    client.interactions.delete(ix.id)
    client.interactions.delete(edit.id)
    assert len(upstream(mock, "DELETE", "/interactions/")) == 2
    with pytest.raises(ix_errors.NotFoundError) as e:
        client.interactions.get(ix.id)
    assert e.value.status_code == 404

    # Another key's client cannot see it; nothing reaches the upstream.
    other = gemini_client(gateway, gateway.new_key(models=["gemini-omni-*"]))
    before = len(mock.requests())
    with pytest.raises(ix_errors.NotFoundError):
        other.interactions.get(edit.id)
    assert len(mock.requests()) == before


def test_omni_interactions_refuse_what_the_gateway_cannot_check(
    gateway: Gateway, mock: Mock
) -> None:
    client = gemini_client(gateway, gateway.new_key(models=["gemini-omni-*"]))
    for extra in (
        {"response_format": {"type": "video", "gcs_uri": "gs://mine/"}},
        {"response_format": {"type": "video", "duration": "30s"}},
        {"store": False},
    ):
        with pytest.raises(ix_errors.BadRequestError):
            client.interactions.create(model=OMNI, input=PROMPT, background=True, **extra)
    assert upstream(mock, "POST", "/interactions") == []
    # A key without Omni is refused before anything goes upstream.
    veo = gemini_client(gateway, gateway.new_key(models=["veo-*"]))
    with pytest.raises(ix_errors.PermissionDeniedError):
        veo.interactions.create(model=OMNI, input=PROMPT, background=True)
    assert upstream(mock, "POST", "/interactions") == []


def test_an_unconfirmed_create_is_not_resent_by_the_sdk(gateway: Gateway, mock: Mock) -> None:
    """google-genai resends interaction creates on 408/409/429/5xx: an
    accepted create whose answer the gateway cannot read is a 424, so the
    SDK (with its default retries) starts no second job."""
    client = gemini_client(gateway, gateway.new_key(models=["gemini-omni-*"]))
    mock.fault("/v1beta/interactions", {"type": "malformed"})
    with pytest.raises(ix_errors.APIStatusError) as e:
        client.interactions.create(model=OMNI, input=PROMPT, background=True)
    assert e.value.status_code == 424
    assert len(upstream(mock, "POST", "/interactions")) == 1


def test_vertex_mode_generate_videos_on_veo_31(gateway: Gateway, mock: Mock) -> None:
    key = gateway.new_key()
    client = vertex_client(gateway, key)
    op = client.models.generate_videos(
        model="veo-vertex",
        source=types.GenerateVideosSource(prompt=PROMPT),
        config=types.GenerateVideosConfig(
            duration_seconds=8, aspect_ratio="16:9", resolution="1080p", generate_audio=True, seed=7
        ),
    )
    assert op.name and "/operations/video_" in op.name, op.name
    (sent,) = upstream(mock, "POST", ":predictLongRunning")
    assert sent["path"].endswith("/models/veo-3.1-generate-001:predictLongRunning")
    assert dict(sent["headers"])["authorization"].startswith("Bearer ya29.")
    params = json.loads(sent["body"])["parameters"]
    assert (params["durationSeconds"], params["resolution"], params["seed"]) == (8, "1080p", 7)
    for _ in range(10):
        if op.done:
            break
        op = client.operations.get(op)
    assert op.done and op.error is None, op
    videos = op.response.generated_videos if op.response else None
    assert videos and videos[0].video and videos[0].video.video_bytes
    assert len(videos[0].video.video_bytes) == MOCK_VIDEO_BYTES


def test_vertex_mode_with_a_bucket_gets_gateway_file_links(gateway: Gateway, mock: Mock) -> None:
    key = gateway.new_key()
    client = vertex_client(gateway, key)
    op = client.models.generate_videos(
        model="veo-3.0-generate-preview", prompt=PROMPT,
        config=types.GenerateVideosConfig(duration_seconds=4),
    )
    sent = json.loads(upstream(mock, "POST", ":predictLongRunning")[0]["body"])
    assert sent["parameters"]["storageUri"] == "gs://reelay-out/seed/"
    for _ in range(10):
        if op.done:
            break
        op = client.operations.get(op)
    assert op.done and op.error is None, op
    video = op.response.generated_videos[0].video
    assert video.uri and video.uri.startswith(gateway.url), video.uri
    assert "gs://" not in video.uri
    # files.download is Gemini-API only in the SDK: fetch the link itself.
    resp = httpx.get(video.uri, headers={"authorization": f"Bearer {key}"}, timeout=10)
    assert resp.status_code == 200 and len(resp.content) == MOCK_VIDEO_BYTES


def test_openai_videos_served_by_vertex_veo(gateway: Gateway, mock: Mock) -> None:
    key = gateway.new_key(models=["veo-*"])
    with OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0, timeout=15) as client:
        video = client.videos.create(model="veo-vertex", prompt=PROMPT, seconds="8", size="1280x720")
        assert video.status == "queued" and video.model == "veo-vertex"
        (sent,) = upstream(mock, "POST", ":predictLongRunning")
        assert "/locations/us-central1/publishers/google/models/veo-3.1-generate-001" in sent["path"]
        done = client.videos.poll(video.id, poll_interval_ms=50)
        assert done.status == "completed", done
        assert client.videos.retrieve(video.id).status == "completed"
        content = client.videos.download_content(video.id)
        assert len(content.content) == MOCK_VIDEO_BYTES
        deleted = client.videos.delete(video.id)
        assert deleted.deleted is True
        with pytest.raises(openai.NotFoundError):
            client.videos.retrieve(video.id)


def test_a_retired_only_group_is_a_clear_410(gateway: Gateway, mock: Mock) -> None:
    key = gateway.new_key()
    with OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0, timeout=15) as client:
        with pytest.raises(openai.APIStatusError) as e:
            client.videos.create(model="veo-3.0-retired", prompt=PROMPT, seconds="8")
    assert e.value.status_code == 410
    error = e.value.body if isinstance(e.value.body, dict) else {}
    error = error.get("error", error)
    assert error.get("code") == "model_retired", e.value.body
    assert "veo-3.0-retired" in error["message"] and "veo-vertex" in error["message"]
    # The same in Google's shape, for google-genai.
    client = vertex_client(gateway, key)
    with pytest.raises(errors.APIError) as g:
        client.models.generate_videos(model="veo-3.0-retired", prompt=PROMPT)
    assert g.value.code == 410 and "veo-vertex" in str(g.value.message)


def test_a_retired_group_with_a_fallback_is_served_by_it(gateway: Gateway, mock: Mock) -> None:
    key = gateway.new_key()
    with OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0, timeout=15) as client:
        video = client.videos.create(model="veo-3.0-fast-retired", prompt=PROMPT, seconds="8")
        paths = [r["path"] for r in upstream(mock, "POST", ":predictLongRunning")]
        assert [p.rsplit("/", 1)[1] for p in paths] == [
            "veo-3.0-fast-generate-001:predictLongRunning",
            "veo-3.1-generate-001:predictLongRunning",
        ], paths
        done = client.videos.poll(video.id, poll_interval_ms=50)
        assert done.status == "completed"
        assert len(client.videos.download_content(video.id).content) == MOCK_VIDEO_BYTES
    # google-genai in Vertex mode too.
    client = vertex_client(gateway, key)
    op = client.models.generate_videos(model="veo-3.0-fast-retired", prompt=PROMPT)
    assert op.name and "/operations/video_" in op.name

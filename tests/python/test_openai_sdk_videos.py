"""The official openai Python SDK against the gateway's `/v1/videos` surface.

The gateway (the built Worker in workerd) routes `veo-3.1` to the mock Gemini
upstream. Every call goes through the SDK exactly as a user would make it, so
these tests pin what the SDK can parse: the Video object, binary content, and
OpenAI-shaped errors mapped onto the SDK's typed exceptions.
"""

from __future__ import annotations

import base64
import json
import re
import struct
from pathlib import Path
from typing import Any, Iterator

import httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from openai.types import Video

from conftest import GEMINI_KEY, MOCK_VIDEO_BYTES, Gateway, Mock

VIDEO_ID = re.compile(r"^video_[A-Za-z0-9_-]+$")
PROMPT = "a calico cat playing piano"
# What Veo must receive for seconds="8", size="1280x720".
VEO_BODY_8S_LANDSCAPE = {
    "instances": [{"prompt": PROMPT}],
    "parameters": {
        "durationSeconds": 8,
        "aspectRatio": "16:9",
        "resolution": "720p",
        "sampleCount": 1,
    },
}


def make_client(gateway: Gateway, key: str) -> OpenAI:
    return OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0, timeout=15)


@pytest.fixture
def client(gateway: Gateway, key: str, mock: Mock) -> Iterator[OpenAI]:
    with make_client(gateway, key) as c:
        yield c


def create(client: OpenAI, **overrides: Any) -> Video:
    args: dict[str, Any] = {"model": "veo-3.1", "prompt": PROMPT, "seconds": "8", "size": "1280x720"}
    args.update(overrides)
    return client.videos.create(**args)


def upstream_creates(mock: Mock) -> list[dict[str, Any]]:
    return [r for r in mock.requests() if r["path"].endswith(":predictLongRunning")]


def header(request: dict[str, Any], name: str) -> str | None:
    return next((v for k, v in request["headers"] if k.lower() == name), None)


# The playable MP4 every long-enough mock video starts with.
PLAYABLE_MP4 = (Path(__file__).resolve().parents[1] / "src" / "mock" / "fixtures" / "tiny.mp4").read_bytes()


def expected_video_bytes(file_id: str, length: int) -> bytes:
    """Python twin of `reelay_tests::mock::expected_video_bytes`."""
    mask = (1 << 64) - 1

    def mix(z: int) -> int:
        z = (z + 0x9E3779B97F4A7C15) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    h = 0xCBF29CE484222325
    for b in file_id.encode():
        h = ((h ^ b) * 0x00000100000001B3) & mask
    state = mix(h)
    playable = length >= len(PLAYABLE_MP4) + 8
    if playable:
        out = bytearray(PLAYABLE_MP4)
    else:
        out = bytearray(b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41")
    rest = max(0, length - len(out))
    if rest >= 8 and rest < 1 << 32:
        out += struct.pack(">I", rest) + (b"free" if playable else b"mdat")
    while len(out) < length:
        state = mix(state)
        out += struct.pack("<Q", state)
    return bytes(out[:length])


def assert_error(exc: openai.APIStatusError, status: int, code: str) -> None:
    assert exc.status_code == status
    assert exc.code == code, exc.body
    assert isinstance(exc.body, dict) and exc.body.get("message"), exc.body
    assert exc.type, exc.body
    # The SDK surfaces the gateway's request id.
    assert exc.request_id and exc.request_id.startswith("req_"), exc.response.headers


# --- the happy path ---------------------------------------------------------


def test_create_returns_queued_video_and_sends_veo_body(client: OpenAI, mock: Mock) -> None:
    raw = client.videos.with_raw_response.create(
        model="veo-3.1", prompt=PROMPT, seconds="8", size="1280x720"
    )
    # openai>=2.30 always sends multipart/form-data for create.
    assert raw.http_request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert raw.status_code == 200
    assert raw.headers["x-request-id"].startswith("req_")
    video = raw.parse()
    assert isinstance(video, Video)
    # The SDK builds models leniently; validating checks every field's type too.
    Video.model_validate(raw.http_response.json())
    assert video.object == "video"
    assert video.status == "queued"
    assert VIDEO_ID.match(video.id), video.id
    assert "operations" not in video.id
    assert video.model == "veo-3.1"
    assert video.seconds == "8"
    assert video.size == "1280x720"
    assert video.prompt == PROMPT
    assert video.progress == 0
    assert isinstance(video.created_at, int) and video.created_at > 1_600_000_000
    assert video.error is None

    [sent] = upstream_creates(mock)
    assert sent["method"] == "POST"
    assert sent["path"] == "/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
    assert header(sent, "x-goog-api-key") == GEMINI_KEY
    assert header(sent, "authorization") is None, "the client's key never goes upstream"
    assert json.loads(sent["body"]) == VEO_BODY_8S_LANDSCAPE


def test_create_and_poll_then_download_content(client: OpenAI, mock: Mock) -> None:
    video = client.videos.create_and_poll(
        model="veo-3.1", prompt=PROMPT, seconds="8", size="1280x720", poll_interval_ms=50
    )
    assert video.status == "completed", video
    assert video.progress == 100
    assert VIDEO_ID.match(video.id)
    assert video.prompt == PROMPT
    assert video.seconds == "8" and video.size == "1280x720"
    assert video.error is None
    polls = [r for r in mock.requests() if "/operations/" in r["path"]]
    assert len(polls) >= 2, polls

    content = client.videos.download_content(video.id)
    assert content.response.status_code == 200
    assert content.response.headers["content-type"] == "video/mp4"
    data = content.content
    assert data[4:8] == b"ftyp", data[:16]
    assert len(data) == MOCK_VIDEO_BYTES
    blob = [r for r in mock.requests() if r["path"].startswith("/_mock/blob/")][-1]
    file_id = blob["path"].rsplit("/", 1)[-1]
    assert data == expected_video_bytes(file_id, MOCK_VIDEO_BYTES), "bytes differ from what the mock served"
    assert header(blob, "x-goog-api-key") is None


def test_retrieve_until_completed_with_sdk_default_poll(client: OpenAI, mock: Mock) -> None:
    video = create(client)
    # The SDK's own poll loop with its default interval: the gateway's
    # `openai-poll-after-ms` header if it sends one, else 1 s. The first poll
    # is still running (mock: done on the 2nd), so this sleeps once.
    done = client.videos.poll(video.id)
    assert done.status == "completed"
    assert done.id == video.id
    assert done.progress == 100
    # Completion is stable across later retrieves.
    again = client.videos.retrieve(video.id)
    assert again.status == "completed" and again.progress == 100
    assert again.created_at == video.created_at
    # Nullable in the spec; the stateless gateway may not know when the job finished.
    assert again.completed_at is None or again.completed_at >= again.created_at
    assert again.expires_at is None or again.expires_at > again.created_at


def test_veo_fields_through_extra_body(client: OpenAI, mock: Mock) -> None:
    """Veo-only fields ride in the SDK's multipart form via `extra_body`."""
    raw = client.videos.with_raw_response.create(
        model="veo-3.1",
        prompt=PROMPT,
        seconds="8",
        size="1280x720",
        extra_body={
            "negative_prompt": "blurry, text",
            "person_generation": "allow_adult",
            "seed": 4242,
            "user": "user-1234",
        },
    )
    form = raw.http_request.read().decode()
    assert raw.http_request.headers["content-type"].startswith("multipart/form-data")
    assert 'name="seed"\r\n\r\n4242\r\n' in form, form
    assert raw.parse().status == "queued"
    [sent] = upstream_creates(mock)
    body = json.loads(sent["body"])
    assert body["parameters"] == {
        **VEO_BODY_8S_LANDSCAPE["parameters"],
        "negativePrompt": "blurry, text",
        "personGeneration": "allow_adult",
        "seed": 4242,
    }
    assert "user-1234" not in sent["body"]


@pytest.mark.parametrize(
    ("prompt", "code"),
    [
        ("[[unsafe]] a cat", "content_policy_violation"),
        ("[[rai]] a cat", "content_policy_violation"),
        ("[[internal]] a cat", "upstream_unavailable"),
    ],
    ids=["unsafe", "rai-filtered", "internal"],
)
def test_failed_jobs_poll_to_failed_with_error(client: OpenAI, prompt: str, code: str) -> None:
    video = client.videos.create_and_poll(model="veo-3.1", prompt=prompt, poll_interval_ms=50)
    assert video.status == "failed", video
    assert video.error is not None
    assert video.error.code == code
    assert video.error.message
    raw = client.videos.with_raw_response.retrieve(video.id)
    Video.model_validate(raw.http_response.json())
    with pytest.raises(openai.ConflictError) as e:
        client.videos.download_content(video.id)
    assert_error(e.value, 409, "video_failed")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_async_client_create_and_poll_and_download(
    gateway: Gateway, key: str, mock: Mock
) -> None:
    async with AsyncOpenAI(
        api_key=key, base_url=gateway.url + "/v1", max_retries=0, timeout=15
    ) as aclient:
        video = await aclient.videos.create_and_poll(
            model="veo-3.1", prompt=PROMPT, seconds="8", size="1280x720", poll_interval_ms=50
        )
        assert video.status == "completed"
        content = await aclient.videos.download_content(video.id)
        assert content.content[4:8] == b"ftyp"
        with pytest.raises(openai.NotFoundError):
            await aclient.videos.retrieve("video_abc")


# --- errors as the SDK's typed exceptions -----------------------------------


def test_key_limited_to_another_model_is_permission_denied(gateway: Gateway, mock: Mock) -> None:
    fast_only = gateway.new_key(models=["veo-3.1-fast"])
    with make_client(gateway, fast_only) as c:
        with pytest.raises(openai.PermissionDeniedError) as e:
            create(c)
    assert_error(e.value, 403, "key_model_access_denied")
    assert e.value.type == "permission_error"
    assert upstream_creates(mock) == []


def test_unknown_model_is_not_found(client: OpenAI, mock: Mock) -> None:
    with pytest.raises(openai.NotFoundError) as e:
        create(client, model="veo-9")
    assert_error(e.value, 404, "model_not_found")
    assert upstream_creates(mock) == []


def test_tampered_and_foreign_ids_are_not_found(client: OpenAI, gateway: Gateway) -> None:
    video = create(client)
    i = len(video.id) - 20
    tampered = video.id[:i] + ("B" if video.id[i] == "A" else "A") + video.id[i + 1 :]
    for bad in (tampered, "video_abc"):
        with pytest.raises(openai.NotFoundError) as e:
            client.videos.retrieve(bad)
        assert_error(e.value, 404, "video_not_found")
        with pytest.raises(openai.NotFoundError) as e:
            client.videos.download_content(bad)
        assert_error(e.value, 404, "video_not_found")
    # Another key cannot see the video.
    with make_client(gateway, gateway.new_key()) as other:
        with pytest.raises(openai.NotFoundError) as e:
            other.videos.retrieve(video.id)
    assert_error(e.value, 404, "video_not_found")


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"size": "1792x1024"}, "size"),
        ({"seconds": "12"}, "seconds"),
    ],
    ids=["size-1792x1024", "seconds-12"],
)
def test_values_veo_cannot_serve_are_bad_requests(
    client: OpenAI, mock: Mock, overrides: dict[str, str], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        create(client, **overrides)
    assert_error(e.value, 400, "unsupported_value")
    assert e.value.param == param
    assert upstream_creates(mock) == []


def test_missing_model_is_bad_request(client: OpenAI, mock: Mock) -> None:
    # The SDK lets `model` be omitted (OpenAI defaults to sora-2); the gateway has no default.
    with pytest.raises(openai.BadRequestError) as e:
        client.videos.create(prompt=PROMPT)
    assert_error(e.value, 400, "invalid_request")
    assert e.value.param == "model"
    assert upstream_creates(mock) == []


def test_input_reference_file_becomes_the_first_frame(client: OpenAI, mock: Mock) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    video = create(client, input_reference=("first.png", png, "application/octet-stream"))
    assert video.status == "queued"
    (sent,) = upstream_creates(mock)
    image = json.loads(sent["body"])["instances"][0]["image"]
    # The type comes from the bytes, not the client's label.
    assert image == {"bytesBase64Encoded": base64.b64encode(png).decode(), "mimeType": "image/png"}


def test_input_reference_that_is_not_an_image_is_rejected(client: OpenAI, mock: Mock) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        create(client, input_reference=("notes.txt", b"hello", "text/plain"))
    assert_error(e.value, 400, "unsupported_value")
    assert e.value.param == "input_reference"
    assert upstream_creates(mock) == []


def test_upstream_rate_limit_is_rate_limit_error_with_retry_after(
    client: OpenAI, mock: Mock
) -> None:
    mock.fault(":predictLongRunning", {"type": "google_rate_limit", "retry_delay_secs": 47})
    with pytest.raises(openai.RateLimitError) as e:
        create(client)
    assert_error(e.value, 429, "rate_limit_exceeded")
    assert e.value.response.headers["retry-after"] == "47"


def test_upstream_daily_quota_is_rate_limit_error_without_retry_after(
    client: OpenAI, mock: Mock
) -> None:
    mock.fault(":predictLongRunning", {"type": "google_daily_quota"})
    with pytest.raises(openai.RateLimitError) as e:
        create(client)
    assert_error(e.value, 429, "insufficient_quota")
    assert "retry-after" not in e.value.response.headers


def test_upstream_overload_is_internal_server_error(client: OpenAI, mock: Mock) -> None:
    # The gateway retries a 503 itself: three in a row use up its attempts.
    mock.fault(":predictLongRunning", {"type": "server_error", "status": 503}, times=3)
    with pytest.raises(openai.InternalServerError) as e:
        create(client)
    assert_error(e.value, 503, "upstream_unavailable")


def test_bad_key_is_authentication_error(gateway: Gateway, mock: Mock) -> None:
    with make_client(gateway, "sk-reelay-not-a-real-key") as c:
        with pytest.raises(openai.AuthenticationError) as e:
            create(c)
    assert_error(e.value, 401, "invalid_api_key")
    assert upstream_creates(mock) == []


def test_content_before_completion_is_conflict(client: OpenAI) -> None:
    video = create(client)
    with pytest.raises(openai.ConflictError) as e:
        client.videos.download_content(video.id)
    assert_error(e.value, 409, "video_not_ready")


def test_the_gateway_retries_a_transient_503_itself(gateway: Gateway, key: str, mock: Mock) -> None:
    """A 503 from the provider is retried by the gateway (it proves the job was not
    accepted), so the SDK sees one successful POST and the provider two creates."""
    mock.fault(
        ":predictLongRunning",
        {"type": "status", "status": 503, "headers": [["retry-after", "0"]],
         "body": '{"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}'},
    )
    sent: list[httpx.Request] = []
    http_client = openai.DefaultHttpxClient(event_hooks={"request": [sent.append]})
    with OpenAI(
        api_key=key, base_url=gateway.url + "/v1", max_retries=2, timeout=15, http_client=http_client
    ) as c:
        raw = c.videos.with_raw_response.create(model="veo-3.1", prompt="a cat")
    assert raw.parse().status == "queued"
    assert raw.headers["x-reelay-attempts"] == "2"
    assert [r.method for r in sent] == ["POST"], "no SDK retry needed"
    assert len(upstream_creates(mock)) == 2


def test_httpx_sees_openai_shaped_error_bodies(gateway: Gateway, key: str) -> None:
    """Sanity check of the raw shape the SDK parsed above."""
    resp = httpx.post(
        gateway.url + "/v1/videos",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": "veo-3.1", "prompt": "x", "size": "1792x1024"},
        timeout=10,
    )
    assert resp.status_code == 400
    assert resp.headers["content-type"].startswith("application/json")
    error = resp.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}


# --- list, delete, Sora follow-ups ----------------------------------------------


def sdk_for(gateway: Gateway, key: str) -> OpenAI:
    return OpenAI(api_key=key, base_url=f"{gateway.url}/v1", max_retries=0)


def test_list_pages_newest_first_and_delete(gateway: Gateway, mock: Mock) -> None:
    client = sdk_for(gateway, gateway.new_key())
    ids = [client.videos.create(model="veo-3.1", prompt=f"clip {i}").id for i in range(5)]
    newest_first = ids[::-1]
    page = client.videos.list(limit=2)
    assert [v.id for v in page.data] == newest_first[:2]
    assert page.has_more
    # The SDK follows `after=<last_id>` through every page.
    assert [v.id for v in client.videos.list(limit=2)] == newest_first
    assert [v.id for v in client.videos.list(order="asc")] == ids

    deleted = client.videos.delete(ids[0])
    assert deleted.deleted and deleted.id == ids[0]
    with pytest.raises(openai.NotFoundError) as e:
        client.videos.retrieve(ids[0])
    assert_error(e.value, 404, "video_not_found")
    assert [v.id for v in client.videos.list()] == newest_first[:-1]


def test_sora_edits_and_extensions_as_multipart(gateway: Gateway, mock: Mock) -> None:
    """openai 3.57 sends `videos.edit` / `videos.extend` as multipart/form-data.
    The source is one of the caller's videos, by id: the SDK's multipart encoder
    sends `{"video": {"id": …}}` as the part `video[id]`; its typed methods only
    upload a file, which reelay refuses precisely (it edits the videos it made)."""
    client = sdk_for(gateway, gateway.new_key())
    source = client.videos.create(model="sora-2", prompt="a paper boat", seconds="4")
    as_form = {"headers": {"Content-Type": "multipart/form-data"}}
    edit = client.post(
        "/videos/edits",
        body={"prompt": "the boat, at night", "video": {"id": source.id}},
        options=as_form,
        cast_to=Video,
    )
    ext = client.post(
        "/videos/extensions",
        body={"prompt": "it sails away", "seconds": "4", "video": {"id": source.id}},
        options=as_form,
        cast_to=Video,
    )
    assert edit.status == "queued" and VIDEO_ID.match(edit.id)
    assert ext.status == "queued" and VIDEO_ID.match(ext.id)
    sent = {r["path"]: json.loads(r["body"]) for r in mock.requests() if r["method"] == "POST"}
    upstream_source = sent["/v1/videos/edits"]["video"]["id"]
    assert upstream_source != source.id
    assert sent["/v1/videos/edits"] == {"prompt": "the boat, at night", "video": {"id": upstream_source}}
    assert sent["/v1/videos/extensions"] == {
        "prompt": "it sails away",
        "seconds": "4",
        "video": {"id": upstream_source},
    }
    # The typed methods upload the source video: refused, naming `video`.
    with pytest.raises(openai.BadRequestError) as e:
        client.videos.edit(prompt="at night", video=("clip.mp4", b"\0\0\0\x18ftypmp42", "video/mp4"))
    assert_error(e.value, 400, "unsupported_value")
    assert e.value.param == "video"
    with pytest.raises(openai.BadRequestError) as e:
        client.videos.extend(prompt="more", seconds="4", video=("clip.mp4", b"\0", "video/mp4"))
    assert_error(e.value, 400, "unsupported_value")
    # An unknown part is refused like an unknown JSON field.
    with pytest.raises(openai.BadRequestError) as e:
        client.post(
            "/videos/edits",
            body={"prompt": "x", "video": {"id": source.id}, "callback_url": "https://x.example"},
            options=as_form,
            cast_to=Video,
        )
    assert_error(e.value, 400, "invalid_request")
    assert e.value.param == "callback_url"


def test_sora_remix_and_thumbnail(gateway: Gateway, mock: Mock) -> None:
    client = sdk_for(gateway, gateway.new_key())
    source = client.videos.create(model="sora-2", prompt="a paper boat", seconds="8")
    remix = client.videos.remix(source.id, prompt="the boat, at night")
    assert remix.remixed_from_video_id == source.id
    assert remix.id not in (source.id,)
    remixes = [r for r in mock.requests() if r["method"] == "POST" and r["path"].endswith("/remix")]
    assert len(remixes) == 1 and not remixes[0]["path"].startswith(f"/v1/videos/{source.id}")

    done = client.videos.create_and_poll(model="sora-2", prompt="a kite", poll_interval_ms=50)
    assert done.status == "completed" and done.progress == 100
    thumb = client.videos.download_content(done.id, variant="thumbnail")
    assert thumb.response.headers["content-type"] == "image/webp"
    assert len(thumb.read()) > 0

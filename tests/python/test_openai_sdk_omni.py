"""The official openai SDK (3.57) against `/v1/videos` served by Gemini Omni.

The gateway routes the `gemini-omni-1.1-flash` group to the mock's Omni
Interactions API (`POST /v1beta/interactions`, background, uri delivery).
The SDK's own calls — create, retrieve and poll, download_content, delete —
must work unchanged, with OpenAI-shaped errors mapped onto its typed
exceptions.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import openai
import pytest
from openai import OpenAI
from openai.types import Video

from conftest import GEMINI_KEY, MOCK_VIDEO_BYTES, Gateway, Mock
from test_openai_sdk_videos import VIDEO_ID, assert_error, expected_video_bytes, header

GROUP = "gemini-omni-1.1-flash"
PROMPT = "a calico cat playing piano"


@pytest.fixture
def client(gateway: Gateway, mock: Mock) -> Iterator[OpenAI]:
    key = gateway.new_key(models=["gemini-omni-*"])
    with OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0, timeout=15) as c:
        yield c


def interaction_calls(mock: Mock, method: str) -> list[dict[str, Any]]:
    return [
        r for r in mock.requests() if r["method"] == method and "/interactions" in r["path"]
    ]


def test_create_poll_download_delete(client: OpenAI, mock: Mock) -> None:
    video = client.videos.create(model=GROUP, prompt=PROMPT, seconds="6", size="1280x720")
    assert isinstance(video, Video)
    assert video.status == "queued"
    assert VIDEO_ID.match(video.id), video.id
    assert "v1_" not in video.id, "the interaction id is sealed, not exposed"
    assert (video.model, video.seconds, video.size) == (GROUP, "6", "1280x720")

    [sent] = interaction_calls(mock, "POST")
    assert sent["path"] == "/v1beta/interactions"
    assert header(sent, "x-goog-api-key") == GEMINI_KEY
    assert header(sent, "authorization") is None, "the client's key never goes upstream"
    body = json.loads(sent["body"])
    assert body["model"] == "gemini-omni-1.1-flash"
    assert body["input"] == PROMPT
    assert body["background"] is True and body["store"] is True
    assert body["response_format"] == {
        "type": "video",
        "aspect_ratio": "16:9",
        "resolution": "720p",
        "duration": "6s",
        "delivery": "uri",
    }

    first = client.videos.retrieve(video.id)
    assert first.status == "in_progress"
    assert 0 < first.progress < 100
    done = client.videos.poll(video.id, poll_interval_ms=50)
    assert done.status == "completed", done
    assert done.progress == 100 and done.error is None
    raw = client.videos.with_raw_response.retrieve(video.id)
    Video.model_validate(raw.http_response.json())

    content = client.videos.download_content(video.id)
    assert content.response.headers["content-type"] == "video/mp4"
    data = content.content
    assert len(data) == MOCK_VIDEO_BYTES
    download = [r for r in mock.requests() if r["path"].startswith("/v1beta/files/")][-1]
    file_id = download["path"].split("/files/")[1].split(":")[0]
    assert data == expected_video_bytes(file_id, MOCK_VIDEO_BYTES)

    deleted = client.videos.delete(video.id)
    assert deleted.id == video.id and deleted.deleted is True
    [upstream_delete] = interaction_calls(mock, "DELETE")
    assert upstream_delete["path"].startswith("/v1beta/interactions/v1_")
    with pytest.raises(openai.NotFoundError) as e:
        client.videos.retrieve(video.id)
    assert_error(e.value, 404, "video_not_found")


def test_create_and_poll_then_extend(client: OpenAI, mock: Mock) -> None:
    source = client.videos.create_and_poll(
        model=GROUP, prompt=PROMPT, seconds="8", poll_interval_ms=50
    )
    assert source.status == "completed"
    # The SDK uploads `video` as a file in `videos.extend`; an extension of a
    # video by id goes through its generic POST, as JSON.
    ext = client.post(
        "/videos/extensions",
        body={"prompt": "the cat takes a bow", "seconds": "4", "video": {"id": source.id}},
        cast_to=Video,
    )
    assert ext.status == "queued" and ext.seconds == "12"
    sent = json.loads(interaction_calls(mock, "POST")[-1]["body"])
    assert sent["generation_config"]["video_config"]["task"] == "extend"
    assert sent["input"][0]["content"][1]["type"] == "video"
    remix = client.videos.remix(source.id, prompt="at night")
    assert remix.remixed_from_video_id == source.id
    assert "previous_interaction_id" in json.loads(interaction_calls(mock, "POST")[-1]["body"])


@pytest.mark.parametrize(
    ("overrides", "param"),
    [({"size": "1024x1792"}, "size"), ({"seconds": "12"}, "seconds")],
    ids=["size-1024x1792", "seconds-12"],
)
def test_unservable_values_are_bad_requests(
    client: OpenAI, mock: Mock, overrides: dict[str, Any], param: str
) -> None:
    args: dict[str, Any] = {"model": GROUP, "prompt": PROMPT, **overrides}
    with pytest.raises(openai.BadRequestError) as e:
        client.videos.create(**args)
    assert_error(e.value, 400, "unsupported_value")
    assert e.value.param == param
    assert interaction_calls(mock, "POST") == []


@pytest.mark.parametrize("prompt", ["[[unsafe]] a cat", "[[rai]] a cat"], ids=["failed", "no-video"])
def test_safety_blocks_poll_to_failed(client: OpenAI, prompt: str) -> None:
    video = client.videos.create_and_poll(model=GROUP, prompt=prompt, poll_interval_ms=50)
    assert video.status == "failed", video
    assert video.error is not None and video.error.code == "content_policy_violation"
    with pytest.raises(openai.ConflictError) as e:
        client.videos.download_content(video.id)
    assert_error(e.value, 409, "video_failed")


def test_blocked_prompt_is_refused_at_create(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        client.videos.create(model=GROUP, prompt="[[blocked]] a cat")
    assert_error(e.value, 400, "content_policy_violation")


def test_an_unconfirmed_create_is_not_resent_by_the_sdk(gateway: Gateway, mock: Mock) -> None:
    """The SDK resends on 5xx; the gateway answers an unconfirmed create with
    424, so even a retrying client starts one upstream job."""
    key = gateway.new_key(models=["gemini-omni-*"])
    mock.fault("/v1beta/interactions", {"type": "malformed"})
    with OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=2, timeout=15) as c:
        with pytest.raises(openai.APIStatusError) as e:
            c.videos.create(model=GROUP, prompt=PROMPT)
    assert_error(e.value, 424, "create_outcome_unknown")
    assert len(interaction_calls(mock, "POST")) == 1

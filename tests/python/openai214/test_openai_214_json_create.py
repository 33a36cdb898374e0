"""openai 2.14: `videos.create` without a file goes out as JSON (newer SDKs
always send multipart). Runs in its own venv with that exact version."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from openai import OpenAI

from conftest import Gateway, Mock

pytestmark = pytest.mark.skipif(
    openai.__version__ != "2.14.0", reason="needs openai==2.14.0 (tests/python/.venv-openai214)"
)


def test_json_create_poll_and_download(gateway: Gateway, mock: Mock) -> None:
    seen: list[str] = []

    def record(request: httpx.Request) -> None:
        if request.method == "POST":
            seen.append(request.headers.get("content-type", ""))

    http = httpx.Client(event_hooks={"request": [record]})
    client = OpenAI(api_key=gateway.new_key(), base_url=f"{gateway.url}/v1", http_client=http, max_retries=0)
    video = client.videos.create(model="veo-3.1", prompt="a heron at dawn", seconds="8", size="720x1280")
    assert seen == ["application/json"], seen
    assert video.status == "queued" and video.size == "720x1280"
    (sent,) = [r for r in mock.requests() if r["path"].endswith(":predictLongRunning")]
    assert json.loads(sent["body"])["parameters"]["aspectRatio"] == "9:16"

    done = client.videos.poll(video.id, poll_interval_ms=50)
    assert done.status == "completed"
    content = client.videos.download_content(video.id)
    assert content.read()[4:8] == b"ftyp"

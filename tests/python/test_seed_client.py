"""The seed document's hand-written Veo client (seeds/000, `VEO3VideoGenerator`)
speaks to a gateway's `/gemini/v1beta` with `requests`: it creates with
`x-goog-api-key`, then polls `…/v1beta/operations/{full operation name}`
(not the real API's `GET /v1beta/{name}`). This reproduces its requests
exactly and checks the gateway serves that path too. Its model is retired on
the Gemini API; the test config serves it with Vertex, which the gateway
drives in Vertex's shape while the client keeps speaking the Gemini API's."""

from __future__ import annotations

import requests

from conftest import Gateway, Mock


def test_seed_client_flow(gateway: Gateway, mock: Mock, key: str) -> None:
    base = f"{gateway.url}/gemini/v1beta"
    headers = {"x-goog-api-key": key, "Content-Type": "application/json"}
    payload = {"instances": [{"prompt": "a lighthouse in a storm", "config": {"duration": "8s"}}]}
    created = requests.post(
        f"{base}/models/veo-3.0-generate-preview:predictLongRunning",
        headers=headers, json=payload, timeout=30,
    )
    created.raise_for_status()
    name = created.json()["name"]
    assert name.startswith("models/veo-3.0-generate-preview/operations/video_")
    (sent,) = [r for r in mock.requests() if r["path"].endswith(":predictLongRunning")]
    assert sent["path"] == (
        "/v1/projects/mock-project/locations/us-central1/publishers/google/models/"
        "veo-3.1-generate-001:predictLongRunning"
    )

    # The seed's poll URL: {base}/operations/{full name}.
    result = None
    for _ in range(10):
        polled = requests.get(f"{base}/operations/{name}", headers=headers, timeout=10)
        polled.raise_for_status()
        body = polled.json()
        assert body["name"] == f"operations/{name}"
        if body.get("done"):
            result = body.get("response", {})
            break
    assert result is not None
    # The real result shape (the seed reads `predictions[0]`, which no API returns).
    uri = result["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"]
    assert uri.startswith(f"{base}/files/"), uri
    video = requests.get(uri, headers=headers, timeout=10)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"

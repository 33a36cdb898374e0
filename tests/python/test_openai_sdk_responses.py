"""The official openai Python SDK against the gateway's Responses API.

`gpt-5` is a group of two OpenAI deployments on different keys, which the
mock treats as two organizations: encrypted reasoning from one cannot be read
by the other. Through reelay every follow-up lands where its state lives.
"""

from __future__ import annotations

from typing import Any, Iterator

import openai
import pytest
from openai import OpenAI

from conftest import Gateway, Mock


@pytest.fixture
def client(gateway: Gateway, mock: Mock) -> Iterator[OpenAI]:
    key = gateway.new_key(models=["gpt-*"])
    with OpenAI(api_key=key, base_url=gateway.url + "/v1", max_retries=0, timeout=15) as c:
        yield c


def calls(mock: Mock) -> list[dict[str, Any]]:
    resp = mock.http.get("/_mock/responses/calls")
    resp.raise_for_status()
    return resp.json()


def test_create_and_replay_encrypted_reasoning(client: OpenAI, mock: Mock) -> None:
    first = client.responses.create(
        model="gpt-5", input="hi", store=False, include=["reasoning.encrypted_content"]
    )
    assert first.id.startswith("resp_") and len(first.id) > 60
    assert "echo: hi" in first.output_text
    reasoning = [item for item in first.output if item.type == "reasoning"]
    assert reasoning and reasoning[0].encrypted_content.startswith("enc_")
    assert reasoning[0].id.startswith("rs_")

    history: list[Any] = [{"role": "user", "content": "hi"}]
    for turn in range(6):
        history += [item.model_dump(exclude_none=True) for item in first.output]
        history.append({"role": "user", "content": f"turn {turn}"})
        first = client.responses.create(
            model="gpt-5", input=history, store=False, include=["reasoning.encrypted_content"]
        )
        assert f"echo: turn {turn}" in first.output_text
    orgs = {c["org"] for c in calls(mock)}
    assert len(orgs) == 1, f"one conversation, one org: {orgs}"
    assert all(c["status"] == 200 for c in calls(mock))


def test_previous_response_id_retrieve_items_and_delete(client: OpenAI, mock: Mock) -> None:
    first = client.responses.create(model="gpt-5", input="remember this")
    second = client.responses.create(
        model="gpt-5", input="and this", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id
    got = client.responses.retrieve(second.id)
    assert got.id == second.id
    items = client.responses.input_items.list(second.id)
    assert len(items.data) >= 1
    client.responses.delete(second.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(second.id)
    assert len({c["org"] for c in calls(mock)}) == 1


def test_streaming_is_rewritten_on_the_fly(client: OpenAI, mock: Mock) -> None:
    deltas: list[str] = []
    final = None
    with client.responses.create(
        model="gpt-5", input="stream me", stream=True, include=["reasoning.encrypted_content"]
    ) as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
            elif event.type == "response.completed":
                final = event.response
    assert final is not None
    assert "".join(deltas) == final.output_text
    assert "stream me" in final.output_text
    assert final.id.startswith("resp_") and len(final.id) > 60
    reasoning = [item for item in final.output if item.type == "reasoning"]
    assert reasoning[0].encrypted_content.startswith("enc_")
    # The streamed response continues like any other.
    follow = client.responses.create(model="gpt-5", input="next", previous_response_id=final.id)
    assert "echo: next" in follow.output_text


def test_tampered_ids_are_refused(client: OpenAI) -> None:
    first = client.responses.create(model="gpt-5", input="x")
    tampered = first.id[:-2] + ("AA" if not first.id.endswith("AA") else "BB")
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model="gpt-5", input="y", previous_response_id=tampered)
    assert e.value.code == "previous_response_not_found"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(tampered)

//! Tests of Responses API affinity end to end: realistic upstream bodies and
//! streams sealed, follow-ups restored, every rejection path, and SSE
//! output independent of chunking.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use alloc::{format, vec};

use proptest::prelude::*;
use serde_json::{json, Value};

use super::marker;
use super::*;
use crate::seal::{Keys, Owner, Purpose, OWNER_LEN};

const OWNER: Owner = Owner::key([0x5a; OWNER_LEN]);
const OTHER_OWNER: Owner = Owner::key([0x5b; OWNER_LEN]);
const DEP: &str = "azure-eastus-o4";
const DEP_B: &str = "openai-org-b";

const RESP: &str = "resp_68af4030592c8190aa0c8dd5e3c1e8e40c8b3f6c58c8a8ed";
const PREV: &str = "resp_68af3ff1c2d48190b7a0e1c2d3e4f5a60c8b3f6c58c8a8ed";
const RS: &str = "rs_68af4031a3b08190b2c9d8e7f6a5b4c30c8b3f6c58c8a8ed";
const RS2: &str = "rs_68af4033d2e48190a1b2c3d4e5f6a7b80c8b3f6c58c8a8ed";
const CMP: &str = "cmp_68af4035e8f08190c0ffee00c0ffee000c8b3f6c58c8a8ed";
const CONV: &str = "conv_68af3f00aa008190bbccddeeff0011220c8b3f6c58c8a8ed";
const MSG: &str = "msg_68af4036f1a08190a9b8c7d6e5f4a3b20c8b3f6c58c8a8ed";
const FC: &str = "fc_68af4035b7c48190aabbccddeeff00110c8b3f6c58c8a8ed";

fn sealer() -> Keys {
    Keys::derive(b"0123456789abcdef0123456789abcdef-test").unwrap()
}

/// Deterministic Fernet-like base64 (standard alphabet, padded), `n` chars.
fn blob(seed: u64, n: usize) -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut s = String::from("gAAAAABor");
    while s.len() < n - 2 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        s.push(char::from(B64[(x >> 58) as usize]));
    }
    s.push_str("==");
    s
}

fn seal_id(sealer: &Keys, owner: &Owner, dep: &str, purpose: Purpose, up: &str) -> String {
    marker::seal_id(sealer, owner, dep, purpose, up).unwrap()
}

fn content_marker(sealer: &Keys, owner: &Owner, dep: &str, content: &str) -> String {
    marker::content_marker(sealer, owner, dep, content).unwrap()
}

fn sid(purpose: Purpose, up: &str) -> String {
    seal_id(&sealer(), &OWNER, DEP, purpose, up)
}

fn wrapped(content: &str) -> String {
    format!(
        "{}{content}",
        content_marker(&sealer(), &OWNER, DEP, content)
    )
}

fn reasoning_item(id: &str, content: &str) -> Value {
    json!({
        "id": id,
        "type": "reasoning",
        "encrypted_content": content,
        "summary": [
            {"type": "summary_text", "text": "**Checking the forecast**\n\nThe user wants the weather in Paris; call get_weather."}
        ]
    })
}

/// A completed `POST /v1/responses` answer as OpenAI sends it.
fn response_body(content: &str) -> String {
    let body = json!({
        "id": RESP,
        "object": "response",
        "created_at": 1_756_315_696,
        "status": "completed",
        "background": false,
        "error": null,
        "incomplete_details": null,
        "instructions": null,
        "max_output_tokens": null,
        "model": "o4-mini-2025-04-16",
        "output": [
            reasoning_item(RS, content),
            {
                "id": FC,
                "type": "function_call",
                "status": "completed",
                "arguments": "{\"city\":\"Paris\",\"ref\":\"resp_in_arguments\"}",
                "call_id": "call_Qx81lS0yXb",
                "name": "get_weather"
            },
            {
                "id": MSG,
                "type": "message",
                "status": "completed",
                "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "It is 21 °C and sunny in Paris. rs_ and resp_ are just words here."}],
                "role": "assistant"
            },
            {"id": CMP, "type": "compaction", "encrypted_content": blob(9, 300)}
        ],
        "parallel_tool_calls": true,
        "previous_response_id": PREV,
        "conversation": {"id": CONV},
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": false,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [{
            "type": "function",
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"id": {"type": "string"}}, "id": "resp_schema_id"},
            "strict": true
        }],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": 75,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 1186,
            "output_tokens_details": {"reasoning_tokens": 1088},
            "total_tokens": 1261
        },
        "user": null,
        "metadata": {"id": "resp_user_value", "conversation": "conv_user_value"}
    });
    serde_json::to_string_pretty(&body).unwrap()
}

/// What sealing must produce: the upstream text with exactly the sealed
/// values substituted.
fn expected_sealed(upstream: &str, contents: &[&str]) -> String {
    let mut expected = upstream.to_string();
    for (purpose, up) in [
        (Purpose::Response, RESP),
        (Purpose::Response, PREV),
        (Purpose::ReasoningItem, RS),
        (Purpose::ReasoningItem, RS2),
        (Purpose::CompactionItem, CMP),
        (Purpose::Conversation, CONV),
    ] {
        expected = expected.replace(&format!("\"{up}\""), &format!("\"{}\"", sid(purpose, up)));
    }
    for c in contents {
        expected = expected.replace(&format!("\"{c}\""), &format!("\"{}\"", wrapped(c)));
    }
    expected
}

// ---------------------------------------------------------------- JSON out

#[test]
fn seals_a_response_body_and_leaves_everything_else_byte_for_byte() {
    let content = blob(1, 4096);
    let upstream = response_body(&content);
    let sealed = seal_response_body(upstream.as_bytes(), &sealer(), &OWNER, DEP).unwrap();
    let sealed = String::from_utf8(sealed).unwrap();
    assert_eq!(
        sealed,
        expected_sealed(&upstream, &[&content, &blob(9, 300)])
    );

    let v: Value = serde_json::from_str(&sealed).unwrap();
    let id = v["id"].as_str().unwrap();
    assert!(id.starts_with("resp_") && id != RESP);
    assert!(v["output"][0]["id"].as_str().unwrap().starts_with("rs_"));
    assert!(v["output"][3]["id"].as_str().unwrap().starts_with("cmp_"));
    assert!(v["conversation"]["id"]
        .as_str()
        .unwrap()
        .starts_with("conv_"));
    let enc = v["output"][0]["encrypted_content"].as_str().unwrap();
    assert!(enc.starts_with("enc_") && enc.ends_with(&content));
    // Not ours to seal: message/call ids, caller data, text, arguments.
    assert_eq!(v["output"][1]["id"], FC);
    assert_eq!(v["output"][2]["id"], MSG);
    assert_eq!(v["metadata"]["id"], "resp_user_value");
    assert_eq!(v["metadata"]["conversation"], "conv_user_value");
    assert_eq!(v["tools"][0]["parameters"]["id"], "resp_schema_id");
    assert_eq!(
        v["output"][1]["arguments"],
        "{\"city\":\"Paris\",\"ref\":\"resp_in_arguments\"}"
    );
}

#[test]
fn sealing_is_deterministic_so_get_returns_the_id_the_client_holds() {
    let body = format!(r#"{{"id":"{RESP}","object":"response","status":"completed","output":[]}}"#);
    let a = seal_response_body(body.as_bytes(), &sealer(), &OWNER, DEP).unwrap();
    let b = seal_response_body(body.as_bytes(), &sealer(), &OWNER, DEP).unwrap();
    assert_eq!(a, b);
    let v: Value = serde_json::from_slice(&a).unwrap();
    let held = v["id"].as_str().unwrap();
    let opened = restore_id(held, &sealer(), &OWNER).unwrap();
    assert_eq!(
        opened,
        RestoredId {
            deployment: DEP.into(),
            upstream_id: RESP.into()
        }
    );
    // Another key gets a different id for the same upstream response.
    let c = seal_response_body(body.as_bytes(), &sealer(), &OTHER_OWNER, DEP).unwrap();
    assert_ne!(a, c);
}

#[test]
fn seals_input_item_lists_consistently() {
    let list = json!({
        "object": "list",
        "data": [
            reasoning_item(RS2, "gAAAAAB/x+y=="),
            {"id": MSG, "type": "message", "role": "user", "status": "completed",
             "content": [{"type": "input_text", "text": "weather in Paris?"}]},
            {"id": RS, "type": "reasoning", "summary": []}
        ],
        "first_id": RS2,
        "last_id": RS,
        "has_more": false
    })
    .to_string();
    let sealed = seal_response_body(list.as_bytes(), &sealer(), &OWNER, DEP).unwrap();
    let v: Value = serde_json::from_slice(&sealed).unwrap();
    assert_eq!(v["first_id"], v["data"][0]["id"]);
    assert_eq!(v["last_id"], v["data"][2]["id"]);
    assert_eq!(v["data"][1]["id"], MSG);
    assert_eq!(
        restore_cursor("after", v["last_id"].as_str().unwrap(), &sealer(), &OWNER).unwrap(),
        (Some(DEP.to_string()), RS.to_string())
    );
    assert_eq!(
        restore_cursor("after", MSG, &sealer(), &OWNER).unwrap(),
        (None, MSG.to_string())
    );
    let err = restore_cursor("after", RS, &sealer(), &OWNER).unwrap_err();
    assert_eq!(err.to_client().status(), 400);
    assert_eq!(err.to_client().param.as_deref(), Some("after"));
}

#[test]
fn seals_delete_answers_and_escaped_values() {
    let body = format!(r#"{{"id":"{RESP}","object":"response","deleted":true}}"#);
    let sealed = seal_response_body(body.as_bytes(), &sealer(), &OWNER, DEP).unwrap();
    assert_eq!(
        String::from_utf8(sealed).unwrap(),
        format!(
            r#"{{"id":"{}","object":"response","deleted":true}}"#,
            sid(Purpose::Response, RESP)
        )
    );
    // Some encoders escape `/`; the marker binds the decoded text and the
    // escaped original is kept as sent.
    let body = r#"{"type":"reasoning","id":"rs_00ff","encrypted_content":"gAAA\/b+c=="}"#;
    let sealed = seal_response_body(body.as_bytes(), &sealer(), &OWNER, DEP).unwrap();
    let text = String::from_utf8(sealed).unwrap();
    assert!(text.contains(r#".gAAA\/b+c==""#), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["encrypted_content"].as_str().unwrap(),
        wrapped("gAAA/b+c==")
    );
}

#[test]
fn upstream_bodies_that_are_not_json_are_a_bad_upstream_response() {
    let err = seal_response_body(b"<html>502</html>", &sealer(), &OWNER, DEP).unwrap_err();
    assert_eq!(err, ResponsesError::BadUpstream);
    assert_eq!(err.to_client().status(), 502);
}

// ---------------------------------------------------------------- requests

/// A stateless follow-up as the Agents SDK / Codex build it: the previous
/// output replayed, a tool result appended.
fn follow_up(prev: &str, conv: Option<&str>, items: &[Value]) -> String {
    let mut input = items.to_vec();
    input.push(json!({"type": "function_call", "id": FC, "call_id": "call_Qx81lS0yXb", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}));
    input.push(json!({"type": "function_call_output", "call_id": "call_Qx81lS0yXb", "output": "{\"temp_c\":21}"}));
    input.push(json!({"type": "item_reference", "id": MSG}));
    let mut body = json!({
        "model": "o4-mini",
        "previous_response_id": prev,
        "input": input,
        "include": ["reasoning.encrypted_content"],
        "store": false,
        "metadata": {"previous_response_id": "resp_kept_as_is"}
    });
    if let Some(conv) = conv {
        body["conversation"] = json!(conv);
    }
    serde_json::to_string(&body).unwrap()
}

#[test]
fn a_follow_up_is_restored_byte_for_byte_and_pinned() {
    let content = blob(2, 4096);
    let cmp_content = blob(3, 200);
    let sealed_req = follow_up(
        &sid(Purpose::Response, PREV),
        Some(&sid(Purpose::Conversation, CONV)),
        &[
            reasoning_item(&sid(Purpose::ReasoningItem, RS), &wrapped(&content)),
            json!({"type": "compaction", "id": sid(Purpose::CompactionItem, CMP), "encrypted_content": wrapped(&cmp_content)}),
            json!({"type": "item_reference", "id": sid(Purpose::ReasoningItem, RS2)}),
            json!({"type": "reasoning", "summary": [], "encrypted_content": wrapped("short")}),
        ],
    );
    let upstream_req = follow_up(
        PREV,
        Some(CONV),
        &[
            reasoning_item(RS, &content),
            json!({"type": "compaction", "id": CMP, "encrypted_content": cmp_content}),
            json!({"type": "item_reference", "id": RS2}),
            json!({"type": "reasoning", "summary": [], "encrypted_content": "short"}),
        ],
    );
    let restored = restore_request(sealed_req.as_bytes(), &sealer(), &OWNER).unwrap();
    assert_eq!(String::from_utf8(restored.body).unwrap(), upstream_req);
    assert_eq!(restored.pin.as_deref(), Some(DEP));
    assert_eq!(restored.model.as_deref(), Some("o4-mini"));
}

#[test]
fn conversation_objects_and_plain_requests() {
    let body = json!({"model": "gpt-5", "conversation": {"id": sid(Purpose::Conversation, CONV)}, "input": "hi"}).to_string();
    let r = restore_request(body.as_bytes(), &sealer(), &OWNER).unwrap();
    assert_eq!(
        String::from_utf8(r.body).unwrap(),
        json!({"model": "gpt-5", "conversation": {"id": CONV}, "input": "hi"}).to_string()
    );
    assert_eq!(r.pin.as_deref(), Some(DEP));

    let plain = br#"{"model":"gpt-5","input":[{"role":"user","content":"hi"}],"previous_response_id":null}"#;
    let r = restore_request(plain, &sealer(), &OWNER).unwrap();
    assert_eq!(r.body, plain);
    assert_eq!(r.pin, None);
    assert_eq!(r.model.as_deref(), Some("gpt-5"));
}

#[test]
fn escaped_markers_are_decoded_before_they_are_opened() {
    let w = wrapped("gAAA/b+c==");
    let escaped = w.replace('/', "\\/").replacen('e', "\\u0065", 1);
    let id = sid(Purpose::ReasoningItem, RS).replacen('r', "\\u0072", 1);
    let body = format!(
        r#"{{"input":[{{"type":"reasoning","id":"{id}","summary":[],"encrypted_content":"{escaped}"}}]}}"#
    );
    let r = restore_request(body.as_bytes(), &sealer(), &OWNER).unwrap();
    assert_eq!(
        String::from_utf8(r.body).unwrap(),
        format!(
            r#"{{"input":[{{"type":"reasoning","id":"{RS}","summary":[],"encrypted_content":"gAAA/b+c=="}}]}}"#
        )
    );
    assert_eq!(r.pin.as_deref(), Some(DEP));
}

#[test]
fn seal_then_restore_round_trips_a_whole_conversation_turn() {
    let content = blob(4, 4096);
    let upstream = response_body(&content);
    let sealed = seal_response_body(upstream.as_bytes(), &sealer(), &OWNER, DEP).unwrap();
    let v: Value = serde_json::from_slice(&sealed).unwrap();
    // The client replays the output and continues from the response id.
    let body = json!({
        "model": "o4-mini",
        "previous_response_id": v["id"],
        "input": v["output"],
    })
    .to_string();
    let r = restore_request(body.as_bytes(), &sealer(), &OWNER).unwrap();
    let original: Value = serde_json::from_str(&upstream).unwrap();
    let expected =
        json!({"model": "o4-mini", "previous_response_id": RESP, "input": original["output"]});
    assert_eq!(serde_json::from_slice::<Value>(&r.body).unwrap(), expected);
    assert_eq!(r.pin.as_deref(), Some(DEP));
}

fn rejected(body: &str, owner: &Owner) -> (ResponsesError, crate::errors::ClientError) {
    let err = restore_request(body.as_bytes(), &sealer(), owner).unwrap_err();
    let client = err.to_client();
    (err, client)
}

#[test]
fn markers_of_another_key_are_rejected_without_saying_so() {
    let body = format!(
        r#"{{"previous_response_id":"{}","input":[{}]}}"#,
        sid(Purpose::Response, PREV),
        reasoning_item(&sid(Purpose::ReasoningItem, RS), &wrapped("c"))
    );
    let (err, client) = rejected(&body, &OTHER_OWNER);
    assert_eq!(
        err,
        ResponsesError::Rejected {
            field: Field::PreviousResponseId,
            param: "previous_response_id".into(),
            reason: Rejection::OtherOwner
        }
    );
    assert_eq!(client.code.as_str(), "previous_response_not_found");
    assert_eq!(client.status(), 400);
    assert!(!client.message.contains("owner") && !client.message.contains(DEP));
    // The same items are fine for their own key.
    assert!(restore_request(body.as_bytes(), &sealer(), &OWNER).is_ok());
}

fn flip(s: &str, at: usize) -> String {
    let mut out = s.to_string();
    let c = if &s[at..=at] == "A" { "B" } else { "A" };
    out.replace_range(at..=at, c);
    out
}

#[test]
fn tampered_foreign_and_raw_markers_are_rejected() {
    let content = blob(5, 1000);
    let good = wrapped(&content);
    let foreign = Keys::derive(&[0x11; 32]).unwrap();
    let foreign_marker = format!(
        "{}{content}",
        content_marker(&foreign, &OWNER, DEP, &content)
    );
    let flipped_content = flip(&good, good.len() - 10);
    let flipped_marker = flip(&good, 20);
    let other_owner = format!(
        "{}{content}",
        content_marker(&sealer(), &OTHER_OWNER, DEP, &content)
    );
    // A genuine marker moved in front of other content.
    let moved = format!(
        "{}{}",
        content_marker(&sealer(), &OWNER, DEP, "mine"),
        content
    );
    for (enc, reason) in [
        (flipped_content.as_str(), Rejection::Unbound),
        (flipped_marker.as_str(), Rejection::Tampered),
        (foreign_marker.as_str(), Rejection::Tampered),
        (other_owner.as_str(), Rejection::OtherOwner),
        (moved.as_str(), Rejection::Unbound),
        (content.as_str(), Rejection::NotSealed),
        ("enc_nodot", Rejection::Malformed),
    ] {
        let body = json!({"model": "o4-mini", "input": [
            {"role": "user", "content": "hi"},
            {"type": "reasoning", "summary": [], "encrypted_content": enc}
        ]})
        .to_string();
        let (err, client) = rejected(&body, &OWNER);
        assert_eq!(
            err,
            ResponsesError::Rejected {
                field: Field::EncryptedContent,
                param: "input[1].encrypted_content".into(),
                reason
            },
            "{enc:.40}"
        );
        assert_eq!(client.code.as_str(), "invalid_encrypted_content");
        assert_eq!(client.param.as_deref(), Some("input[1].encrypted_content"));
    }
    // Raw upstream ids, ids of the wrong kind and forged ids.
    let as_cmp = format!("cmp_{}", &sid(Purpose::ReasoningItem, RS)["rs_".len()..]);
    for (item, field, reason) in [
        (
            json!({"type": "reasoning", "id": RS, "summary": []}),
            Field::InputItemId,
            Rejection::Malformed,
        ),
        (
            json!({"type": "item_reference", "id": RS2}),
            Field::InputItemId,
            Rejection::Malformed,
        ),
        (
            json!({"type": "compaction", "id": as_cmp}),
            Field::InputItemId,
            Rejection::Purpose,
        ),
        (
            json!({"type": "reasoning", "id": seal_id(&foreign, &OWNER, DEP, Purpose::ReasoningItem, RS), "summary": []}),
            Field::InputItemId,
            Rejection::Tampered,
        ),
    ] {
        let body = json!({"model": "o4-mini", "input": [item]}).to_string();
        let (err, client) = rejected(&body, &OWNER);
        match err {
            ResponsesError::Rejected {
                field: f,
                reason: r,
                ref param,
            } => {
                assert_eq!((f, r, param.as_str()), (field, reason, "input[0].id"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(client.status(), 400);
    }
    // Raw response and conversation ids.
    let (err, client) = rejected(&json!({"previous_response_id": PREV}).to_string(), &OWNER);
    assert!(matches!(
        err,
        ResponsesError::Rejected {
            field: Field::PreviousResponseId,
            ..
        }
    ));
    assert_eq!(client.code.as_str(), "previous_response_not_found");
    let (_, client) = rejected(
        &json!({"previous_response_id": "my-id"}).to_string(),
        &OWNER,
    );
    assert_eq!(client.code.as_str(), "previous_response_not_found");
    let (err, client) = rejected(&json!({"conversation": {"id": CONV}}).to_string(), &OWNER);
    assert_eq!(client.code.as_str(), "conversation_not_found");
    assert_eq!(client.param.as_deref(), Some("conversation.id"));
    assert!(matches!(
        err,
        ResponsesError::Rejected {
            reason: Rejection::Malformed,
            ..
        }
    ));
}

#[test]
fn path_ids_that_do_not_open_all_look_the_same() {
    let good = sid(Purpose::Response, RESP);
    let foreign = seal_id(
        &Keys::derive(&[1; 32]).unwrap(),
        &OWNER,
        DEP,
        Purpose::Response,
        RESP,
    );
    let mine_as_other = seal_id(&sealer(), &OTHER_OWNER, DEP, Purpose::Response, RESP);
    let rs = sid(Purpose::ReasoningItem, RS);
    let as_resp = format!("resp_{}", &rs[3..]);
    let mut results = vec![];
    for (id, reason) in [
        (RESP, Rejection::Malformed),
        ("video_abc", Rejection::NotSealed),
        ("", Rejection::NotSealed),
        (foreign.as_str(), Rejection::Tampered),
        (mine_as_other.as_str(), Rejection::OtherOwner),
        (as_resp.as_str(), Rejection::Purpose),
    ] {
        let err = restore_id(id, &sealer(), &OWNER).unwrap_err();
        assert_eq!(err, ResponsesError::NotFound { reason }, "{id}");
        results.push(err.to_client());
    }
    assert!(results.iter().all(|c| *c == results[0]));
    assert_eq!(results[0].status(), 404);
    assert_eq!(results[0].code.as_str(), "response_not_found");
    assert_eq!(
        restore_id(&good, &sealer(), &OWNER).unwrap().upstream_id,
        RESP
    );
}

#[test]
fn markers_from_two_deployments_conflict() {
    let other_dep_item = reasoning_item(
        &seal_id(&sealer(), &OWNER, DEP_B, Purpose::ReasoningItem, RS),
        &format!("{}x", content_marker(&sealer(), &OWNER, DEP_B, "x")),
    );
    let body = format!(
        r#"{{"previous_response_id":"{}","input":[{other_dep_item}]}}"#,
        sid(Purpose::Response, PREV)
    );
    let err = restore_request(body.as_bytes(), &sealer(), &OWNER).unwrap_err();
    assert_eq!(
        err,
        ResponsesError::Conflict {
            param: "input[0].encrypted_content".into(),
            earlier: "previous_response_id".into(),
            deployments: (DEP.into(), DEP_B.into()),
        }
    );
    let client = err.to_client();
    assert_eq!(
        (client.status(), client.code.as_str()),
        (400, "affinity_conflict")
    );
    assert!(
        client.message.contains("input[0].encrypted_content")
            && client.message.contains("previous_response_id")
    );
    assert!(
        !client.message.contains(DEP_B),
        "deployment names stay internal"
    );

    // Two items agreeing with each other but not with the first item.
    let body = json!({"input": [
        reasoning_item(&sid(Purpose::ReasoningItem, RS2), &wrapped("a")),
        other_dep_item
    ]})
    .to_string();
    // Keys are sorted: each item's encrypted_content comes before its id.
    let err = restore_request(body.as_bytes(), &sealer(), &OWNER).unwrap_err();
    assert!(
        matches!(err, ResponsesError::Conflict { ref param, ref earlier, .. }
        if param == "input[1].encrypted_content" && earlier == "input[0].encrypted_content")
    );
}

#[test]
fn bodies_that_are_not_json_objects_are_invalid_json() {
    for body in [&b""[..], b"[]", b"\"x\"", b"{\"input\":[", b"{\"a\":1}x"] {
        let err = restore_request(body, &sealer(), &OWNER).unwrap_err();
        assert_eq!(err, ResponsesError::InvalidJson);
        assert_eq!(err.to_client().code.as_str(), "invalid_json");
    }
}

#[test]
fn strip_removes_what_only_the_pinned_deployment_can_read() {
    let body = json!({
        "model": "o4-mini",
        "input": [
            {"role": "user", "content": "weather in Paris?"},
            reasoning_item(&sid(Purpose::ReasoningItem, RS), &wrapped("c1")),
            {"type": "compaction", "id": sid(Purpose::CompactionItem, CMP), "encrypted_content": wrapped("c2")},
            {"type": "item_reference", "id": sid(Purpose::ReasoningItem, RS2)},
            {"type": "item_reference", "id": MSG},
            {"type": "function_call", "id": FC, "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "{\"temp_c\":21}"}
        ],
        "temperature": 0.7
    })
    .to_string();
    let stripped = strip_pinned_reasoning(body.as_bytes()).unwrap();
    assert_eq!(stripped.removed, 3);
    let v: Value = serde_json::from_slice(&stripped.body).unwrap();
    let kinds: Vec<_> = v["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap_or("message"))
        .collect();
    assert_eq!(
        kinds,
        [
            "message",
            "item_reference",
            "function_call",
            "function_call_output"
        ]
    );
    assert_eq!(v["temperature"], 0.7);
    // What is left routes freely: no marker, no pin.
    let r = restore_request(&stripped.body, &sealer(), &OWNER).unwrap();
    assert_eq!(r.pin, None);

    // Nothing to strip: bytes unchanged.
    let plain = br#"{"model":"o4-mini", "input":"hi"}"#;
    assert_eq!(strip_pinned_reasoning(plain).unwrap().body, plain);
}

#[test]
fn strip_refuses_server_side_state() {
    for (body, param) in [
        (
            json!({"previous_response_id": sid(Purpose::Response, PREV), "input": []}),
            "previous_response_id",
        ),
        (
            json!({"conversation": {"id": "conv_1"}, "input": []}),
            "conversation",
        ),
    ] {
        let err = strip_pinned_reasoning(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(err, ResponsesError::CannotStrip { param });
        let client = err.to_client();
        assert_eq!(client.status(), 503);
        assert_eq!(client.code.as_str(), "pinned_deployment_unavailable");
        assert_eq!(client.param.as_deref(), Some(param));
    }
    assert_eq!(
        strip_pinned_reasoning(b"nope").unwrap_err(),
        ResponsesError::InvalidJson
    );
}

// ---------------------------------------------------------------- SSE

fn sse_event(kind: &str, data: &Value) -> String {
    format!("event: {kind}\ndata: {data}\n\n")
}

/// A realistic streamed turn: created/in_progress, a reasoning item with
/// summary deltas and encrypted content, a message with many text deltas,
/// keep-alive comments, completed, and a trailing `[DONE]`.
fn stream(content: &str, deltas: usize) -> String {
    let response = |status: &str, output: Value| {
        json!({"id": RESP, "object": "response", "created_at": 1_756_315_696, "status": status,
               "model": "o4-mini-2025-04-16", "output": output, "previous_response_id": PREV,
               "reasoning": {"effort": "medium", "summary": "auto"}, "store": false,
               "usage": null, "metadata": {}})
    };
    let reasoning_added = json!({"id": RS, "type": "reasoning", "summary": []});
    let reasoning_done = reasoning_item(RS, content);
    let msg_done = json!({"id": MSG, "type": "message", "status": "completed", "role": "assistant",
                          "content": [{"type": "output_text", "annotations": [], "text": "Sunny. ".repeat(deltas)}]});
    let mut s = String::new();
    let mut seq = 0;
    let mut ev = |kind: &str, mut data: Value| {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(seq);
        seq += 1;
        s.push_str(&sse_event(kind, &data));
    };
    ev(
        "response.created",
        json!({"response": response("in_progress", json!([]))}),
    );
    ev(
        "response.in_progress",
        json!({"response": response("in_progress", json!([]))}),
    );
    ev(
        "response.output_item.added",
        json!({"output_index": 0, "item": reasoning_added}),
    );
    ev(
        "response.reasoning_summary_part.added",
        json!({"item_id": RS, "output_index": 0, "summary_index": 0, "part": {"type": "summary_text", "text": ""}}),
    );
    for word in ["**Checking", " the", " forecast**"] {
        ev(
            "response.reasoning_summary_text.delta",
            json!({"item_id": RS, "output_index": 0, "summary_index": 0, "delta": word, "obfuscation": "a1b2"}),
        );
    }
    ev(
        "response.output_item.done",
        json!({"output_index": 0, "item": reasoning_done.clone()}),
    );
    ev(
        "response.output_item.added",
        json!({"output_index": 1, "item": {"id": MSG, "type": "message", "status": "in_progress", "role": "assistant", "content": []}}),
    );
    ev(
        "response.content_part.added",
        json!({"item_id": MSG, "output_index": 1, "content_index": 0, "part": {"type": "output_text", "annotations": [], "text": ""}}),
    );
    for i in 0..deltas {
        ev(
            "response.output_text.delta",
            json!({"item_id": MSG, "output_index": 1, "content_index": 0, "delta": "Sunny. ", "logprobs": [], "obfuscation": format!("{i:06}")}),
        );
    }
    ev(
        "response.output_item.done",
        json!({"output_index": 1, "item": msg_done.clone()}),
    );
    ev(
        "response.completed",
        json!({"response": response("completed", json!([reasoning_done, msg_done]))}),
    );
    // A comment, an `id:` field and the [DONE] sentinel some proxies add.
    let tail = ": ping\n\nid: 42\ndata: [DONE]\n\n";
    let mid = s.find("event: response.output_item.added").unwrap();
    let mut out = String::from(": keep-alive\n\n");
    out.push_str(&s[..mid]);
    out.push_str(": ping\n\n");
    out.push_str(&s[mid..]);
    out.push_str(tail);
    out
}

fn rewrite_all(input: &[u8], chunks: &[usize]) -> Result<Vec<u8>, ResponsesError> {
    rewrite_with(SseRewriter::new(&sealer(), &OWNER, DEP), input, chunks)
}

fn rewrite_with(
    mut rw: SseRewriter,
    input: &[u8],
    chunks: &[usize],
) -> Result<Vec<u8>, ResponsesError> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut k = 0;
    while at < input.len() {
        let n = chunks
            .get(k % chunks.len().max(1))
            .copied()
            .unwrap_or(input.len())
            .max(1);
        let end = (at + n).min(input.len());
        rw.push(&input[at..end], &mut out)?;
        at = end;
        k += 1;
    }
    rw.finish(&mut out)?;
    assert_eq!(rw.buffered(), 0);
    Ok(out)
}

fn events(text: &str) -> Vec<&str> {
    text.split_inclusive("\n\n").collect()
}

#[test]
fn sse_seals_what_it_must_and_copies_the_rest_byte_for_byte() {
    let content = blob(6, 4096);
    let input = stream(&content, 20);
    let out = String::from_utf8(rewrite_all(input.as_bytes(), &[]).unwrap()).unwrap();
    let (ins, outs) = (events(&input), events(&out));
    assert_eq!(ins.len(), outs.len());
    let mut rewritten = 0;
    for (a, b) in ins.iter().zip(&outs) {
        let touches = ["\"resp_", "\"rs_", "\"encrypted_content\""]
            .iter()
            .any(|n| a.contains(n));
        if touches {
            rewritten += 1;
            assert_eq!(*b, expected_sealed(a, &[&content]));
        } else {
            assert_eq!(a, b, "untouched events pass byte for byte");
        }
    }
    // created, in_progress, item added, part added, 3 summary deltas,
    // item done, completed.
    assert_eq!(rewritten, 9);
    assert!(out.contains("data: [DONE]\n\n") && out.contains(": ping\n\n"));

    // The client's follow-up built from the stream opens and pins.
    let done = outs
        .iter()
        .find(|e| e.starts_with("event: response.output_item.done") && e.contains("reasoning"))
        .unwrap();
    let data: Value = serde_json::from_str(done.split_once("data: ").unwrap().1.trim()).unwrap();
    let completed = outs
        .iter()
        .find(|e| e.starts_with("event: response.completed"))
        .unwrap();
    let completed: Value =
        serde_json::from_str(completed.split_once("data: ").unwrap().1.trim()).unwrap();
    assert_eq!(completed["response"]["output"][0], data["item"]);
    let body = json!({"model": "o4-mini", "previous_response_id": completed["response"]["id"], "input": [data["item"]]}).to_string();
    let r = restore_request(body.as_bytes(), &sealer(), &OWNER).unwrap();
    assert_eq!(r.pin.as_deref(), Some(DEP));
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["previous_response_id"], RESP);
    assert_eq!(v["input"][0], reasoning_item(RS, &content));
}

#[test]
fn sse_output_does_not_depend_on_chunking_at_any_split_point() {
    let input = stream(&blob(7, 160), 3);
    let whole = rewrite_all(input.as_bytes(), &[]).unwrap();
    assert_ne!(whole, input.as_bytes());
    assert_eq!(
        rewrite_all(input.as_bytes(), &[1]).unwrap(),
        whole,
        "byte by byte"
    );
    for split in 0..=input.len() {
        let mut rw = SseRewriter::new(&sealer(), &OWNER, DEP);
        let mut out = Vec::new();
        rw.push(&input.as_bytes()[..split], &mut out).unwrap();
        rw.push(&input.as_bytes()[split..], &mut out).unwrap();
        rw.finish(&mut out).unwrap();
        assert!(out == whole, "split at {split}");
    }
}

#[test]
fn sse_handles_crlf_and_cr_line_endings_at_any_split_point() {
    let lf = stream(&blob(8, 120), 2);
    let whole_lf = String::from_utf8(rewrite_all(lf.as_bytes(), &[]).unwrap()).unwrap();
    for ending in ["\r\n", "\r"] {
        let input = lf.replace('\n', ending);
        let whole = rewrite_all(input.as_bytes(), &[]).unwrap();
        assert_eq!(
            String::from_utf8(whole.clone()).unwrap(),
            whole_lf.replace('\n', ending)
        );
        assert_eq!(rewrite_all(input.as_bytes(), &[1]).unwrap(), whole);
        for split in 0..=input.len() {
            let mut rw = SseRewriter::new(&sealer(), &OWNER, DEP);
            let mut out = Vec::new();
            rw.push(&input.as_bytes()[..split], &mut out).unwrap();
            rw.push(&input.as_bytes()[split..], &mut out).unwrap();
            rw.finish(&mut out).unwrap();
            assert!(out == whole, "{ending:?} split at {split}");
        }
    }
}

#[test]
fn sse_multi_line_data_and_field_variants() {
    let item = json!({"type": "response.output_item.done", "item": {"id": RS, "type": "reasoning", "summary": []}});
    let pretty = serde_json::to_string_pretty(&item).unwrap();
    let multi: String = pretty.lines().map(|l| format!("data:{l}\n")).collect();
    let input = format!("event: response.output_item.done\n{multi}\n");
    let out = String::from_utf8(rewrite_all(input.as_bytes(), &[]).unwrap()).unwrap();
    assert_eq!(out, input.replace(RS, &sid(Purpose::ReasoningItem, RS)));
    assert_eq!(out.lines().count(), input.lines().count());
    assert_eq!(rewrite_all(input.as_bytes(), &[1]).unwrap(), out.as_bytes());

    // Not JSON, or no data field: passed through even when a needle matches.
    for passthrough in [
        "data: \"rs_ not json\n\n",
        "event: \"resp_x\"\n\n",
        "data\n\n",
        "dataX: {\"id\":\"rs_1\"}\n\n",
        ": {\"id\":\"rs_1\"}\n\n",
    ] {
        let out = rewrite_all(passthrough.as_bytes(), &[]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), passthrough);
    }
}

#[test]
fn sse_seals_an_unterminated_last_event() {
    let input =
        format!("data: {{\"type\":\"response.completed\",\"response\":{{\"id\":\"{RESP}\"}}}}");
    let out = rewrite_all(input.as_bytes(), &[7]).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        input.replace(RESP, &sid(Purpose::Response, RESP))
    );
}

#[test]
fn sse_oversize_events_fail_closed_or_pass_through() {
    let big = format!("data: {{\"type\":\"response.output_item.done\",\"item\":{{\"id\":\"{RS}\",\"encrypted_content\":\"{}\"}}}}\n\n", blob(10, 3000));
    let small = format!("data: {{\"response\":{{\"id\":\"{RESP}\"}}}}\n\n");
    let input = format!("{small}{big}{small}");
    for chunks in [vec![], vec![1], vec![100], vec![4096]] {
        // Error: what came before is written, nothing of the big event is.
        let mut rw = SseRewriter::new(&sealer(), &OWNER, DEP).with_limit(1000, Overflow::Error);
        let mut out = Vec::new();
        let mut err = None;
        let n = chunks.first().copied().unwrap_or(input.len());
        for piece in input.as_bytes().chunks(n) {
            if let Err(e) = rw.push(piece, &mut out) {
                err = Some(e);
                break;
            }
        }
        assert_eq!(
            err,
            Some(ResponsesError::EventTooLarge { limit: 1000 }),
            "{chunks:?}"
        );
        assert_eq!(out, expected_sealed(&small, &[]).as_bytes(), "{chunks:?}");
        assert_eq!(
            rw.push(b"more", &mut out),
            Err(ResponsesError::EventTooLarge { limit: 1000 })
        );
        assert!(rw.finish(&mut out).is_err());
        assert!(rw.buffered() == 0);
        // PassThrough: the big event goes out unchanged, the stream goes on.
        let rw = SseRewriter::new(&sealer(), &OWNER, DEP).with_limit(1000, Overflow::PassThrough);
        let mut out = Vec::new();
        let mut rw = rw;
        for piece in input.as_bytes().chunks(n) {
            rw.push(piece, &mut out).unwrap();
            assert!(rw.buffered() <= 1000 + n);
        }
        rw.finish(&mut out).unwrap();
        let sealed_small = expected_sealed(&small, &[]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{sealed_small}{big}{sealed_small}")
        );
        assert_eq!(rw.passed_through(), 1);
    }
    let client = ResponsesError::EventTooLarge { limit: 1000 }.to_client();
    assert_eq!(client.status(), 502);
    let event = String::from_utf8(sse_error_event(&client)).unwrap();
    assert!(event.starts_with("event: error\ndata: {"));
    let data: Value =
        serde_json::from_str(event.trim_end().split_once("data: ").unwrap().1).unwrap();
    assert_eq!(data["type"], "error");
    assert_eq!(data["code"], "bad_upstream_response");
}

#[test]
fn sse_buffers_at_most_the_event_in_progress() {
    let input = stream(&blob(11, 4096), 200);
    let mut rw = SseRewriter::new(&sealer(), &OWNER, DEP);
    let mut out = Vec::new();
    let longest = events(&input).iter().map(|e| e.len()).max().unwrap();
    for piece in input.as_bytes().chunks(1500) {
        rw.push(piece, &mut out).unwrap();
        assert!(rw.buffered() < longest + 1500);
    }
    rw.finish(&mut out).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sse_random_chunkings_match_one_shot(chunks in proptest::collection::vec(1usize..300, 1..40), crlf: bool) {
        let mut input = stream(&blob(12, 700), 12);
        if crlf {
            input = input.replace('\n', "\r\n");
        }
        let whole = rewrite_all(input.as_bytes(), &[]).unwrap();
        prop_assert_eq!(rewrite_all(input.as_bytes(), &chunks).unwrap(), whole);
    }

    #[test]
    fn restore_and_seal_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = restore_request(&bytes, &sealer(), &OWNER);
        let _ = seal_response_body(&bytes, &sealer(), &OWNER, DEP);
        let _ = strip_pinned_reasoning(&bytes);
        let mut rw = SseRewriter::new(&sealer(), &OWNER, DEP).with_limit(100, Overflow::PassThrough);
        let mut out = Vec::new();
        let _ = rw.push(&bytes, &mut out);
        let _ = rw.finish(&mut out);
    }

    #[test]
    fn restore_inverts_seal_for_any_ids_and_content(
        resp in "[0-9a-f]{2,60}|[A-Za-z0-9_-]{1,60}",
        rs in "[0-9a-f]{2,60}|[A-Za-z0-9_-]{1,60}",
        content in "[A-Za-z0-9+/=]{0,300}|\\PC{0,40}",
        dep in "[a-z0-9-]{1,40}",
    ) {
        let resp = format!("resp_{resp}");
        let rs = format!("rs_{rs}");
        let upstream = json!({"id": resp, "output": [{"type": "reasoning", "id": rs, "summary": [], "encrypted_content": content}]}).to_string();
        let sealed = seal_response_body(upstream.as_bytes(), &sealer(), &OWNER, &dep).unwrap();
        let v: Value = serde_json::from_slice(&sealed).unwrap();
        let body = json!({"previous_response_id": v["id"], "input": v["output"]}).to_string();
        let r = restore_request(body.as_bytes(), &sealer(), &OWNER).unwrap();
        prop_assert_eq!(r.pin.as_deref(), Some(dep.as_str()));
        let back: Value = serde_json::from_slice(&r.body).unwrap();
        let orig: Value = serde_json::from_str(&upstream).unwrap();
        prop_assert_eq!(&back["previous_response_id"], &orig["id"]);
        prop_assert_eq!(&back["input"], &orig["output"]);
    }
}

#[test]
fn sse_error_events_lose_every_known_secret_however_chunked() {
    let azure = "0123456789abcdef0123456789abcdef";
    let input = format!(
        "event: response.created\ndata: {{\"type\":\"response.created\",\"response\":{{\"id\":\"{RESP}\"}}}}\n\n\
         event: error\ndata: {{\"type\":\"error\",\"message\":\"key {azure} was refused\",\"code\":\"invalid_api_key\"}}\n\n\
         data: {{\"type\":\"response.output_text.delta\",\"delta\":\"{azure}\"}}\n\n"
    );
    for chunk in [1, 7, 64, input.len()] {
        let mut rw = SseRewriter::new(&sealer(), &OWNER, DEP)
            .redacting(crate::redact::Redactor::of([azure]));
        let mut out = Vec::new();
        for part in input.as_bytes().chunks(chunk) {
            rw.push(part, &mut out).unwrap();
        }
        rw.finish(&mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        let error_event = out.split("\n\n").nth(1).unwrap();
        assert!(
            error_event.contains("key [redacted] was refused"),
            "{error_event}"
        );
        assert!(!error_event.contains(azure));
        // The response id is still sealed, and model output (no `"error"`)
        // is the model's to send.
        assert!(!out.contains(RESP));
        assert!(out.split("\n\n").nth(2).unwrap().contains(azure));
    }
}

//! OpenAI-shaped video requests from clients (create JSON, remix, edit,
//! extension — as JSON and as form parts —, sizes, variants, images) and the upstream calls built from
//! them for every provider: parse or fail cleanly, and what is sent carries
//! exactly the prompt and model that were checked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_core::video::{
    self, veo, CreateVideo, FollowUp, FollowUpKind, ImageInput, Size, Variant, VideoHandle,
};
use reelay_fuzz::{deployments, Input};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    match input.byte() % 6 {
        0 => create(input.rest()),
        1 => follow_up(&mut input),
        5 => follow_up_form(&mut input),
        2 => {
            let text = input.text();
            let _ = video::file_ref_in_uri(&text);
            if let Some(size) = Size::parse(&text) {
                assert_eq!(Size::parse(&size.to_wire()), Some(size));
            }
            if let Ok(variant) = Variant::parse(Some(&text)) {
                assert_eq!(variant.as_str(), text);
            }
        }
        3 => {
            let bytes = input.rest();
            if let Ok(image) = ImageInput::from_bytes(bytes) {
                assert!(image.mime_type.starts_with("image/"));
            }
        }
        _ => {
            let bytes = input.rest();
            if let Some(handle) = VideoHandle::decode(bytes) {
                assert_eq!(VideoHandle::decode(&handle.encode()), Some(handle.clone()));
                for dep in deployments() {
                    let _ = video::poll_request(dep, &handle);
                    let _ = video::delete_request(dep, &handle);
                }
            }
        }
    }
});

fn create(body: &[u8]) {
    let Ok(req) = CreateVideo::parse_json(body) else {
        return;
    };
    assert!(!req.prompt.trim().is_empty());
    let characters: Vec<String> = req.characters.iter().map(|c| format!("up_{c}")).collect();
    for dep in deployments() {
        let Ok((call, _seconds, _size)) = video::create_request(&req, dep, &characters) else {
            continue;
        };
        let Some(json) = call.json_body else {
            continue;
        };
        let sent: Value = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("{}: unparsable body {e}: {json}", dep.id));
        if let Some(model) = sent.get("model") {
            // Sora: the deployment's model, never the client's.
            assert_eq!(model.as_str(), Some(dep.model.as_str()), "{json}");
            assert_eq!(sent["prompt"].as_str(), Some(req.prompt.as_str()));
        } else {
            // Veo: a typed predictLongRunning body.
            let typed: veo::Request<'_> = serde_json::from_str(&json)
                .unwrap_or_else(|e| panic!("{}: not a Veo body {e}: {json}", dep.id));
            assert_eq!(typed.instances.len(), 1);
            assert_eq!(
                typed.instances[0].prompt.as_deref(),
                Some(req.prompt.as_str())
            );
        }
    }
}

fn follow_up(input: &mut Input<'_>) {
    let kind = match input.byte() % 3 {
        0 => FollowUpKind::Remix,
        1 => FollowUpKind::Edit,
        _ => FollowUpKind::Extend,
    };
    let path_id = match input.byte() % 2 {
        0 => None,
        _ => Some(input.text()),
    };
    let operation = input.text();
    let files: Vec<String> = input
        .part()
        .split(|b| *b == b',')
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    let body = input.rest();
    let Ok(follow) = FollowUp::parse(kind, body, path_id.as_deref()) else {
        return;
    };
    let source = VideoHandle {
        operation,
        seconds: 8,
        size: Size {
            width: 1280,
            height: 720,
        },
        count: 1,
    };
    for dep in deployments() {
        if video::check_follow_up(dep, kind).is_err() {
            continue;
        }
        let Ok((call, _, _)) = video::follow_up_request(dep, &follow, &source, &files) else {
            continue;
        };
        let Some(json) = call.json_body else {
            continue;
        };
        let sent: Value = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("{}: unparsable body {e}: {json}", dep.id));
        let prompt = sent
            .get("prompt")
            .or_else(|| sent.pointer("/instances/0/prompt"))
            .and_then(Value::as_str);
        assert_eq!(prompt, Some(follow.prompt.as_str()), "{json}");
    }
}

/// An edit or extension form: parts named by the route's list (or not),
/// each read as the JSON field it stands for.
fn follow_up_form(input: &mut Input<'_>) {
    let kind = match input.byte() % 3 {
        0 => FollowUpKind::Remix,
        1 => FollowUpKind::Edit,
        _ => FollowUpKind::Extend,
    };
    let video_file = input.byte() & 1 == 1;
    let known = video::follow_up_form_parts(kind);
    let mut parts: Vec<(String, String)> = Vec::new();
    while !input.is_empty() {
        let at = usize::from(input.byte());
        let name = known
            .get(at % (known.len() + 1))
            .map_or_else(|| input.text(), |n| (*n).to_owned());
        parts.push((name, input.text()));
    }
    let view: Vec<(&str, &str)> = parts
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let Ok(follow) = FollowUp::from_form(kind, &view, video_file) else {
        return;
    };
    assert!(!video_file, "an uploaded source video was accepted");
    let value = |name: &str| view.iter().rev().find(|(n, _)| *n == name).map(|(_, v)| *v);
    assert_eq!(Some(follow.prompt.as_str()), value("prompt"));
    if kind != FollowUpKind::Remix {
        assert_eq!(Some(follow.source_id.as_str()), value("video[id]"));
    }
}

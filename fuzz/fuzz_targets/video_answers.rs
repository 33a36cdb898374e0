//! Upstream video answers (Sora, Gemini API and Vertex create, status,
//! character and operation bodies) are untrusted: reading them never
//! panics, and whatever ends up in a URL path is a plain id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reelay_core::config::Provider;
use reelay_core::video::{self, gemini, openai, vertex, Content, Operation, Variant};
use reelay_fuzz::{deployment, Input};

/// Vertex operation names travel in a JSON body (`fetchPredictOperation`),
/// not in a URL path: a `.` segment is harmless there, `..` and empty ones
/// are still refused.
fn vertex_safe(name: &str) -> bool {
    name.starts_with("projects/") && !name.split('/').any(|seg| seg.is_empty() || seg == "..")
}

/// Ids and Gemini operation names go into URL paths: plain segments only.
fn path_safe(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'))
        && !id
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let index = usize::from(input.byte());
    let body = input.rest();
    for group in [
        "sora-2",
        "azure-sora",
        "veo-3.1",
        "veo-vertex",
        "veo-vertex-inline",
    ] {
        let dep = deployment(group);
        if let Ok(created) = video::parse_create_response(dep, body) {
            let id = &created.upstream_id;
            let safe = match dep.provider {
                Provider::VertexAi => vertex_safe(id),
                _ => path_safe(id),
            };
            assert!(safe, "{}: {id:?}", dep.id);
        }
        if let Ok(Operation::Succeeded(files)) = video::parse_poll(dep, body) {
            for file in &files {
                match video::content_source(dep, file, Variant::Video) {
                    Ok(Content::Fetch(call)) => assert!(!call.url.contains("/../")),
                    Ok(Content::Inline { index }) => {
                        let _ = vertex::inline_video(body, index);
                    }
                    Err(_) => {}
                }
            }
        }
    }
    if let Ok(name) = gemini::parse_create_response(body) {
        assert!(path_safe(&name), "{name:?}");
    }
    if let Ok(name) = vertex::parse_create_response(body) {
        assert!(vertex_safe(&name), "{name:?}");
    }
    let _ = gemini::parse_operation(body);
    let _ = vertex::parse_operation(body);
    let _ = gemini::native_operation(body, "models/m/operations/x", |i| format!("/files/f{i}"));
    let _ = vertex::native_operation(body, "projects/p/operations/x", |i| format!("/files/v{i}"));
    let _ = vertex::gemini_operation(body, "models/m/operations/x", |i| format!("/files/g{i}"));
    let _ = vertex::inline_video(body, index);
    if let Ok(character) = openai::parse_character(body) {
        assert!(path_safe(&character.id));
    }
    let _ = openai::parse_video(body);
    if let Ok(created) = openai::parse_create_response(body) {
        assert!(path_safe(&created.upstream_id));
    }
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = vertex::content_source(deployment("veo-vertex"), text);
    }
});

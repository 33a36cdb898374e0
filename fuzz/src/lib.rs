//! Fixtures shared by the fuzz targets: one config with a deployment of
//! every provider, sealing keys, and a small reader that splits fuzz input
//! into the several values a target needs.

use std::sync::OnceLock;

use reelay_core::access::{AccessGroups, AccessPolicy};
use reelay_core::config::{Config, Deployment, ModelGroup};
use reelay_core::seal::{Keys, Owner, OWNER_LEN};

/// A config with one model group per provider (Vertex with and without
/// `storage_uri`), and a Live-capable group on Gemini and Vertex.
pub fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        Config::parse(
            r#"{"model_groups":[
  {"name":"sora-2","deployments":[
    {"id":"openai-sora","provider":"openai","model":"sora-2","credential":"OPENAI_KEY","api_base":"https://api.example"}]},
  {"name":"azure-sora","deployments":[
    {"id":"azure-sora","provider":"azure","model":"sora-2","credential":"AZURE_KEY","api_base":"https://res.openai.azure.com"}]},
  {"name":"veo-3.1","deployments":[
    {"id":"gemini-veo","provider":"gemini","model":"veo-3.1-generate-preview","credential":"G"}]},
  {"name":"veo-vertex","deployments":[
    {"id":"vertex-veo","provider":"vertex_ai","model":"veo-3.1-generate-001","credential":"SA","project":"proj","location":"us-central1","storage_uri":"gs://bucket/out/"}]},
  {"name":"veo-vertex-inline","deployments":[
    {"id":"vertex-inline","provider":"vertex_ai","model":"veo-3.1-generate-001","credential":"SA","project":"proj","location":"global"}]},
  {"name":"gpt-realtime","deployments":[
    {"id":"openai-rt","provider":"openai","model":"gpt-realtime-2025-08-28","credential":"OPENAI_KEY","api_base":"https://api.example"}]},
  {"name":"azure-realtime","deployments":[
    {"id":"azure-rt","provider":"azure","model":"my-realtime-deployment","credential":"AZURE_KEY","api_base":"https://res.openai.azure.com"}]},
  {"name":"gpt-4o-transcribe","deployments":[
    {"id":"openai-tr","provider":"openai","model":"gpt-4o-transcribe","credential":"OPENAI_KEY"}]},
  {"name":"gemini-live","deployments":[
    {"id":"gemini-live","provider":"gemini","model":"gemini-live-2.5-flash","credential":"G"}]},
  {"name":"vertex-live","deployments":[
    {"id":"vertex-live","provider":"vertex_ai","model":"gemini-live-2.5-flash","credential":"SA","project":"proj","location":"us-central1"}]}
]}"#,
        )
        .unwrap_or_else(|e| panic!("fuzz fixture config: {e}"))
    })
}

/// The only deployment of model group `group`.
pub fn deployment(group: &str) -> &'static Deployment {
    &model_group(group).deployments[0]
}

/// Model group `group` of [`config`].
pub fn model_group(group: &str) -> &'static ModelGroup {
    config()
        .group(group)
        .unwrap_or_else(|| panic!("no group {group}"))
}

/// Every deployment of [`config`], in config order.
pub fn deployments() -> Vec<&'static Deployment> {
    config()
        .model_groups
        .iter()
        .flat_map(|g| g.deployments.iter())
        .collect()
}

/// Sealing keys derived from a fixed `SEALING_KEY`.
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys::derive(&[42u8; 32]).unwrap_or_else(|| panic!("derive")))
}

/// Keys of another `SEALING_KEY`: nothing sealed by [`keys`] opens with them.
pub fn foreign_keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys::derive(&[7u8; 32]).unwrap_or_else(|| panic!("derive")))
}

/// The owner fingerprint the targets seal and open for.
pub const OWNER: Owner = Owner::key([0x11; OWNER_LEN]);

/// A policy allowing every model.
pub fn allow_all() -> &'static AccessPolicy {
    static POLICY: OnceLock<AccessPolicy> = OnceLock::new();
    POLICY.get_or_init(|| {
        AccessPolicy::compile(&["*"], &AccessGroups::new()).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// Splits fuzz input into parts: a leading selector byte, fixed-size
/// integers, and byte strings cut at a `0xff` separator (so mutations of
/// one part leave the others in place).
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// Reads from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// The next byte, or 0 at the end.
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    /// The next 8 bytes as a big-endian `u64` (missing bytes are 0).
    pub fn u64(&mut self) -> u64 {
        let mut v = 0u64;
        for _ in 0..8 {
            v = (v << 8) | u64::from(self.byte());
        }
        v
    }

    /// The next `N` bytes (missing ones are 0).
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for b in &mut out {
            *b = self.byte();
        }
        out
    }

    /// Bytes up to the next `0xff` (consumed) or the end.
    pub fn part(&mut self) -> &'a [u8] {
        match self.data.iter().position(|&b| b == 0xff) {
            Some(at) => {
                let (part, rest) = self.data.split_at(at);
                self.data = &rest[1..];
                part
            }
            None => self.rest(),
        }
    }

    /// [`Input::part`] as text (invalid UTF-8 is replaced).
    pub fn text(&mut self) -> String {
        String::from_utf8_lossy(self.part()).into_owned()
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

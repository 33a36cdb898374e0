//! The gateway config: model groups → deployments, access groups and
//! defaults. Parsed and validated once per isolate from the
//! `REELAY_CONFIG` variable (a table in `wrangler.toml` `[vars]`, which the
//! Workers runtime hands over as JSON).
//!
//! Every error names the field by path and says what is wrong, e.g.
//! `model_groups[0].deployments[1].provider: unknown provider "gemni"
//! (expected one of: gemini)`. Unknown fields are errors too, so a typo never
//! silently falls back to a default.
//!
//! Deployments name the *secret* that holds their credential
//! (`credential = "GEMINI_API_KEY"`); the config never contains a secret.
//!
//! Config holds plain settings types only ([`RetrySettings`],
//! [`policy::Policy`], [`QuotaSettings`], …): it imports the base layer and
//! the rule syntaxes it validates with ([`crate::access`],
//! [`crate::origin`]), never a feature module; features (retry, route,
//! quota, …) import their settings from here.
//!
//! ```text
//! {
//!   "model_groups": [
//!     { "name": "veo-3.1-fast",
//!       "deployments": [
//!         { "id": "gemini-veo-fast", "provider": "gemini",
//!           "model": "veo-3.1-fast-generate-preview",
//!           "credential": "GEMINI_API_KEY" } ] } ],
//!   "access_groups": { "video": ["veo-*"] }
//! }
//! ```

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use serde_json::{Map, Value};

pub mod policy;

use crate::access::AccessGroups;
use crate::json::type_name;
use crate::origin::validate_patterns;
use crate::time::tz::TimeZone;
use policy::{Policy, Prices, POLICY_FIELDS};

/// Which upstream API a deployment talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Provider {
    /// The Gemini Developer API (`x-goog-api-key`): Veo, or Gemini Omni for
    /// `gemini-omni-*` models.
    Gemini,
    /// OpenAI's Videos API (Sora), `Authorization: Bearer`.
    OpenAi,
    /// Sora on Azure OpenAI (`{resource}.openai.azure.com/openai/v1/videos`, `api-key`).
    Azure,
    /// Vertex AI (Veo, or Gemini Omni for `gemini-omni-*` models), with OAuth
    /// tokens minted from a service-account key.
    VertexAi,
}

impl Provider {
    /// The name used in config.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Gemini => "gemini",
            Self::OpenAi => "openai",
            Self::Azure => "azure",
            Self::VertexAi => "vertex_ai",
        }
    }

    /// The public API base used when a deployment sets none (Azure has none:
    /// every resource has its own host).
    pub const fn default_api_base(self) -> Option<&'static str> {
        match self {
            Self::Gemini => Some("https://generativelanguage.googleapis.com"),
            Self::OpenAi => Some("https://api.openai.com"),
            // The host depends on the location: see `VertexSettings::default_api_base`.
            Self::Azure | Self::VertexAi => None,
        }
    }

    /// Video durations the provider's `model` accepts unless configured
    /// (Gemini Omni: 3–10 s; Veo: 4, 6, 8; Sora: 4, 8, 12).
    fn default_video_seconds(self, model: &str) -> &'static [u32] {
        match self {
            Self::Gemini | Self::VertexAi if is_omni_model(model) => &[3, 4, 5, 6, 7, 8, 9, 10],
            Self::Gemini | Self::VertexAi => &[4, 6, 8],
            Self::OpenAi | Self::Azure => &[4, 8, 12],
        }
    }

    const ALL: &'static [Provider] = &[
        Provider::Gemini,
        Provider::OpenAi,
        Provider::Azure,
        Provider::VertexAi,
    ];

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.as_str() == name)
    }
}

/// Upstream model ids that start with this are Gemini Omni, served through
/// the Interactions API rather than Veo's `predictLongRunning`.
pub const OMNI_MODEL_PREFIX: &str = "gemini-omni-";

/// Whether a Google `model` id is Gemini Omni ([`OMNI_MODEL_PREFIX`]).
pub fn is_omni_model(model: &str) -> bool {
    model.starts_with(OMNI_MODEL_PREFIX)
}

/// One upstream endpoint serving a model group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// Stable id, sealed into every id the gateway hands out for this deployment.
    pub id: String,
    /// Upstream API.
    pub provider: Provider,
    /// The upstream's model id (`veo-3.1-generate-preview`).
    pub model: String,
    /// Base URL without a trailing slash.
    pub api_base: String,
    /// Name of the secret holding the credential.
    pub credential: String,
    /// Relative routing weight (≥ 1).
    pub weight: u32,
    /// Video durations in seconds the upstream model accepts.
    pub video_seconds: Vec<u32>,
    /// Upstream request timeout in milliseconds.
    pub timeout_ms: u32,
    /// Vertex AI project, location and output storage (Vertex deployments only).
    pub vertex: Option<VertexSettings>,
    /// What this deployment charges (for key budgets).
    pub prices: Prices,
}

impl Deployment {
    /// Whether this is Gemini Omni (a `gemini` or `vertex_ai` deployment of
    /// a `gemini-omni-*` model), spoken to through the Interactions API.
    pub fn is_omni(&self) -> bool {
        matches!(self.provider, Provider::Gemini | Provider::VertexAi) && is_omni_model(&self.model)
    }
}

/// Where a Vertex AI deployment runs and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VertexSettings {
    /// Google Cloud project id.
    pub project: String,
    /// Region (`us-central1`) or `global`.
    pub location: String,
    /// `gs://bucket/prefix/` for outputs; without it Vertex answers with the
    /// video bytes inline (base64), which the gateway must then decode.
    pub storage_uri: Option<String>,
    /// Cloud Storage JSON API base (for `gs://` downloads).
    pub storage_api_base: String,
}

impl VertexSettings {
    /// Vertex's host for a location: `global` → `aiplatform.googleapis.com`,
    /// otherwise `{location}-aiplatform.googleapis.com`.
    pub fn default_api_base(location: &str) -> String {
        if location == "global" {
            String::from("https://aiplatform.googleapis.com")
        } else {
            format!("https://{location}-aiplatform.googleapis.com")
        }
    }
}

/// A public model name and the deployments that serve it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelGroup {
    /// The name clients send as `model`.
    pub name: String,
    /// At least one deployment.
    pub deployments: Vec<Deployment>,
    /// Groups tried in order when every deployment of this one failed.
    pub fallbacks: Vec<String>,
    /// The group clients should move to once the provider retires this
    /// one's model: named in the `410 model_retired` answer (it is not
    /// routed to; list it in `fallbacks` for that).
    pub successor: Option<String>,
}

/// The validated gateway config.
#[derive(Debug, Clone)]
pub struct Config {
    /// Model groups in config order.
    pub model_groups: Vec<ModelGroup>,
    /// Named access groups usable in key rules.
    pub access_groups: AccessGroups,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: u32,
    /// Model group used when a video request names none.
    pub default_video_model: Option<String>,
    /// Where quota days start and the limits of keys without their own.
    pub quota: QuotaSettings,
    /// Retries, fallbacks, cooldowns and the affinity policy.
    pub router: RouterSettings,
    /// Browser origins allowed for every key, and the preflight cache time.
    pub cors: CorsSettings,
}

/// The `cors` section (see `crate::cors`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsSettings {
    /// Origin patterns every key may be used from, on top of each key's own
    /// `allowed_origins` (default: none).
    pub allowed_origins: Vec<String>,
    /// `Access-Control-Max-Age` of preflight answers, seconds.
    pub max_age_secs: u32,
}

impl Default for CorsSettings {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            max_age_secs: DEFAULT_CORS_MAX_AGE_SECS,
        }
    }
}

/// How hard to try: the `router` section's retry fields, used by
/// [`crate::retry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySettings {
    /// Upstream calls per client request, first one included.
    pub max_attempts: u32,
    /// Longest upstream-requested delay the gateway waits out itself; a
    /// longer one is returned to the client with its `Retry-After`.
    pub max_wait_ms: u64,
    /// First backoff delay when the upstream gave none.
    pub backoff_base_ms: u64,
    /// Largest backoff delay.
    pub backoff_max_ms: u64,
    /// How long a failing deployment is skipped when the upstream gave no delay.
    pub cooldown_ms: u64,
    /// No new attempt starts after this long since the request began.
    pub deadline_ms: u64,
    /// How long a deployment whose provider said its model is retired is
    /// left out of new work (per isolate; a config change starts new ones).
    pub retired_cooldown_ms: u64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            max_wait_ms: 10_000,
            backoff_base_ms: 250,
            backoff_max_ms: 4_000,
            cooldown_ms: 30_000,
            deadline_ms: 60_000,
            retired_cooldown_ms: 24 * 60 * 60 * 1000,
        }
    }
}

/// The `router` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RouterSettings {
    /// How hard to try (see `retry`).
    pub retry: RetrySettings,
    /// What to do when the deployment holding a request's state is unavailable.
    pub affinity_unavailable: AffinityUnavailable,
}

/// Policy for a request pinned to a deployment that is unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AffinityUnavailable {
    /// Answer `503 pinned_deployment_unavailable` (the default: the
    /// conversation's reasoning is never silently dropped).
    #[default]
    Fail,
    /// Drop the undecryptable reasoning/compaction items and route normally.
    Strip,
}

/// The `quota` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaSettings {
    /// The IANA time zone whose midnight starts a quota day (default UTC).
    pub time_zone: TimeZone,
    /// Limits for keys that set none of their own (default: unlimited).
    pub defaults: Policy,
    /// Usage snapshots go to KV at most this often per key (seconds).
    pub snapshot_interval_secs: u32,
}

impl Default for QuotaSettings {
    fn default() -> Self {
        Self {
            time_zone: TimeZone::UTC,
            defaults: Policy::default(),
            snapshot_interval_secs: 60,
        }
    }
}

impl Config {
    /// Parses and validates the config from its JSON text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| ConfigError::new("", format!("not valid JSON: {e}")))?;
        Self::from_value(&value)
    }

    /// Validates an already-parsed JSON value.
    pub fn from_value(value: &Value) -> Result<Self, ConfigError> {
        let root = Obj::new(value, String::new())?;
        root.deny_unknown(&[
            "model_groups",
            "access_groups",
            "max_body_bytes",
            "default_video_model",
            "quota",
            "router",
            "cors",
        ])?;

        let mut model_groups = Vec::new();
        let groups = root.required_array("model_groups")?;
        if groups.is_empty() {
            return Err(ConfigError::new(
                "model_groups",
                "must list at least one model group",
            ));
        }
        let mut deployment_ids: Vec<String> = Vec::new();
        for (i, group) in groups.iter().enumerate() {
            let path = format!("model_groups[{i}]");
            let group = parse_group(group, &path, &mut deployment_ids)?;
            if model_groups
                .iter()
                .any(|g: &ModelGroup| g.name == group.name)
            {
                return Err(ConfigError::new(
                    format!("{path}.name"),
                    format!("duplicate model group name {:?}", group.name),
                ));
            }
            model_groups.push(group);
        }

        let mut access_groups = AccessGroups::new();
        if let Some(value) = root.get("access_groups") {
            let obj = Obj::new(value, "access_groups".to_owned())?;
            for (name, patterns) in obj.map {
                let path = format!("access_groups.{name}");
                if model_groups.iter().any(|g| &g.name == name) {
                    return Err(ConfigError::new(
                        path,
                        "an access group may not share its name with a model group",
                    ));
                }
                let patterns = string_list(patterns, &path)?;
                access_groups
                    .insert(name.clone(), patterns)
                    .map_err(|e| ConfigError::new(path, format!("{e}")))?;
            }
        }

        let max_body_bytes = root
            .optional_u32("max_body_bytes", 1024, 100 * 1024 * 1024)?
            .unwrap_or(DEFAULT_MAX_BODY_BYTES);
        let default_video_model = root
            .optional_str("default_video_model")?
            .map(ToOwned::to_owned);
        if let Some(name) = &default_video_model {
            if !model_groups.iter().any(|g| &g.name == name) {
                return Err(ConfigError::new(
                    "default_video_model",
                    format!("names model group {name:?}, which is not configured"),
                ));
            }
        }
        for (i, group) in groups.iter().enumerate() {
            let fallbacks = Obj::new(group, format!("model_groups[{i}]"))?
                .get("fallbacks")
                .map(|v| string_list(v, &format!("model_groups[{i}].fallbacks")))
                .transpose()?
                .unwrap_or_default();
            for name in &fallbacks {
                if name == &model_groups[i].name || !model_groups.iter().any(|g| &g.name == name) {
                    return Err(ConfigError::new(
                        format!("model_groups[{i}].fallbacks"),
                        format!("names {name:?}, which is not another configured model group"),
                    ));
                }
            }
            model_groups[i].fallbacks = fallbacks;
            let successor = Obj::new(group, format!("model_groups[{i}]"))?
                .optional_str("successor")?
                .map(ToOwned::to_owned);
            if let Some(name) = &successor {
                if name == &model_groups[i].name || !model_groups.iter().any(|g| &g.name == name) {
                    return Err(ConfigError::new(
                        format!("model_groups[{i}].successor"),
                        format!("names {name:?}, which is not another configured model group"),
                    ));
                }
            }
            model_groups[i].successor = successor;
        }
        let router = match root.get("router") {
            Some(value) => parse_router(value)?,
            None => RouterSettings::default(),
        };
        let quota = match root.get("quota") {
            Some(value) => parse_quota(value)?,
            None => QuotaSettings::default(),
        };
        let cors = match root.get("cors") {
            Some(value) => parse_cors(value)?,
            None => CorsSettings::default(),
        };
        Ok(Self {
            model_groups,
            access_groups,
            max_body_bytes,
            default_video_model,
            quota,
            router,
            cors,
        })
    }

    /// The model group called `name`, if configured.
    pub fn group(&self, name: &str) -> Option<&ModelGroup> {
        self.model_groups.iter().find(|g| g.name == name)
    }

    /// The deployment with this id, and its group.
    pub fn deployment(&self, id: &str) -> Option<(&ModelGroup, &Deployment)> {
        self.model_groups
            .iter()
            .find_map(|g| g.deployments.iter().find(|d| d.id == id).map(|d| (g, d)))
    }

    /// Every secret name the config references, deduplicated.
    pub fn credential_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for d in self.model_groups.iter().flat_map(|g| &g.deployments) {
            if !names.contains(&d.credential.as_str()) {
                names.push(&d.credential);
            }
        }
        names
    }
}

/// Default `cors.max_age_seconds` (`Access-Control-Max-Age`; Chromium
/// caps it at 7200).
pub const DEFAULT_CORS_MAX_AGE_SECS: u32 = 600;

/// Default request body limit: 20 MiB (video reference images fit; the
/// Workers platform caps bodies at 100 MB).
pub const DEFAULT_MAX_BODY_BYTES: u32 = 20 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS: u32 = 30_000;

fn parse_group(
    value: &Value,
    path: &str,
    deployment_ids: &mut Vec<String>,
) -> Result<ModelGroup, ConfigError> {
    let obj = Obj::new(value, path.to_owned())?;
    obj.deny_unknown(&["name", "deployments", "fallbacks", "successor"])?;
    let name = obj.required_str("name")?;
    check_model_name(name, &format!("{path}.name"))?;
    let list = obj.required_array("deployments")?;
    if list.is_empty() {
        return Err(ConfigError::new(
            format!("{path}.deployments"),
            "must list at least one deployment",
        ));
    }
    let mut deployments = Vec::with_capacity(list.len());
    for (j, dep) in list.iter().enumerate() {
        let dpath = format!("{path}.deployments[{j}]");
        let dep = parse_deployment(dep, &dpath)?;
        if deployment_ids.contains(&dep.id) {
            return Err(ConfigError::new(
                format!("{dpath}.id"),
                format!("duplicate deployment id {:?}", dep.id),
            ));
        }
        deployment_ids.push(dep.id.clone());
        deployments.push(dep);
    }
    Ok(ModelGroup {
        name: name.to_owned(),
        deployments,
        fallbacks: Vec::new(),
        successor: None,
    })
}

fn parse_deployment(value: &Value, path: &str) -> Result<Deployment, ConfigError> {
    let obj = Obj::new(value, path.to_owned())?;
    obj.deny_unknown(&[
        "id",
        "provider",
        "model",
        "api_base",
        "credential",
        "weight",
        "video_seconds",
        "timeout_ms",
        "project",
        "location",
        "storage_uri",
        "storage_api_base",
        "prices",
    ])?;
    let id = obj.required_str("id")?;
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(ConfigError::new(
            format!("{path}.id"),
            "must be 1..64 characters of letters, digits, '-', '_' or '.'",
        ));
    }
    let provider_name = obj.required_str("provider")?;
    let provider = Provider::parse(provider_name).ok_or_else(|| {
        let known: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
        ConfigError::new(
            format!("{path}.provider"),
            format!(
                "unknown provider {provider_name:?} (expected one of: {})",
                known.join(", ")
            ),
        )
    })?;
    let model = obj.required_str("model")?;
    check_model_name(model, &format!("{path}.model"))?;
    let api_base = match obj.optional_str("api_base")? {
        Some(base) => {
            let trimmed = base.trim_end_matches('/');
            if !(trimmed.starts_with("https://") || trimmed.starts_with("http://"))
                || trimmed.contains(['?', '#', ' '])
            {
                return Err(ConfigError::new(
                    format!("{path}.api_base"),
                    format!("must be an http(s) URL without query or fragment, got {base:?}"),
                ));
            }
            trimmed.to_owned()
        }
        None if provider == Provider::VertexAi => VertexSettings::default_api_base(
            obj.optional_str("location")?
                .unwrap_or(DEFAULT_VERTEX_LOCATION),
        ),
        None => provider
            .default_api_base()
            .map(ToOwned::to_owned)
            .ok_or_else(|| {
                ConfigError::new(
                    format!("{path}.api_base"),
                    format!(
                        "is required for {} deployments (e.g. https://<resource>.openai.azure.com)",
                        provider.as_str()
                    ),
                )
            })?,
    };
    let credential = obj.required_str("credential")?;
    if credential.is_empty()
        || !credential
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(ConfigError::new(
            format!("{path}.credential"),
            "must be the NAME of a secret (A-Z, 0-9, _), never the secret itself",
        ));
    }
    let weight = obj.optional_u32("weight", 1, 1_000_000)?.unwrap_or(1);
    let timeout_ms = obj
        .optional_u32("timeout_ms", 100, 600_000)?
        .unwrap_or(DEFAULT_TIMEOUT_MS);
    let video_seconds = match obj.get("video_seconds") {
        None => provider.default_video_seconds(model).to_vec(),
        Some(Value::Array(items)) if !items.is_empty() => {
            let mut out = Vec::with_capacity(items.len());
            for (k, item) in items.iter().enumerate() {
                match item.as_u64() {
                    Some(s @ 1..=60) => out.push(s as u32),
                    _ => {
                        return Err(ConfigError::new(
                            format!("{path}.video_seconds[{k}]"),
                            "must be an integer number of seconds in 1..=60",
                        ))
                    }
                }
            }
            out
        }
        Some(_) => {
            return Err(ConfigError::new(
                format!("{path}.video_seconds"),
                "must be a non-empty array of integers",
            ))
        }
    };
    let vertex = parse_vertex(&obj, path, provider)?;
    let prices = match obj.get("prices") {
        None => Prices::default(),
        Some(Value::Object(table)) => Prices::parse(table).map_err(|e| {
            let field = if e.field == "prices" {
                format!("{path}.prices")
            } else {
                format!("{path}.prices.{}", e.field)
            };
            ConfigError::new(field, e.reason)
        })?,
        Some(other) => {
            return Err(ConfigError::new(
                format!("{path}.prices"),
                format!("expected an object, got {}", type_name(other)),
            ))
        }
    };
    Ok(Deployment {
        vertex,
        prices,
        id: id.to_owned(),
        provider,
        model: model.to_owned(),
        api_base,
        credential: credential.to_owned(),
        weight,
        video_seconds,
        timeout_ms,
    })
}

fn parse_router(value: &Value) -> Result<RouterSettings, ConfigError> {
    let obj = Obj::new(value, "router".to_owned())?;
    obj.deny_unknown(&[
        "max_attempts",
        "max_retry_wait_ms",
        "backoff_base_ms",
        "backoff_max_ms",
        "cooldown_ms",
        "deadline_ms",
        "retired_cooldown_ms",
        "affinity_unavailable",
    ])?;
    let d = RetrySettings::default();
    let ms = |name: &str, default: u64| -> Result<u64, ConfigError> {
        Ok(obj
            .optional_u32(name, 0, 600_000)?
            .map_or(default, u64::from))
    };
    let retry = RetrySettings {
        max_attempts: obj
            .optional_u32("max_attempts", 1, 10)?
            .unwrap_or(d.max_attempts),
        max_wait_ms: ms("max_retry_wait_ms", d.max_wait_ms)?,
        backoff_base_ms: ms("backoff_base_ms", d.backoff_base_ms)?,
        backoff_max_ms: ms("backoff_max_ms", d.backoff_max_ms)?,
        cooldown_ms: ms("cooldown_ms", d.cooldown_ms)?,
        deadline_ms: ms("deadline_ms", d.deadline_ms)?,
        retired_cooldown_ms: obj
            .optional_u32("retired_cooldown_ms", 0, 7 * 24 * 60 * 60 * 1000)?
            .map_or(d.retired_cooldown_ms, u64::from),
    };
    let affinity_unavailable = match obj.optional_str("affinity_unavailable")? {
        None | Some("fail") => AffinityUnavailable::Fail,
        Some("strip") => AffinityUnavailable::Strip,
        Some(other) => {
            return Err(ConfigError::new(
                "router.affinity_unavailable",
                format!("{other:?} is not a policy (expected \"fail\" or \"strip\")"),
            ))
        }
    };
    Ok(RouterSettings {
        retry,
        affinity_unavailable,
    })
}

fn parse_cors(value: &Value) -> Result<CorsSettings, ConfigError> {
    let obj = Obj::new(value, "cors".to_owned())?;
    obj.deny_unknown(&["allowed_origins", "max_age_seconds"])?;
    let allowed_origins = match obj.get("allowed_origins") {
        None => Vec::new(),
        Some(value) => {
            let list = string_list(value, "cors.allowed_origins")?;
            validate_patterns(&list).map_err(|(i, e)| {
                ConfigError::new(format!("cors.allowed_origins[{i}]"), e.reason)
            })?
        }
    };
    Ok(CorsSettings {
        allowed_origins,
        max_age_secs: obj
            .optional_u32("max_age_seconds", 0, 86_400)?
            .unwrap_or(DEFAULT_CORS_MAX_AGE_SECS),
    })
}

fn parse_quota(value: &Value) -> Result<QuotaSettings, ConfigError> {
    let obj = Obj::new(value, "quota".to_owned())?;
    obj.deny_unknown(&["time_zone", "defaults", "snapshot_interval_seconds"])?;
    let time_zone = match obj.optional_str("time_zone")? {
        None => TimeZone::UTC,
        Some(name) => TimeZone::by_name(name).ok_or_else(|| {
            ConfigError::new(
                "quota.time_zone",
                format!("{name:?} is not an IANA time zone name (such as \"UTC\" or \"America/Los_Angeles\")"),
            )
        })?,
    };
    let mut defaults = Policy::default();
    if let Some(value) = obj.get("defaults") {
        let table = Obj::new(value, "quota.defaults".to_owned())?;
        table.deny_unknown(POLICY_FIELDS)?;
        defaults
            .apply_fields(table.map)
            .map_err(|e| ConfigError::new(format!("quota.defaults.{}", e.field), e.reason))?;
    }
    Ok(QuotaSettings {
        time_zone,
        defaults,
        snapshot_interval_secs: obj
            .optional_u32("snapshot_interval_seconds", 60, 86_400)?
            .unwrap_or(60),
    })
}

/// Vertex's default region, as Google's SDKs use.
const DEFAULT_VERTEX_LOCATION: &str = "us-central1";

fn parse_vertex(
    obj: &Obj<'_>,
    path: &str,
    provider: Provider,
) -> Result<Option<VertexSettings>, ConfigError> {
    let names = ["project", "location", "storage_uri", "storage_api_base"];
    if provider != Provider::VertexAi {
        if let Some(name) = names.iter().find(|n| obj.get(n).is_some()) {
            return Err(ConfigError::new(
                format!("{path}.{name}"),
                "only applies to vertex_ai deployments",
            ));
        }
        return Ok(None);
    }
    let plain = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let project = obj.required_str("project")?;
    if !plain(project) {
        return Err(ConfigError::new(
            format!("{path}.project"),
            "must be a project id (lowercase letters, digits, '-')",
        ));
    }
    let location = obj
        .optional_str("location")?
        .unwrap_or(DEFAULT_VERTEX_LOCATION);
    if !plain(location) {
        return Err(ConfigError::new(
            format!("{path}.location"),
            "must be a region like us-central1, or global",
        ));
    }
    let storage_uri = match obj.optional_str("storage_uri")? {
        Some(uri)
            if uri.starts_with("gs://") && uri.len() > 5 && !uri.contains(['?', '#', ' ']) =>
        {
            Some(uri.to_owned())
        }
        Some(_) => {
            return Err(ConfigError::new(
                format!("{path}.storage_uri"),
                "must be a gs://bucket/prefix/ URI",
            ))
        }
        None => None,
    };
    let storage_api_base = match obj.optional_str("storage_api_base")? {
        Some(base) if base.starts_with("https://") || base.starts_with("http://") => {
            base.trim_end_matches('/').to_owned()
        }
        Some(_) => {
            return Err(ConfigError::new(
                format!("{path}.storage_api_base"),
                "must be an http(s) URL",
            ))
        }
        None => String::from("https://storage.googleapis.com"),
    };
    Ok(Some(VertexSettings {
        project: project.to_owned(),
        location: location.to_owned(),
        storage_uri,
        storage_api_base,
    }))
}

fn check_model_name(name: &str, path: &str) -> Result<(), ConfigError> {
    if name.is_empty()
        || name.len() > 128
        || name
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b == b'*')
    {
        return Err(ConfigError::new(
            path,
            format!("{name:?} is not a valid model name (1..128 characters, no whitespace or '*')"),
        ));
    }
    Ok(())
}

fn string_list(value: &Value, path: &str) -> Result<Vec<String>, ConfigError> {
    let Value::Array(items) = value else {
        return Err(ConfigError::new(
            path,
            format!("expected an array of strings, got {}", type_name(value)),
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str().map(ToOwned::to_owned).ok_or_else(|| {
                ConfigError::new(
                    format!("{path}[{i}]"),
                    format!("expected a string, got {}", type_name(v)),
                )
            })
        })
        .collect()
}

/// A JSON object being validated, with its path for error messages.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    fn new(value: &'a Value, path: String) -> Result<Self, ConfigError> {
        match value {
            Value::Object(map) => Ok(Self { map, path }),
            other => Err(ConfigError::new(
                path,
                format!("expected an object, got {}", type_name(other)),
            )),
        }
    }

    fn field(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    fn deny_unknown(&self, known: &[&str]) -> Result<(), ConfigError> {
        match self.map.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(ConfigError::new(
                self.field(k),
                format!("unknown field (expected one of: {})", known.join(", ")),
            )),
            None => Ok(()),
        }
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn required_str(&self, name: &str) -> Result<&'a str, ConfigError> {
        match self.get(name) {
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(ConfigError::new(
                self.field(name),
                format!("expected a string, got {}", type_name(other)),
            )),
            None => Err(ConfigError::new(self.field(name), "is required")),
        }
    }

    fn optional_str(&self, name: &str) -> Result<Option<&'a str>, ConfigError> {
        match self.get(name) {
            Some(_) => self.required_str(name).map(Some),
            None => Ok(None),
        }
    }

    fn required_array(&self, name: &str) -> Result<&'a Vec<Value>, ConfigError> {
        match self.get(name) {
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(ConfigError::new(
                self.field(name),
                format!("expected an array, got {}", type_name(other)),
            )),
            None => Err(ConfigError::new(self.field(name), "is required")),
        }
    }

    fn optional_u32(&self, name: &str, min: u32, max: u32) -> Result<Option<u32>, ConfigError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n >= u64::from(min) && n <= u64::from(max) => Ok(Some(n as u32)),
                _ => Err(ConfigError::new(
                    self.field(name),
                    format!("expected an integer in {min}..={max}"),
                )),
            },
        }
    }
}

/// A config problem: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted path of the field at fault (`model_groups[0].deployments[1].provider`); empty for the whole document.
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    /// A problem with the field at `path`.
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "REELAY_CONFIG: {}", self.reason)
        } else {
            write!(f, "REELAY_CONFIG.{}: {}", self.path, self.reason)
        }
    }
}

impl core::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{
      "model_groups": [
        {"name": "veo-3.1-fast", "deployments": [
          {"id": "g1", "provider": "gemini", "model": "veo-3.1-fast-generate-preview", "credential": "GEMINI_API_KEY"},
          {"id": "g2", "provider": "gemini", "model": "veo-3.1-fast-generate-preview", "credential": "GEMINI_API_KEY_2",
           "api_base": "http://127.0.0.1:9000/", "weight": 3, "video_seconds": [8]}
        ]}
      ],
      "access_groups": {"video": ["veo-*"]},
      "default_video_model": "veo-3.1-fast"
    }"#;

    #[test]
    fn parses_a_good_config() {
        let cfg = Config::parse(GOOD).unwrap();
        let group = cfg.group("veo-3.1-fast").unwrap();
        assert_eq!(group.deployments.len(), 2);
        assert_eq!(
            group.deployments[0].api_base,
            "https://generativelanguage.googleapis.com"
        );
        assert_eq!(group.deployments[1].api_base, "http://127.0.0.1:9000");
        assert_eq!(group.deployments[1].weight, 3);
        assert_eq!(group.deployments[0].video_seconds, std::vec![4, 6, 8]);
        assert_eq!(cfg.deployment("g2").unwrap().1.video_seconds, std::vec![8]);
        assert_eq!(
            cfg.credential_names(),
            std::vec!["GEMINI_API_KEY", "GEMINI_API_KEY_2"]
        );
        assert!(cfg.access_groups.contains("video"));
        assert_eq!(cfg.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
    }

    fn err(text: &str) -> String {
        std::format!("{}", Config::parse(text).unwrap_err())
    }

    #[test]
    fn vertex_deployments_get_their_host_from_the_location() {
        let cfg = Config::parse(
            r#"{"model_groups":[{"name":"v","deployments":[
              {"id":"a","provider":"vertex_ai","model":"veo-3.1-generate-001","credential":"SA","project":"my-proj"},
              {"id":"b","provider":"vertex_ai","model":"veo-3.1-generate-001","credential":"SA","project":"my-proj","location":"global","storage_uri":"gs://out/veo/"}]}]}"#,
        )
        .unwrap();
        let deps = &cfg.model_groups[0].deployments;
        assert_eq!(
            deps[0].api_base,
            "https://us-central1-aiplatform.googleapis.com"
        );
        assert_eq!(deps[1].api_base, "https://aiplatform.googleapis.com");
        let v = deps[1].vertex.as_ref().unwrap();
        assert_eq!(
            (v.location.as_str(), v.storage_uri.as_deref()),
            ("global", Some("gs://out/veo/"))
        );
        assert_eq!(v.storage_api_base, "https://storage.googleapis.com");
        for (extra, field) in [
            (r#""project":"p""#, "project"),
            (r#""storage_uri":"gs://b/""#, "storage_uri"),
        ] {
            let text = std::format!(
                r#"{{"model_groups":[{{"name":"g","deployments":[{{"id":"a","provider":"gemini","model":"m","credential":"K",{extra}}}]}}]}}"#
            );
            assert_eq!(
                Config::parse(&text).unwrap_err().path,
                std::format!("model_groups[0].deployments[0].{field}")
            );
        }
        let missing = r#"{"model_groups":[{"name":"g","deployments":[{"id":"a","provider":"vertex_ai","model":"m","credential":"K"}]}]}"#;
        assert_eq!(
            Config::parse(missing).unwrap_err().path,
            "model_groups[0].deployments[0].project"
        );
    }

    #[test]
    fn errors_name_the_field_and_reason() {
        let cases = [
            ("{", "REELAY_CONFIG: not valid JSON"),
            ("[]", "REELAY_CONFIG: expected an object, got an array"),
            ("{}", "REELAY_CONFIG.model_groups: is required"),
            (r#"{"model_groups": []}"#, "REELAY_CONFIG.model_groups: must list at least one"),
            (r#"{"model_groups": [], "modle_groups": 1}"#, "REELAY_CONFIG.modle_groups: unknown field"),
            (r#"{"model_groups": [{"name": "a"}]}"#, "REELAY_CONFIG.model_groups[0].deployments: is required"),
            (
                r#"{"model_groups": [{"name": "a", "deployments": [{"id": "x", "provider": "gemni", "model": "m", "credential": "K"}]}]}"#,
                "REELAY_CONFIG.model_groups[0].deployments[0].provider: unknown provider \"gemni\" (expected one of: gemini, openai, azure, vertex_ai)",
            ),
            (
                r#"{"model_groups": [{"name": "a", "deployments": [{"id": "x", "provider": "gemini", "model": "m", "credential": "AIzaSyD-secret"}]}]}"#,
                "REELAY_CONFIG.model_groups[0].deployments[0].credential: must be the NAME of a secret",
            ),
            (
                r#"{"model_groups": [{"name": "a", "deployments": [{"id": "x", "provider": "gemini", "model": "m", "credential": "K", "weight": 0}]}]}"#,
                "REELAY_CONFIG.model_groups[0].deployments[0].weight: expected an integer in 1..=1000000",
            ),
            (
                r#"{"model_groups": [{"name": "a", "deployments": [{"id": "x", "provider": "gemini", "model": "m", "credential": "K"}]},
                                     {"name": "b", "deployments": [{"id": "x", "provider": "gemini", "model": "m", "credential": "K"}]}]}"#,
                "REELAY_CONFIG.model_groups[1].deployments[0].id: duplicate deployment id \"x\"",
            ),
            (
                r#"{"model_groups": [{"name": "a", "deployments": [{"id": "x", "provider": "gemini", "model": "m", "credential": "K"}]}], "cors": {"allowed_origins": ["https://ok.example.com", "https://*.com"]}}"#,
                "REELAY_CONFIG.cors.allowed_origins[1]: `*.com` is too broad",
            ),
            (
                r#"{"model_groups": [{"name": "a", "deployments": [{"id": "x", "provider": "gemini", "model": "m", "credential": "K"}]}], "cors": {"origins": []}}"#,
                "REELAY_CONFIG.cors.origins: unknown field",
            ),
            (
                r#"{"model_groups": [{"name": "a b", "deployments": []}]}"#,
                "REELAY_CONFIG.model_groups[0].name: \"a b\" is not a valid model name",
            ),
            (
                r#"{"model_groups": [{"name": "a", "deployments": [{"id": "x", "provider": "azure", "model": "sora-2", "credential": "K"}]}]}"#,
                "REELAY_CONFIG.model_groups[0].deployments[0].api_base: is required for azure deployments",
            ),
            (
                r#"{"model_groups": [{"name": "a", "deployments": [{"id": "x", "provider": "gemini", "model": "m", "credential": "K", "api_base": "ftp://x"}]}]}"#,
                "REELAY_CONFIG.model_groups[0].deployments[0].api_base: must be an http(s) URL",
            ),
            (
                r#"{"model_groups": [{"name": "a", "deployments": [{"id": "x", "provider": "gemini", "model": "m", "credential": "K"}]}], "access_groups": {"a": ["x"]}}"#,
                "REELAY_CONFIG.access_groups.a: an access group may not share its name",
            ),
            (
                r#"{"model_groups": [{"name": "a", "deployments": [{"id": "x", "provider": "gemini", "model": "m", "credential": "K"}]}], "default_video_model": "b"}"#,
                "REELAY_CONFIG.default_video_model: names model group \"b\", which is not configured",
            ),
            (
                r#"{"model_groups": [{"name": "a", "deployments": [{"id": "x", "provider": "gemini", "model": "m", "credential": "K"}]}], "quota": {"time_zone": "Mars/Olympus"}}"#,
                "REELAY_CONFIG.quota.time_zone: \"Mars/Olympus\" is not an IANA time zone name",
            ),
            (
                r#"{"model_groups": [{"name": "a", "deployments": [{"id": "x", "provider": "gemini", "model": "m", "credential": "K"}]}], "quota": {"defaults": {"rpm": "fast"}}}"#,
                "REELAY_CONFIG.quota.defaults.rpm: must be an integer",
            ),
            (
                r#"{"model_groups": [{"name": "a", "deployments": [{"id": "x", "provider": "gemini", "model": "m", "credential": "K"}]}], "quota": {"defaults": {"rpn": 5}}}"#,
                "REELAY_CONFIG.quota.defaults.rpn: unknown field",
            ),
            (
                r#"{"model_groups": [{"name": "a", "deployments": [{"id": "x", "provider": "gemini", "model": "m", "credential": "K", "prices": {"video_per_second": -1}}]}]}"#,
                "REELAY_CONFIG.model_groups[0].deployments[0].prices.video_per_second: must be a non-negative number",
            ),
        ];
        for (text, expected) in cases {
            let got = err(text);
            assert!(
                got.starts_with(expected),
                "for {text}\n got: {got}\nwant: {expected}"
            );
        }
    }

    #[test]
    fn successors_name_another_group_and_retired_cooldowns_are_bounded() {
        let two = |a_extra: &str, router: &str| {
            std::format!(
                r#"{{"model_groups": [
                  {{"name": "a", {a_extra} "deployments": [{{"id": "x", "provider": "gemini", "model": "m", "credential": "K"}}]}},
                  {{"name": "b", "deployments": [{{"id": "y", "provider": "vertex_ai", "model": "m", "credential": "K", "project": "p"}}]}}]
                  {router}}}"#
            )
        };
        let cfg = Config::parse(&two(r#""successor": "b","#, "")).unwrap();
        assert_eq!(cfg.group("a").unwrap().successor.as_deref(), Some("b"));
        assert_eq!(cfg.group("b").unwrap().successor, None);
        assert_eq!(cfg.router.retry.retired_cooldown_ms, 86_400_000);
        let cfg =
            Config::parse(&two("", r#", "router": {"retired_cooldown_ms": 3600000}"#)).unwrap();
        assert_eq!(cfg.router.retry.retired_cooldown_ms, 3_600_000);
        for (extra, router, want) in [
            (r#""successor": "c","#, "", "REELAY_CONFIG.model_groups[0].successor: names \"c\", which is not another configured model group"),
            (r#""successor": "a","#, "", "REELAY_CONFIG.model_groups[0].successor: names \"a\""),
            (r#""successor": 3,"#, "", "REELAY_CONFIG.model_groups[0].successor: expected a string"),
            ("", r#", "router": {"retired_cooldown_ms": 604800001}"#, "REELAY_CONFIG.router.retired_cooldown_ms: expected an integer in 0..=604800000"),
        ] {
            let got = err(&two(extra, router));
            assert!(got.starts_with(want), "got: {got}\nwant: {want}");
        }
    }

    #[test]
    fn quota_settings_and_prices() {
        let config = Config::parse(
            r#"{"model_groups": [{"name": "a", "deployments": [{"id": "x", "provider": "gemini", "model": "m", "credential": "K",
                "prices": {"video_per_second_by_resolution": {"720p": 0.1}}}]}],
                "quota": {"time_zone": "America/Los_Angeles", "defaults": {"rpm": 60, "max_budget": 10, "budget_duration": "30d"},
                          "snapshot_interval_seconds": 900}}"#,
        )
        .unwrap();
        assert_eq!(config.quota.time_zone.name(), "America/Los_Angeles");
        assert!(config.cors.allowed_origins.is_empty());
        assert_eq!(config.cors.max_age_secs, 600);
        assert_eq!(config.quota.defaults.rpm, Some(60));
        assert_eq!(config.quota.defaults.max_budget_micros, Some(10_000_000));
        assert_eq!(config.quota.snapshot_interval_secs, 900);
        let dep = &config.model_groups[0].deployments[0];
        assert_eq!(dep.prices.video(8, Some(720)), 800_000);
        let plain = Config::parse(
            r#"{"model_groups": [{"name": "a", "deployments": [{"id": "x", "provider": "gemini", "model": "m", "credential": "K"}]}]}"#,
        )
        .unwrap();
        assert_eq!(plain.quota, QuotaSettings::default());
        assert_eq!(plain.quota.time_zone.name(), "UTC");
    }
}

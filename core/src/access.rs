//! Model access rules on virtual keys: parsing, validating, compiling and
//! matching them.
//!
//! This module owns the question "may this key use the model the client
//! asked for?". A key record carries a list of rule strings, for example
//! `["gemini/*", "veo-3.1-*", "!veo-3.1-lite*", "group:video", "sora-2"]`.
//! [`AccessPolicy::compile`] turns that list, once, into an [`AccessPolicy`];
//! [`AccessPolicy::allows`] then answers for a requested model name without
//! allocating. [`validate_rule`] lets the admin API reject a bad rule before
//! it is stored; [`AccessGroups`] holds the named groups of patterns that
//! the gateway config defines.
//!
//! # Matching is by pattern only
//!
//! The name matched is the *requested model name* (the model-group name the
//! client sent), and a rule matches it purely by its pattern. Nothing here
//! consults a list of known models. (LiteLLM once checked `anthropic/*` by
//! looking the model up in a provider model set cached at startup, so a model
//! added to the config later was denied until a restart.) Here a model added
//! to the config later is allowed by a matching pattern with no reload.
//!
//! # Pattern syntax
//!
//! - `*` is the only special character. It matches any sequence of
//!   characters, including the empty one and including `/`. A pattern may
//!   hold several stars (`*-preview*`); `*` alone matches every model.
//! - Every other character is literal: `.`, `?`, `[`, `]`, `+`, `\`, `(` and
//!   the rest match only themselves. `veo-3.1-*` does not match
//!   `veo-301-fast`.
//! - Matching is case-sensitive and covers the whole name (anchored at both
//!   ends): `gemini/*` matches `gemini/veo-3.1-generate-preview` but neither
//!   `gemini` nor `geminiz/x`.
//!
//! # Rules
//!
//! - `PATTERN` allows the models it matches.
//! - `!PATTERN` denies them. **A deny always wins over any allow.**
//! - `group:NAME` allows every pattern of the access group `NAME` defined in
//!   the gateway config ([`AccessGroups`]); `!group:NAME` denies the whole
//!   group. Naming a group that is not defined is a compile error
//!   ([`RuleErrorKind::UnknownGroup`]).
//! - For LiteLLM compatibility, a bare rule exactly equal to the name of a
//!   defined group (`video`) also means that group, and `!video` denies it.
//!   This takes precedence over reading the rule as a literal model name.
//!   Group names never contain `*`, so wildcard rules are never group names.
//! - **An empty rule list allows every model.** This matches LiteLLM, where
//!   an empty `models` list means "all models". Likewise a list holding only
//!   deny rules allows every model except the denied ones. As soon as there
//!   is at least one allow rule (a pattern or a group reference), only what
//!   the allow rules match is allowed, so a reference to a group with no
//!   patterns grants nothing.
//!
//! # Validation
//!
//! A rule (and each pattern of a group) must be non-empty, at most
//! [`MAX_RULE_LEN`] bytes, free of whitespace and control characters; `!`
//! alone is empty. A key holds at most [`MAX_RULES`] rules. Failures are a
//! [`RuleError`] carrying the offending text and a [`RuleErrorKind`] whose
//! [`as_str`](RuleErrorKind::as_str) code is stable.
//!
//! # How matching works
//!
//! Each pattern is compiled into literal pieces: a prefix, middle pieces and
//! a suffix (the text between stars). A name matches when it starts with the
//! prefix, ends with the suffix and the middle pieces occur in order, without
//! overlap, in what lies between; finding each piece at its leftmost
//! occurrence is correct for globs whose only wildcard is `*`. Star-free
//! patterns go into a sorted list searched in `O(log n)`, and a `*` pattern
//! short-circuits the whole set.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// The most rules one key may hold.
pub const MAX_RULES: usize = 256;

/// The longest rule (or group pattern, or group name) accepted, in bytes.
pub const MAX_RULE_LEN: usize = 256;

/// The most patterns one access group may hold.
pub const MAX_GROUP_PATTERNS: usize = 1024;

/// The prefix of a rule that refers to an access group.
pub const GROUP_PREFIX: &str = "group:";

/// The prefix of a deny rule.
pub const DENY_PREFIX: char = '!';

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why a rule, group pattern or group name was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleErrorKind {
    /// The rule is empty, or is `!` (or `group:`) with nothing after it.
    Empty,
    /// The rule contains a whitespace character.
    Whitespace,
    /// The rule is longer than [`MAX_RULE_LEN`] bytes.
    TooLong,
    /// The rule contains a control character.
    ControlCharacter,
    /// The rule refers (by `group:NAME`) to a group that is not defined.
    UnknownGroup,
    /// A group pattern is itself a deny or a group reference; or a rule is a
    /// double deny (`!!x`); or a group name contains `*`, starts with `!` or
    /// starts with `group:`.
    NestedGroupOrDeny,
    /// More than [`MAX_RULES`] rules on a key, or more than
    /// [`MAX_GROUP_PATTERNS`] patterns in a group.
    TooManyRules,
}

impl RuleErrorKind {
    /// A stable snake_case code, for API error bodies, logs and metrics.
    /// These strings never change once released.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::Whitespace => "whitespace",
            Self::TooLong => "too_long",
            Self::ControlCharacter => "control_character",
            Self::UnknownGroup => "unknown_group",
            Self::NestedGroupOrDeny => "nested_group_or_deny",
            Self::TooManyRules => "too_many_rules",
        }
    }
}

impl fmt::Display for RuleErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rejected access rule: the offending text, what kind of problem it has
/// and a human-readable reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    rule: String,
    kind: RuleErrorKind,
    reason: &'static str,
}

impl RuleError {
    fn new(rule: &str, kind: RuleErrorKind, reason: &'static str) -> Self {
        Self {
            rule: String::from(rule),
            kind,
            reason,
        }
    }

    /// The offending text: the rule, group pattern or group name as given.
    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// What kind of problem it is.
    pub fn kind(&self) -> RuleErrorKind {
        self.kind
    }

    /// A short human-readable explanation, without the rule text.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

/// How many characters of the offending rule [`RuleError`]'s `Display` shows.
const DISPLAY_RULE_CHARS: usize = 64;

impl fmt::Display for RuleError {
    /// `invalid model access rule "<rule>": <reason>`, with the rule escaped
    /// (control characters are shown as escapes) and cut to 64 characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid model access rule \"")?;
        let mut chars = self.rule.chars();
        for c in chars.by_ref().take(DISPLAY_RULE_CHARS) {
            fmt::Display::fmt(&c.escape_debug(), f)?;
        }
        if chars.next().is_some() {
            f.write_str("...")?;
        }
        write!(f, "\": {}", self.reason)
    }
}

impl core::error::Error for RuleError {}

// ---------------------------------------------------------------------------
// Access groups
// ---------------------------------------------------------------------------

/// Named groups of model patterns, defined by the gateway config and
/// referred to by rules as `group:NAME` (or by the bare `NAME`).
///
/// Each pattern may use `*` wildcards but may not be a deny (`!…`) or a
/// group reference (`group:…`); inside a group, a pattern is always read as
/// a pattern, never as the name of another group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessGroups {
    groups: BTreeMap<String, Vec<String>>,
}

impl AccessGroups {
    /// No groups.
    pub fn new() -> Self {
        Self::default()
    }

    /// Defines (or replaces) the group `name` with `patterns`.
    ///
    /// The name must be non-empty, at most [`MAX_RULE_LEN`] bytes, free of
    /// whitespace and control characters and of `*`, and may not start with
    /// `!` or `group:`. Each pattern is validated like a rule and may not be a
    /// deny or group reference; a group holds at most [`MAX_GROUP_PATTERNS`]
    /// patterns. An empty pattern list is accepted: such a group grants
    /// nothing. On error nothing is changed.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        patterns: Vec<String>,
    ) -> Result<(), RuleError> {
        let name = name.into();
        validate_group_name(&name)?;
        if let Some(extra) = patterns.get(MAX_GROUP_PATTERNS) {
            return Err(RuleError::new(
                extra,
                RuleErrorKind::TooManyRules,
                "access group has too many patterns",
            ));
        }
        for pattern in &patterns {
            validate_group_pattern(pattern)?;
        }
        self.groups.insert(name, patterns);
        Ok(())
    }

    /// Whether a group called `name` is defined.
    pub fn contains(&self, name: &str) -> bool {
        self.groups.contains_key(name)
    }

    /// The patterns of the group `name`, if it is defined.
    pub fn get(&self, name: &str) -> Option<&[String]> {
        self.groups.get(name).map(Vec::as_slice)
    }

    /// How many groups are defined.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether no group is defined.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The defined group names, in sorted order.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.groups.keys().map(String::as_str)
    }
}

/// Checks what every rule, pattern and group name shares: non-empty, not too
/// long, no whitespace, no control characters.
fn validate_text(text: &str) -> Result<(), RuleError> {
    if text.is_empty() {
        return Err(RuleError::new(text, RuleErrorKind::Empty, "rule is empty"));
    }
    if text.len() > MAX_RULE_LEN {
        return Err(RuleError::new(
            text,
            RuleErrorKind::TooLong,
            "rule is longer than 256 bytes",
        ));
    }
    if text.chars().any(char::is_whitespace) {
        return Err(RuleError::new(
            text,
            RuleErrorKind::Whitespace,
            "rule contains whitespace",
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(RuleError::new(
            text,
            RuleErrorKind::ControlCharacter,
            "rule contains a control character",
        ));
    }
    Ok(())
}

fn validate_group_name(name: &str) -> Result<(), RuleError> {
    validate_text(name)?;
    if name.contains('*') {
        return Err(RuleError::new(
            name,
            RuleErrorKind::NestedGroupOrDeny,
            "access group name may not contain `*`",
        ));
    }
    if name.starts_with(DENY_PREFIX) || name.starts_with(GROUP_PREFIX) {
        return Err(RuleError::new(
            name,
            RuleErrorKind::NestedGroupOrDeny,
            "access group name may not start with `!` or `group:`",
        ));
    }
    Ok(())
}

fn validate_group_pattern(pattern: &str) -> Result<(), RuleError> {
    validate_text(pattern)?;
    if pattern.starts_with(DENY_PREFIX) {
        return Err(RuleError::new(
            pattern,
            RuleErrorKind::NestedGroupOrDeny,
            "access group pattern may not be a deny rule",
        ));
    }
    if pattern.starts_with(GROUP_PREFIX) {
        return Err(RuleError::new(
            pattern,
            RuleErrorKind::NestedGroupOrDeny,
            "access group pattern may not refer to another group",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Rule parsing
// ---------------------------------------------------------------------------

/// What one rule targets, borrowed from the rule text or the groups.
enum Target<'a> {
    /// A single `*`-pattern.
    Pattern(&'a str),
    /// Every pattern of a group.
    Group(&'a [String]),
}

/// One parsed rule: allow or deny, and what it targets.
struct ParsedRule<'a> {
    deny: bool,
    target: Target<'a>,
}

fn parse_rule<'a>(rule: &'a str, groups: &'a AccessGroups) -> Result<ParsedRule<'a>, RuleError> {
    validate_text(rule)?;
    let (deny, body) = match rule.strip_prefix(DENY_PREFIX) {
        Some(body) => (true, body),
        None => (false, rule),
    };
    if body.is_empty() {
        return Err(RuleError::new(
            rule,
            RuleErrorKind::Empty,
            "deny rule `!` has no pattern",
        ));
    }
    if body.starts_with(DENY_PREFIX) {
        return Err(RuleError::new(
            rule,
            RuleErrorKind::NestedGroupOrDeny,
            "rule may not deny a deny (`!!`)",
        ));
    }
    if let Some(name) = body.strip_prefix(GROUP_PREFIX) {
        if name.is_empty() {
            return Err(RuleError::new(
                rule,
                RuleErrorKind::Empty,
                "group reference has no group name",
            ));
        }
        return match groups.get(name) {
            Some(patterns) => Ok(ParsedRule {
                deny,
                target: Target::Group(patterns),
            }),
            None => Err(RuleError::new(
                rule,
                RuleErrorKind::UnknownGroup,
                "rule refers to an access group that is not defined",
            )),
        };
    }
    let target = match groups.get(body) {
        Some(patterns) => Target::Group(patterns),
        None => Target::Pattern(body),
    };
    Ok(ParsedRule { deny, target })
}

/// Checks one rule as [`AccessPolicy::compile`] would, without compiling a
/// policy. The admin API uses it to reject a bad rule before storing it.
///
/// Group references are checked against `groups`, so a rule naming a group
/// that is not (yet) defined is rejected with
/// [`RuleErrorKind::UnknownGroup`].
pub fn validate_rule(rule: &str, groups: &AccessGroups) -> Result<(), RuleError> {
    parse_rule(rule, groups).map(|_| ())
}

// ---------------------------------------------------------------------------
// Compiled patterns
// ---------------------------------------------------------------------------

/// A pattern holding at least one `*`, other than `*` alone (which is
/// [`PatternSet::any`]), split into the literal pieces between its stars.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Glob {
    /// Text before the first star.
    prefix: Box<str>,
    /// Non-empty texts between consecutive stars, in order.
    middles: Box<[Box<str>]>,
    /// Text after the last star.
    suffix: Box<str>,
    /// The shortest name that can match: the total length of the pieces.
    min_len: usize,
}

impl Glob {
    /// Splits a pattern that contains `*` into its pieces.
    fn new(pattern: &str) -> Self {
        let mut pieces = pattern.split('*');
        let prefix: Box<str> = pieces.next().unwrap_or("").into();
        let inner: Vec<&str> = pieces.collect();
        let (suffix, middles): (Box<str>, Box<[Box<str>]>) = match inner.split_last() {
            Some((&suffix, middles)) => (
                suffix.into(),
                middles
                    .iter()
                    .filter(|m| !m.is_empty())
                    .map(|&m| Box::from(m))
                    .collect(),
            ),
            None => (Box::default(), Box::default()),
        };
        let min_len = prefix.len() + suffix.len() + middles.iter().map(|m| m.len()).sum::<usize>();
        Self {
            prefix,
            middles,
            suffix,
            min_len,
        }
    }

    /// Whether `name` matches: prefix and suffix anchored at the ends, the
    /// middle pieces found in order at their leftmost occurrence in between.
    fn matches(&self, name: &str) -> bool {
        if name.len() < self.min_len
            || !name.starts_with(&*self.prefix)
            || !name.ends_with(&*self.suffix)
        {
            return false;
        }
        // Both bounds are char boundaries: the prefix and suffix matched.
        let end = name.len().saturating_sub(self.suffix.len());
        let Some(mut rest) = name.get(self.prefix.len()..end) else {
            return false;
        };
        for piece in self.middles.iter() {
            let Some(at) = rest.find(&**piece) else {
                return false;
            };
            let Some(after) = rest.get(at + piece.len()..) else {
                return false;
            };
            rest = after;
        }
        true
    }
}

/// A set of patterns compiled for fast matching.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct PatternSet {
    /// A `*` pattern (or an equivalent one, such as `**`) is in the set: it
    /// matches everything, and `exact`/`globs` are left empty.
    any: bool,
    /// Star-free patterns, sorted and deduplicated.
    exact: Vec<Box<str>>,
    /// Patterns with stars, deduplicated.
    globs: Vec<Glob>,
}

impl PatternSet {
    fn add(&mut self, pattern: &str) {
        if self.any {
            return;
        }
        if !pattern.contains('*') {
            self.exact.push(pattern.into());
        } else if pattern.bytes().all(|b| b == b'*') {
            self.any = true;
            self.exact = Vec::new();
            self.globs = Vec::new();
        } else {
            let glob = Glob::new(pattern);
            if !self.globs.contains(&glob) {
                self.globs.push(glob);
            }
        }
    }

    fn finish(&mut self) {
        self.exact.sort_unstable();
        self.exact.dedup();
        self.exact.shrink_to_fit();
        self.globs.shrink_to_fit();
    }

    fn is_empty(&self) -> bool {
        !self.any && self.exact.is_empty() && self.globs.is_empty()
    }

    fn matches(&self, name: &str) -> bool {
        self.any
            || self.exact.binary_search_by(|e| (**e).cmp(name)).is_ok()
            || self.globs.iter().any(|g| g.matches(name))
    }
}

// ---------------------------------------------------------------------------
// Policy
// ---------------------------------------------------------------------------

/// A key's compiled model access rules; see the [module docs](self) for the
/// rule language.
///
/// A model is allowed when (there are no allow rules, or an allow rule
/// matches it) and no deny rule matches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPolicy {
    /// Whether the rules held at least one allow rule. Without any, every
    /// model not denied is allowed (an empty list means all models).
    has_allow_rules: bool,
    allow: PatternSet,
    deny: PatternSet,
    /// A second policy every allowed model must also pass (a browser
    /// token's rules narrowing its parent key's): see [`AccessPolicy::narrowed`].
    also: Option<Box<AccessPolicy>>,
}

impl AccessPolicy {
    /// Parses, validates and compiles a key's rules once, resolving group
    /// references against `groups`.
    ///
    /// An empty list (or one holding only deny rules) allows every model not
    /// denied. Fails on the first invalid rule, or with
    /// [`RuleErrorKind::TooManyRules`] (carrying the first rule past the
    /// limit) when there are more than [`MAX_RULES`] rules.
    pub fn compile<S: AsRef<str>>(rules: &[S], groups: &AccessGroups) -> Result<Self, RuleError> {
        if let Some(extra) = rules.get(MAX_RULES) {
            return Err(RuleError::new(
                extra.as_ref(),
                RuleErrorKind::TooManyRules,
                "key has more than 256 access rules",
            ));
        }
        let mut policy = Self {
            has_allow_rules: false,
            allow: PatternSet::default(),
            deny: PatternSet::default(),
            also: None,
        };
        for rule in rules {
            let parsed = parse_rule(rule.as_ref(), groups)?;
            let set = if parsed.deny {
                &mut policy.deny
            } else {
                policy.has_allow_rules = true;
                &mut policy.allow
            };
            match parsed.target {
                Target::Pattern(pattern) => set.add(pattern),
                Target::Group(patterns) => {
                    for pattern in patterns {
                        set.add(pattern);
                    }
                }
            }
        }
        policy.allow.finish();
        policy.deny.finish();
        Ok(policy)
    }

    /// Whether the key may use the model the client asked for. `model` is
    /// the requested model name, matched exactly and case-sensitively.
    /// Never allocates.
    pub fn allows(&self, model: &str) -> bool {
        (!self.has_allow_rules || self.allow.matches(model))
            && !self.deny.matches(model)
            && self.also.as_ref().is_none_or(|also| also.allows(model))
    }

    /// The intersection of this policy and `other`: a model is allowed when
    /// both allow it. A browser token's rules narrow its parent key's this
    /// way, so a token's wildcard can filter the key's access but never
    /// widen it.
    #[must_use]
    pub fn narrowed(mut self, other: AccessPolicy) -> AccessPolicy {
        self.also = Some(Box::new(match self.also.take() {
            Some(previous) => previous.narrowed(other),
            None => other,
        }));
        self
    }

    /// Whether every model name is allowed: there is no deny rule, and either
    /// no allow rule or an allow-all (`*`) one (in every narrowing policy too).
    pub fn allows_all(&self) -> bool {
        self.deny.is_empty()
            && (!self.has_allow_rules || self.allow.any)
            && self.also.as_ref().is_none_or(|also| also.allows_all())
    }

    /// Whether every model name is denied: a `!*` rule, or allow rules that
    /// match nothing (such as only references to empty groups), here or in a
    /// narrowing policy. (Two policies whose allowed sets merely do not
    /// overlap are not detected.)
    pub fn denies_all(&self) -> bool {
        self.deny.any
            || (self.has_allow_rules && self.allow.is_empty())
            || self.also.as_ref().is_some_and(|also| also.denies_all())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use proptest::prelude::*;
    use std::format;

    fn groups() -> AccessGroups {
        let mut g = AccessGroups::new();
        g.insert(
            "video",
            vec![
                "veo-*".to_string(),
                "sora-2".to_string(),
                "openai/sora-*".to_string(),
            ],
        )
        .unwrap();
        g.insert("cheap", vec!["*-lite*".to_string(), "*-mini".to_string()])
            .unwrap();
        g.insert("empty", Vec::new()).unwrap();
        g
    }

    fn policy(rules: &[&str]) -> AccessPolicy {
        AccessPolicy::compile(rules, &groups()).unwrap()
    }

    #[test]
    fn narrowed_policies_allow_only_the_intersection() {
        let key = policy(&["veo-*", "sora-2"]);
        let token = policy(&["*-fast", "sora-2", "gpt-5"]);
        let both = key.clone().narrowed(token);
        assert!(both.allows("veo-3.1-fast"));
        assert!(both.allows("sora-2"));
        assert!(!both.allows("veo-3.1"));
        assert!(!both.allows("gpt-5"));
        assert!(!both.allows_all());
        assert!(!both.denies_all());
        let everything = policy(&[]).narrowed(policy(&["*"]));
        assert!(everything.allows_all());
        assert!(key.clone().narrowed(policy(&["!*"])).denies_all());
        let twice = key
            .narrowed(policy(&["veo-*"]))
            .narrowed(policy(&["!veo-3.1-lite"]));
        assert!(twice.allows("veo-3.1"));
        assert!(!twice.allows("veo-3.1-lite"));
        assert!(!twice.allows("sora-2"));
    }

    fn err(rules: &[&str]) -> RuleError {
        AccessPolicy::compile(rules, &groups()).unwrap_err()
    }

    /// (rules, model, expected)
    const TABLE: &[(&[&str], &str, bool)] = &[
        // `*` alone
        (&["*"], "anything", true),
        (&["*"], "", true),
        (&["*"], "gemini/veo-3.1-generate-preview", true),
        (&["**"], "x/y", true),
        // provider prefix
        (&["gemini/*"], "gemini/veo-3.1-generate-preview", true),
        (&["gemini/*"], "gemini/", true),
        (&["gemini/*"], "geminiz/x", false),
        (&["gemini/*"], "gemini", false),
        (&["gemini/*"], "Gemini/x", false),
        (&["gemini/*"], "xgemini/x", false),
        (&["openai/*"], "openai/sora-2", true),
        (&["openai/*"], "openai/a/b/c", true),
        // `.` is literal
        (&["veo-3.1-*"], "veo-3.1-fast", true),
        (&["veo-3.1-*"], "veo-3.1-", true),
        (&["veo-3.1-*"], "veo-301-fast", false),
        (&["veo-3.1-*"], "veo-3x1-fast", false),
        // exact names
        (&["sora-2"], "sora-2", true),
        (&["sora-2"], "sora-2-pro", false),
        (&["sora-2"], "sora", false),
        (&["sora-2"], "SORA-2", false),
        (&["sora-2", "veo-3"], "veo-3", true),
        (&["sora-2", "veo-3"], "veo-2", false),
        // deny beats allow
        (&["veo-3.1-*", "!veo-3.1-lite*"], "veo-3.1-fast", true),
        (&["veo-3.1-*", "!veo-3.1-lite*"], "veo-3.1-lite", false),
        (
            &["veo-3.1-*", "!veo-3.1-lite*"],
            "veo-3.1-lite-preview",
            false,
        ),
        (&["!veo-3.1-lite*", "veo-3.1-*"], "veo-3.1-lite", false),
        (&["*", "!sora-2"], "sora-2", false),
        (&["*", "!sora-2"], "sora-2-pro", true),
        (&["sora-2", "!sora-2"], "sora-2", false),
        (&["*", "!*"], "x", false),
        // groups by `group:` and by bare name
        (&["group:video"], "veo-3.1-fast", true),
        (&["group:video"], "sora-2", true),
        (&["group:video"], "openai/sora-2", true),
        (&["group:video"], "gpt-4o", false),
        (&["video"], "veo-2", true),
        (&["video"], "video", false),
        (&["video"], "gpt-4o", false),
        (&["group:empty"], "anything", false),
        (&["empty"], "empty", false),
        // `!group:` and `!bare`
        (&["*", "!group:video"], "veo-3", false),
        (&["*", "!group:video"], "sora-2", false),
        (&["*", "!group:video"], "gpt-4o", true),
        (&["*", "!video"], "veo-3", false),
        (&["group:video", "!group:cheap"], "veo-3.1-lite", false),
        (&["group:video", "!group:cheap"], "veo-3.1-fast", true),
        (&["!group:empty"], "x", true),
        // empty list allows all
        (&[], "anything", true),
        (&[], "", true),
        // deny-only list
        (&["!sora-2"], "sora-2", false),
        (&["!sora-2"], "veo-3", true),
        (&["!gemini/*", "!openai/*"], "openai/sora-2", false),
        (&["!gemini/*", "!openai/*"], "anthropic/claude", true),
        // regex metacharacters are literal
        (&["a+b*"], "aab", false),
        (&["a+b*"], "a+b", true),
        (&["a+b*"], "a+bc", true),
        (&["a.c"], "abc", false),
        (&["a.c"], "a.c", true),
        (&["a?c"], "abc", false),
        (&["a?c"], "a?c", true),
        (&["[ab]*"], "a", false),
        (&["[ab]*"], "[ab]x", true),
        (&["a\\*"], "a\\", true),
        (&["a\\*"], "a\\zz", true),
        (&["a\\*"], "a*", false),
        (&["^a$"], "a", false),
        (&["(a|b)"], "a", false),
        (&["(a|b)"], "(a|b)", true),
        // multiple stars
        (&["*-preview*"], "veo-3.1-generate-preview", true),
        (&["*-preview*"], "gemini-2.5-preview-05-06", true),
        (&["*-preview*"], "-preview", true),
        (&["*-preview*"], "preview", false),
        (&["a*b*c"], "abc", true),
        (&["a*b*c"], "aXbYc", true),
        (&["a*b*c"], "acb", false),
        (&["a*b*c"], "abcb", false),
        (&["a*b*c"], "abcbc", true),
        (&["a*a"], "a", false),
        (&["a*a"], "aa", true),
        (&["*ab*ab*"], "abab", true),
        (&["*ab*ab*"], "aba", false),
        (&["*aba*"], "ab", false),
        // leading / trailing stars
        (&["*-mini"], "gpt-4o-mini", true),
        (&["*-mini"], "gpt-4o-mini-2", false),
        (&["*-mini"], "-mini", true),
        (&["gpt-*"], "gpt-", true),
        (&["gpt-*"], "gpt", false),
        (&["*4o*"], "gpt-4o-mini", true),
        (&["*4o*"], "4o", true),
        (&["*4o*"], "gpt-4", false),
        // non-ASCII
        (&["modèle-*"], "modèle-x", true),
        (&["*è"], "è", true),
        (&["*è*"], "e", false),
        // the LiteLLM incident: a model never seen before is allowed by pattern
        (
            &["anthropic/*"],
            "anthropic/claude-opus-9-added-later",
            true,
        ),
    ];

    #[test]
    fn table() {
        for (rules, model, expected) in TABLE {
            assert_eq!(
                policy(rules).allows(model),
                *expected,
                "rules {rules:?} model {model:?}"
            );
        }
    }

    #[test]
    fn design_example() {
        let p = policy(&[
            "gemini/*",
            "veo-3.1-*",
            "!veo-3.1-lite*",
            "group:video",
            "sora-2",
        ]);
        assert!(p.allows("gemini/veo-3.1-generate-preview"));
        assert!(p.allows("veo-3.1-fast-generate-preview"));
        assert!(!p.allows("veo-3.1-lite-generate-preview"));
        assert!(p.allows("veo-2"));
        assert!(p.allows("sora-2"));
        assert!(p.allows("openai/sora-2-pro"));
        assert!(!p.allows("gpt-4o"));
        assert!(!p.allows_all());
        assert!(!p.denies_all());
    }

    #[test]
    fn allows_all_and_denies_all() {
        assert!(policy(&[]).allows_all());
        assert!(policy(&["*"]).allows_all());
        assert!(policy(&["sora-2", "*"]).allows_all());
        assert!(policy(&["**"]).allows_all());
        assert!(!policy(&["*", "!sora-2"]).allows_all());
        assert!(!policy(&["!sora-2"]).allows_all());
        assert!(!policy(&["sora-2"]).allows_all());
        assert!(!policy(&["*x"]).allows_all());
        // A deny of an empty group denies nothing, yet is a deny rule: still
        // counts as a no-deny policy since the compiled deny set is empty.
        assert!(policy(&["!group:empty"]).allows_all());

        assert!(policy(&["!*"]).denies_all());
        assert!(policy(&["group:empty"]).denies_all());
        assert!(!policy(&[]).denies_all());
        assert!(!policy(&["group:video"]).denies_all());
    }

    #[test]
    fn bare_group_name_takes_precedence_and_wildcards_are_never_groups() {
        let mut g = AccessGroups::new();
        g.insert("sora-2", vec!["veo-*".to_string()]).unwrap();
        let p = AccessPolicy::compile(&["sora-2"], &g).unwrap();
        assert!(p.allows("veo-3"));
        assert!(!p.allows("sora-2"));
        // `sora-*` is a pattern, not a group name.
        let p = AccessPolicy::compile(&["sora-*"], &g).unwrap();
        assert!(p.allows("sora-2"));
    }

    #[test]
    fn group_patterns_are_never_group_references() {
        let mut g = AccessGroups::new();
        g.insert("inner", vec!["x".to_string()]).unwrap();
        g.insert("outer", vec!["inner".to_string()]).unwrap();
        let p = AccessPolicy::compile(&["outer"], &g).unwrap();
        assert!(p.allows("inner"));
        assert!(!p.allows("x"));
    }

    #[test]
    fn compile_accepts_owned_strings() {
        let rules = vec!["gemini/*".to_string(), "!gemini/x".to_string()];
        let p = AccessPolicy::compile(&rules, &AccessGroups::default()).unwrap();
        assert!(p.allows("gemini/y"));
        assert!(!p.allows("gemini/x"));
    }

    #[test]
    fn groups_api() {
        let g = groups();
        assert!(g.contains("video"));
        assert!(!g.contains("group:video"));
        assert!(!g.contains("Video"));
        assert_eq!(g.len(), 3);
        assert!(!g.is_empty());
        assert!(AccessGroups::new().is_empty());
        assert_eq!(
            g.names().collect::<Vec<_>>(),
            vec!["cheap", "empty", "video"]
        );
        assert_eq!(g.get("cheap").unwrap().len(), 2);
        let mut g = g;
        g.insert("cheap", vec!["x".to_string()]).unwrap();
        assert_eq!(g.get("cheap").unwrap(), &["x".to_string()]);
        // A failed insert changes nothing.
        assert!(g.insert("cheap", vec!["!x".to_string()]).is_err());
        assert_eq!(g.get("cheap").unwrap(), &["x".to_string()]);
    }

    #[test]
    fn validate_rule_matches_compile() {
        let g = groups();
        for rule in [
            "*",
            "gemini/*",
            "!x",
            "group:video",
            "video",
            "!group:video",
            "!video",
        ] {
            assert!(validate_rule(rule, &g).is_ok(), "{rule}");
        }
        for rule in ["", "!", "a b", "group:nope", "!!x", "group:", "a\u{7}"] {
            assert_eq!(
                validate_rule(rule, &g).unwrap_err(),
                AccessPolicy::compile(&[rule], &g).unwrap_err(),
                "{rule}"
            );
        }
    }

    // ----- errors -----------------------------------------------------------

    #[test]
    fn error_empty() {
        for rule in ["", "!", "group:", "!group:"] {
            let e = err(&["*", rule]);
            assert_eq!(e.kind(), RuleErrorKind::Empty, "{rule:?}");
            assert_eq!(e.rule(), rule);
        }
    }

    #[test]
    fn error_whitespace() {
        for rule in [
            " ",
            "a b",
            " gemini/*",
            "gemini/* ",
            "!a\tb",
            "a\nb",
            "a\u{a0}b",
            "a\u{2003}b",
        ] {
            let e = err(&[rule]);
            assert_eq!(e.kind(), RuleErrorKind::Whitespace, "{rule:?}");
            assert_eq!(e.rule(), rule);
        }
    }

    #[test]
    fn error_too_long() {
        let ok = "a".repeat(MAX_RULE_LEN);
        assert!(AccessPolicy::compile(&[ok.as_str()], &groups()).is_ok());
        let long = "a".repeat(MAX_RULE_LEN + 1);
        let e = err(&[long.as_str()]);
        assert_eq!(e.kind(), RuleErrorKind::TooLong);
        assert_eq!(e.rule(), long);
        // Display is cut short.
        let shown = e.to_string();
        assert!(shown.len() < 140, "{shown}");
        assert!(shown.contains("..."));
        // Length is counted in bytes: 129 two-byte chars is too long.
        let wide = "é".repeat(129);
        assert_eq!(err(&[wide.as_str()]).kind(), RuleErrorKind::TooLong);
    }

    #[test]
    fn error_control_character() {
        for rule in ["a\u{0}b", "a\u{7}", "\u{1b}[31m", "x\u{7f}", "a\u{85}b"] {
            let e = err(&[rule]);
            // U+0085 is both whitespace and control; whitespace is reported.
            let expected = if rule.contains('\u{85}') {
                RuleErrorKind::Whitespace
            } else {
                RuleErrorKind::ControlCharacter
            };
            assert_eq!(e.kind(), expected, "{rule:?}");
        }
        let e = err(&["a\u{1b}b"]);
        assert_eq!(
            e.to_string(),
            "invalid model access rule \"a\\u{1b}b\": rule contains a control character"
        );
    }

    #[test]
    fn error_unknown_group() {
        for rule in [
            "group:nope",
            "!group:nope",
            "group:Video",
            "group:group:video",
        ] {
            let e = err(&[rule]);
            assert_eq!(e.kind(), RuleErrorKind::UnknownGroup, "{rule:?}");
            assert_eq!(e.rule(), rule);
        }
        // A bare unknown name is just a literal model name.
        assert!(policy(&["nope"]).allows("nope"));
    }

    #[test]
    fn error_nested_group_or_deny() {
        let mut g = AccessGroups::new();
        for pattern in ["!x", "group:video", "!group:video", "!"] {
            let e = g
                .insert("g", vec!["ok".to_string(), pattern.to_string()])
                .unwrap_err();
            assert_eq!(e.kind(), RuleErrorKind::NestedGroupOrDeny, "{pattern:?}");
            assert_eq!(e.rule(), pattern);
        }
        for name in ["a*", "!a", "group:a"] {
            let e = g.insert(name, vec![]).unwrap_err();
            assert_eq!(e.kind(), RuleErrorKind::NestedGroupOrDeny, "{name:?}");
            assert_eq!(e.rule(), name);
        }
        assert!(g.is_empty());
        assert_eq!(err(&["!!x"]).kind(), RuleErrorKind::NestedGroupOrDeny);
    }

    #[test]
    fn group_insert_validates_text() {
        let mut g = AccessGroups::new();
        let cases: [(&str, Vec<String>, RuleErrorKind); 6] = [
            ("", vec![], RuleErrorKind::Empty),
            ("a b", vec![], RuleErrorKind::Whitespace),
            ("a\u{1}", vec![], RuleErrorKind::ControlCharacter),
            ("ok", vec![String::new()], RuleErrorKind::Empty),
            ("ok", vec!["a b".to_string()], RuleErrorKind::Whitespace),
            ("ok", vec!["a".repeat(257)], RuleErrorKind::TooLong),
        ];
        for (name, patterns, kind) in cases {
            assert_eq!(
                g.insert(name, patterns).unwrap_err().kind(),
                kind,
                "{name:?}"
            );
        }
        let e = g
            .insert("big", vec!["x".to_string(); MAX_GROUP_PATTERNS + 1])
            .unwrap_err();
        assert_eq!(e.kind(), RuleErrorKind::TooManyRules);
        assert!(g
            .insert("big", vec!["x".to_string(); MAX_GROUP_PATTERNS])
            .is_ok());
    }

    #[test]
    fn error_too_many_rules() {
        let mut rules: Vec<String> = (0..MAX_RULES).map(|i| format!("m{i}")).collect();
        let p = AccessPolicy::compile(&rules, &groups()).unwrap();
        assert!(p.allows("m255"));
        rules.push("extra".to_string());
        let e = AccessPolicy::compile(&rules, &groups()).unwrap_err();
        assert_eq!(e.kind(), RuleErrorKind::TooManyRules);
        assert_eq!(e.rule(), "extra");
    }

    #[test]
    fn error_kind_codes_and_traits() {
        let all = [
            (RuleErrorKind::Empty, "empty"),
            (RuleErrorKind::Whitespace, "whitespace"),
            (RuleErrorKind::TooLong, "too_long"),
            (RuleErrorKind::ControlCharacter, "control_character"),
            (RuleErrorKind::UnknownGroup, "unknown_group"),
            (RuleErrorKind::NestedGroupOrDeny, "nested_group_or_deny"),
            (RuleErrorKind::TooManyRules, "too_many_rules"),
        ];
        for (kind, code) in all {
            assert_eq!(kind.as_str(), code);
            assert_eq!(kind.to_string(), code);
        }
        let e = err(&["group:nope"]);
        assert_eq!(
            e.to_string(),
            "invalid model access rule \"group:nope\": rule refers to an access group that is not defined"
        );
        assert!(!e.reason().is_empty());
        let boxed: std::boxed::Box<dyn core::error::Error> = std::boxed::Box::new(e);
        assert!(boxed.to_string().contains("group:nope"));
    }

    // ----- properties -------------------------------------------------------

    /// Obviously-correct reference glob matcher (exponential, fine for tests).
    fn naive_glob(pattern: &[char], name: &[char]) -> bool {
        match pattern.split_first() {
            None => name.is_empty(),
            Some(('*', rest)) => (0..=name.len()).any(|i| naive_glob(rest, &name[i..])),
            Some((c, rest)) => name.first() == Some(c) && naive_glob(rest, &name[1..]),
        }
    }

    fn naive(pattern: &str, name: &str) -> bool {
        let p: Vec<char> = pattern.chars().collect();
        let n: Vec<char> = name.chars().collect();
        naive_glob(&p, &n)
    }

    /// The compiled matcher for one pattern, through a one-pattern set.
    fn compiled(pattern: &str, name: &str) -> bool {
        let mut set = PatternSet::default();
        set.add(pattern);
        set.finish();
        set.matches(name)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn glob_matches_reference(pattern in "[ab./*]{0,8}", name in "[ab./]{0,10}") {
            prop_assert_eq!(compiled(&pattern, &name), naive(&pattern, &name));
        }

        #[test]
        fn glob_matches_reference_unicode(pattern in "[aé*]{0,6}", name in "[aé]{0,8}") {
            prop_assert_eq!(compiled(&pattern, &name), naive(&pattern, &name));
        }

        /// Names built from the pattern itself, so matches are common.
        #[test]
        fn glob_matches_reference_on_instances(
            pattern in "[ab./*]{1,8}",
            fills in proptest::collection::vec("[ab./]{0,3}", 8),
            noise in "[ab./]{0,2}",
            mutate in any::<bool>(),
        ) {
            let mut fills = fills.into_iter();
            let mut name = String::new();
            for c in pattern.chars() {
                if c == '*' {
                    name.push_str(&fills.next().unwrap_or_default());
                } else {
                    name.push(c);
                }
            }
            if mutate {
                name.push_str(&noise);
            }
            prop_assert_eq!(compiled(&pattern, &name), naive(&pattern, &name));
            if !mutate {
                prop_assert!(compiled(&pattern, &name));
            }
        }

        #[test]
        fn policy_matches_definition(
            rules in proptest::collection::vec((any::<bool>(), "[ab./*]{1,5}"), 0..6),
            names in proptest::collection::vec("[ab./]{0,6}", 1..8),
        ) {
            let texts: Vec<String> = rules
                .iter()
                .map(|(deny, p)| if *deny { format!("!{p}") } else { p.clone() })
                .collect();
            let policy = AccessPolicy::compile(&texts, &AccessGroups::new()).unwrap();
            let allows: Vec<&str> = rules.iter().filter(|(d, _)| !d).map(|(_, p)| p.as_str()).collect();
            let denies: Vec<&str> = rules.iter().filter(|(d, _)| *d).map(|(_, p)| p.as_str()).collect();
            for name in &names {
                let expected = (allows.is_empty() || allows.iter().any(|p| naive(p, name)))
                    && !denies.iter().any(|p| naive(p, name));
                prop_assert_eq!(policy.allows(name), expected, "rules {:?} name {:?}", texts, name);
            }
            if policy.allows_all() {
                for name in &names {
                    prop_assert!(policy.allows(name));
                }
            }
            if policy.denies_all() {
                for name in &names {
                    prop_assert!(!policy.allows(name));
                }
            }
        }

        /// Rules through groups behave like the groups' patterns inlined.
        #[test]
        fn policy_groups_inline(
            group in proptest::collection::vec("[ab./*]{1,4}", 0..4),
            rules in proptest::collection::vec((any::<bool>(), "[ab./*]{1,4}"), 0..4),
            deny_group in any::<bool>(),
            bare in any::<bool>(),
            names in proptest::collection::vec("[ab./]{0,6}", 1..8),
        ) {
            let mut groups = AccessGroups::new();
            groups.insert("g", group.clone()).unwrap();
            let mut texts: Vec<String> = rules
                .iter()
                .map(|(deny, p)| if *deny { format!("!{p}") } else { p.clone() })
                .collect();
            let reference = if bare { "g" } else { "group:g" };
            texts.push(if deny_group { format!("!{reference}") } else { reference.to_string() });
            let policy = AccessPolicy::compile(&texts, &groups).unwrap();

            let mut allows: Vec<&str> = rules.iter().filter(|(d, _)| !d).map(|(_, p)| p.as_str()).collect();
            let mut denies: Vec<&str> = rules.iter().filter(|(d, _)| *d).map(|(_, p)| p.as_str()).collect();
            let has_allow = !allows.is_empty() || !deny_group;
            if deny_group {
                denies.extend(group.iter().map(String::as_str));
            } else {
                allows.extend(group.iter().map(String::as_str));
            }
            for name in &names {
                let expected = (!has_allow || allows.iter().any(|p| naive(p, name)))
                    && !denies.iter().any(|p| naive(p, name));
                prop_assert_eq!(policy.allows(name), expected, "rules {:?} group {:?} name {:?}", texts, group, name);
            }
        }
    }
}

//! JSON whose object keys keep the order they were written in.
//!
//! `serde_json::Value` sorts keys (the workspace does not enable
//! `preserve_order`, and turning it on here would change `reelay-core`'s
//! output through feature unification), but Google writes fields in proto
//! order: `code, message, status, details`; `name, done, response`. The mock
//! builds its answers with [`obj`] so they read like Google's byte for byte.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// An ordered JSON value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    /// A scalar (or any value whose key order does not matter).
    Plain(Value),
    /// An object, fields in order.
    Object(Vec<(&'static str, Json)>),
    /// An array.
    Array(Vec<Json>),
}

/// An object with fields in the given order.
pub(crate) fn obj<const N: usize>(fields: [(&'static str, Json); N]) -> Json {
    Json::Object(fields.into())
}

/// An array.
pub(crate) fn arr(items: impl IntoIterator<Item = Json>) -> Json {
    Json::Array(items.into_iter().collect())
}

impl Json {
    /// Appends a field to an object (no-op on other values).
    pub(crate) fn push(&mut self, key: &'static str, value: Json) {
        if let Self::Object(fields) = self {
            fields.push((key, value));
        }
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Plain(v) => v.serialize(s),
            Self::Array(items) => items.serialize(s),
            Self::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl From<&str> for Json {
    fn from(v: &str) -> Self {
        Self::Plain(Value::from(v))
    }
}

impl From<String> for Json {
    fn from(v: String) -> Self {
        Self::Plain(Value::from(v))
    }
}

impl From<u16> for Json {
    fn from(v: u16) -> Self {
        Self::Plain(Value::from(v))
    }
}

impl From<u32> for Json {
    fn from(v: u32) -> Self {
        Self::Plain(Value::from(v))
    }
}

impl From<bool> for Json {
    fn from(v: bool) -> Self {
        Self::Plain(Value::from(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_key_order() {
        let v = obj([
            ("name", "n".into()),
            ("done", true.into()),
            ("a", arr([obj([("z", 1u16.into()), ("b", "x".into())])])),
        ]);
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"name":"n","done":true,"a":[{"z":1,"b":"x"}]}"#
        );
    }
}

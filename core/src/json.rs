//! Small helpers over `serde_json` values shared by every parser in the
//! crate: today the JSON type name used in "expected …, got …" messages.
//!
//! Part of the base layer: it imports nothing from the rest of the crate.

use serde_json::Value;

/// The JSON type of `value`, for error messages (`"a string"`, `"null"`).
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_every_json_type() {
        assert_eq!(type_name(&json!(null)), "null");
        assert_eq!(type_name(&json!(true)), "a boolean");
        assert_eq!(type_name(&json!(1.5)), "a number");
        assert_eq!(type_name(&json!("x")), "a string");
        assert_eq!(type_name(&json!([])), "an array");
        assert_eq!(type_name(&json!({})), "an object");
    }
}

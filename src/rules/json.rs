//! JSON as Go writes it and reads it. Objects with their keys sorted, as Go prints maps
//! ([`with_sorted_keys`]). And the one place a JSON parse error becomes a message. serde_json's own messages quote the
//! offending value (`invalid type: string "S3CRET", expected ...`), and the value may be a
//! password or token, so every parser of credentials reports only the kind of fault and its
//! position.

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

/// `value` with every object's keys sorted by `order`, at every level: Go's encoders write
/// maps sorted (encoding/json by bytes, go-yaml by its own order).
pub fn with_sorted_keys(value: &Value, order: fn(&str, &str) -> Ordering) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| order(a.0, b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key.clone(), with_sorted_keys(value, order)))
                    .collect(),
            )
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| with_sorted_keys(v, order)).collect())
        }
        other => other.clone(),
    }
}

/// Byte order, as encoding/json sorts map keys.
pub fn byte_order(a: &str, b: &str) -> Ordering {
    a.cmp(b)
}

/// Why a JSON document did not decode: the kind of fault and where, never the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonFault {
    kind: &'static str,
    /// 1-based; 0 when serde_json knows no position.
    line: usize,
    column: usize,
}

impl JsonFault {
    /// The fault serde_json reports, without its message (which may quote the value).
    pub fn of(error: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        let kind = match error.classify() {
            Category::Io => "could not be read",
            Category::Syntax | Category::Eof => "is not valid JSON",
            Category::Data => "has a value of the wrong type",
        };
        Self {
            kind,
            line: error.line(),
            column: error.column(),
        }
    }
}

impl fmt::Display for JsonFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => f.write_str(self.kind),
            line => write!(f, "{} (line {line}, column {})", self.kind, self.column),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way serde_json can fail, with a canary where a secret would be.
    #[test]
    fn faults_never_quote_the_input() {
        let canary = "S3CRET-CANARY";
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Entry {
            auth: String,
        }
        let documents = [
            format!(r#"{{"auths":{{"quay.io":"{canary}"}}}}"#),
            format!(r#"{{"auth": 1, "x": "{canary}"}}"#),
            format!(r#""{canary}""#),
            format!(r#"{{"auth": "{canary}""#),
            format!(r#"{{"auth": {canary}}}"#),
            canary.to_string(),
        ];
        for document in &documents {
            let as_map =
                serde_json::from_str::<std::collections::BTreeMap<String, Entry>>(document);
            let as_entry = serde_json::from_str::<Entry>(document);
            for error in [as_map.err(), as_entry.err()].into_iter().flatten() {
                let message = JsonFault::of(&error).to_string();
                assert!(!message.contains("CANARY"), "{document}: {message}");
                assert!(message.contains("line 1"), "{document}: {message}");
            }
        }
    }
}

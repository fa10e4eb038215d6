//! Credential-helper mode: the docker-credential-helpers protocol served from the OS
//! keychain, byte for byte as the Go library serves it (docs/semantics.md §2). Runs when the binary
//! is invoked as `docker-credential-regcred` or as `kubectl regcred credential-helper`.

use std::io::{Read, Write};

use crate::credentials::Password;
use crate::credentials::helper::{
    MISSING_SERVER_URL, MISSING_USERNAME, NOT_FOUND_MESSAGE, go_decode_error, go_json,
    joined_lines, usage,
};
use crate::credentials::keychain::{self, StoredLogin};
use crate::error::ExitStatus;

/// The name the protocol's usage and version lines use.
pub(crate) const HELPER_NAME: &str = "docker-credential-regcred";

/// A failed action, as the message the protocol prints on stdout.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ProtocolError(String);

impl From<String> for ProtocolError {
    fn from(message: String) -> Self {
        Self(message)
    }
}

impl From<&str> for ProtocolError {
    fn from(message: &str) -> Self {
        Self(message.to_string())
    }
}

impl ProtocolError {
    fn from_error(error: impl std::fmt::Display) -> Self {
        Self(error.to_string())
    }
}

/// Runs one action: success, or failure with the error message on stdout.
pub(crate) fn serve(args: &[String], input: &mut impl Read, out: &mut impl Write) -> ExitStatus {
    let result = match args {
        [action] => handle(action, input, out),
        _ => Err(usage(HELPER_NAME).into()),
    };
    match result {
        Ok(()) => ExitStatus::Success,
        Err(message) => {
            let _ = writeln!(out, "{message}");
            ExitStatus::Failure
        }
    }
}

fn handle(action: &str, input: &mut impl Read, out: &mut impl Write) -> Result<(), ProtocolError> {
    let read_input = |input: &mut dyn Read| {
        let mut text = String::new();
        input
            .read_to_string(&mut text)
            .map_err(ProtocolError::from_error)?;
        Ok::<_, ProtocolError>(joined_lines(&text))
    };
    match action {
        "store" => {
            let text = read_input(input)?;
            let login: StoredLogin = decode_credentials(&text)?;
            if login.server_url.is_empty() {
                return Err(MISSING_SERVER_URL.into());
            }
            if login.username.is_empty() {
                return Err(MISSING_USERNAME.into());
            }
            // `<token>` usernames (identity tokens) are stored as they come.
            keychain::store(&login).map_err(ProtocolError::from_error)
        }
        "get" => {
            let server_url = read_input(input)?.trim().to_string();
            if server_url.is_empty() {
                return Err(MISSING_SERVER_URL.into());
            }
            let login = keychain::get(&server_url)
                .map_err(ProtocolError::from_error)?
                .ok_or(NOT_FOUND_MESSAGE)?;
            // The reply echoes the URL that was asked for, as the Go library does.
            let reply = StoredLogin {
                server_url,
                username: login.username,
                secret: login.secret,
            };
            out.write_all(go_json(&reply).as_bytes())
                .map_err(ProtocolError::from_error)
        }
        "erase" => {
            let server_url = read_input(input)?.trim().to_string();
            if server_url.is_empty() {
                return Err(MISSING_SERVER_URL.into());
            }
            keychain::erase(&server_url)
                .map(|_| ())
                .map_err(ProtocolError::from_error)
        }
        "list" => {
            let logins = keychain::list().map_err(ProtocolError::from_error)?;
            out.write_all(go_json(&logins).as_bytes())
                .map_err(ProtocolError::from_error)
        }
        "version" => writeln!(
            out,
            "{HELPER_NAME} (kubectl-regcred) v{}",
            env!("CARGO_PKG_VERSION")
        )
        .map_err(ProtocolError::from_error),
        other => Err(format!("Unknown credential action `{other}`").into()),
    }
}

/// Decodes `store`'s input as Go's `json.Decoder` decodes into the `Credentials` struct:
/// field names match case-insensitively, unknown fields are ignored, `null` leaves every
/// field empty, and errors are phrased as `encoding/json` phrases them.
fn decode_credentials(text: &str) -> Result<StoredLogin, ProtocolError> {
    let trimmed = text.trim_start();
    if let Some(literal) = ["null", "true", "false"]
        .iter()
        .find(|l| trimmed.starts_with(&l[..1]))
    {
        for (expected, actual) in literal.chars().zip(trimmed.chars()).skip(1) {
            if expected != actual {
                return Err(format!(
                    "invalid character '{actual}' in literal {literal} (expecting '{expected}')"
                )
                .into());
            }
        }
        if trimmed.len() < literal.len() {
            return Err("unexpected EOF".into());
        }
    }
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
    let value = match stream.next() {
        None => return Err("EOF".into()),
        Some(Err(e)) => return Err(go_decode_error(text, &e).into()),
        Some(Ok(value)) => value,
    };
    let kind = |v: &serde_json::Value| match v {
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
        serde_json::Value::Null => "null",
    };
    let mut login = StoredLogin {
        server_url: String::new(),
        username: String::new(),
        secret: Password::default(),
    };
    let mut secret = String::new();
    let fields = match value {
        serde_json::Value::Null => return Ok(login),
        serde_json::Value::Object(fields) => fields,
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type credentials.Credentials",
                kind(&other)
            )
            .into());
        }
    };
    for (key, value) in fields {
        let (slot, field) = match key.to_ascii_lowercase().as_str() {
            "serverurl" => (&mut login.server_url, "ServerURL"),
            "username" => (&mut login.username, "Username"),
            "secret" => (&mut secret, "Secret"),
            _ => continue,
        };
        match value {
            serde_json::Value::String(text) => *slot = text,
            serde_json::Value::Null => {}
            other => {
                return Err(format!(
                    "json: cannot unmarshal {} into Go struct field Credentials.{field} of type string",
                    kind(&other)
                ).into());
            }
        }
    }
    login.secret = Password::new(secret);
    Ok(login)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], input: &str) -> (i32, String) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut out = Vec::new();
        let code = match serve(&args, &mut input.as_bytes(), &mut out) {
            ExitStatus::Success => 0,
            _ => 1,
        };
        (code, String::from_utf8(out).unwrap())
    }

    #[test]
    fn protocol_errors_need_no_keychain() {
        assert_eq!(
            run(&[], ""),
            (
                1,
                "Usage: docker-credential-regcred <store|get|erase|list|version>\n".into()
            )
        );
        assert_eq!(run(&["get", "extra"], "").0, 1);
        assert_eq!(
            run(&["fetch"], ""),
            (1, "Unknown credential action `fetch`\n".into())
        );
        assert_eq!(
            run(&["get"], "  \n"),
            (1, "no credentials server URL\n".into())
        );
        assert_eq!(
            run(&["erase"], ""),
            (1, "no credentials server URL\n".into())
        );
        assert_eq!(run(&["store"], ""), (1, "EOF\n".into()));
        assert_eq!(
            run(&["store"], "xyz"),
            (
                1,
                "invalid character 'x' looking for beginning of value\n".into()
            )
        );
        assert_eq!(
            run(&["store"], r#"{"ServerURL":"#),
            (1, "unexpected EOF\n".into())
        );
        assert_eq!(
            run(&["store"], r#"{"Username":"u","Secret":"s"}"#),
            (1, "no credentials server URL\n".into())
        );
        assert_eq!(
            run(&["store"], r#"{"ServerURL":"q.io","Secret":"s"}"#),
            (1, "no credentials username\n".into())
        );
        assert!(
            run(&["version"], "")
                .1
                .starts_with("docker-credential-regcred (kubectl-regcred) v")
        );
        assert_eq!(
            run(&["store"], "not json").1,
            "invalid character 'o' in literal null (expecting 'u')\n"
        );
        assert_eq!(run(&["store"], "tru").1, "unexpected EOF\n");
        assert_eq!(
            run(&["store"], "[1]").1,
            "json: cannot unmarshal array into Go value of type credentials.Credentials\n"
        );
        assert_eq!(
            run(&["store"], r#"{"serverurl":7}"#).1,
            "json: cannot unmarshal number into Go struct field Credentials.ServerURL of type string\n"
        );
        assert_eq!(run(&["store"], "null").1, "no credentials server URL\n");
    }
}

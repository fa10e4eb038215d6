//! The docker-credential-helpers protocol (docs/semantics.md §2): the client side
//! (`docker-credential-<name> get|list`) and the wire details the serving side must match
//! byte for byte (PascalCase JSON, Go's encoder escaping, errors on stdout with exit 1).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use wait_timeout::ChildExt;

use super::Password;
use crate::rules::json::JsonFault;

/// The exact reply every helper gives when it holds nothing for the server.
pub(crate) const NOT_FOUND_MESSAGE: &str = "credentials not found in native keychain";

/// The username a helper stores with an identity (OAuth refresh) token.
pub(crate) const TOKEN_USERNAME: &str = "<token>";

#[derive(Debug, Clone)]
pub(crate) struct Helper {
    name: String,
    timeout: Duration,
}

/// What a helper holds for one server.
#[derive(Debug)]
pub(crate) enum HelperCredential {
    Basic {
        username: String,
        password: Password,
    },
    /// `Username == "<token>"`: the secret is an identity token the kubelet cannot use.
    IdentityToken,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum HelperError {
    #[error("credential helper {program} is not on PATH")]
    Missing { program: String },
    #[error("credential helper {program} could not be run: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("credential helper {program} did not answer `{action}`{for_server} within {secs}s")]
    Timeout {
        program: String,
        action: &'static str,
        for_server: String,
        secs: u64,
    },
    #[error(
        "credential helper {program} wrote more than 1 MiB in reply to `{action}`{for_server}; it was stopped"
    )]
    TooLarge {
        program: String,
        action: &'static str,
        for_server: String,
    },
    #[error("credential helper {program} failed on `{action}`{for_server}: {message}")]
    Failed {
        program: String,
        action: &'static str,
        for_server: String,
        message: String,
    },
    #[error(
        "credential helper {program} gave an unreadable `{action}` reply{for_server}: {reason}"
    )]
    BadReply {
        program: String,
        action: &'static str,
        for_server: String,
        reason: JsonFault,
    },
}

#[derive(Deserialize)]
struct GetReply {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

struct Reply {
    success: bool,
    stdout: String,
}

impl Helper {
    pub(crate) fn new(name: &str, timeout: Duration) -> Self {
        Self {
            name: name.to_string(),
            timeout,
        }
    }

    pub(crate) fn program(&self) -> String {
        format!("docker-credential-{}", self.name)
    }

    /// `get`: the server URL on stdin; `Ok(None)` is the protocol's "not found".
    pub(crate) fn get(&self, server_url: &str) -> Result<Option<HelperCredential>, HelperError> {
        let for_server = format!(" for {server_url}");
        let reply = self.run("get", server_url, &for_server)?;
        if !reply.success {
            if reply.stdout.trim() == NOT_FOUND_MESSAGE {
                return Ok(None);
            }
            return Err(self.failed("get", for_server, &reply.stdout));
        }
        let parsed: GetReply =
            serde_json::from_str(reply.stdout.trim()).map_err(|e| HelperError::BadReply {
                program: self.program(),
                action: "get",
                for_server: for_server.clone(),
                // The position, never the reply itself, which may be the secret.
                reason: JsonFault::of(&e),
            })?;
        if parsed.username == TOKEN_USERNAME {
            return Ok(Some(HelperCredential::IdentityToken));
        }
        if parsed.username.is_empty() && parsed.secret.is_empty() {
            return Ok(None);
        }
        Ok(Some(HelperCredential::Basic {
            username: parsed.username,
            password: Password::new(parsed.secret),
        }))
    }

    /// `list`: every server URL the helper holds, with its username.
    pub(crate) fn list(&self) -> Result<BTreeMap<String, String>, HelperError> {
        // docker's client sends "unused" on stdin for list.
        let reply = self.run("list", "unused", "")?;
        if !reply.success {
            return Err(self.failed("list", String::new(), &reply.stdout));
        }
        let text = reply.stdout.trim();
        if text.is_empty() {
            return Ok(BTreeMap::new());
        }
        serde_json::from_str(text).map_err(|e| HelperError::BadReply {
            program: self.program(),
            action: "list",
            for_server: String::new(),
            reason: JsonFault::of(&e),
        })
    }

    /// A failed action. The protocol puts the error message on stdout, but a broken helper
    /// can put a secret there too, so it is not quoted; only whether there was one.
    fn failed(&self, action: &'static str, for_server: String, stdout: &str) -> HelperError {
        let program = self.program();
        let message = if stdout.trim().is_empty() {
            "it exited non-zero with no message".to_string()
        } else {
            format!(
                "it exited non-zero; its message is not shown, as it may hold a secret \
                 (run `{program} {action}` by hand to read it)"
            )
        };
        HelperError::Failed {
            program,
            action,
            for_server,
            message,
        }
    }

    /// Runs one action with `input` on stdin. The whole exchange, exit and reply, must fit
    /// in the timeout: the helper runs in its own process group, and the group is killed
    /// when the deadline passes, so background children holding stdout open cannot stall us.
    /// The reply is capped at [`MAX_REPLY`] bytes.
    fn run(
        &self,
        action: &'static str,
        input: &str,
        for_server: &str,
    ) -> Result<Reply, HelperError> {
        let program = self.program();
        let deadline = Instant::now() + self.timeout;
        let mut command = Command::new(&program);
        command
            .arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Like docker's client, the helper's own diagnostics go to our stderr.
            .stderr(Stdio::inherit());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => HelperError::Missing {
                program: program.clone(),
            },
            _ => HelperError::Spawn {
                program: program.clone(),
                source,
            },
        })?;
        if let Some(mut stdin) = child.stdin.take() {
            // A helper that exits without reading stdin is judged by its exit code below.
            let _ = stdin.write_all(input.as_bytes());
        }
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, reply) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            // One byte past the cap tells "too large" from "exactly the cap".
            let _ = stdout.take(MAX_REPLY as u64 + 1).read_to_end(&mut buf);
            let _ = sender.send(buf);
        });
        let timeout = || HelperError::Timeout {
            program: program.clone(),
            action,
            for_server: for_server.to_string(),
            secs: self.timeout.as_secs().max(1),
        };
        let status = match child.wait_timeout(self.timeout) {
            Ok(Some(status)) => status,
            Ok(None) | Err(_) => {
                kill_group(&mut child);
                let _ = child.wait();
                return Err(timeout());
            }
        };
        // The helper has exited, so its reply is written. A child it left behind may still
        // hold stdout open: after a moment for the pipe to drain, it is ended, not waited for.
        let remaining = deadline.saturating_duration_since(Instant::now());
        let stdout = match reply.recv_timeout(remaining.min(AFTER_EXIT)) {
            Ok(stdout) => stdout,
            Err(_) => {
                kill_group(&mut child);
                reply
                    .recv_timeout(Duration::from_secs(1))
                    .map_err(|_| timeout())?
            }
        };
        if stdout.len() > MAX_REPLY {
            kill_group(&mut child);
            return Err(HelperError::TooLarge {
                program,
                action,
                for_server: for_server.to_string(),
            });
        }
        Ok(Reply {
            success: status.success(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
        })
    }
}

/// The most a helper may write in reply: logins are a few hundred bytes, `list` a few KiB.
const MAX_REPLY: usize = 1 << 20;
/// How long stdout may stay open once the helper has exited (docs/conventions.md).
const AFTER_EXIT: Duration = Duration::from_millis(250);

/// Kills the helper and everything in its process group.
fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        let group = rustix::process::Pid::from_child(child);
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
}

/// The usage line a helper prints (to stdout, exit 1) when not given exactly one action.
pub(crate) fn usage(name: &str) -> String {
    format!("Usage: {name} <store|get|erase|list|version>")
}

pub(crate) const MISSING_SERVER_URL: &str = "no credentials server URL";
pub(crate) const MISSING_USERNAME: &str = "no credentials username";

/// JSON as Go's `json.Encoder` writes it: compact, map keys sorted, `<`, `>`, `&`, U+2028 and
/// U+2029 escaped as `\uXXXX`, and a trailing newline.
pub(crate) fn go_json(value: &impl serde::Serialize) -> String {
    let compact = serde_json::to_string(value).expect("plain values serialize");
    let mut out = String::with_capacity(compact.len() + 8);
    for c in compact.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('\n');
    out
}

/// Reads a helper's stdin the way the Go library does: lines joined without their newlines.
pub(crate) fn joined_lines(input: &str) -> String {
    input.lines().collect()
}

/// `store`'s JSON decoding errors, phrased as Go's `encoding/json` phrases the common ones.
pub(crate) fn go_decode_error(input: &str, error: &serde_json::Error) -> String {
    let trimmed = input.trim_start();
    if trimmed.is_empty() {
        return "EOF".to_string();
    }
    let first = trimmed.chars().next().unwrap_or(' ');
    if !matches!(first, '{' | '[' | '"' | '-' | '0'..='9' | 't' | 'f' | 'n') {
        return format!("invalid character '{first}' looking for beginning of value");
    }
    if error.is_eof() {
        return "unexpected EOF".to_string();
    }
    error.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_json_escapes_like_encoding_json() {
        let creds = serde_json::json!({"ServerURL": "a&b", "Username": "<token>", "Secret": "s"});
        assert_eq!(
            go_json(&creds),
            "{\"ServerURL\":\"a\\u0026b\",\"Username\":\"\\u003ctoken\\u003e\",\"Secret\":\"s\"}\n"
        );
    }

    #[test]
    fn decode_errors_follow_go() {
        let err = |input: &str| {
            let e = serde_json::from_str::<serde_json::Value>(input).unwrap_err();
            go_decode_error(input, &e)
        };
        assert_eq!(err(""), "EOF");
        assert_eq!(err("{\"ServerURL\":"), "unexpected EOF");
        assert_eq!(
            err("xyz"),
            "invalid character 'x' looking for beginning of value"
        );
    }
}

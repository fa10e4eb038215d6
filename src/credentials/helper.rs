//! The client side of the docker-credential-helpers protocol (semantics §2):
//! `docker-credential-<name> get|list`, PascalCase JSON, errors on stdout with exit 1.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Deserialize;
use wait_timeout::ChildExt;

use super::Password;

/// The exact reply every helper gives when it holds nothing for the server.
pub const NOT_FOUND_MESSAGE: &str = "credentials not found in native keychain";

/// The username a helper stores with an identity (OAuth refresh) token.
pub const TOKEN_USERNAME: &str = "<token>";

#[derive(Debug, Clone)]
pub struct Helper {
    name: String,
    timeout: Duration,
}

/// What a helper holds for one server.
#[derive(Debug)]
pub enum HelperCredential {
    Basic {
        username: String,
        password: Password,
    },
    /// `Username == "<token>"`: the secret is an identity token the kubelet cannot use.
    IdentityToken,
}

#[derive(Debug, thiserror::Error)]
pub enum HelperError {
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
        reason: String,
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
    pub fn new(name: &str, timeout: Duration) -> Self {
        Self {
            name: name.to_string(),
            timeout,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn program(&self) -> String {
        format!("docker-credential-{}", self.name)
    }

    /// `get`: the server URL on stdin; `Ok(None)` is the protocol's "not found".
    pub fn get(&self, server_url: &str) -> Result<Option<HelperCredential>, HelperError> {
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
                // serde's message names the position, never the secret itself.
                reason: e.to_string(),
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
    pub fn list(&self) -> Result<BTreeMap<String, String>, HelperError> {
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
            reason: e.to_string(),
        })
    }

    fn failed(&self, action: &'static str, for_server: String, stdout: &str) -> HelperError {
        let message = stdout.trim();
        HelperError::Failed {
            program: self.program(),
            action,
            for_server,
            message: if message.is_empty() {
                "it exited non-zero with no message".to_string()
            } else {
                message.chars().take(300).collect()
            },
        }
    }

    fn run(
        &self,
        action: &'static str,
        input: &str,
        for_server: &str,
    ) -> Result<Reply, HelperError> {
        let program = self.program();
        let mut child = Command::new(&program)
            .arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Like docker's client, the helper's own diagnostics go to our stderr.
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| match source.kind() {
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
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stdout.read_to_end(&mut buf);
            buf
        });
        let status = match child.wait_timeout(self.timeout) {
            Ok(Some(status)) => status,
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(HelperError::Timeout {
                    program,
                    action,
                    for_server: for_server.to_string(),
                    secs: self.timeout.as_secs().max(1),
                });
            }
        };
        let stdout = reader.join().unwrap_or_default();
        Ok(Reply {
            success: status.success(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
        })
    }
}

//! Credentials given on the command line. The password comes from stdin or a no-echo prompt;
//! `--password` in argv is accepted for kubectl compatibility only.

use std::io::{IsTerminal, Read};

use super::{Credential, CredentialError, Origin, Password};
use crate::registry::Registry;

/// How the password reaches us.
#[derive(Debug, Clone)]
pub enum PasswordInput {
    /// `--password-stdin`.
    Stdin,
    /// `--password`/`--docker-password`, visible to other users in the process list.
    Argv(Password),
    /// No-echo prompt on the terminal.
    Prompt,
}

#[derive(Debug, Clone)]
pub struct ExplicitLogin {
    /// Registries the login is for (Docker Hub when none is named, as with kubectl).
    pub servers: Vec<Registry>,
    pub username: String,
    pub password: Password,
    pub email: Option<String>,
}

impl ExplicitLogin {
    pub fn credentials(&self) -> Vec<Credential> {
        self.servers
            .iter()
            .map(|registry| Credential {
                registry: registry.clone(),
                username: self.username.clone(),
                password: self.password.clone(),
                email: self.email.clone(),
                origin: Origin::Explicit,
            })
            .collect()
    }
}

/// Reads the password. Like `docker login --password-stdin`, one trailing newline is dropped.
pub fn read_password(input: PasswordInput, username: &str) -> Result<Password, CredentialError> {
    let password = match input {
        PasswordInput::Argv(password) => password.expose().to_string(),
        PasswordInput::Stdin => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| {
                CredentialError::Usage(format!("reading the password from stdin: {e}"))
            })?;
            let text = text.strip_suffix('\n').unwrap_or(&text);
            text.strip_suffix('\r').unwrap_or(text).to_string()
        }
        PasswordInput::Prompt => {
            if !std::io::stdin().is_terminal() {
                return Err(CredentialError::Usage(
                    "no password given and stdin is not a terminal: pipe it in with --password-stdin".into(),
                ));
            }
            rpassword::prompt_password(format!("Password for {username}: "))
                .map_err(|e| CredentialError::Usage(format!("reading the password: {e}")))?
        }
    };
    if password.is_empty() {
        return Err(CredentialError::Usage("the password is empty".into()));
    }
    Ok(Password::new(password))
}

//! Credentials given on the command line. The password comes from stdin or a no-echo prompt;
//! `--password` in argv is accepted for kubectl compatibility only.

use std::io::{IsTerminal, Read};

use super::{Credential, CredentialError, Origin, Password};
use crate::rules::registry::Registry;

/// How the password reaches us.
#[derive(Debug, Clone)]
pub(crate) enum PasswordInput {
    /// `--password-stdin`.
    Stdin,
    /// `--password`/`--docker-password`, visible to other users in the process list.
    Argv(Password),
    /// No-echo prompt on the terminal.
    Prompt,
}

impl PasswordInput {
    /// What to tell the user about how the password arrived, if anything.
    pub(crate) fn warning(&self) -> Option<&'static str> {
        matches!(self, Self::Argv(_)).then_some(
            "--password puts the password in the process list, where other users can read it; use --password-stdin",
        )
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ExplicitLogin {
    /// Registries the login is for (Docker Hub when none is named, as with kubectl).
    pub(crate) servers: Vec<Registry>,
    pub(crate) username: String,
    pub(crate) password: Password,
    pub(crate) email: Option<String>,
}

impl ExplicitLogin {
    pub(crate) fn credentials(&self) -> Vec<Credential> {
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
pub(crate) fn read_password(
    input: PasswordInput,
    username: &str,
) -> Result<Password, CredentialError> {
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
            prompt_hidden(&format!("Password for {username}: "))
                .map_err(|e| CredentialError::Usage(format!("reading the password: {e}")))?
        }
    };
    if password.is_empty() {
        return Err(CredentialError::Usage("the password is empty".into()));
    }
    Ok(Password::new(password))
}

/// Asks on the terminal with echo already off: rpassword prints the prompt first and only
/// then turns echo off, so keys typed as the prompt appears could still show.
#[cfg(unix)]
fn prompt_hidden(prompt: &str) -> std::io::Result<String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    use std::io::{BufRead, Write};

    /// Puts the terminal back however the read ends.
    struct Restore<'a>(&'a std::fs::File, rustix::termios::Termios);
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            let _ = tcsetattr(self.0, OptionalActions::Now, &self.1);
        }
    }

    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    let original = tcgetattr(&tty)?;
    let mut hidden = original.clone();
    hidden.local_modes.remove(LocalModes::ECHO);
    // Still show the newline of Enter, as rpassword does.
    hidden.local_modes.insert(LocalModes::ECHONL);
    // TCSANOW, not TCSAFLUSH: keys already typed stay in the input.
    tcsetattr(&tty, OptionalActions::Now, &hidden)?;
    let _restore = Restore(&tty, original);
    (&tty).write_all(prompt.as_bytes())?;
    (&tty).flush()?;
    let mut line = String::new();
    std::io::BufReader::new(&tty).read_line(&mut line)?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    Ok(line.strip_suffix('\r').unwrap_or(line).to_string())
}

#[cfg(not(unix))]
fn prompt_hidden(prompt: &str) -> std::io::Result<String> {
    rpassword::prompt_password(prompt)
}

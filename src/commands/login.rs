//! `login`, `logout` and `logins`: registry logins in the OS keychain, without docker.

use std::io::Write;

use crate::credentials::keychain::{self, StoredLogin};
use crate::credentials::{CredentialError, PasswordInput, read_password};
use crate::error::ExitStatus;
use crate::output::{print_objects, print_table};
use crate::registry::Registry;
use crate::settings::{LoginSettings, OutputFormat};

pub fn login(settings: LoginSettings) -> anyhow::Result<ExitStatus> {
    if matches!(settings.password, PasswordInput::Argv(_)) {
        eprintln!(
            "warning: --password puts the password in the process list, where other users can read it; use --password-stdin"
        );
    }
    let password = read_password(settings.password, &settings.username)?;
    let login = StoredLogin {
        // docker's own key for the registry, so `credsStore: regcred` finds it.
        server_url: settings.server.docker_config_key(),
        username: settings.username.clone(),
        secret: password.expose().to_string(),
    };
    keychain::store(&login).map_err(CredentialError::Keychain)?;
    println!(
        "Login for {} (user {}) stored in the OS keychain",
        settings.server, settings.username
    );
    Ok(ExitStatus::Success)
}

pub fn logout(server: Registry) -> anyhow::Result<ExitStatus> {
    if !keychain::erase(&server.docker_config_key()).map_err(CredentialError::Keychain)? {
        anyhow::bail!("no login for {server} in the OS keychain");
    }
    println!("Removed login for {server} from the OS keychain");
    Ok(ExitStatus::Success)
}

pub fn logins(output: Option<OutputFormat>) -> anyhow::Result<ExitStatus> {
    let logins = keychain::list().map_err(CredentialError::Keychain)?;
    let mut stdout = std::io::stdout().lock();
    match output {
        Some(format) => {
            let items: Vec<_> = logins
                .iter()
                .map(|(server, username)| serde_json::json!({"server": server, "username": username}))
                .collect();
            print_objects(
                &mut stdout,
                format,
                vec![serde_json::json!({ "items": items })],
            )?;
        }
        None if logins.is_empty() => eprintln!("No logins in the OS keychain."),
        None => {
            let rows: Vec<Vec<String>> = logins
                .iter()
                .map(|(server, username)| {
                    let shown =
                        Registry::parse(server).map_or_else(|_| server.clone(), |r| r.to_string());
                    vec![shown, username.clone()]
                })
                .collect();
            print_table(&mut stdout, &["SERVER", "USERNAME"], &rows)?;
        }
    }
    stdout.flush()?;
    Ok(ExitStatus::Success)
}

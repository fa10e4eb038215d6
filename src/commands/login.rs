//! `login`, `logout` and `logins`: registry logins in the OS keychain, without docker.

use std::io::Write;

use crate::credentials::keychain::{self, StoredLogin};
use crate::credentials::{Credential, CredentialError, Origin, read_password};
use crate::error::ExitStatus;
use crate::output::{print_objects, print_table};
use crate::printer::Printer;
use crate::rules::registry::Registry;
use crate::settings::{LoginSettings, OutputFormat};

pub(crate) async fn login(
    settings: LoginSettings,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    if let Some(warning) = settings.password.warning() {
        printer.warning(warning);
    }
    let password = read_password(settings.password, &settings.username)?;
    // Like `docker login`: the registry must accept it before it is stored.
    if let Some(transport) = &settings.verify {
        let credential = Credential {
            registry: settings.server.clone(),
            username: settings.username.clone(),
            password: password.clone(),
            email: None,
            origin: Origin::Explicit,
        };
        super::verify_before_writing(&[credential], transport, super::Withheld::Login, printer)
            .await?;
    }
    let login = StoredLogin {
        // docker's own key for the registry, so `credsStore: regcred` finds it.
        server_url: settings.server.docker_config_key(),
        username: settings.username.clone(),
        secret: password,
    };
    keychain::store(&login).map_err(CredentialError::Keychain)?;
    writeln!(
        printer.out(),
        "Login for {} (user {}) stored in the OS keychain",
        settings.server,
        settings.username
    )?;
    Ok(ExitStatus::Success)
}

pub(crate) fn logout(server: Registry, printer: &Printer) -> anyhow::Result<ExitStatus> {
    if !keychain::erase(&server.docker_config_key()).map_err(CredentialError::Keychain)? {
        anyhow::bail!("no login for {server} in the OS keychain");
    }
    writeln!(
        printer.out(),
        "Removed login for {server} from the OS keychain"
    )?;
    Ok(ExitStatus::Success)
}

pub(crate) fn logins(
    output: Option<OutputFormat>,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let logins = keychain::list().map_err(CredentialError::Keychain)?;
    let mut stdout = match output {
        Some(_) => printer.out(),
        None => printer.human_out(),
    };
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
        None if logins.is_empty() => printer.status("No logins in the OS keychain."),
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

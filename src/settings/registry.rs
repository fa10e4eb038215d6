//! `verify`, `login` and the registry flags of `create --verify` and `check --probe`.

use super::*;

impl LoginSettings {
    pub(crate) fn from_args(args: &LoginArgs) -> Result<Self, UsageError> {
        let password = password_input(&args.username, args.password.as_ref(), args.password_stdin)?;
        Ok(Self {
            server: registry(&args.server)?,
            username: args.username.clone(),
            password,
            verify: (!args.no_verify)
                .then(|| transport_settings(&args.registry))
                .transpose()?,
        })
    }
}

/// A `--username` checked, and where its password comes from (`create` and `login`).
impl VerifySettings {
    pub(crate) fn from_args(
        args: &VerifyArgs,
        namespace: Option<&str>,
    ) -> Result<Self, UsageError> {
        let images = args
            .images
            .iter()
            .map(|image| {
                ImageRef::parse(image)
                    .map_err(|e| UsageError(format!("invalid --image {image:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (secrets, registries): (Vec<&String>, Vec<&String>) = args
            .targets
            .iter()
            .partition(|target| target.starts_with("secret/") || target.starts_with("secrets/"));
        let logins = match (secrets.as_slice(), registries.is_empty()) {
            ([], _) => {
                let mut servers = unique_registries(registries.into_iter())?;
                // With images but no registry: the images' registries.
                if servers.is_empty() {
                    servers = unique_registries(images.iter().map(|image| &image.domain))?;
                }
                let explicit = match &args.username {
                    None => None,
                    Some(username) => {
                        if servers.len() != 1 {
                            return Err(UsageError(
                                "--username verifies one registry: name exactly one".into(),
                            ));
                        }
                        Some(ExplicitSettings {
                            username: username.clone(),
                            email: None,
                            password: password_input(username, None, args.password_stdin)?,
                        })
                    }
                };
                VerifyLogins::Local(LocalLookup {
                    servers,
                    explicit,
                    from: source_kinds(&args.from),
                    docker_config: args.lookup.docker_config.clone(),
                    helper_timeout: args.lookup.helper_timeout,
                })
            }
            ([secret], true) => {
                if args.username.is_some() || !args.from.is_empty() {
                    return Err(UsageError(
                        "secret/NAME verifies the Secret's own logins: drop --username and --from"
                            .into(),
                    ));
                }
                let name = secret.split_once('/').map_or("", |(_, name)| name);
                check_secret_name(name)?;
                VerifyLogins::Secret {
                    name: name.to_string(),
                    namespace: namespace.map(str::to_string),
                }
            }
            _ => {
                return Err(UsageError(
                    "verify takes registries or one secret/NAME, not both".into(),
                ));
            }
        };
        Ok(Self {
            logins,
            images,
            transport: transport_settings(&args.registry)?,
            output: structured(args.output.as_ref())?,
        })
    }
}

/// `--timeout`, `--ca-file`, `--insecure-skip-tls-verify`, `--plain-http`.
pub(crate) fn transport_settings(args: &RegistryArgs) -> Result<TransportSettings, UsageError> {
    if args.timeout.is_zero() {
        return Err(UsageError("--timeout must be more than 0".into()));
    }
    Ok(TransportSettings {
        timeout: args.timeout,
        ca_file: args.ca_file.clone(),
        insecure_skip_tls_verify: args.insecure_skip_tls_verify,
        plain_http: args.plain_http,
    })
}

/// Registries as given, parsed, each once, in their first order.
pub(super) fn unique_registries<'a>(
    servers: impl Iterator<Item = &'a String>,
) -> Result<Vec<Registry>, UsageError> {
    let mut unique = Vec::new();
    for server in servers {
        let registry = registry(server)?;
        if !unique.contains(&registry) {
            unique.push(registry);
        }
    }
    Ok(unique)
}

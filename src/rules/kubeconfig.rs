//! What our client setup takes from a kubeconfig before kube does, and what it says when a
//! kubeconfig or its exec credential plugin fails: the entries the connection flags select,
//! the files kube will read for them (checked first, docs/conventions.md "Guarantees"), and
//! messages that quote neither tokens nor forged lines. Reached by the `kubeconfig` fuzz
//! target (tests/fuzz.sh).
//!
//! kube's kubeconfig and error types are data here; reading files and running plugins stay
//! in the cluster layer (`tests/architecture.rs` allows these types and nothing else of kube).

use std::path::PathBuf;

use kube::config::{AuthInfo, Cluster, Kubeconfig, KubeconfigError};

use super::text::escape_field;

/// The kubeconfig entries `--context`, `--cluster` and `--user` choose, as kubectl chooses:
/// a flag wins, else the context's own, and the context is `--context` or `current-context`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Selection<'a> {
    pub context: Option<&'a str>,
    pub cluster: Option<&'a str>,
    pub user: Option<&'a str>,
}

impl Selection<'_> {
    /// The selected context: `--context`, else `current-context`.
    pub fn context<'k>(&self, kubeconfig: &'k Kubeconfig) -> Option<&'k kube::config::Context> {
        let name = self.context.or(kubeconfig.current_context.as_deref())?;
        kubeconfig
            .contexts
            .iter()
            .find(|named| named.name == name)?
            .context
            .as_ref()
    }

    /// The selected cluster: `--cluster`, else the context's.
    pub fn cluster<'k>(&self, kubeconfig: &'k Kubeconfig) -> Option<&'k Cluster> {
        let context = self.context(kubeconfig);
        let name = self
            .cluster
            .or_else(|| context.map(|context| context.cluster.as_str()))?;
        kubeconfig
            .clusters
            .iter()
            .find(|named| named.name == name)?
            .cluster
            .as_ref()
    }

    /// The user the selection names (`--user`, else the context's), if it names one.
    pub fn user_name<'k>(&'k self, kubeconfig: &'k Kubeconfig) -> Option<&'k str> {
        self.user.or_else(|| {
            self.context(kubeconfig)
                .and_then(|context| context.user.as_deref())
        })
    }

    /// A named user the kubeconfig does not have: kubectl refuses it rather than go on as
    /// anonymous.
    pub fn missing_user<'k>(&'k self, kubeconfig: &'k Kubeconfig) -> Option<&'k str> {
        let name = self.user_name(kubeconfig).filter(|name| !name.is_empty())?;
        (!kubeconfig.auth_infos.iter().any(|named| named.name == name)).then_some(name)
    }

    /// The selected user's entry, if the kubeconfig defines it.
    pub fn user<'k>(&'k self, kubeconfig: &'k Kubeconfig) -> Option<&'k AuthInfo> {
        let name = self.user_name(kubeconfig)?;
        kubeconfig
            .auth_infos
            .iter()
            .find(|named| named.name == name)?
            .auth_info
            .as_ref()
    }
}

/// What kind of file a kubeconfig names, for its size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `certificate-authority`, `client-certificate`, `client-key`: PEM.
    Certificate,
    /// `tokenFile`.
    Token,
}

/// The files kube reads for the selected cluster and user: they are checked before kube
/// opens them, since kube reads a FIFO until it is written and `/dev/zero` until memory ends.
pub fn files_read(
    kubeconfig: &Kubeconfig,
    selection: &Selection<'_>,
) -> Vec<(FileKind, &'static str, PathBuf)> {
    let mut files = Vec::new();
    if let Some(cluster) = selection.cluster(kubeconfig) {
        files.extend(cluster.certificate_authority.iter().map(|path| {
            (
                FileKind::Certificate,
                "certificate-authority",
                PathBuf::from(path),
            )
        }));
    }
    if let Some(user) = selection.user(kubeconfig) {
        for (field, path) in [
            ("client-certificate", &user.client_certificate),
            ("client-key", &user.client_key),
        ] {
            if let Some(path) = path {
                files.push((FileKind::Certificate, field, PathBuf::from(path)));
            }
        }
        files.extend(
            user.token_file
                .iter()
                .map(|path| (FileKind::Token, "tokenFile", PathBuf::from(path))),
        );
    }
    files
}

/// Why a kubeconfig could not be used, in one line. Invalid YAML is told by position only:
/// the YAML library's message shows the surrounding lines, and they hold tokens and keys.
/// Other messages may carry names from the file, so their line ends are escaped.
pub fn failure(error: &KubeconfigError) -> String {
    match error {
        KubeconfigError::Parse(parse) => format!(
            "it is not a valid kubeconfig{}",
            parse
                .location()
                .map(|at| format!(" (line {}, column {})", at.line(), at.column()))
                .unwrap_or_default()
        ),
        other => escape_field(&other.to_string()).into_owned(),
    }
}

/// A client error as it may be shown. An exec credential plugin's failure or bad reply is
/// told by kind and position only: kube's own message quotes the plugin's output, which holds
/// its token (docs/conventions.md).
pub fn client_error(error: &kube::Error) -> String {
    use kube::client::AuthError;
    let kube::Error::Auth(auth) = error else {
        return escape_field(&error.to_string()).into_owned();
    };
    match auth {
        AuthError::AuthExecParse(parse) => format!(
            "the exec credential plugin's reply is not a valid ExecCredential{}; its text is not \
             shown, as it holds a token",
            parse
                .location()
                .map(|at| format!(" (line {}, column {})", at.line(), at.column()))
                .unwrap_or_default()
        ),
        AuthError::AuthExecRun { out, .. } => format!(
            "the exec credential plugin of the kubeconfig's user failed ({}); its output is not \
             shown, as it may hold a token (run the plugin by hand to read it)",
            out.status
        ),
        other => format!("auth error: {}", escape_field(&other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig(yaml: &str) -> Kubeconfig {
        Kubeconfig::from_yaml(yaml).unwrap()
    }

    // Indented as a whole, which YAML allows.
    const TWO_CONTEXTS: &str = r#"
        apiVersion: v1
        kind: Config
        current-context: a
        clusters:
        - {name: ca, cluster: {server: "https://a:1", certificate-authority: /ca-a.pem}}
        - {name: cb, cluster: {server: "https://b:1", certificate-authority: /ca-b.pem}}
        contexts:
        - {name: a, context: {cluster: ca, user: ua}}
        - {name: b, context: {cluster: cb, user: ub}}
        users:
        - {name: ua, user: {client-certificate: /a.crt, client-key: /a.key}}
        - {name: ub, user: {tokenFile: /b.token}}
    "#;

    #[test]
    fn only_the_files_of_the_selected_entries_are_checked() {
        let config = kubeconfig(TWO_CONTEXTS);
        let files = |selection: Selection<'_>| {
            files_read(&config, &selection)
                .into_iter()
                .map(|(kind, field, path)| format!("{kind:?} {field} {}", path.display()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            files(Selection::default()),
            [
                "Certificate certificate-authority /ca-a.pem",
                "Certificate client-certificate /a.crt",
                "Certificate client-key /a.key"
            ]
        );
        assert_eq!(
            files(Selection {
                context: Some("b"),
                ..Default::default()
            }),
            [
                "Certificate certificate-authority /ca-b.pem",
                "Token tokenFile /b.token"
            ]
        );
        // Flags override the context's own entries, as with kubectl.
        assert_eq!(
            files(Selection {
                context: Some("b"),
                cluster: Some("ca"),
                user: Some("ua"),
            }),
            [
                "Certificate certificate-authority /ca-a.pem",
                "Certificate client-certificate /a.crt",
                "Certificate client-key /a.key"
            ]
        );
        assert!(
            files(Selection {
                context: Some("missing"),
                ..Default::default()
            })
            .is_empty()
        );
    }

    #[test]
    fn a_user_named_but_not_defined_is_missing_as_kubectl_says() {
        let config = kubeconfig(TWO_CONTEXTS);
        assert_eq!(Selection::default().missing_user(&config), None);
        let nosuch = Selection {
            user: Some("nosuch"),
            ..Default::default()
        };
        assert_eq!(nosuch.missing_user(&config), Some("nosuch"));
    }

    #[test]
    fn failures_quote_no_yaml_and_forge_no_line() {
        let error =
            Kubeconfig::from_yaml("users:\n- name: u\n  user: {token: S3CRET\n").unwrap_err();
        let message = failure(&error);
        assert!(
            message.starts_with("it is not a valid kubeconfig"),
            "{message}"
        );
        assert!(!message.contains("S3CRET"), "{message}");
        let error = KubeconfigError::LoadContext("x\nerror: forged".into());
        assert_eq!(
            failure(&error),
            r"failed to load current context: x\u{a}error: forged"
        );
    }
}

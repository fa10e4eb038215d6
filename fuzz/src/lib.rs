//! What the fuzz targets check, through the main crate's public API, `regcred::rules`
//! (tests/fuzz.sh, docs/testing.md). Each target runs one parser on untrusted input and checks
//! what must always hold: no panic, and no error message that quotes a string value of the
//! input (it could be a secret).

#![forbid(unsafe_code)]

use regcred::rules::auth_files::{
    parse_docker_auth_config, parse_docker_config, parse_podman_auth_file,
};
use regcred::rules::{image::ImageRef, kubelet};

/// What stands in for every long string value of the input when a message seems to quote one.
const MARKER: &str = "regcred-fuzz-marker";

/// Replaces every string value long enough to be recognised (12 characters or more; short
/// ones such as "a" appear in any text) with [`MARKER`]; whether any was there.
fn mark_values(value: &mut serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) if s.len() >= 12 => {
            *s = MARKER.to_string();
            true
        }
        serde_json::Value::Array(items) => items.iter_mut().fold(false, |m, v| mark_values(v) | m),
        serde_json::Value::Object(map) => map.values_mut().fold(false, |m, v| mark_values(v) | m),
        _ => false,
    }
}

/// No error message quotes a string value of the input. A message may contain a value by
/// coincidence (an input can spell out our own words), so the check is differential: the
/// values are replaced with a marker, the input is parsed again by `parse`, and the marker
/// must not come back in its message.
fn assert_no_value_quoted(text: &str, parse: impl Fn(&str) -> Option<String>) {
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    if !mark_values(&mut value) {
        return;
    }
    if let Some(message) = parse(&value.to_string()) {
        assert!(
            !message.contains(MARKER),
            "a message quotes a value of the input: {message}"
        );
    }
}

/// Image references: parsing never panics, and a parsed reference parses again to itself.
pub fn image_reference(text: &str) {
    if let Ok(image) = ImageRef::parse(text) {
        let again = ImageRef::parse(&image.to_string()).expect("a parsed reference re-parses");
        assert_eq!(again.repository(), image.repository());
    }
}

/// docker's config.json, `DOCKER_AUTH_CONFIG` and podman's auth.json.
pub fn local_config(text: &str) {
    let parsers: [fn(&str) -> Option<String>; 3] = [
        |text| parse_docker_config(text, "config.json").err().map(|e| e.to_string()),
        |text| parse_docker_auth_config(text).err().map(|e| e.to_string()),
        |text| {
            parse_podman_auth_file(text, "auth.json", &mut Vec::new())
                .err()
                .map(|e| e.to_string())
        },
    ];
    for parse in parsers {
        if parse(text).is_some() {
            assert_no_value_quoted(text, parse);
        }
    }
}

/// A pull Secret's `.dockerconfigjson` and `.dockercfg`, as the kubelet reads them.
pub fn pull_secret(bytes: &[u8]) {
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::Secret;
    for (kind, key) in [
        (
            kubelet::DOCKERCONFIGJSON_TYPE,
            kubelet::DOCKERCONFIGJSON_KEY,
        ),
        (kubelet::DOCKERCFG_TYPE, ".dockercfg"),
    ] {
        let parse = |bytes: &[u8]| {
            let secret = Secret {
                type_: Some(kind.to_string()),
                data: Some([(key.to_string(), ByteString(bytes.to_vec()))].into()),
                ..Secret::default()
            };
            kubelet::parse_secret(&secret).err().map(|e| e.to_string())
        };
        if parse(bytes).is_some() {
            assert_no_value_quoted(&String::from_utf8_lossy(bytes), |text| {
                parse(text.as_bytes())
            });
        }
    }
}

/// What a registry answers, all hostile text: `WWW-Authenticate` challenges (a parsed scheme
/// is lower case), tokens whose granted scope is read, and error bodies. Never a panic.
pub fn www_authenticate(header: &str) {
    if let Some((scheme, _)) = regcred::rules::verdict::parse_challenge(header) {
        assert_eq!(scheme, scheme.to_ascii_lowercase());
    }
    let _ = regcred::rules::verdict::grants_pull(header, "team/app");
    for code in regcred::rules::verdict::error_codes(header) {
        assert_eq!(code, code.to_ascii_uppercase());
    }
}

/// The kubelet's per-label glob (Go's `filepath.Match`) against a plain reference for ASCII
/// patterns of literals, `*` and `?`: the same answer; any input: no panic, no blow-up.
pub fn glob(pattern: &str, name: &str) {
    // Go's `*` steps over bytes, not runes, so with multi-byte text it can split a rune (and
    // then match more `?` than there are characters); the reference is for ASCII, where bytes
    // and characters agree. Go itself is compared in the kubelet oracle test.
    let simple = !pattern.contains(['[', ']', '\\']) && pattern.is_ascii() && name.is_ascii();
    let ours = kubelet::glob_match(pattern, name);
    if simple {
        assert_eq!(
            ours,
            reference_glob(pattern, name),
            "{pattern:?} vs {name:?}"
        );
    }
}

/// Wildcard matching by dynamic programming: `*` any run of characters but `/`, `?` one
/// character but `/`, anything else itself.
fn reference_glob(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // matches[i][j]: p[..i] matches n[..j].
    let mut matches = vec![vec![false; n.len() + 1]; p.len() + 1];
    matches[0][0] = true;
    for i in 1..=p.len() {
        for j in 0..=n.len() {
            matches[i][j] = match p[i - 1] {
                '*' => matches[i - 1][j] || (j > 0 && n[j - 1] != '/' && matches[i][j - 1]),
                '?' => j > 0 && n[j - 1] != '/' && matches[i - 1][j - 1],
                c => j > 0 && n[j - 1] == c && matches[i - 1][j - 1],
            };
        }
    }
    matches[p.len()][n.len()]
}

/// The escaping of text from the cluster and kubeconfigs: no control, bidi or invisible
/// formatting character survives (line ends only in whole messages), and text without any
/// comes back unchanged.
pub fn escaping(text: &str) {
    use regcred::rules::text::{escape_controls, escape_field, is_hidden};
    let field = escape_field(text);
    assert!(!field.chars().any(is_hidden), "{field:?}");
    let message = escape_controls(text);
    assert!(
        !message.chars().any(|c| c != '\n' && is_hidden(c)),
        "{message:?}"
    );
    if !text.chars().any(is_hidden) {
        assert_eq!(field, text);
    }
}

/// kube's `ExecCredential`, which kube does not export: the same fields, read by the same
/// parser (`serde_saphyr`, as kube's `parse_exec_credentials`).
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct ExecCredential {
    kind: Option<String>,
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    spec: Option<ExecCredentialSpec>,
    status: Option<ExecCredentialStatus>,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct ExecCredentialSpec {
    interactive: Option<bool>,
    cluster: Option<serde_json::Value>,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct ExecCredentialStatus {
    #[serde(rename = "expirationTimestamp")]
    expiration_timestamp: Option<String>,
    token: Option<String>,
    #[serde(rename = "clientCertificateData")]
    client_certificate_data: Option<String>,
    #[serde(rename = "clientKeyData")]
    client_key_data: Option<String>,
}

/// A message that is one line with nothing hidden in it.
fn assert_one_clean_line(message: &str) {
    use regcred::rules::text::is_hidden;
    assert!(!message.chars().any(is_hidden), "{message:?}");
}

/// A kubeconfig, then after a NUL byte an exec credential plugin's reply, as our client setup
/// reads them (regcred::rules::kubeconfig): every message is one clean line that quotes no
/// value of the input; the files kube would read are found without a panic; a server URL is
/// shown without its password, and a bad proxy URL is refused without it.
pub fn kubeconfig(data: &[u8]) {
    use regcred::rules::kubeconfig::{Selection, client_error, failure, files_read};
    use kube::config::Kubeconfig;
    let (config, reply) = match data.iter().position(|byte| *byte == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let config = String::from_utf8_lossy(config);
    let read = |text: &str| Kubeconfig::from_yaml(text).err().map(|e| failure(&e));
    match Kubeconfig::from_yaml(&config) {
        Err(error) => {
            assert_one_clean_line(&failure(&error));
            assert_no_value_quoted(&config, read);
        }
        Ok(parsed) => {
            let _ = files_read(&parsed, &Selection::default());
            for named in &parsed.contexts {
                assert_one_clean_line(&regcred::rules::text::escape_field(&named.name));
            }
            for cluster in parsed.clusters.iter().filter_map(|named| named.cluster.as_ref()) {
                if let Some(server) = &cluster.server {
                    assert_password_hidden(server);
                }
                if let Some(proxy) = &cluster.proxy_url
                    && let Err(error) = regcred::rules::proxy::parse(proxy, "proxy-url")
                {
                    assert_password_not_in(proxy, &error.to_string());
                }
            }
        }
    }
    let parse_reply = |text: &[u8]| {
        serde_saphyr::from_slice::<ExecCredential>(text)
            .err()
            .map(|error| {
                client_error(&kube::Error::Auth(kube::client::AuthError::AuthExecParse(
                    Box::new(error),
                )))
            })
    };
    if let Some(message) = parse_reply(reply) {
        assert_one_clean_line(&message);
        assert_no_value_quoted(&String::from_utf8_lossy(reply), |text| {
            parse_reply(text.as_bytes())
        });
    }
}

/// The password of a URL's userinfo (`scheme://user:password@host`), if it has one.
fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    Some(password).filter(|password| !password.is_empty())
}

/// How a URL is shown (`redact_userinfo`) has no password but `***`.
fn assert_password_hidden(url: &str) {
    let shown = regcred::rules::text::redact_userinfo(url);
    assert!(
        url_password(&shown).is_none_or(|password| password == "***"),
        "{shown:?} shows the password of {url:?}"
    );
}

fn assert_password_not_in(url: &str, shown: &str) {
    if let Some(password) = url_password(url) {
        assert!(
            !shown.contains(&format!(":{password}@")),
            "{shown:?} shows the password of {url:?}"
        );
    }
}

/// `-o jsonpath=` and `-o yaml` (docs/conventions.md, "Output"): the input's first line is a
/// template, the rest a JSON document. A template is refused or rendered, never a panic; the
/// document's YAML reads back as the document (numbers compared by value: go-yaml writes
/// 1.0 as 1, as kubectl does).
pub fn kubectl_output(text: &str) {
    let (template, document) = text.split_once('\n').unwrap_or((text, "{}"));
    let Ok(document) = serde_json::from_str::<serde_json::Value>(document) else {
        return;
    };
    if let Ok(template) = regcred::rules::jsonpath::Template::parse(template) {
        let _ = template.render(&document);
    }
    if let Ok(columns) = regcred::rules::jsonpath::Columns::parse(template) {
        let _ = columns.rows(&document);
    }
    let yaml = regcred::rules::yaml::to_kubectl_yaml(&document);
    let read: serde_json::Value = serde_saphyr::from_str(&yaml)
        .unwrap_or_else(|e| panic!("our YAML does not parse: {e}\n{yaml}"));
    assert!(same_values(&document, &read), "{document}\nbecame\n{yaml}");
}

fn same_values(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_values(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_values(v, w)))
        }
        _ => a == b,
    }
}

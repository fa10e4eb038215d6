//! The kubelet's view of pull Secrets (docs/semantics.md §4): how it parses them, how it
//! normalizes their keys, and which credentials it tries for an image, in its order.
//!
//! Each rule follows the kubelet's Go code closely enough that a differential test against
//! that code (tests/kubelet-oracle, run by `kubelet_oracle`) finds no disagreement: Go's
//! `encoding/json` (case-insensitive field names, `null`, duplicate keys), `net/url` (which
//! keys parse at all) and `path/filepath.Match` (per host label) are reproduced here.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use k8s_openapi::api::core::v1::Secret;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::image::ImageRef;
use super::json::JsonFault;

/// The Secret types the kubelet reads pull credentials from, and the data key of each.
pub const DOCKERCONFIGJSON_TYPE: &str = "kubernetes.io/dockerconfigjson";
/// The data key of a `kubernetes.io/dockerconfigjson` Secret.
pub const DOCKERCONFIGJSON_KEY: &str = ".dockerconfigjson";
/// The legacy type, whose data key is `.dockercfg` (no `auths` wrapper).
pub const DOCKERCFG_TYPE: &str = "kubernetes.io/dockercfg";

/// One usable key of a pull Secret, as the kubelet keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// The key as written in the Secret.
    pub raw: String,
    /// The kubelet's normalized key: `host[/path]`, scheme and `/v1/`-`/v2/` prefix dropped.
    pub key: String,
    pub username: String,
    pub has_password: bool,
    /// When the password stops working, if it says (rules::expiry; not the kubelet's concern).
    pub expires: Option<k8s_openapi::jiff::Timestamp>,
}

/// Why the kubelet cannot use a pull Secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretProblem {
    #[error("type is {0}, not kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg")]
    WrongType(String),
    #[error("it has no {0} key")]
    MissingKey(&'static str),
    /// Anything here makes the kubelet fail every pull of the pod (`MakeDockerKeyring`).
    #[error("{0}")]
    Malformed(String),
}

/// Parses a pull Secret the way the kubelet does (`secretsToTrackedDockerConfigs`). Any
/// `Malformed` breaks all pulls for the pod; the other problems make the kubelet skip it.
pub fn parse_secret(secret: &Secret) -> Result<Vec<KeyEntry>, SecretProblem> {
    let kind = secret.type_.as_deref().unwrap_or("Opaque");
    let data = |key: &'static str| {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| b.0.as_slice())
            // An empty value is skipped like a missing one (`len(bytes) > 0`).
            .filter(|bytes| !bytes.is_empty())
            .ok_or(SecretProblem::MissingKey(key))
    };
    let (entries, file) = match kind {
        DOCKERCONFIGJSON_TYPE => (
            decode_docker_config(data(DOCKERCONFIGJSON_KEY)?, Shape::ConfigJson),
            DOCKERCONFIGJSON_KEY,
        ),
        DOCKERCFG_TYPE => (
            decode_docker_config(data(".dockercfg")?, Shape::Bare),
            ".dockercfg",
        ),
        other => return Err(SecretProblem::WrongType(other.to_string())),
    };
    let entries = entries.map_err(|e| SecretProblem::Malformed(format!("{file} {e}")))?;
    Ok(entries
        .into_iter()
        .filter_map(|(raw, entry)| {
            // `BasicDockerKeyring.Add` logs and skips a key that does not parse as a URL.
            let key = normalize_key(&raw)?;
            Some(KeyEntry {
                raw,
                key,
                expires: super::expiry::expiry_of(&entry.password),
                username: entry.username,
                has_password: !entry.password.is_empty(),
            })
        })
        .collect())
}

/// One login of a pull Secret, password included: what `sync` copies from a source Secret or
/// keeps from an earlier copy.
#[derive(Debug, Clone)]
pub struct SecretLogin {
    /// The key as written in the Secret.
    pub raw: String,
    pub username: String,
    pub password: super::credential::Password,
}

/// The logins of a pull Secret, parsed as [`parse_secret`] parses it.
pub fn secret_logins(secret: &Secret) -> Result<Vec<SecretLogin>, SecretProblem> {
    parse_secret(secret)?;
    let kind = secret.type_.as_deref().unwrap_or_default();
    let (key, shape) = match kind {
        DOCKERCFG_TYPE => (".dockercfg", Shape::Bare),
        _ => (DOCKERCONFIGJSON_KEY, Shape::ConfigJson),
    };
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.as_slice())
        .unwrap_or_default();
    let entries = decode_docker_config(bytes, shape)
        .map_err(|e| SecretProblem::Malformed(format!("{key} {e}")))?;
    Ok(entries
        .into_iter()
        .filter(|(raw, _)| normalize_key(raw).is_some())
        .map(|(raw, entry)| SecretLogin {
            raw,
            username: entry.username,
            password: super::credential::Password::new(entry.password),
        })
        .collect())
}

// ---------------------------------------------------------------------------------------
// Decoding, as Go's encoding/json decodes into `DockerConfigJSON` / `DockerConfig`.

#[derive(Clone, Copy)]
enum Shape {
    /// `.dockerconfigjson`: `{"auths": {...}, "HttpHeaders": {...}}`.
    ConfigJson,
    /// `.dockercfg`: the bare map of entries.
    Bare,
}

#[derive(Default)]
struct Entry {
    username: String,
    password: String,
}

// By hand, so that no `{:?}` can show the password.
impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

type Entries = BTreeMap<String, Entry>;

fn decode_docker_config(bytes: &[u8], shape: Shape) -> Result<Entries, JsonProblem> {
    // Go decodes invalid UTF-8 in strings as U+FFFD, one per byte; outside strings it is a
    // syntax error either way.
    let text = go_lossy_utf8(bytes);
    let mut de = serde_json::Deserializer::from_str(&text);
    let mut entries = None;
    let result = match shape {
        Shape::ConfigJson => de.deserialize_any(ConfigJsonVisitor(&mut entries)),
        Shape::Bare => EntriesSeed(&mut entries).deserialize(&mut de),
    };
    result
        .and_then(|()| de.end())
        .map_err(|e| JsonProblem::of(&e))?;
    Ok(entries.unwrap_or_default())
}

/// Why a pull Secret's JSON does not decode (never its text, which holds passwords).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum JsonProblem {
    #[error("{0}")]
    Fault(JsonFault),
    /// Our own message about an `auth` value, already redacted.
    #[error("{0}")]
    BadAuth(String),
}

impl JsonProblem {
    fn of(e: &serde_json::Error) -> Self {
        match e.to_string() {
            message if message.starts_with("the auth of") => Self::BadAuth(message),
            _ => Self::Fault(JsonFault::of(e)),
        }
    }
}

/// Go's JSON field matching: exact, else case-insensitive with Unicode simple folding
/// (`encoding/json` `foldName`), so `AUTHS` and `authſ` both name `auths`.
fn go_field_is(key: &str, field: &str) -> bool {
    fn fold(c: char) -> char {
        match c {
            '\u{17F}' => 'S',
            '\u{212A}' => 'K',
            c => c.to_ascii_uppercase(),
        }
    }
    key.chars().map(fold).eq(field.chars().map(fold))
}

struct ConfigJsonVisitor<'a>(&'a mut Option<Entries>);

impl<'de> Visitor<'de> for ConfigJsonVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    // `null` into a struct is no change: no entries, no error.
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if go_field_is(&key, "auths") {
                map.next_value_seed(EntriesSeed(self.0))?;
            } else if go_field_is(&key, "HttpHeaders") {
                map.next_value_seed(StringMapSeed)?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// A `map[string]DockerConfigEntry`. Go reuses an existing map, so a second `auths` merges
/// into the first; `null` sets it to nil.
struct EntriesSeed<'a>(&'a mut Option<Entries>);

impl<'de> DeserializeSeed<'de> for EntriesSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EntriesSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of registry entries")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        *self.0 = None;
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let entries = self.0.get_or_insert_with(BTreeMap::new);
        while let Some(key) = map.next_key::<String>()? {
            // A repeated key starts again from a zero entry: the last one wins whole.
            let entry = map.next_value_seed(EntrySeed(&key))?;
            entries.insert(key, entry);
        }
        Ok(())
    }
}

/// `DockerConfigEntry.UnmarshalJSON`: username, password, email and auth; a non-empty
/// `auth` replaces username and password.
struct EntrySeed<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = Entry;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Entry, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_> {
    type Value = Entry;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a registry entry object")
    }

    // UnmarshalJSON is called with `null` too, and decoding `null` into its struct is no change.
    fn visit_unit<E: de::Error>(self) -> Result<Entry, E> {
        Ok(Entry::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
        let (mut username, mut password, mut auth) = (String::new(), String::new(), String::new());
        while let Some(key) = map.next_key::<String>()? {
            let field = if go_field_is(&key, "username") {
                &mut username
            } else if go_field_is(&key, "password") {
                &mut password
            } else if go_field_is(&key, "auth") {
                &mut auth
            } else if go_field_is(&key, "email") {
                map.next_value::<Option<String>>()?;
                continue;
            } else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            // `null` leaves a string field as it was.
            if let Some(value) = map.next_value::<Option<String>>()? {
                *field = value;
            }
        }
        if auth.is_empty() {
            return Ok(Entry { username, password });
        }
        let (username, password) = decode_auth_field(&auth).map_err(|reason| {
            de::Error::custom(format!("the auth of {:?} {reason}", redact_key(self.0)))
        })?;
        Ok(Entry { username, password })
    }
}

/// `map[string]string` (`HttpHeaders`): only checked for its shape.
struct StringMapSeed;

impl<'de> DeserializeSeed<'de> for StringMapSeed {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StringMapSeed {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of strings")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value::<Option<String>>()?;
        }
        Ok(())
    }
}

/// A registry key as it may be shown: any userinfo (`user:pass@`) is cut out.
fn redact_key(raw: &str) -> String {
    let (scheme, rest) = raw.split_once("://").map_or(("", raw), |(s, r)| (s, r));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let sep = if scheme.is_empty() { "" } else { "://" };
            format!("{scheme}{sep}…@{}", &rest[at + 1..])
        }
        None => raw.to_string(),
    }
}

/// `decodeDockerConfigFieldAuth`: StdEncoding when the trimmed value ends in `=`, else
/// RawStdEncoding (Go's decoders skip `\r` and `\n` and accept non-zero trailing bits);
/// then a split at the first ':', which must be there.
fn decode_auth_field(auth: &str) -> Result<(String, String), &'static str> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let config = GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true);
    let padded = auth.trim().ends_with('=');
    let engine = if padded {
        GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            config.with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
        )
    } else {
        GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            config.with_decode_padding_mode(DecodePaddingMode::RequireNone),
        )
    };
    let cleaned: Vec<u8> = auth
        .bytes()
        .filter(|b| !matches!(b, b'\r' | b'\n'))
        .collect();
    let bytes = engine.decode(cleaned).map_err(|_| "is not valid base64")?;
    let colon = bytes
        .iter()
        .position(|&b| b == b':')
        .ok_or("has no ':' between username and password")?;
    Ok((
        go_lossy_utf8(&bytes[..colon]).into_owned(),
        go_lossy_utf8(&bytes[colon + 1..]).into_owned(),
    ))
}

/// Bytes as Go turns them into text: each byte of an invalid sequence becomes one U+FFFD.
fn go_lossy_utf8(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return text.into();
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(text) => {
                out.push_str(text);
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).expect("valid prefix"));
                let bad = e.error_len().unwrap_or(after.len());
                out.extend(std::iter::repeat_n('\u{FFFD}', bad));
                rest = &after[bad..];
            }
        }
    }
    out.into()
}

// ---------------------------------------------------------------------------------------
// Keys and matching: `BasicDockerKeyring.Add`, `URLsMatchStr`, `Lookup`.

/// `BasicDockerKeyring.Add`: prepend `https://` unless the key starts with `https://` or
/// `http://`, parse it as Go's `url.Parse` would (None where that fails: the kubelet skips
/// the key), drop a leading `/v1/` or `/v2/`, and keep `host + path` unless the path is
/// empty or `/`.
pub fn normalize_key(raw: &str) -> Option<String> {
    let url = if raw.starts_with("https://") || raw.starts_with("http://") {
        raw.to_string()
    } else {
        format!("https://{raw}")
    };
    let (host, path) = go_url::parse(&url)?;
    let path = if path.starts_with("/v1/") || path.starts_with("/v2/") {
        &path[3..]
    } else {
        &path[..]
    };
    Some(if path.is_empty() || path == "/" {
        host
    } else {
        format!("{host}{path}")
    })
}

/// `ParseSchemelessURL`: whether Go's `url.Parse` takes `https://` + `text` (a provider's
/// `matchImages` entry must).
pub fn parses_as_schemeless_url(text: &str) -> bool {
    go_url::parse(&format!("https://{text}")).is_some()
}

/// The registry (`host[:port]`) a key's requests go to, with the kubelet's Docker Hub key
/// (`index.docker.io`) as `docker.io`, whose API lives elsewhere (docs/semantics.md §8).
pub fn key_registry(raw: &str) -> Option<String> {
    let key = normalize_key(raw)?;
    let host = key.split('/').next().unwrap_or_default();
    Some(if host == "index.docker.io" {
        "docker.io".to_string()
    } else {
        host.to_string()
    })
}

/// `URLsMatchStr(glob, target)`: both parsed as `https://` + the value; equal ports, the
/// same number of host labels, each label matched by `filepath.Match` (so `*` stays within
/// one label), and the target path starting with the key path as a raw string prefix.
pub fn key_matches(glob: &str, target: &str) -> bool {
    let (Some((glob_host, glob_path)), Some((target_host, target_path))) = (
        go_url::parse(&format!("https://{glob}")),
        go_url::parse(&format!("https://{target}")),
    ) else {
        return false;
    };
    let (glob_labels, glob_port) = split_url(&glob_host);
    let (target_labels, target_port) = split_url(&target_host);
    glob_port == target_port
        && glob_labels.len() == target_labels.len()
        && target_path.starts_with(&glob_path)
        && glob_labels
            .iter()
            .zip(&target_labels)
            .all(|(pattern, label)| glob_match(pattern, label))
}

/// `SplitURL`: `net.SplitHostPort`, or the whole host with no port where that fails; then
/// the host's `.`-separated labels.
fn split_url(host: &str) -> (Vec<&str>, &str) {
    let (hostname, port) = go_url::split_host_port(host).unwrap_or((host, ""));
    (hostname.split('.').collect(), port)
}

/// Go's `path/filepath.Match` on Unix, for one host label: `*`, `?`, `[class]`, `[^class]`,
/// `\` escapes. A malformed pattern matches nothing. This is Go's chunk algorithm: each
/// star tries each start for the chunk after it once, so the work is at most
/// O(len(pattern) × len(name)) however many stars there are, with no backtracking blow-up.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    go_glob::matches(pattern.as_bytes(), name.as_bytes()).unwrap_or(false)
}

/// `isDefaultRegistryMatch`: images that fall back to the `index.docker.io` key.
fn is_default_registry_match(repository: &str) -> bool {
    let mut parts = repository.splitn(2, '/');
    let first = parts.next().unwrap_or("");
    if first.is_empty() {
        return false;
    }
    if parts.next().is_none() {
        return true;
    }
    first == "docker.io" || first == "index.docker.io" || !first.contains(['.', ':'])
}

/// The kubelet's keyring over a Pod's pull Secrets (`BasicDockerKeyring`): every key of
/// every Secret in one index, de-duplicated and reverse-sorted, each key with its
/// credentials in Secret order.
pub struct Keyring<'a> {
    index: Vec<&'a str>,
    creds: BTreeMap<&'a str, Vec<KeyringCredential<'a>>>,
}

/// One credential the kubelet would try: the Secret it came from and its entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyringCredential<'a> {
    pub secret: &'a str,
    pub entry: &'a KeyEntry,
}

impl<'a> Keyring<'a> {
    /// Secrets in the Pod's order, each with its parsed keys.
    pub fn new(secrets: impl IntoIterator<Item = (&'a str, &'a [KeyEntry])>) -> Self {
        let mut creds: BTreeMap<&str, Vec<KeyringCredential>> = BTreeMap::new();
        for (secret, entries) in secrets {
            for entry in entries {
                creds
                    .entry(entry.key.as_str())
                    .or_default()
                    .push(KeyringCredential { secret, entry });
            }
        }
        let index = creds.keys().rev().copied().collect();
        Self { index, creds }
    }

    /// `Lookup`: the credentials of every key that matches the image, most specific key
    /// first; only if none matched and the image is on Docker Hub, those of `index.docker.io`.
    pub fn lookup(&self, image: &ImageRef) -> Vec<KeyringCredential<'a>> {
        let target = image.repository();
        let matched: Vec<KeyringCredential> = self
            .index
            .iter()
            .filter(|key| key_matches(key, &target))
            .flat_map(|key| self.creds[*key].iter().copied())
            .collect();
        if matched.is_empty() && is_default_registry_match(&target) {
            return self
                .creds
                .get("index.docker.io")
                .cloned()
                .unwrap_or_default();
        }
        matched
    }
}

/// The parts of Go's `net/url` the keyring depends on.
mod go_url {
    /// `url.Parse(s)` for an `http(s)://` URL: the (unescaped) host and path, or None where
    /// Go returns an error.
    pub(super) fn parse(s: &str) -> Option<(String, String)> {
        let (s, fragment) = s.split_once('#').unwrap_or((s, ""));
        if s.bytes().any(|b| b < b' ' || b == 0x7f) {
            return None;
        }
        unescape(fragment, Mode::Other)?;
        let (scheme, _) = s.split_once("://")?;
        let rest = &s[scheme.len() + 1..];
        debug_assert!(rest.starts_with("//"));
        // A lone trailing `?` is ForceQuery; otherwise the query starts at the first `?`.
        let rest = rest.split_once('?').map_or(rest, |(before, _)| before);
        let authority_and_path = &rest[2..];
        let (authority, path) = match authority_and_path.find('/') {
            Some(i) => authority_and_path.split_at(i),
            None => (authority_and_path, ""),
        };
        let host = parse_authority(authority)?;
        let path = unescape(path, Mode::Other)?;
        Some((host, path))
    }

    fn parse_authority(authority: &str) -> Option<String> {
        let (userinfo, host) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let host = parse_host(host)?;
        if let Some(userinfo) = userinfo {
            let valid = userinfo
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._:~!$&'()*+,;=%@".contains(c));
            if !valid {
                return None;
            }
            for part in userinfo.splitn(2, ':') {
                unescape(part, Mode::Other)?;
            }
        }
        Some(host)
    }

    fn parse_host(host: &str) -> Option<String> {
        match host.rfind('[') {
            Some(i) if i > 0 => None,
            Some(_) => {
                let close = host.rfind(']')?;
                let colon_port = &host[close + 1..];
                if !valid_optional_port(colon_port) {
                    return None;
                }
                let hostname = &host[1..close];
                let unescaped = match hostname.find("%25") {
                    Some(zone) => {
                        let mut text = unescape(&hostname[..zone], Mode::Host)?;
                        text.push_str(&unescape(&hostname[zone..], Mode::Zone)?);
                        text
                    }
                    None => unescape(hostname, Mode::Host)?,
                };
                // netip.ParseAddr: an IPv6 address (with an optional zone), not an IPv4 one.
                let (address, zone) = unescaped
                    .split_once('%')
                    .map_or((unescaped.as_str(), None), |(a, z)| (a, Some(z)));
                if zone == Some("") || address.parse::<std::net::Ipv6Addr>().is_err() {
                    return None;
                }
                // ParseAddr refuses an embedded IPv4 part with leading zeros, as std does.
                Some(format!("[{unescaped}]{colon_port}"))
            }
            None => {
                // http(s) hosts take the port after the first ':' (Go 1.26, urlstrictcolons).
                if let Some(i) = host.find(':')
                    && !valid_optional_port(&host[i..])
                {
                    return None;
                }
                unescape(host, Mode::Host)
            }
        }
    }

    fn valid_optional_port(port: &str) -> bool {
        port.is_empty()
            || port
                .strip_prefix(':')
                .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
    }

    #[derive(PartialEq, Clone, Copy)]
    enum Mode {
        Host,
        Zone,
        Other,
    }

    /// ASCII bytes a host may hold unescaped (`shouldEscape(c, encodeHost)` is false).
    fn host_byte_ok(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b"-_.~!$&'()*+,;=:[]<>\"".contains(&b)
    }

    /// `unescape(s, mode)`: `%XX` must be two hex digits; in a host only non-ASCII bytes
    /// (and `%25`) may be escaped, and other ASCII must be allowed in a host.
    fn unescape(s: &str, mode: Mode) -> Option<String> {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'%' {
                let hex = |c: u8| (c as char).to_digit(16);
                let (hi, lo) = (
                    bytes.get(i + 1).and_then(|&c| hex(c))?,
                    bytes.get(i + 2).and_then(|&c| hex(c))?,
                );
                let value = (hi << 4 | lo) as u8;
                let is_25 = &bytes[i..i + 3] == b"%25";
                if mode == Mode::Host && hi < 8 && !is_25 {
                    return None;
                }
                if mode == Mode::Zone
                    && !is_25
                    && value != b' '
                    && value < 0x80
                    && !host_byte_ok(value)
                {
                    return None;
                }
                out.push(value);
                i += 3;
            } else {
                if matches!(mode, Mode::Host | Mode::Zone) && b < 0x80 && !host_byte_ok(b) {
                    return None;
                }
                out.push(b);
                i += 1;
            }
        }
        Some(super::go_lossy_utf8(&out).into_owned())
    }

    /// `net.SplitHostPort`.
    pub(super) fn split_host_port(hostport: &str) -> Option<(&str, &str)> {
        let last_colon = hostport.rfind(':')?;
        let (host, after_host) = if hostport.starts_with('[') {
            let end = hostport.find(']')?;
            if end + 1 != last_colon {
                return None;
            }
            (&hostport[1..end], end + 1)
        } else {
            let host = &hostport[..last_colon];
            if host.contains(':') {
                return None;
            }
            (host, 0)
        };
        let skip_open = if hostport.starts_with('[') { 1 } else { 0 };
        if hostport[skip_open..].contains('[') || hostport[after_host..].contains(']') {
            return None;
        }
        Some((host, &hostport[last_colon + 1..]))
    }
}

/// Go's `path/filepath.Match` on Unix (Separator `/`), ported step for step.
mod go_glob {
    pub(super) struct BadPattern;

    /// One UTF-8 rune as Go's `utf8.DecodeRuneInString` decodes it: invalid → (U+FFFD, 1).
    fn decode_rune(s: &[u8]) -> (char, usize) {
        let len = match s.first() {
            None => return ('\u{FFFD}', 0),
            Some(b) if *b < 0x80 => return (*b as char, 1),
            Some(b) if b >> 5 == 0b110 => 2,
            Some(b) if b >> 4 == 0b1110 => 3,
            Some(b) if b >> 3 == 0b11110 => 4,
            _ => return ('\u{FFFD}', 1),
        };
        match s
            .get(..len)
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
        {
            Some(text) => (text.chars().next().expect("one char"), len),
            None => ('\u{FFFD}', 1),
        }
    }

    pub(super) fn matches(mut pattern: &[u8], mut name: &[u8]) -> Result<bool, BadPattern> {
        'pattern: while !pattern.is_empty() {
            let (star, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            if star && chunk.is_empty() {
                return Ok(!name.contains(&b'/'));
            }
            let first = match_chunk(chunk, name);
            if let Ok(Some(t)) = first
                && (t.is_empty() || !pattern.is_empty())
            {
                name = t;
                continue;
            }
            first?;
            if star {
                let mut i = 0;
                while i < name.len() && name[i] != b'/' {
                    match match_chunk(chunk, &name[i + 1..])? {
                        Some(t) if pattern.is_empty() && !t.is_empty() => {}
                        Some(t) => {
                            name = t;
                            continue 'pattern;
                        }
                        None => {}
                    }
                    i += 1;
                }
            }
            return Ok(false);
        }
        Ok(name.is_empty())
    }

    fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
        let mut star = false;
        while pattern.first() == Some(&b'*') {
            pattern = &pattern[1..];
            star = true;
        }
        let mut in_range = false;
        let mut i = 0;
        while i < pattern.len() {
            match pattern[i] {
                b'\\' if i + 1 < pattern.len() => i += 1,
                b'[' => in_range = true,
                b']' => in_range = false,
                b'*' if !in_range => return (star, &pattern[..i], &pattern[i..]),
                _ => {}
            }
            i += 1;
        }
        (star, pattern, &[])
    }

    /// Ok(Some(rest of s)) on a match, Ok(None) on none, Err on a malformed chunk.
    fn match_chunk<'s>(mut chunk: &[u8], mut s: &'s [u8]) -> Result<Option<&'s [u8]>, BadPattern> {
        let mut failed = false;
        while let Some(&c) = chunk.first() {
            failed = failed || s.is_empty();
            match c {
                b'[' => {
                    let mut r = '\u{FFFD}';
                    if !failed {
                        let (rune, n) = decode_rune(s);
                        r = rune;
                        s = &s[n..];
                    }
                    chunk = &chunk[1..];
                    let mut negated = false;
                    if chunk.first() == Some(&b'^') {
                        negated = true;
                        chunk = &chunk[1..];
                    }
                    let mut matched = false;
                    let mut ranges = 0;
                    loop {
                        if chunk.first() == Some(&b']') && ranges > 0 {
                            chunk = &chunk[1..];
                            break;
                        }
                        let (lo, rest) = get_esc(chunk)?;
                        chunk = rest;
                        let mut hi = lo;
                        if chunk[0] == b'-' {
                            let (h, rest) = get_esc(&chunk[1..])?;
                            hi = h;
                            chunk = rest;
                        }
                        matched = matched || (lo <= r && r <= hi);
                        ranges += 1;
                    }
                    failed = failed || matched == negated;
                }
                b'?' => {
                    if !failed {
                        failed = s[0] == b'/';
                        let (_, n) = decode_rune(s);
                        s = &s[n..];
                    }
                    chunk = &chunk[1..];
                }
                _ => {
                    if c == b'\\' {
                        chunk = &chunk[1..];
                        if chunk.is_empty() {
                            return Err(BadPattern);
                        }
                    }
                    if !failed {
                        failed = chunk[0] != s[0];
                        s = &s[1..];
                    }
                    chunk = &chunk[1..];
                }
            }
        }
        Ok(if failed { None } else { Some(s) })
    }

    fn get_esc(chunk: &[u8]) -> Result<(char, &[u8]), BadPattern> {
        let mut chunk = chunk;
        if chunk.is_empty() || chunk[0] == b'-' || chunk[0] == b']' {
            return Err(BadPattern);
        }
        if chunk[0] == b'\\' {
            chunk = &chunk[1..];
            if chunk.is_empty() {
                return Err(BadPattern);
            }
        }
        let (r, n) = decode_rune(chunk);
        if r == '\u{FFFD}' && n == 1 && chunk[0] >= 0x80 {
            return Err(BadPattern);
        }
        let rest = &chunk[n..];
        if rest.is_empty() {
            return Err(BadPattern);
        }
        Ok((r, rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    #[test]
    fn debug_never_shows_a_password() {
        let entry = Entry {
            username: "robot".into(),
            password: "S3CRET".into(),
        };
        let shown = format!("{entry:?}");
        assert!(
            !shown.contains("S3CRET") && shown.contains("robot"),
            "{shown}"
        );
    }

    /// The normalized keys the kubelet would use for an image, in its order.
    fn matching_keys<'a>(keys: impl IntoIterator<Item = &'a str>, image: &ImageRef) -> Vec<String> {
        let entries: Vec<KeyEntry> = keys
            .into_iter()
            .map(|key| KeyEntry {
                raw: key.to_string(),
                key: key.to_string(),
                username: String::new(),
                has_password: false,
                expires: None,
            })
            .collect();
        let keyring = Keyring::new([("", entries.as_slice())]);
        let mut keys: Vec<String> = keyring
            .lookup(image)
            .iter()
            .map(|c| c.entry.key.clone())
            .collect();
        keys.dedup();
        keys
    }

    fn keys_for(keys: &[&str], image: &str) -> Vec<String> {
        let normalized: Vec<String> = keys.iter().filter_map(|k| normalize_key(k)).collect();
        matching_keys(
            normalized.iter().map(String::as_str),
            &ImageRef::parse(image).unwrap(),
        )
    }

    #[test]
    fn key_normalization() {
        let normalize = |raw| normalize_key(raw).unwrap();
        assert_eq!(normalize("https://index.docker.io/v1/"), "index.docker.io");
        assert_eq!(normalize("https://quay.io/v1/"), "quay.io");
        assert_eq!(normalize("quay.io"), "quay.io");
        assert_eq!(normalize("quay.io/team"), "quay.io/team");
        assert_eq!(normalize("http://reg:5000/v2/team"), "reg:5000/team");
        // Keys Go's url.Parse refuses are skipped by the kubelet.
        for bad in [
            "a b.io",
            "reg:port",
            "a:1:2",
            "[::1",
            "x[y]",
            "q.io/%zz",
            "[1.2.3.4]",
        ] {
            assert_eq!(normalize_key(bad), None, "{bad}");
        }
        assert_eq!(normalize("[::1]:5000"), "[::1]:5000");
    }

    /// A table from the kubelet's rules (keyring.go and keyring_test.go).
    #[test]
    fn kubelet_matching_table() {
        let cases: &[(&[&str], &str, &[&str])] = &[
            // exact host
            (&["quay.io"], "quay.io/team/app:v1", &["quay.io"]),
            (&["quay.io"], "ghcr.io/team/app", &[]),
            // globs match within one label only
            (&["*.k8s.io"], "registry.k8s.io/pause", &["*.k8s.io"]),
            (&["*.k8s.io"], "k8s.io/pause", &[]),
            (&["*.k8s.io"], "a.b.k8s.io/pause", &[]),
            (&["app*.k8s.io"], "apps.k8s.io/x", &["app*.k8s.io"]),
            (&["k8s.*"], "k8s.io/x", &["k8s.*"]),
            // ports must be equal; absent is not a wildcard
            (&["reg:5000"], "reg:5000/app", &["reg:5000"]),
            (&["reg"], "reg:5000/app", &[]),
            (&["reg:5000"], "reg.example.com/app", &[]),
            // path is a raw string prefix, most specific first
            (
                &["bar.example.com/pong"],
                "bar.example.com/pongz/x",
                &["bar.example.com/pong"],
            ),
            (
                &["quay.io/team", "quay.io"],
                "quay.io/team/app",
                &["quay.io/team", "quay.io"],
            ),
            (&["quay.io/team"], "quay.io/other/app", &[]),
            // Docker Hub: docker.io matches directly, index.docker.io through the fallback
            (&["docker.io"], "nginx", &["docker.io"]),
            (
                &["https://index.docker.io/v1/"],
                "nginx",
                &["index.docker.io"],
            ),
            (&["index.docker.io"], "bitnami/redis", &["index.docker.io"]),
            (&["https://index.docker.io/v1/"], "quay.io/app", &[]),
            // registry-1.docker.io never matches a Hub image (3 labels vs 2)
            (&["registry-1.docker.io"], "nginx", &[]),
            (&["registry-1.docker.io"], "docker.io/library/nginx", &[]),
            // IPv6: the bracketed host is one label
            (&["[::1]:5000"], "[::1]:5000/app", &["[::1]:5000"]),
        ];
        for (keys, image, want) in cases {
            assert_eq!(keys_for(keys, image), *want, "keys {keys:?} image {image}");
        }
    }

    #[test]
    fn go_filepath_match() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("[a-c]x", "bx"));
        assert!(!glob_match("[^a-c]x", "bx"));
        assert!(glob_match("\\*", "*"));
        assert!(!glob_match("ab", "abc"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
        // Malformed patterns match nothing.
        assert!(!glob_match("[", "["));
        assert!(!glob_match("a\\", "a"));
        assert!(!glob_match("[]a]", "a"));
    }

    /// Go's algorithm bounds the work: stars never backtrack into each other.
    #[test]
    fn glob_is_not_exponential() {
        let pattern = "*a".repeat(30) + "*b";
        let name = "a".repeat(5000);
        let start = std::time::Instant::now();
        assert!(!glob_match(&pattern, &name));
        assert!(start.elapsed() < std::time::Duration::from_secs(2));

        // The audit's key, against a long host label, through the whole keyring path.
        let key = "*a*a*a*a*a*a*a*a*a*a*a*a*b.io";
        let host = format!("{}.io", "a".repeat(20_000));
        let start = std::time::Instant::now();
        assert!(!key_matches(key, &format!("{host}/team/app")));
        let elapsed = start.elapsed();
        assert!(elapsed < std::time::Duration::from_secs(1), "{elapsed:?}");
    }

    fn secret(kind: &str, key: &str, payload: &str) -> Secret {
        Secret {
            type_: Some(kind.into()),
            data: Some(BTreeMap::from([(
                key.to_string(),
                ByteString(payload.as_bytes().to_vec()),
            )])),
            ..Secret::default()
        }
    }

    fn config(payload: &str) -> Result<Vec<KeyEntry>, SecretProblem> {
        parse_secret(&secret(
            DOCKERCONFIGJSON_TYPE,
            DOCKERCONFIGJSON_KEY,
            payload,
        ))
    }

    #[test]
    fn parses_like_the_kubelet() {
        let keys = config(
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"},"quay.io":{"username":"a","password":"b"}}}"#,
        )
        .unwrap();
        assert_eq!(keys[0].key, "index.docker.io");
        assert_eq!(keys[0].username, "u");
        assert!(keys[1].has_password);

        // Unpadded base64 is accepted (RawStdEncoding unless the value ends in '=').
        let unpadded = config(r#"{"auths":{"q.io":{"auth":"dTpwdw"}}}"#).unwrap();
        assert_eq!(unpadded[0].username, "u");

        let legacy = secret(
            DOCKERCFG_TYPE,
            ".dockercfg",
            r#"{"quay.io":{"auth":"dTpw"}}"#,
        );
        assert_eq!(parse_secret(&legacy).unwrap()[0].key, "quay.io");
    }

    /// Go's encoding/json, not serde's defaults: found by the kubelet oracle.
    #[test]
    fn decodes_json_as_go_does() {
        // Field names match case-insensitively.
        let keys = config(r#"{"AUTHS":{"q.io":{"Username":"u","PASSWORD":"p"}}}"#).unwrap();
        assert_eq!(
            (keys[0].username.as_str(), keys[0].has_password),
            ("u", true)
        );
        // A null entry is an empty credential; null fields and top level change nothing.
        let keys = config(r#"{"auths":{"q.io":null}}"#).unwrap();
        assert_eq!(keys[0].username, "");
        assert!(config("null").unwrap().is_empty());
        let keys = config(r#"{"auths":{"q.io":{"username":"u","username":null}}}"#).unwrap();
        assert_eq!(keys[0].username, "u");
        // A second auths merges into the first; a repeated key replaces the entry whole.
        let keys =
            config(r#"{"auths":{"a.io":{"username":"a"}},"Auths":{"b.io":{"username":"b"}}}"#)
                .unwrap();
        assert_eq!(keys.len(), 2);
        let keys =
            config(r#"{"auths":{"a.io":{"username":"a"},"a.io":{"password":"p"}}}"#).unwrap();
        assert_eq!(
            (keys[0].username.as_str(), keys[0].has_password),
            ("", true)
        );
        // Wrong types are errors, also in HttpHeaders.
        for bad in [
            r#"{"auths":[]}"#,
            r#"{"auths":{"q.io":"TOKEN"}}"#,
            r#"{"auths":{"q.io":{"username":5}}}"#,
            r#"{"HttpHeaders":{"a":1}}"#,
            r#"[]"#,
        ] {
            assert!(config(bad).is_err(), "{bad}");
        }
        // Base64 as Go decodes it: newlines skipped, trailing bits allowed.
        assert_eq!(
            config("{\"auths\":{\"q.io\":{\"auth\":\"dT\\npw\"}}}").unwrap()[0].username,
            "u"
        );
        assert_eq!(
            config(r#"{"auths":{"q.io":{"auth":"dTpx"}}}"#).unwrap()[0].username,
            "u"
        );
    }

    #[test]
    fn malformed_secrets_are_named_without_their_values() {
        let cases = [
            (r#"{"auths":"#, "not valid JSON"),
            (r#"{"auths":{"q.io":{"auth":"!!!!"}}}"#, "not valid base64"),
            (r#"{"auths":{"q.io":{"auth":"bm9jb2xvbg=="}}}"#, "no ':'"),
            (r#"{"auths":{"q.io":"S3CRET"}}"#, "wrong type"),
        ];
        for (payload, needle) in cases {
            let err = config(payload).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
            assert!(
                !err.contains("S3CRET") && !err.contains("bm9jb2xvbg"),
                "{err}"
            );
        }
        assert!(matches!(
            parse_secret(&secret("Opaque", "x", "{}")),
            Err(SecretProblem::WrongType(_))
        ));
        assert!(matches!(
            parse_secret(&secret(DOCKERCONFIGJSON_TYPE, "other", "{}")),
            Err(SecretProblem::MissingKey(_))
        ));
        assert!(matches!(
            parse_secret(&secret(DOCKERCONFIGJSON_TYPE, DOCKERCONFIGJSON_KEY, "")),
            Err(SecretProblem::MissingKey(_))
        ));
    }

    #[test]
    fn keyring_orders_like_the_kubelet() {
        let a = config(r#"{"auths":{"quay.io":{"username":"a"},"quay.io/team":{"username":"t"}}}"#)
            .unwrap();
        let b = config(r#"{"auths":{"https://quay.io":{"username":"b"}}}"#).unwrap();
        let keyring = Keyring::new([("a", a.as_slice()), ("b", b.as_slice())]);
        let found: Vec<(&str, &str)> = keyring
            .lookup(&ImageRef::parse("quay.io/team/app").unwrap())
            .iter()
            .map(|c| (c.secret, c.entry.username.as_str()))
            .collect();
        assert_eq!(found, [("a", "t"), ("a", "a"), ("b", "b")]);
    }
}

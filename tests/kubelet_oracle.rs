//! Differential test of our kubelet rules against the kubelet's own code.
//!
//! `tests/kubelet-oracle` runs Kubernetes' `ParseImageName`, `MakeDockerKeyring` and
//! `Lookup` on each case. A seeded generator aims images at keys (globs, ports, paths,
//! schemes, Docker Hub aliases, single-label hosts, IPv6) and mixes in malformed `auth`
//! values, bad JSON and wrong types. For every case, our answers must match:
//! - the credentials in the kubelet's order (`Keyring::lookup`),
//! - `check`'s verdict and key (`diagnose`), including `SECRET-MALFORMED` and `INVALID-IMAGE`,
//! - `attach --auto`'s choice of Secrets over the namespace's pool.
//!
//! A third test writes random `CredentialProviderConfig`s (KEP-2133, KEP-4412): the oracle
//! loads each with the kubelet's own loader, runs its plugins, and looks the image up through
//! the Pod's Secrets and the providers; our reading of the config must accept and refuse the
//! same ones, and call the same providers in the same order (`rules::providers`).
//!
//! A second test builds Pods whose images sit in init, regular and ephemeral containers and in
//! image volumes (KEP-4639), and checks that we list the images the kubelet pulls for the Pod
//! (`rules::kinds::pod_images`) and judge each as above.
//!
//! A disagreement prints the seed and the smallest case that still disagrees.
//! Run by `tests/e2e/run.sh`; by hand:
//! `REGCRED_KUBELET_ORACLE=$(tests/e2e/cluster.sh tool kubelet-oracle) cargo test --test kubelet_oracle -- --ignored`
//! with `REGCRED_ORACLE_CASES` (default 20000) and `REGCRED_ORACLE_SEED` (default fixed).

// A test harness: its report goes to the test output, not through the printer.
#![allow(clippy::print_stderr)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use base64::Engine;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use serde_json::{Value, json};

use regcred::rules::diagnosis::{PodInputs, SecretState, Verdict, diagnose};
use regcred::rules::image::ImageRef;
use regcred::rules::kubelet::{self, KeyEntry, Keyring};
use regcred::rules::pullsecret::{DOCKERCFG_TYPE, DOCKERCONFIGJSON_KEY, DOCKERCONFIGJSON_TYPE};

/// splitmix64: small, seedable and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------------------
// Cases

/// One registry entry, kept structured so the minimizer can simplify it.
#[derive(Clone, Debug)]
enum EntryGen {
    /// A JSON value written as is (objects carry an `email` tag that names the entry).
    Json(Value),
}

#[derive(Clone, Debug)]
enum Payload {
    /// `{"auths": {...}}` (or the bare map for `.dockercfg`), with optional extra top-level text.
    Entries {
        auths_field: String,
        entries: Vec<(String, EntryGen)>,
        extra: Option<(String, Value)>,
    },
    /// Raw bytes: broken JSON, `null`, wrong top-level types.
    Raw(Vec<u8>),
}

#[derive(Clone, Debug)]
struct SecretGen {
    name: String,
    type_: String,
    data_key: String,
    payload: Payload,
}

#[derive(Clone, Debug)]
struct Case {
    image: String,
    secrets: Vec<SecretGen>,
}

impl SecretGen {
    fn bytes(&self) -> Vec<u8> {
        match &self.payload {
            Payload::Raw(bytes) => bytes.clone(),
            Payload::Entries {
                auths_field,
                entries,
                extra,
            } => {
                // Written by hand so that duplicate keys survive.
                let mut map = String::from("{");
                for (i, (key, EntryGen::Json(value))) in entries.iter().enumerate() {
                    if i > 0 {
                        map.push(',');
                    }
                    map.push_str(&format!("{}:{}", json!(key), value));
                }
                map.push('}');
                if self.type_ == DOCKERCFG_TYPE {
                    return map.into_bytes();
                }
                let mut top = format!("{{{}:{map}", json!(auths_field));
                if let Some((field, value)) = extra {
                    top.push_str(&format!(",{}:{value}", json!(field)));
                }
                top.push('}');
                top.into_bytes()
            }
        }
    }

    fn secret(&self) -> Secret {
        Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(self.name.clone()),
                ..Default::default()
            },
            type_: Some(self.type_.clone()),
            data: Some(BTreeMap::from([(
                self.data_key.clone(),
                ByteString(self.bytes()),
            )])),
            ..Secret::default()
        }
    }
}

/// Registry hosts the grammar accepts, including the Hub aliases, ports and IPv6.
const HOSTS: &[&str] = &[
    "quay.io",
    "ghcr.io",
    "registry.k8s.io",
    "k8s.io",
    "a.b.k8s.io",
    "docker.io",
    "index.docker.io",
    "registry-1.docker.io",
    "localhost",
    "localhost:5000",
    "reg:5000",
    "reg.example.com:443",
    "127.0.0.1:5000",
    "[::1]:5000",
    "[fe80::1]",
    "[::ffff:1.2.3.4]:80",
    "Reg.IO",
    "xn--bcher-kva.example",
    "0.0.0.0",
];

/// Hosts that are odd or invalid: single labels, underscores, bad brackets, edge hyphens.
const ODD_HOSTS: &[&str] = &[
    "myhost",
    "a_b.c",
    "[zz::1]",
    "[1.2.3.4]",
    "-bad.io",
    "[::1",
    "reg:99999999",
];

const PATHS: &[&str] = &[
    "app",
    "team/app",
    "library/nginx",
    "team/sub/app",
    "pong",
    "pongz/x",
    "a__b/c.d",
    "a-b---c",
];

const ODD_PATHS: &[&str] = &["App", "x_y", "a___b", "a//b", "-a", ""];

const TAGS: &[&str] = &[
    "",
    ":v1",
    ":latest",
    ":V1.2-rc_3",
    "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ":v1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
];

const ODD_TAGS: &[&str] = &[
    ":-bad",
    ":",
    "@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
    "@sha512:0123456789abcdef0123456789abcdef",
    "@md5:0123456789abcdef0123456789abcdef",
    "@sha256:abc",
];

fn gen_image(rng: &mut Rng) -> String {
    let hosts = if rng.chance(10) { ODD_HOSTS } else { HOSTS };
    let paths = if rng.chance(5) { ODD_PATHS } else { PATHS };
    let tags = if rng.chance(5) { ODD_TAGS } else { TAGS };
    let (host, path, tag) = (rng.pick(hosts), rng.pick(paths), rng.pick(tags));
    match rng.below(20) {
        // Docker Hub short forms and single-component names.
        0..=1 => format!("{path}{tag}"),
        2 => format!("{}{tag}", path.split('/').next_back().unwrap_or(path)),
        3 if rng.chance(20) => "a".repeat(64),
        _ => format!("{host}/{path}{tag}"),
    }
}

/// A key aimed at the image: its host, globbed, with ports, paths and schemes varied.
fn gen_key(rng: &mut Rng, image: &str) -> String {
    let (host, path) = match image.split_once('/') {
        Some((h, p)) if h.contains(['.', ':']) || h == "localhost" => {
            (h.to_string(), p.to_string())
        }
        _ => (rng.pick(HOSTS).to_string(), image.to_string()),
    };
    let path = path
        .split(['@', ':'])
        .next()
        .unwrap_or_default()
        .to_string();
    let mut host = match rng.below(14) {
        0 => {
            let hosts = if rng.chance(20) { ODD_HOSTS } else { HOSTS };
            rng.pick(hosts).to_string()
        }
        1 => rng
            .pick(&[
                "https://index.docker.io/v1/",
                "index.docker.io",
                "docker.io",
                "registry-1.docker.io",
                "index.docker.io/v1/",
                "https://index.docker.io/v2/",
            ])
            .to_string(),
        // One label (or part of one) becomes a glob.
        2..=4 => {
            let labels: Vec<&str> = host.split('.').collect();
            let i = rng.below(labels.len());
            let glob = rng.pick(&[
                "*", "?*", "*o", "[a-z]*", "[^x]*", "\\*", "[", "a*b*c", "*.*",
            ]);
            labels
                .iter()
                .enumerate()
                .map(|(j, l)| if j == i { glob } else { l })
                .collect::<Vec<_>>()
                .join(".")
        }
        5 => match host.rsplit_once(':') {
            Some((h, _)) if !h.ends_with(']') || host.starts_with('[') => h.to_string(),
            _ => format!("{host}:5000"),
        },
        6 => format!("user:pa%73s@{host}"),
        7 => format!(
            "{host}{}",
            rng.pick(&["?x=1", "#frag", "/%zz", "/a%2Fb", " ", "%41", "\t"])
        ),
        8 => host.to_uppercase(),
        _ => host,
    };
    if rng.chance(30) {
        host = format!(
            "{}{host}",
            rng.pick(&["https://", "http://", "HTTPS://", "ftp://"])
        );
    }
    match rng.below(6) {
        0 => {
            let cut = rng.below(path.len() + 1);
            format!("{host}/{}", &path[..cut])
        }
        1 => format!(
            "{host}/{}",
            rng.pick(&["v1/", "v2/", "v2", "v1/team", "/", ""])
        ),
        2 => format!("{host}/{path}"),
        _ => host,
    }
}

fn b64(text: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn gen_entry(rng: &mut Rng, tag: &str) -> EntryGen {
    let user = rng.pick(&["robot", "", "u:x", "me\u{e9}", "<token>"]);
    let pass = rng.pick(&["pw", "", "p:w:d", "s3cr\u{e9}t"]);
    let field = |rng: &mut Rng, name: &str| -> String {
        if rng.chance(10) {
            let (upper, title) = (
                name.to_uppercase(),
                format!("{}{}", &name[..1].to_uppercase(), &name[1..]),
            );
            rng.pick(&[upper.as_str(), title.as_str()]).to_string()
        } else {
            name.to_string()
        }
    };
    let mut object = serde_json::Map::new();
    object.insert("email".into(), json!(tag));
    match rng.below(30) {
        0 => return EntryGen::Json(Value::Null),
        1 => return EntryGen::Json(json!("TOKEN")),
        2 => {
            object.insert(field(rng, "username"), json!(5));
        }
        3 => {
            object.insert("identitytoken".into(), json!("refresh"));
        }
        4..=9 => {
            let raw = format!("{user}:{pass}");
            let auth = match rng.below(16) {
                0 => b64(raw.as_bytes()).trim_end_matches('=').to_string(),
                1 => b64(user.as_bytes()),
                2 => "!!!!".to_string(),
                3 => {
                    let mut s = b64(raw.as_bytes());
                    s.insert(2, '\n');
                    s
                }
                4 => format!("{} ", b64(raw.as_bytes())),
                5 => "dTpx".to_string(),
                6 => b64(b"\xff\xfe:\xe2\x82"),
                _ => b64(raw.as_bytes()),
            };
            object.insert(field(rng, "auth"), json!(auth));
            if rng.chance(30) {
                object.insert("username".into(), json!("ignored"));
            }
        }
        _ => {
            object.insert(field(rng, "username"), json!(user));
            object.insert(field(rng, "password"), json!(pass));
            if rng.chance(10) {
                object.insert("password".into(), Value::Null);
            }
        }
    }
    EntryGen::Json(Value::Object(object))
}

fn gen_secret(rng: &mut Rng, index: usize, image: &str) -> SecretGen {
    let name = format!("s{index}");
    let (type_, data_key) = match rng.below(20) {
        0 => ("Opaque", ".dockerconfigjson"),
        1 => (DOCKERCONFIGJSON_TYPE, "other"),
        2..=4 => (DOCKERCFG_TYPE, ".dockercfg"),
        _ => (DOCKERCONFIGJSON_TYPE, DOCKERCONFIGJSON_KEY),
    };
    let payload = match rng.below(25) {
        0 => Payload::Raw(
            rng.pick(&[
                "",
                "null",
                "[]",
                "{\"auths\":",
                "\"x\"",
                "{\"auths\":{}} x",
                "{\"auths\":[]}",
            ])
            .as_bytes()
            .to_vec(),
        ),
        _ => {
            let count = 1 + rng.below(3);
            let mut entries = Vec::new();
            for j in 0..count {
                let key = if j > 0 && rng.chance(15) {
                    // A repeated key: Go keeps the last one whole.
                    entries
                        .last()
                        .map(|(k, _): &(String, EntryGen)| k.clone())
                        .unwrap_or_default()
                } else {
                    gen_key(rng, image)
                };
                entries.push((key, gen_entry(rng, &format!("{name}#{j}"))));
            }
            let auths_field = rng
                .pick(&[
                    "auths",
                    "auths",
                    "auths",
                    "auths",
                    "Auths",
                    "AUTHS",
                    "auth\u{17f}",
                    "auth",
                ])
                .to_string();
            let extra = match rng.below(10) {
                0 => Some(("HttpHeaders".to_string(), json!({"X-Meta": "1"}))),
                1 => Some(("HttpHeaders".to_string(), json!({"X-Meta": 1}))),
                2 => Some(("auths".to_string(), Value::Null)),
                3 => Some(("credsStore".to_string(), json!(["any"]))),
                _ => None,
            };
            Payload::Entries {
                auths_field,
                entries,
                extra,
            }
        }
    };
    SecretGen {
        name,
        type_: type_.to_string(),
        data_key: data_key.to_string(),
        payload,
    }
}

fn gen_case(rng: &mut Rng) -> Case {
    let image = gen_image(rng);
    let count = rng.below(4);
    let secrets = (0..count).map(|i| gen_secret(rng, i, &image)).collect();
    Case { image, secrets }
}

// ---------------------------------------------------------------------------------------
// The oracle process

struct Oracle {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Oracle {
    fn start() -> Self {
        let path = std::env::var_os("REGCRED_KUBELET_ORACLE").expect(
            "REGCRED_KUBELET_ORACLE is not set: run through tests/e2e/run.sh, which builds the oracle",
        );
        let mut child = Command::new(&path)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run the kubelet oracle {path:?}: {e}"));
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            stdin,
            stdout,
        }
    }

    fn request(image: &str, secrets: &[&SecretGen]) -> String {
        let secrets: Vec<Secret> = secrets.iter().map(|s| s.secret()).collect();
        json!({"image": image, "secrets": secrets}).to_string()
    }

    /// Answers for many requests: written by a thread so neither pipe can fill up and block.
    fn ask_many(&mut self, requests: Vec<String>) -> Vec<Value> {
        let count = requests.len();
        let mut stdin = self.stdin.try_clone_for_thread();
        let writer = std::thread::spawn(move || {
            for line in requests {
                writeln!(stdin, "{line}").expect("write to the oracle");
            }
            stdin.flush().expect("flush to the oracle");
        });
        let answers = (0..count).map(|_| self.read_answer()).collect();
        writer.join().unwrap();
        answers
    }

    fn ask(&mut self, request: String) -> Value {
        writeln!(self.stdin, "{request}").expect("write to the oracle");
        self.stdin.flush().unwrap();
        self.read_answer()
    }

    fn read_answer(&mut self) -> Value {
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("read from the oracle");
        assert!(!line.is_empty(), "the kubelet oracle exited early");
        serde_json::from_str(&line).expect("the oracle answers JSON")
    }
}

trait CloneForThread {
    fn try_clone_for_thread(&self) -> std::fs::File;
}

impl CloneForThread for ChildStdin {
    fn try_clone_for_thread(&self) -> std::fs::File {
        use std::os::fd::AsFd;
        std::fs::File::from(
            self.as_fd()
                .try_clone_to_owned()
                .expect("dup the oracle's stdin"),
        )
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// Comparing

/// The `email` tag of the entry a raw key ends up with in a Secret (the last one wins).
fn tag_of(secret: &SecretGen, raw: &str) -> String {
    match &secret.payload {
        Payload::Entries { entries, .. } => entries
            .iter()
            .rev()
            .find(|(key, _)| key == raw)
            .and_then(|(_, EntryGen::Json(v))| v.get("email").and_then(Value::as_str))
            .unwrap_or_default()
            .to_string(),
        Payload::Raw(_) => String::new(),
    }
}

type Seen = (String, String, bool);

/// Our credentials for the image, grouped by (key, Secret): the kubelet's order within a
/// group follows Go's map iteration, which is random, so only the groups' order is fixed.
fn our_groups(keyring: &Keyring, image: &ImageRef, case: &Case) -> Vec<Vec<Seen>> {
    let mut groups: Vec<((&str, &str), Vec<Seen>)> = Vec::new();
    for cred in keyring.lookup(image) {
        let secret = case.secrets.iter().find(|s| s.name == cred.secret).unwrap();
        let seen = (
            tag_of(secret, &cred.entry.raw),
            cred.entry.username.clone(),
            cred.entry.has_password,
        );
        let group = (cred.entry.key.as_str(), cred.secret);
        match groups.last_mut() {
            Some((last, items)) if *last == group => items.push(seen),
            _ => groups.push((group, vec![seen])),
        }
    }
    groups.into_iter().map(|(_, items)| items).collect()
}

fn oracle_creds(answer: &Value) -> Option<Vec<Seen>> {
    answer.get("creds").map(|creds| {
        creds
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["email"].as_str().unwrap_or_default().to_string(),
                    c["username"].as_str().unwrap_or_default().to_string(),
                    !c["password"].as_str().unwrap_or_default().is_empty(),
                )
            })
            .collect()
    })
}

fn same_up_to_group_order(ours: &[Vec<Seen>], theirs: &[Seen]) -> bool {
    let mut rest = theirs;
    for group in ours {
        if rest.len() < group.len() {
            return false;
        }
        let (head, tail) = rest.split_at(group.len());
        let (mut a, mut b) = (group.clone(), head.to_vec());
        a.sort();
        b.sort();
        if a != b {
            return false;
        }
        rest = tail;
    }
    rest.is_empty()
}

fn parsed_states(secrets: &[&SecretGen]) -> BTreeMap<String, SecretState> {
    secrets
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                SecretState::from_parse(kubelet::parse_secret(&s.secret())),
            )
        })
        .collect()
}

/// Which Secret and normalized key a tag names.
fn entry_of_tag<'a>(case: &'a Case, tag: &str) -> Option<(&'a str, String)> {
    let (secret, _) = tag.split_once('#')?;
    let secret = case.secrets.iter().find(|s| s.name == secret)?;
    let Payload::Entries { entries, .. } = &secret.payload else {
        return None;
    };
    let (raw, _) = entries
        .iter()
        .find(|(_, EntryGen::Json(v))| v.get("email").and_then(Value::as_str) == Some(tag))?;
    Some((secret.name.as_str(), kubelet::normalize_key(raw)?))
}

/// Why our answer differs from the kubelet's for the whole Pod (`full`) and for the pool
/// `attach --auto` chooses from (`pool`), or None when they agree.
fn disagreement(case: &Case, full: &Value, pool: &Value) -> Option<String> {
    let all: Vec<&SecretGen> = case.secrets.iter().collect();
    let states = parsed_states(&all);
    let names: Vec<String> = case.secrets.iter().map(|s| s.name.clone()).collect();
    let inputs = PodInputs {
        own: &names,
        is_pod: true,
        service_account: None,
        secrets: &states,
        auth_failures: &[],
        probe_refusals: &BTreeMap::new(),
        // The kubelet knows nothing of expiry: judge at the dawn of time, so nothing expired.
        now: k8s_openapi::jiff::Timestamp::MIN,
    };
    let verdict = diagnose(&case.image, &inputs);
    let parsed = ImageRef::parse(&case.image);

    if let Some(error) = full.get("image_error") {
        return match (&parsed, &verdict) {
            (Err(_), Verdict::InvalidImage { .. }) => None,
            _ => Some(format!(
                "the kubelet cannot parse the image ({error}); we gave {verdict:?} (parse {parsed:?})"
            )),
        };
    }
    let Ok(image) = parsed else {
        return Some(format!(
            "the kubelet parses the image as {}; we refuse it: {verdict:?}",
            full["repository"]
        ));
    };
    if image.repository() != full["repository"].as_str().unwrap_or_default() {
        return Some(format!(
            "repository: kubelet {}, ours {:?}",
            full["repository"],
            image.repository()
        ));
    }
    if let Some(error) = full.get("keyring_error") {
        return match verdict {
            Verdict::SecretMalformed { .. } => None,
            other => Some(format!(
                "the kubelet cannot build the keyring ({error}); we gave {other:?}"
            )),
        };
    }
    if let Verdict::SecretMalformed { secret, reason } = &verdict {
        return Some(format!(
            "the kubelet builds the keyring; we call {secret} malformed: {reason}"
        ));
    }
    // The credentials, in order.
    let theirs = oracle_creds(full).expect("creds");
    let keys: Vec<(&str, &[KeyEntry])> = states
        .iter()
        .filter_map(|(name, state)| match state {
            SecretState::Keys(keys) => Some((name.as_str(), keys.as_slice())),
            _ => None,
        })
        .collect();
    // The Pod's order is the Secrets' order (s0, s1, …), which BTreeMap keeps.
    let keyring = Keyring::new(keys);
    let ours = our_groups(&keyring, &image, case);
    if !same_up_to_group_order(&ours, &theirs) {
        return Some(format!("credentials: kubelet {theirs:?}, ours {ours:?}"));
    }
    // check's verdict and key.
    let usable = theirs
        .iter()
        .find(|(_, user, has_password)| !user.is_empty() || *has_password);
    match (usable, theirs.first(), &verdict) {
        (Some((tag, ..)), _, Verdict::Ok { secret, key }) => {
            let expected = entry_of_tag(case, tag);
            let got = kubelet::normalize_key(key).map(|k| (secret.as_str(), k));
            if expected != got {
                return Some(format!(
                    "check: the kubelet first uses {expected:?}, we report {got:?}"
                ));
            }
        }
        (None, Some(_), Verdict::IdentityTokenOnly { .. }) => {}
        (None, None, v) if !matches!(v, Verdict::Ok { .. } | Verdict::IdentityTokenOnly { .. }) => {
        }
        (usable, _, v) => {
            return Some(format!(
                "check: kubelet credentials {theirs:?} (first usable {usable:?}), our verdict {v:?}"
            ));
        }
    }
    // attach --auto over the pool: pull-typed Secrets that parse.
    let theirs_pool = oracle_creds(pool).unwrap_or_default();
    let mut expected: Vec<String> = theirs_pool
        .iter()
        .filter_map(|(tag, ..)| tag.split_once('#').map(|(s, _)| s.to_string()))
        .collect();
    expected.sort();
    expected.dedup();
    let candidates = auto_pool(case);
    let spec = json!({"containers": [{"name": "c", "image": case.image}]});
    let mut chosen = regcred::rules::attach::auto_names(&spec, &candidates).names;
    chosen.sort();
    // Entries without a tag (null) are credentials too; they name no Secret here, so only
    // require that every tagged Secret is chosen and nothing outside the kubelet's answer.
    let untagged = theirs_pool.iter().any(|(tag, ..)| tag.is_empty());
    let agrees = if untagged {
        expected.iter().all(|e| chosen.contains(e)) && chosen.len() >= expected.len()
    } else {
        chosen == expected
    };
    if !agrees {
        return Some(format!(
            "attach --auto: the kubelet would use {expected:?} (untagged: {untagged}), we choose {chosen:?}"
        ));
    }
    None
}

/// The Secrets `attach --auto` may choose from: pull types that parse.
fn auto_pool(case: &Case) -> Vec<regcred::rules::attach::Candidate> {
    case.secrets
        .iter()
        .filter_map(|s| {
            kubelet::parse_secret(&s.secret())
                .ok()
                .map(|keys| regcred::rules::attach::Candidate {
                    name: s.name.clone(),
                    keys,
                })
        })
        .collect()
}

fn pool_secrets(case: &Case) -> Vec<&SecretGen> {
    let pool: Vec<String> = auto_pool(case).into_iter().map(|c| c.name).collect();
    case.secrets
        .iter()
        .filter(|s| pool.contains(&s.name))
        .collect()
}

fn requests(case: &Case) -> [String; 2] {
    let all: Vec<&SecretGen> = case.secrets.iter().collect();
    [
        Oracle::request(&case.image, &all),
        Oracle::request(&case.image, &pool_secrets(case)),
    ]
}

fn check_one(oracle: &mut Oracle, case: &Case) -> Option<String> {
    let [full, pool] = requests(case);
    let full = oracle.ask(full);
    let pool = oracle.ask(pool);
    disagreement(case, &full, &pool)
}

/// Smaller cases that might still disagree: fewer Secrets, fewer entries, plainer entries.
fn shrink(case: &Case) -> Vec<Case> {
    let mut out = Vec::new();
    for i in 0..case.secrets.len() {
        let mut smaller = case.clone();
        smaller.secrets.remove(i);
        out.push(smaller);
    }
    for i in 0..case.secrets.len() {
        if let Payload::Entries { entries, extra, .. } = &case.secrets[i].payload {
            for j in 0..entries.len() {
                let mut smaller = case.clone();
                if let Payload::Entries { entries, .. } = &mut smaller.secrets[i].payload {
                    entries.remove(j);
                }
                out.push(smaller);
            }
            if extra.is_some() {
                let mut smaller = case.clone();
                if let Payload::Entries { extra, .. } = &mut smaller.secrets[i].payload {
                    *extra = None;
                }
                out.push(smaller);
            }
        }
    }
    out
}

fn minimize(oracle: &mut Oracle, mut case: Case) -> (Case, String) {
    let mut why = check_one(oracle, &case).expect("the case disagrees");
    'outer: loop {
        for smaller in shrink(&case) {
            if let Some(reason) = check_one(oracle, &smaller) {
                case = smaller;
                why = reason;
                continue 'outer;
            }
        }
        return (case, why);
    }
}

fn describe(case: &Case) -> String {
    let secrets: Vec<Value> = case
        .secrets
        .iter()
        .map(|s| {
            json!({"name": s.name, "type": s.type_, "key": s.data_key,
                   "payload": String::from_utf8_lossy(&s.bytes())})
        })
        .collect();
    serde_json::to_string_pretty(&json!({"image": case.image, "secrets": secrets})).unwrap()
}

#[test]
#[ignore = "needs the kubelet oracle built from k8s.io/kubernetes: tests/e2e/run.sh"]
fn kubelet_oracle_agrees_with_our_rules() {
    let cases: usize = std::env::var("REGCRED_ORACLE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let seed: u64 = match std::env::var("REGCRED_ORACLE_SEED").as_deref() {
        Ok("random") => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
        Ok(v) => v
            .parse()
            .expect("REGCRED_ORACLE_SEED is a number or 'random'"),
        Err(_) => 20_261_128,
    };
    eprintln!("kubelet oracle: {cases} cases, seed {seed}");
    let mut rng = Rng(seed);
    let generated: Vec<Case> = (0..cases).map(|_| gen_case(&mut rng)).collect();
    let mut oracle = Oracle::start();
    let answers = oracle.ask_many(generated.iter().flat_map(requests).collect());
    let mut disagreements = 0;
    let mut first = None;
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, answer) in answers.iter().step_by(2).enumerate() {
        let outcome = if answer.get("image_error").is_some() {
            "invalid image"
        } else if answer.get("keyring_error").is_some() {
            "malformed secret"
        } else if answer["creds"].as_array().is_some_and(|c| c.is_empty()) {
            "no credentials"
        } else if generated[index].secrets.len() > 1 {
            "credentials from several secrets"
        } else {
            "credentials"
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    eprintln!("kubelet oracle outcomes: {outcomes:?}");
    // A generator that stopped reaching one of these would test less than it claims.
    for outcome in [
        "invalid image",
        "malformed secret",
        "no credentials",
        "credentials",
        "credentials from several secrets",
    ] {
        assert!(
            outcomes.get(outcome).copied().unwrap_or(0) * 50 >= cases,
            "fewer than 2% of the cases end in {outcome:?}: {outcomes:?}"
        );
    }
    // REGCRED_ORACLE_LIST=N prints the first N disagreements, one a line, to survey them
    // (for example against the oracle built from Kubernetes 1.20).
    let list: usize = std::env::var("REGCRED_ORACLE_LIST")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    for (index, case) in generated.iter().enumerate() {
        if let Some(why) = disagreement(case, &answers[2 * index], &answers[2 * index + 1]) {
            if disagreements < list {
                eprintln!("disagreement #{index}: image {:?}: {why}", case.image);
            }
            disagreements += 1;
            first.get_or_insert(index);
        }
    }
    if let Some(index) = first {
        let (case, why) = minimize(&mut oracle, generated[index].clone());
        panic!(
            "{disagreements} of {cases} cases disagree with the kubelet (seed {seed}, first case #{index}).\n\
             Smallest disagreeing case:\n{}\n{why}",
            describe(&case)
        );
    }
    eprintln!("kubelet oracle: {cases} cases agree");
}

// ---------------------------------------------------------------------------------------
// Pods: every image the kubelet pulls for one, image volumes included

/// A Pod spec with its images spread over containers and volumes, and the Secrets.
struct PodCase {
    spec: Value,
    secrets: Vec<SecretGen>,
}

fn gen_pod(rng: &mut Rng) -> PodCase {
    let images: Vec<String> = (0..1 + rng.below(4)).map(|_| gen_image(rng)).collect();
    let mut spec = json!({"containers": [], "volumes": []});
    for (i, image) in images.iter().enumerate() {
        let place = match rng.below(10) {
            0 => "initContainers",
            1 => "ephemeralContainers",
            2..=5 => "volumes",
            _ => "containers",
        };
        let entry = if place == "volumes" {
            json!({"name": format!("v{i}"), "image": {"reference": image, "pullPolicy": "IfNotPresent"}})
        } else {
            json!({"name": format!("c{i}"), "image": image})
        };
        match spec[place].as_array_mut() {
            Some(list) => list.push(entry),
            None => spec[place] = json!([entry]),
        }
    }
    // Volumes that are not images, and image sources the API would refuse, in between.
    let volumes = spec["volumes"].as_array_mut().unwrap();
    if rng.chance(30) {
        let at = rng.below(volumes.len() + 1);
        volumes.insert(at, json!({"name": "scratch", "emptyDir": {}}));
    }
    if rng.chance(5) {
        volumes.push(json!({"name": "unnamed", "image": {}}));
    }
    let count = rng.below(4);
    let secrets = (0..count)
        .map(|i| {
            let aimed_at = rng.below(images.len());
            gen_secret(rng, i, &images[aimed_at])
        })
        .collect();
    PodCase { spec, secrets }
}

#[test]
#[ignore = "needs the kubelet oracle built from k8s.io/kubernetes: tests/e2e/run.sh"]
fn kubelet_oracle_pulls_a_pods_images_as_we_list_them() {
    let cases: usize = std::env::var("REGCRED_ORACLE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(5_000, |n: usize| n / 4);
    let seed = 20_261_208;
    let mut rng = Rng(seed);
    let pods: Vec<PodCase> = (0..cases).map(|_| gen_pod(&mut rng)).collect();
    let mut oracle = Oracle::start();
    let requests: Vec<String> = pods
        .iter()
        .map(|pod| {
            let secrets: Vec<Secret> = pod.secrets.iter().map(SecretGen::secret).collect();
            json!({"pod": pod.spec, "secrets": secrets}).to_string()
        })
        .collect();
    let answers = oracle.ask_many(requests);
    let (mut volumes, mut images) = (0, 0);
    for (pod, answer) in pods.iter().zip(&answers) {
        let theirs: Vec<(String, Option<String>)> = answer["images"]
            .as_array()
            .unwrap_or_else(|| panic!("the oracle refused {}: {answer}", pod.spec))
            .iter()
            .map(|i| {
                (
                    i["image"].as_str().unwrap().to_string(),
                    i["volume"].as_str().map(str::to_string),
                )
            })
            .collect();
        let ours: Vec<(String, Option<String>)> = regcred::rules::kinds::pod_images(&pod.spec)
            .into_iter()
            .map(|i| (i.image, i.volume))
            .collect();
        assert_eq!(ours, theirs, "the images of {}", pod.spec);
        // Each image is judged as a case of its own, with the Pod's Secrets.
        for entry in answer["images"].as_array().unwrap() {
            images += 1;
            volumes += usize::from(entry.get("volume").is_some());
            let case = Case {
                image: entry["image"].as_str().unwrap().to_string(),
                secrets: pod.secrets.clone(),
            };
            let pool = oracle.ask(Oracle::request(&case.image, &pool_secrets(&case)));
            if let Some(why) = disagreement(&case, entry, &pool) {
                panic!(
                    "seed {seed}: an image of the Pod {} disagrees:\n{}\n{why}",
                    pod.spec,
                    describe(&case)
                );
            }
        }
    }
    eprintln!("kubelet oracle: {cases} Pods, {images} images ({volumes} in image volumes) agree");
    assert!(
        volumes * 4 >= images,
        "too few image volumes: {volumes} of {images}"
    );
}

// ---------------------------------------------------------------------------------------
// Node credential providers: the kubelet's config loader and plugin keyring

struct ProviderCase {
    config: Value,
    names: Vec<String>,
    image: String,
    secrets: Vec<SecretGen>,
    account: Option<BTreeMap<String, String>>,
}

const ANNOTATION_KEYS: [&str; 3] = ["a.example.com/role", "b.example.com/id", "c.io/x"];

/// One provider, each field right most of the time and wrong (or missing) now and then, so
/// that most configs load and the kubelet's refusals are all reached too.
fn gen_provider(rng: &mut Rng, name: &str, image: &str) -> Value {
    let mut provider = json!({"name": name});
    let api_version = match rng.below(60) {
        0 => None,
        1 => Some("credentialprovider.kubelet.k8s.io/v2"),
        2..=3 => Some("credentialprovider.kubelet.k8s.io/v1beta1"),
        _ => Some("credentialprovider.kubelet.k8s.io/v1"),
    };
    if let Some(version) = api_version {
        provider["apiVersion"] = json!(version);
    }
    let globs: Vec<String> = if rng.chance(2) {
        Vec::new()
    } else {
        (0..1 + rng.below(2)).map(|_| gen_key(rng, image)).collect()
    };
    provider["matchImages"] = json!(globs);
    let duration = match rng.below(60) {
        0 => None,
        1 => Some("-1s"),
        2 => Some("12"),
        _ => Some(rng.pick(&["12h", "10m", "0s", "1h30m"])),
    };
    if let Some(duration) = duration {
        provider["defaultCacheDuration"] = json!(duration);
    }
    if rng.chance(40) {
        let mut token = json!({"serviceAccountTokenAudience": "audience"});
        if rng.chance(3) {
            token["serviceAccountTokenAudience"] = json!("");
        }
        token["cacheType"] = json!(if rng.chance(3) {
            "Pod"
        } else {
            rng.pick(&["ServiceAccount", "Token"])
        });
        let require = !rng.chance(20);
        if !rng.chance(3) {
            token["requireServiceAccount"] = json!(require);
        }
        let chance = if require { 40 } else { 3 };
        let required: Vec<&str> = ANNOTATION_KEYS
            .iter()
            .copied()
            .filter(|_| rng.chance(chance))
            .collect();
        if !required.is_empty() {
            token["requiredServiceAccountAnnotationKeys"] = json!(required);
        }
        let optional: Vec<&str> = ANNOTATION_KEYS
            .iter()
            .copied()
            .filter(|key| !required.contains(key) && rng.chance(20))
            .collect();
        if !optional.is_empty() {
            token["optionalServiceAccountAnnotationKeys"] = json!(optional);
        }
        provider["tokenAttributes"] = token;
    }
    if rng.chance(1) {
        provider["unknownField"] = json!(true);
    }
    provider
}

fn gen_provider_case(rng: &mut Rng) -> ProviderCase {
    let image = gen_image(rng);
    let pool = ["alpha", "beta", "gamma"];
    let mut names: Vec<String> = Vec::new();
    let mut providers = Vec::new();
    let count = if rng.chance(60) { 1 } else { 2 + rng.below(2) };
    for _ in 0..count {
        let name = if rng.chance(3) && !names.is_empty() {
            names[0].clone()
        } else {
            rng.pick(&pool).to_string()
        };
        providers.push(gen_provider(rng, &name, &image));
        names.push(name);
    }
    let config_version = match rng.below(60) {
        0 => "kubelet.config.k8s.io/v2",
        1..=2 => "kubelet.config.k8s.io/v1beta1",
        _ => "kubelet.config.k8s.io/v1",
    };
    let config = json!({
        "apiVersion": config_version,
        "kind": "CredentialProviderConfig",
        "providers": providers,
    });
    let secrets = (0..rng.below(3))
        .map(|i| gen_secret(rng, i, &image))
        .collect();
    let account = (!rng.chance(15)).then(|| {
        ANNOTATION_KEYS
            .iter()
            .filter(|_| rng.chance(60))
            .map(|key| (key.to_string(), "value".to_string()))
            .collect()
    });
    names.sort();
    names.dedup();
    ProviderCase {
        config,
        names,
        image,
        secrets,
        account,
    }
}

fn provider_request(case: &ProviderCase) -> String {
    let secrets: Vec<Secret> = case.secrets.iter().map(SecretGen::secret).collect();
    let account = case
        .account
        .as_ref()
        .map(|annotations| json!({"name": "builder", "annotations": annotations}));
    let mut inner = json!({"config": case.config.to_string(), "binaries": case.names,
                           "image": case.image, "secrets": secrets});
    if let Some(account) = account {
        inner["service_account"] = account;
    }
    json!({"providers_case": inner, "secrets": []}).to_string()
}

/// Why we differ from the kubelet on a provider case, or None.
fn provider_disagreement(case: &ProviderCase, answer: &Value) -> Option<String> {
    use regcred::rules::providers;
    if let Some(error) = answer.get("oracle_error") {
        return Some(format!("the oracle failed: {error}"));
    }
    let ours = providers::parse_config(&case.config.to_string())
        .and_then(|config| providers::merge(vec![config]));
    let providers = match (ours, answer.get("config_error")) {
        (Err(_), Some(_)) => return None,
        (Ok(_), Some(error)) => {
            return Some(format!(
                "the kubelet refuses the config ({error}); we accept it"
            ));
        }
        (Err(ours), None) => {
            return Some(format!(
                "we refuse the config ({ours}); the kubelet accepts it"
            ));
        }
        (Ok(providers), None) => providers,
    };
    let Ok(image) = ImageRef::parse(&case.image) else {
        return answer
            .get("image_error")
            .is_none()
            .then(|| "we cannot parse the image; the kubelet can".to_string());
    };
    let theirs = oracle_creds(answer)?;
    // The Pod's Secrets first (judged as the first test does), then each provider called.
    let case_secrets = Case {
        image: case.image.clone(),
        secrets: case.secrets.clone(),
    };
    let parsed: Vec<(String, Vec<KeyEntry>)> = case
        .secrets
        .iter()
        .filter_map(|s| Some((s.name.clone(), kubelet::parse_secret(&s.secret()).ok()?)))
        .collect();
    // One malformed Secret breaks the whole keyring (keyring_error): the first test covers it.
    if answer.get("keyring_error").is_some() {
        return None;
    }
    let keyring = Keyring::new(parsed.iter().map(|(n, k)| (n.as_str(), k.as_slice())));
    let mut groups = our_groups(&keyring, &image, &case_secrets);
    // Each provider called answers for the repository (the test plugin's `auth` key), and
    // that key is looked up again in a keyring of its own (`plugins.go`, `Lookup`).
    let repository = image.repository();
    let answer_matches = kubelet::normalize_key(&repository)
        .is_some_and(|key| kubelet::key_matches(&key, &repository));
    for provider in providers::matching(&providers, &image) {
        if providers::calls(provider, case.account.as_ref()) && answer_matches {
            groups.push(vec![(
                String::new(),
                format!("provider:{}", provider.name),
                true,
            )]);
        }
    }
    (!same_up_to_group_order(&groups, &theirs))
        .then(|| format!("credentials differ:\n  ours:   {groups:?}\n  kubelet: {theirs:?}"))
}

#[test]
#[ignore = "needs the kubelet oracle built from k8s.io/kubernetes: tests/e2e/run.sh"]
fn kubelet_oracle_loads_and_calls_credential_providers_as_we_read_them() {
    let cases: usize = std::env::var("REGCRED_ORACLE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(1_000, |n: usize| n / 20);
    let seed = 20_261_209;
    let mut rng = Rng(seed);
    let generated: Vec<ProviderCase> = (0..cases).map(|_| gen_provider_case(&mut rng)).collect();
    let mut oracle = Oracle::start();
    let answers = oracle.ask_many(generated.iter().map(provider_request).collect());
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for (case, answer) in generated.iter().zip(&answers) {
        if let Some(why) = provider_disagreement(case, answer) {
            panic!(
                "seed {seed}: a provider case disagrees with the kubelet:\nconfig {}\nimage {:?}, serviceaccount {:?}\n{why}",
                serde_json::to_string_pretty(&case.config).unwrap(),
                case.image,
                case.account
            );
        }
        let outcome = if answer.get("config_error").is_some() {
            "config refused"
        } else if answer["creds"].as_array().is_some_and(|c| {
            c.iter().any(|c| {
                c["username"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("provider:"))
            })
        }) {
            "a provider called"
        } else {
            "no provider called"
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    eprintln!("kubelet oracle: {cases} provider configs agree: {outcomes:?}");
    for outcome in ["config refused", "a provider called", "no provider called"] {
        assert!(
            outcomes.get(outcome).copied().unwrap_or(0) * 20 >= cases,
            "fewer than 5% of the provider cases end in {outcome:?}: {outcomes:?}"
        );
    }
}

//! The krew manifest, checked by krew's own validation rules (`ValidatePlugin`,
//! `validatePlatform` and `validate-krew-manifest` in kubernetes-sigs/krew).

use std::path::Path;

use serde_json::Value;

const SUPPORTED: [(&str, &str); 11] = [
    ("windows", "386"),
    ("windows", "amd64"),
    ("windows", "arm64"),
    ("linux", "386"),
    ("linux", "amd64"),
    ("linux", "arm"),
    ("linux", "arm64"),
    ("linux", "ppc64le"),
    ("darwin", "386"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
];

const WINDOWS_RESERVED: [&str; 22] = [
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

fn is_semver_with_v(version: &str) -> bool {
    let Some(rest) = version.strip_prefix('v') else {
        return false;
    };
    let core = rest.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// Every rule the manifest breaks, empty when krew would accept it.
pub fn problems(file_name: &str, manifest: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut fail = |p: String| problems.push(p);
    let stem = file_name.strip_suffix(".yaml").unwrap_or_else(|| {
        fail(format!("{file_name}: the extension must be .yaml"));
        file_name
    });
    if manifest["apiVersion"].as_str() != Some("krew.googlecontainertools.github.com/v1alpha2") {
        fail("apiVersion must be krew.googlecontainertools.github.com/v1alpha2".into());
    }
    if manifest["kind"].as_str() != Some("Plugin") {
        fail("kind must be Plugin".into());
    }
    let name = manifest["metadata"]["name"].as_str().unwrap_or("");
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        fail(format!("name {name:?} must match ^[\\w-]+$"));
    }
    if WINDOWS_RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
        fail(format!("name {name:?} is a Windows reserved name"));
    }
    if name != stem {
        fail(format!(
            "metadata.name {name:?} must equal the file name {stem:?}"
        ));
    }
    let spec = &manifest["spec"];
    let short = spec["shortDescription"].as_str().unwrap_or("");
    if short.is_empty() || short.contains(['\r', '\n']) {
        fail("shortDescription must be one non-empty line".into());
    }
    if !is_semver_with_v(spec["version"].as_str().unwrap_or("")) {
        fail(format!(
            "version {:?} must be v-prefixed semver",
            spec["version"]
        ));
    }
    if spec["homepage"].as_str().unwrap_or("").is_empty() {
        fail("homepage is missing".into());
    }
    let description = spec["description"].as_str().unwrap_or("");
    if description
        .split_whitespace()
        .any(|w| w.starts_with("--") || (w.starts_with('-') && w.len() == 2))
    {
        fail("description must not list flags (implement --help instead)".into());
    }
    let caveats = spec["caveats"].as_str().unwrap_or("");
    for needed in ["kubectl_complete-regcred", "docker-credential-regcred"] {
        if !caveats.contains(needed) {
            fail(format!("caveats must explain {needed}"));
        }
    }
    let platforms = spec["platforms"].as_array().cloned().unwrap_or_default();
    if platforms.is_empty() {
        fail("at least one platform is required".into());
    }
    let mut matched: Vec<(&str, &str)> = Vec::new();
    for (i, platform) in platforms.iter().enumerate() {
        let selector = &platform["selector"];
        let labels = selector["matchLabels"].as_object();
        if selector.is_null() || labels.is_none_or(|l| l.is_empty()) {
            fail(format!(
                "platform {i}: a non-empty selector.matchLabels is required"
            ));
        }
        if selector
            .get("matchExpressions")
            .is_some_and(|e| e.as_array().is_none_or(|s| s.is_empty()))
        {
            fail(format!("platform {i}: matchExpressions must not be empty"));
        }
        let labels = labels.cloned().unwrap_or_default();
        for key in labels.keys() {
            if !matches!(key.as_str(), "os" | "arch") {
                fail(format!(
                    "platform {i}: selector key {key:?} is not os or arch"
                ));
            }
        }
        let label = |k: &str| labels.get(k).and_then(Value::as_str);
        let hits: Vec<(&str, &str)> = SUPPORTED
            .iter()
            .filter(|(os, arch)| {
                label("os").is_none_or(|o| o == *os) && label("arch").is_none_or(|a| a == *arch)
            })
            .copied()
            .collect();
        if hits.is_empty() {
            fail(format!(
                "platform {i}: the selector matches no supported os/arch"
            ));
        }
        for hit in hits {
            if matched.contains(&hit) {
                fail(format!(
                    "platform {i}: {}/{} is matched by two platforms",
                    hit.0, hit.1
                ));
            }
            matched.push(hit);
        }
        if platform["uri"].as_str().unwrap_or("").is_empty() {
            fail(format!("platform {i}: uri is required"));
        }
        let sha = platform["sha256"].as_str().unwrap_or("");
        if sha.len() != 64
            || !sha
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        {
            fail(format!(
                "platform {i}: sha256 {sha:?} must match ^[a-f0-9]{{64}}$"
            ));
        }
        if platform["bin"].as_str().unwrap_or("").is_empty() {
            fail(format!("platform {i}: bin is required"));
        }
        match &platform["files"] {
            Value::Null => {}
            Value::Array(files) if files.is_empty() => {
                fail(format!("platform {i}: files must not be empty"))
            }
            Value::Array(files) => {
                for file in files {
                    if file["from"].as_str().unwrap_or("").is_empty()
                        || file["to"].as_str().unwrap_or("").is_empty()
                    {
                        fail(format!("platform {i}: every files entry needs from and to"));
                    }
                }
            }
            _ => fail(format!("platform {i}: files must be a list")),
        }
    }
    problems
}

fn load(path: &Path) -> Value {
    serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_committed_manifest_passes_krews_rules() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugin-manifest/regcred.yaml");
    let manifest = load(&path);
    assert_eq!(problems("regcred.yaml", &manifest), Vec::<String>::new());
    let platforms: Vec<(String, String)> = manifest["spec"]["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let l = &p["selector"]["matchLabels"];
            (
                l["os"].as_str().unwrap().into(),
                l["arch"].as_str().unwrap().into(),
            )
        })
        .collect();
    // Exactly the platforms built and tested here (tests/e2e/platforms.sh); the release
    // workflow renders darwin too.
    assert_eq!(
        platforms,
        [("linux", "amd64"), ("linux", "arm64"), ("windows", "amd64")]
            .map(|(os, arch)| (os.to_string(), arch.to_string()))
    );
    for platform in manifest["spec"]["platforms"].as_array().unwrap() {
        let sha = platform["sha256"].as_str().unwrap();
        assert!(
            sha.len() == 64
                && sha.bytes().all(|b| b.is_ascii_hexdigit())
                && sha.bytes().any(|b| b != b'0'),
            "a real sha256, never a placeholder: {sha}"
        );
    }
    let windows = manifest["spec"]["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["selector"]["matchLabels"]["os"] == "windows")
        .unwrap();
    assert!(windows["bin"].as_str().unwrap().ends_with(".exe"));
}

#[test]
fn the_template_is_the_manifest_before_rendering() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let template = std::fs::read_to_string(root.join(".krew.yaml")).unwrap();
    let rendered = std::fs::read_to_string(root.join("plugin-manifest/regcred.yaml")).unwrap();
    // Every template line, with the tag filled in, is in the manifest (addURIAndSha aside).
    let version = load(&root.join("plugin-manifest/regcred.yaml"))["spec"]["version"]
        .as_str()
        .unwrap()
        .to_string();
    // Every manifest line but the rendered uri and sha256 comes from the template, with the
    // tag filled in; the manifest only leaves out platforms (darwin) not built here.
    let template_lines: Vec<String> = template
        .lines()
        .map(|line| line.replace("{{ .TagName }}", &version))
        .collect();
    for line in rendered
        .lines()
        .filter(|l| !l.trim_start().starts_with("uri:") && !l.trim_start().starts_with("sha256:"))
    {
        assert!(
            template_lines.iter().any(|t| t == line),
            "manifest line not in the template: {line}"
        );
    }
    assert!(
        version == format!("v{}", env!("CARGO_PKG_VERSION")),
        "manifest {version} vs Cargo.toml"
    );
}

#[test]
fn each_rule_catches_its_violation() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugin-manifest/regcred.yaml");
    let good = load(&path);
    let broken = |change: &dyn Fn(&mut Value)| {
        let mut manifest = good.clone();
        change(&mut manifest);
        problems("regcred.yaml", &manifest)
    };
    assert!(
        !problems("other.yaml", &good).is_empty(),
        "name must match the file"
    );
    assert!(!problems("regcred.yml", &good).is_empty(), ".yaml only");
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Mutation)> = vec![
        (
            "apiVersion",
            Box::new(|m| m["apiVersion"] = "krew/v1".into()),
        ),
        ("kind", Box::new(|m| m["kind"] = "Tool".into())),
        (
            "name",
            Box::new(|m| m["metadata"]["name"] = "reg cred".into()),
        ),
        (
            "two lines",
            Box::new(|m| m["spec"]["shortDescription"] = "a\nb".into()),
        ),
        (
            "version",
            Box::new(|m| m["spec"]["version"] = "0.1.0".into()),
        ),
        (
            "flags",
            Box::new(|m| m["spec"]["description"] = "use --force".into()),
        ),
        (
            "sha",
            Box::new(|m| m["spec"]["platforms"][0]["sha256"] = "ABC".into()),
        ),
        (
            "bin",
            Box::new(|m| m["spec"]["platforms"][0]["bin"] = "".into()),
        ),
        (
            "files",
            Box::new(|m| m["spec"]["platforms"][0]["files"] = Value::Array(vec![])),
        ),
        (
            "from",
            Box::new(|m| m["spec"]["platforms"][0]["files"][0]["from"] = Value::Null),
        ),
        (
            "selector key",
            Box::new(|m| m["spec"]["platforms"][0]["selector"]["matchLabels"]["cpu"] = "x".into()),
        ),
        (
            "overlap",
            Box::new(|m| {
                let first = m["spec"]["platforms"][0].clone();
                m["spec"]["platforms"].as_array_mut().unwrap().push(first);
            }),
        ),
        (
            "unsupported",
            Box::new(|m| {
                m["spec"]["platforms"][0]["selector"]["matchLabels"]["os"] = "plan9".into()
            }),
        ),
    ];
    for (rule, change) in cases {
        assert!(
            !broken(&*change).is_empty(),
            "the {rule} rule did not catch its violation"
        );
    }
}

/// The krew platforms `.krew.yaml` lists (`linux_amd64`, ...), from its download URLs.
fn template_platforms(template: &str) -> Vec<String> {
    let mut platforms: Vec<String> = template
        .lines()
        .filter_map(|line| line.split("_{{ .TagName }}_").nth(1))
        .map(|rest| rest.split(".tar.gz").next().unwrap().to_string())
        .collect();
    platforms.sort();
    platforms
}

#[test]
fn the_release_workflow_builds_every_platform_of_the_template() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let template = std::fs::read_to_string(root.join(".krew.yaml")).unwrap();
    let platforms = template_platforms(&template);
    assert_eq!(platforms.len(), 5, "{platforms:?}");
    let workflow = load(&root.join(".github/workflows/release.yml"));
    assert_eq!(workflow["on"]["push"]["tags"], serde_json::json!(["v*"]));
    let build = &workflow["jobs"]["build"];
    let mut matrix: Vec<String> = build["strategy"]["matrix"]["include"]
        .as_array()
        .expect("a matrix of platforms")
        .iter()
        .map(|entry| {
            assert!(entry["runner"].is_string(), "{entry}");
            entry["platform"].as_str().unwrap().to_string()
        })
        .collect();
    matrix.sort();
    assert_eq!(matrix, platforms, "one build job per manifest platform");
    let runs = |job: &Value| -> Vec<String> {
        job["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|step| step["run"].as_str().map(str::to_string))
            .collect()
    };
    assert!(
        runs(build)
            .iter()
            .any(|r| r == "scripts/release.sh --out dist --platforms ${{ matrix.platform }}"),
        "each job builds its platform with scripts/release.sh"
    );
    // release.sh installs no Rust target: each job's toolchain step adds the one release.sh
    // builds for its platform.
    let release_sh = std::fs::read_to_string(root.join("scripts/release.sh")).unwrap();
    for entry in build["strategy"]["matrix"]["include"].as_array().unwrap() {
        let platform = entry["platform"].as_str().unwrap();
        let target = entry["target"]
            .as_str()
            .expect("each platform names its Rust target");
        assert!(
            release_sh.contains(&format!("{platform}) echo {target} ;;")),
            "release.sh builds {platform} for {target}"
        );
    }
    let toolchain = build["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| {
            step["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("dtolnay/rust-toolchain"))
        })
        .expect("a toolchain step");
    assert_eq!(toolchain["with"]["targets"], "${{ matrix.target }}");
    let manifest = &workflow["jobs"]["manifest"];
    assert_eq!(manifest["needs"], "build");
    let render = runs(manifest)
        .into_iter()
        .find(|r| r.starts_with("scripts/release.sh"))
        .expect("the manifest job renders with scripts/release.sh");
    assert!(render.contains("--render-only"), "{render}");
    let mut rendered: Vec<String> = render
        .split('"')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    rendered.sort();
    assert_eq!(
        rendered, platforms,
        "the final manifest lists every platform"
    );
}

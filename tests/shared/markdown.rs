//! The project's Markdown (README.md and docs/*.md) and its fenced code blocks, for the tests
//! that keep the docs true (tests/cli/docs.rs, tests/e2e/docs.rs).

use std::path::{Path, PathBuf};

/// README.md, then docs/*.md by name.
pub fn markdown_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// Each fenced block of a file: the line its fence opens on, its info string (`sh e2e`) and
/// its text.
pub fn fenced_blocks(path: &Path) -> Vec<(usize, String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String, String)> = None;
    for (number, line) in text.lines().enumerate() {
        if let Some(info) = line.trim_start().strip_prefix("```") {
            match open.take() {
                None => open = Some((number + 1, info.trim().to_string(), String::new())),
                Some(block) => blocks.push(block),
            }
            continue;
        }
        if let Some((_, _, body)) = &mut open {
            body.push_str(line);
            body.push('\n');
        }
    }
    blocks
}

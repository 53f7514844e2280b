//! The committed documents (JSON Schemas, golden examples, AsyncAPI, the README's
//! catalogue table) are exactly what the code generates.
//!
//! With `CIRCLEMADE_BLESS=1` the test rewrites them instead of comparing.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use circlemade_contracts::{GOLDEN_DIR, Registry, SCHEMAS_DIR};

const REGENERATE: &str =
    "run `CIRCLEMADE_BLESS=1 cargo test -p circlemade-contracts --test generated` to regenerate";

const CATALOGUE_START: &str = "<!-- catalogue:start (generated) -->\n";
const CATALOGUE_END: &str = "<!-- catalogue:end -->";

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn blessing() -> bool {
    std::env::var_os("CIRCLEMADE_BLESS").is_some_and(|value| value == "1")
}

/// The `.json` files in a generated folder, as paths relative to the crate.
fn json_files_in(dir: &str) -> BTreeSet<String> {
    let Ok(entries) = fs::read_dir(crate_dir().join(dir)) else {
        return BTreeSet::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .map(|name| format!("{dir}/{name}"))
        .collect()
}

fn write(path: &Path, contents: &str) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap_or_else(|e| panic!("creating {parent:?}: {e}"));
    }
    fs::write(path, contents).unwrap_or_else(|e| panic!("writing {path:?}: {e}"));
}

#[test]
fn committed_documents_are_what_the_code_generates() {
    let files = Registry::default()
        .generated_files()
        .expect("the catalogue's examples serialise");
    let expected: BTreeSet<String> = files.iter().map(|file| file.path.clone()).collect();
    let mut problems = Vec::new();

    for file in &files {
        let path = crate_dir().join(&file.path);
        if blessing() {
            write(&path, &file.contents);
            continue;
        }
        match fs::read_to_string(&path) {
            Ok(committed) if committed == file.contents => {}
            Ok(_) => problems.push(format!("{} is stale", file.path)),
            Err(_) => problems.push(format!("{} is missing", file.path)),
        }
    }

    // A file left from a type that no longer exists would mislead subscribers.
    for dir in [SCHEMAS_DIR, GOLDEN_DIR] {
        for stray in json_files_in(dir).difference(&expected) {
            if blessing() {
                let path = crate_dir().join(stray);
                fs::remove_file(&path).unwrap_or_else(|e| panic!("removing {path:?}: {e}"));
            } else {
                problems.push(format!("{stray} matches no event type"));
            }
        }
    }

    assert!(problems.is_empty(), "{}; {REGENERATE}", problems.join(", "));
}

#[test]
fn readme_catalogue_is_what_the_code_generates() {
    let path = crate_dir().join("README.md");
    let readme = fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path:?}: {e}"));
    let (before, rest) = readme
        .split_once(CATALOGUE_START)
        .unwrap_or_else(|| panic!("README.md has no line `{}`", CATALOGUE_START.trim_end()));
    let (committed, after) = rest
        .split_once(CATALOGUE_END)
        .unwrap_or_else(|| panic!("README.md has no line `{CATALOGUE_END}`"));
    let table = Registry::default().catalogue_markdown();
    if blessing() {
        write(
            &path,
            &format!("{before}{CATALOGUE_START}{table}{CATALOGUE_END}{after}"),
        );
    } else {
        assert!(
            committed == table,
            "the catalogue in README.md is stale; {REGENERATE}"
        );
    }
}

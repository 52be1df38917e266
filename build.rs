//! Fails the build, with one line that says what to do, when `specs/` no
//! longer matches the input digest recorded in the generated client.
//! Cheap by design: it hashes two files; progenitor is not involved.

#[path = "xtask/src/input_digest.rs"]
mod input_digest;

use input_digest::{GENERATED_MARKER, INPUT_FILES, digest, recorded_digest};

const GENERATED_DIR: &str = "generated-client/src";

fn main() {
    for file in INPUT_FILES {
        println!("cargo::rerun-if-changed={file}");
    }
    println!("cargo::rerun-if-changed={GENERATED_DIR}");

    if let Err(problem) = check() {
        println!("cargo::error={problem}");
    }
}

fn check() -> Result<(), String> {
    let mut inputs = Vec::new();
    for file in INPUT_FILES {
        let content =
            std::fs::read(file).map_err(|error| format!("cannot read {file}: {error}"))?;
        inputs.push((file, content));
    }
    let current = digest(
        inputs
            .iter()
            .map(|(name, content)| (*name, content.as_slice())),
    );

    let mut generated = Vec::new();
    let entries = std::fs::read_dir(GENERATED_DIR)
        .map_err(|error| format!("cannot read {GENERATED_DIR}: {error}"))?;
    for entry in entries.flatten() {
        let path = entry.path();
        println!("cargo::rerun-if-changed={}", path.display());
        let Ok(source) = std::fs::read_to_string(&path) else {
            continue;
        };
        if source.starts_with(GENERATED_MARKER) {
            generated.push((path, source));
        }
    }
    if generated.is_empty() {
        return Err(format!(
            "no generated files in {GENERATED_DIR}: run `cargo xtask regen`"
        ));
    }
    generated.sort();
    for (path, source) in &generated {
        if recorded_digest(source) != Some(current.as_str()) {
            return Err(format!(
                "{} is stale: specs/ changed since it was generated; run `cargo xtask regen`",
                path.display()
            ));
        }
    }
    Ok(())
}

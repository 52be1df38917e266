//! Fails the build, with one line that says what to do, when `specs/` no
//! longer matches the input digest recorded in the generated files.
//! Cheap by design: it hashes two files; progenitor is not involved.

#[path = "xtask/src/input_digest.rs"]
mod input_digest;

use input_digest::{GENERATED_MARKER, INPUT_FILES, digest, recorded_digest};

const GENERATED_FILES: [&str; 2] = [
    "generated-client/src/generated.rs",
    "generated-mocks/src/generated.rs",
];

fn main() {
    for file in INPUT_FILES.iter().chain(&GENERATED_FILES) {
        println!("cargo::rerun-if-changed={file}");
    }
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
    for file in GENERATED_FILES {
        let source = std::fs::read_to_string(file).unwrap_or_default();
        if !source.starts_with(GENERATED_MARKER) {
            return Err(format!("{file} is missing: run `cargo xtask regen`"));
        }
        if recorded_digest(&source) != Some(current.as_str()) {
            return Err(format!(
                "{file} is stale: specs/ changed since it was generated; run `cargo xtask regen`"
            ));
        }
    }
    Ok(())
}

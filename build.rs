//! Fails the build, with one line that says what to do, when `specs/` no
//! longer matches the input digest recorded in the generated files.
//! Cheap by design: it hashes two files; progenitor is not involved. (The
//! client crate's own build script guards it, and so every member that
//! depends on it, the same way.)

#[path = "generated-client/input_digest.rs"]
mod input_digest;

const GENERATED_FILES: [&str; 2] = [
    "generated-client/src/generated.rs",
    "generated-mocks/src/generated.rs",
];

fn main() {
    // A directory is scanned whole: any file of specs/ changing reruns this.
    println!("cargo::rerun-if-changed=specs");
    for file in GENERATED_FILES {
        println!("cargo::rerun-if-changed={file}");
    }
    if let Err(problem) = input_digest::check_generated(std::path::Path::new("."), &GENERATED_FILES)
    {
        println!("cargo::error={problem}");
    }
}

//! Inside the workspace, fails the build with one line that says what to do
//! when `specs/` no longer matches the input digest recorded in
//! `src/generated.rs`, so that every member depending on this crate is
//! guarded too. Outside the workspace (no `specs/` beside the crate), does
//! nothing.

#[path = "input_digest.rs"]
mod input_digest;

fn main() {
    let workspace = std::path::Path::new("..");
    println!("cargo::rerun-if-changed=src/generated.rs");
    if !workspace.join("specs").is_dir() {
        return;
    }
    println!("cargo::rerun-if-changed=../specs");
    let generated = ["generated-client/src/generated.rs"];
    if let Err(problem) = input_digest::check_generated(workspace, &generated) {
        println!("cargo::error={problem}");
    }
}

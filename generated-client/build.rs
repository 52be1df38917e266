//! Inside the workspace, fails the build with one line that says what to do
//! when `specs/` no longer matches the input digest recorded in
//! `src/generated.rs`, so that every member depending on this crate is
//! guarded too. Outside the workspace (no `specs/` beside the crate), does
//! not check.
//!
//! Always: when regen generated `src/generated.rs` from another document
//! than the vendor's (`--no-overlay`; its header says so), sets the cfg
//! `another_document`, which compiles out what is written for the vendor's
//! operations (typed values, their answers' verdicts, token refresh, user
//! clients), so that another document's client compiles for trying. The
//! vendor's own document never sets it: a vendor's change still breaks the
//! hand-written code at compile time.

#[path = "input_digest.rs"]
mod input_digest;

fn main() {
    let workspace = std::path::Path::new("..");
    println!("cargo::rerun-if-changed=src/generated.rs");
    println!("cargo::rustc-check-cfg=cfg(another_document)");
    let generated = std::fs::read_to_string("src/generated.rs").unwrap_or_default();
    if generated
        .lines()
        .take_while(|line| line.starts_with("//"))
        .any(|line| line == input_digest::ANOTHER_DOCUMENT_MARKER)
    {
        println!("cargo::rustc-cfg=another_document");
    }
    if !workspace.join("specs").is_dir() {
        return;
    }
    println!("cargo::rerun-if-changed=../specs");
    let generated = ["generated-client/src/generated.rs"];
    if let Err(problem) = input_digest::check_generated(workspace, &generated) {
        println!("cargo::error={problem}");
    }
}

//! `cargo xtask regen [--check]`: see README.md and ARCHITECTURE.md.

mod error_bodies;
mod failure;
#[path = "input_digest.rs"]
mod input_digest;
mod naming;
mod output;
mod overlay;
mod pipeline;
mod routes;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use failure::Failure;
use pipeline::Inputs;

const USAGE: &str = "usage: cargo xtask regen [--check]

  regen           regenerate generated-client/ from specs/
  regen --check   write nothing; exit 1 naming each stale generated file";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let check = match args.as_slice() {
        ["regen"] => false,
        ["regen", "--check"] => true,
        ["--help" | "-h" | "help"] | ["regen", "--help" | "-h"] => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("error: unexpected arguments {args:?}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match regen(check) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("error: {failure}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

fn regen(check: bool) -> Result<ExitCode, Failure> {
    let started = Instant::now();
    let root = workspace_root();
    let shown_as = |path: &Path| {
        path.strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    let [spec, overlay] = input_digest::INPUT_FILES.map(|file| root.join(file));
    let inputs = Inputs::read(&spec, &overlay, shown_as)?;
    let files = pipeline::generate(&inputs)?;
    let out_dir = root.join("generated-client");

    if check {
        let reports = output::stale_reports(&out_dir, &files, &inputs.digest(), shown_as);
        if reports.is_empty() {
            println!(
                "regen --check: {} generated file(s) up to date",
                files.len()
            );
            return Ok(ExitCode::SUCCESS);
        }
        for report in &reports {
            eprintln!("{report}");
        }
        eprintln!(
            "error: {} generated file(s) are stale: run `cargo xtask regen` and commit the result",
            reports.len()
        );
        return Ok(ExitCode::FAILURE);
    }

    let written = output::write_changed(&out_dir, &files)?;
    for path in &written {
        println!("wrote {}", shown_as(path));
    }
    println!(
        "regen: {} file(s) written, {} unchanged, in {} ms",
        written.len(),
        files.len() - written.len(),
        started.elapsed().as_millis()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rust-analyzer style: `cargo test` alone catches a checked-in client
    /// that no longer matches what regen would write.
    #[test]
    fn checked_in_client_is_up_to_date() {
        let root = workspace_root();
        let [spec, overlay] = input_digest::INPUT_FILES.map(|file| root.join(file));
        let inputs = Inputs::read(&spec, &overlay, |path| path.display().to_string()).unwrap();
        let files = pipeline::generate(&inputs).unwrap();
        let reports = output::stale_reports(
            &root.join("generated-client"),
            &files,
            &inputs.digest(),
            |path| path.display().to_string(),
        );
        assert!(
            reports.is_empty(),
            "run `cargo xtask regen`:\n{}",
            reports.join("\n")
        );
    }

    #[test]
    fn generation_is_deterministic() {
        let root = workspace_root();
        let [spec, overlay] = input_digest::INPUT_FILES.map(|file| root.join(file));
        let inputs = Inputs::read(&spec, &overlay, |path| path.display().to_string()).unwrap();
        let first = pipeline::generate(&inputs).unwrap();
        let second = pipeline::generate(&inputs).unwrap();
        assert_eq!(first.len(), second.len());
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(a.relative_path, b.relative_path);
            assert!(
                a.content == b.content,
                "{} differs between runs",
                a.relative_path
            );
        }
    }
}

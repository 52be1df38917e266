//! `cargo xtask regen`: the generator's files (`reward_points_generator`),
//! then the reporter's follow-up (`reward_points_reporter::release`: the
//! changelog entry and the version) when the client changed, written
//! atomically; `--check` writes nothing and names what is stale.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use reward_points_generator::document::diagnostic::{self, Diagnostic, Problems};
use reward_points_generator::document::{input_digest, output};
use reward_points_generator::pipeline::{self, Inputs};
use reward_points_reporter::release;

use crate::{RegenArgs, workspace_root};

/// The workspace's own inputs: the vendor's document (YAML or JSON) and the
/// overlay.
fn default_inputs(root: &Path) -> Result<(PathBuf, PathBuf), Diagnostic> {
    let spec =
        input_digest::spec_file(root).map_err(|message| Diagnostic::new("specs/", message))?;
    Ok((root.join(spec), root.join(input_digest::OVERLAY_FILE)))
}

pub fn regen(args: &RegenArgs) -> ExitCode {
    let root = workspace_root();
    // Files the user named are shown as named; the workspace's relative to
    // its root.
    let shown_as = |path: &Path| {
        path.strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    let inputs = default_inputs(&root).and_then(|(spec, overlay)| {
        let spec = args.spec.clone().unwrap_or(spec);
        let overlay = args.overlay.clone().unwrap_or(overlay);
        let mut inputs = Inputs::read(&spec, &overlay, &root, shown_as)?;
        if args.no_overlay {
            inputs.overlay_name = pipeline::NO_OVERLAY_NAME.into();
            inputs.overlay = pipeline::NO_OVERLAY.as_bytes().to_vec();
        }
        Ok(inputs)
    });
    let (problems, inputs) = match inputs {
        Err(problem) => (vec![problem], None),
        Ok(inputs) => match regen_from(args, &root, &inputs, shown_as) {
            Ok(code) => return code,
            Err(problems) => (problems, Some(inputs)),
        },
    };
    let sources = inputs.map(|inputs| inputs.sources()).unwrap_or_default();
    let styled = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    eprint!("{}", diagnostic::render(&problems, &sources, styled));
    ExitCode::FAILURE
}

fn regen_from(
    args: &RegenArgs,
    root: &Path,
    inputs: &Inputs,
    shown_as: impl Fn(&Path) -> String,
) -> Result<ExitCode, Problems> {
    let started = Instant::now();
    let mut timings = pipeline::Timings::default();
    let pipeline::Generated { files, notes } = pipeline::generate(inputs, &mut timings)?;
    for note in &notes {
        eprintln!("{note}");
    }

    let out_dir = match (&args.out, &args.spec) {
        (Some(out), _) => out.clone(),
        (None, None) => root.to_path_buf(),
        (None, Some(_)) => {
            println!(
                "regen: {} is valid and generates {} file(s); nothing written (give --out DIR to write them)",
                inputs.spec_name,
                files.len()
            );
            return Ok(ExitCode::SUCCESS);
        }
    };

    if args.check {
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

    let follow_up = release::follow_up(&out_dir, &files).map_err(|problem| vec![problem])?;
    let mut files = files;
    files.extend(follow_up.files);
    let mut clock = Instant::now();
    let written = output::write_changed(&out_dir, &files).map_err(|problem| vec![problem])?;
    timings.lap("write", &mut clock);
    for path in &written {
        println!("wrote {}", shown_as(path));
    }
    if args.timings {
        for (stage, took) in &timings.0 {
            println!("  {stage:<9} {:>8.1} ms", took.as_secs_f64() * 1000.0);
        }
    }
    if let Some(summary) = follow_up.summary {
        println!("{summary}");
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

    fn workspace_inputs() -> Inputs {
        let root = workspace_root();
        let (spec, overlay) = default_inputs(&root).unwrap();
        Inputs::read(&spec, &overlay, &root, |path| {
            path.strip_prefix(&root).unwrap().display().to_string()
        })
        .unwrap()
    }

    /// rust-analyzer style: `cargo test` alone catches a checked-in client
    /// that no longer matches what regen would write.
    #[test]
    fn checked_in_client_is_up_to_date() {
        let inputs = workspace_inputs();
        let files = pipeline::generate(&inputs, &mut Default::default())
            .unwrap()
            .files;
        let reports = output::stale_reports(&workspace_root(), &files, &inputs.digest(), |path| {
            path.display().to_string()
        });
        assert!(
            reports.is_empty(),
            "run `cargo xtask regen`:\n{}",
            reports.join("\n")
        );
    }

    #[test]
    fn generation_is_deterministic() {
        let inputs = workspace_inputs();
        let first = pipeline::generate(&inputs, &mut Default::default())
            .unwrap()
            .files;
        let second = pipeline::generate(&inputs, &mut Default::default())
            .unwrap()
            .files;
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

//! The files of one side of a report: a commit (read with `git show`, never
//! checked out) or the working tree.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::hand_written::USING_SOURCES;

/// Where one side of a report is read from.
pub enum Tree {
    WorkingTree(PathBuf),
    Commit {
        root: PathBuf,
        /// As the user named it.
        rev: String,
        /// The commit it names.
        id: String,
    },
}

impl Tree {
    /// The commit `rev` names in the repository at `root`, or why not.
    pub fn commit(root: &Path, rev: &str) -> Result<Self, String> {
        let id = git(
            root,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &format!("{rev}^{{commit}}"),
            ],
        )
        .map_err(|_| {
            format!(
                "`{rev}` names no commit of this repository (a branch, a tag or a commit id; \
                     in a shallow clone, fetch it first: `git fetch --depth=1 origin {rev}`)"
            )
        })?;
        Ok(Tree::Commit {
            root: root.to_path_buf(),
            rev: rev.to_owned(),
            id: id.trim().to_owned(),
        })
    }

    /// How the report names this side: `main (1a2b3c4)`, or `the working
    /// tree`.
    pub fn name(&self) -> String {
        match self {
            Tree::WorkingTree(_) => "the working tree".into(),
            Tree::Commit { rev, id, .. } if id.starts_with(rev.as_str()) => id[..12].to_owned(),
            Tree::Commit { rev, id, .. } => format!("{rev} ({})", &id[..12]),
        }
    }

    /// The text of `path` (relative to the workspace), `None` when this side
    /// has no such file.
    pub fn read(&self, path: &str) -> Result<Option<String>, String> {
        match self {
            Tree::WorkingTree(root) => match std::fs::read_to_string(root.join(path)) {
                Ok(text) => Ok(Some(text)),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(error) => Err(format!("cannot read {path}: {error}")),
            },
            Tree::Commit { root, id, .. } => {
                let listed = git(root, &["ls-tree", "--name-only", "-z", id, "--", path])?;
                if listed.is_empty() {
                    return Ok(None);
                }
                // `./`: relative to the workspace, wherever the repository's
                // root is.
                git(root, &["show", &format!("{id}:./{path}")]).map(Some)
            }
        }
    }

    /// A directory holding this side's hand-written sources (the crates that
    /// use the generated client), for what the change breaks in them: the
    /// working tree itself, or a copy of the commit's in a temporary
    /// directory, which the returned guard removes.
    pub fn sources(&self) -> Result<(PathBuf, Option<tempfile::TempDir>), String> {
        let (root, id) = match self {
            Tree::WorkingTree(root) => return Ok((root.clone(), None)),
            Tree::Commit { root, id, .. } => (root, id),
        };
        let copy =
            tempfile::tempdir().map_err(|error| format!("a temporary directory: {error}"))?;
        let mut arguments = vec!["ls-tree", "-r", "--name-only", "-z", id.as_str(), "--"];
        arguments.extend(USING_SOURCES);
        for file in git(root, &arguments)?
            .split('\0')
            .filter(|f| f.ends_with(".rs"))
        {
            let text = git(root, &["show", &format!("{id}:./{file}")])?;
            let to = copy.path().join(file);
            std::fs::create_dir_all(to.parent().unwrap_or(copy.path()))
                .and_then(|()| std::fs::write(&to, text))
                .map_err(|error| format!("cannot copy {file}: {error}"))?;
        }
        Ok((copy.path().to_path_buf(), Some(copy)))
    }
}

/// `git ARGUMENTS` in `root`: its output, or what it said.
fn git(root: &Path, arguments: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .args(arguments)
        .current_dir(root)
        .output()
        .map_err(|error| format!("cannot run git: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "git {}: {}",
            arguments.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    String::from_utf8(output.stdout).map_err(|_| format!("git {}: not UTF-8", arguments.join(" ")))
}

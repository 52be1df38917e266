//! A throwaway PostgreSQL server for the test suite, from the system's own
//! binaries: `initdb` into a temporary directory, `pg_ctl start` listening
//! only on a Unix socket in that directory, `pg_ctl stop` and the directory
//! removed when the value is dropped.
//!
//! When the binaries are missing and this runs as root on Debian, Debian's
//! `postgresql` package is installed first. PostgreSQL refuses to run as
//! root, so as root the server runs as the `postgres` user the package
//! creates.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The environment variable the tests read the connection string from.
pub const TEST_POSTGRES_VARIABLE: &str = "XOXODAY_TEST_POSTGRES";

/// A running throwaway server; stopped and removed on drop.
pub struct PostgresServer {
    bin: PathBuf,
    dir: PathBuf,
    run_as: Option<&'static str>,
}

impl PostgresServer {
    pub fn start() -> Result<Self, String> {
        let bin = match server_binaries() {
            Some(bin) => bin,
            None => {
                install_postgresql()?;
                server_binaries().ok_or(
                    "Debian's postgresql package is installed, but initdb and pg_ctl are still \
                     not found under /usr/lib/postgresql/*/bin",
                )?
            }
        };
        let root = is_root();
        let run_as = root.then_some("postgres");
        let dir =
            std::env::temp_dir().join(format!("xoxoday-test-postgres-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)
            .map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
        let server = Self { bin, dir, run_as };
        if let Some(user) = run_as {
            run(Command::new("chown").arg(user).arg(&server.dir), "chown")?;
        }
        let data = server.dir.join("data");
        server.pg(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "--auth=trust".as_ref(),
                "--username=postgres".as_ref(),
                "--encoding=UTF8".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        let options = format!(
            "-k {} -c listen_addresses= -c fsync=off -c max_connections=200",
            server.dir.display()
        );
        server.pg(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-l".as_ref(),
                server.dir.join("server.log").as_os_str(),
                "-w".as_ref(),
                "start".as_ref(),
            ],
        )?;
        Ok(server)
    }

    /// The connection string the tests use: a URL, which the CLI's
    /// `--token-store` takes too (the socket's directory percent-encoded).
    pub fn connection_string(&self) -> String {
        let socket_dir = self.dir.display().to_string().replace('/', "%2F");
        format!("postgresql://postgres@{socket_dir}/postgres")
    }

    /// Runs one of the server's programs, as the server's user.
    fn pg(&self, program: &str, args: &[&std::ffi::OsStr]) -> Result<(), String> {
        let path = self.bin.join(program);
        let mut command = match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(&path);
                command
            }
            None => Command::new(&path),
        };
        command.args(args).current_dir(&self.dir);
        run(&mut command, program)
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self.pg(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "stop".as_ref(),
            ],
        );
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn run(command: &mut Command, name: &str) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run {name}: {error}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().rev().find(|line| !line.trim().is_empty());
    Err(format!(
        "{name} failed ({}): {}",
        output.status,
        last.unwrap_or("no message")
    ))
}

/// The directory holding `initdb` and `pg_ctl`: on the PATH, or Debian's
/// `/usr/lib/postgresql/<version>/bin` (the newest version).
fn server_binaries() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    if let Some(dir) = on_path.into_iter().find(|dir| has_both(dir)) {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse().ok()?;
            let bin = entry.path().join("bin");
            has_both(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn install_postgresql() -> Result<(), String> {
    let missing = "PostgreSQL's server binaries (initdb, pg_ctl) are missing";
    if !is_root() || Command::new("apt-get").arg("--version").output().is_err() {
        return Err(format!(
            "{missing}: install them (on Debian: `apt-get install postgresql`), or set \
             {TEST_POSTGRES_VARIABLE} to a server's connection string and run `cargo test --workspace`"
        ));
    }
    eprintln!("xtask test: {missing}; installing Debian's postgresql package");
    run(
        Command::new("apt-get").args(["update", "-qq"]),
        "apt-get update",
    )?;
    run(
        Command::new("apt-get")
            .args([
                "install",
                "-y",
                "-qq",
                "--no-install-recommends",
                "postgresql",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive"),
        "apt-get install postgresql",
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

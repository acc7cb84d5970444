//! Runs the built `sentral` binary against a fresh store: a temporary data directory
//! (SQLite), or a fresh PostgreSQL schema when `SENTRAL_TEST_POSTGRES` is set.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/sorum-sample.toml"
);

/// The sample data file: `shared/data` beside the repository, else billing's copy.
pub fn sample_path() -> PathBuf {
    let shared = PathBuf::from(SAMPLE);
    if shared.is_file() {
        return shared;
    }
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/billing/data/sorum-sample.toml"
    ))
}

pub struct Env {
    pub dir: tempfile::TempDir,
    /// `--database-url` for PostgreSQL runs.
    pub database_url: Option<String>,
    schema: Option<String>,
}

/// The result of one run.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(self) -> String {
        assert_eq!(
            self.code,
            Some(0),
            "command failed:\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self.stdout
    }

    /// Asserts exit code `code` and that stderr mentions `needle`; never a panic.
    #[track_caller]
    pub fn fails(self, code: i32, needle: &str) {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit {code}:\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "panic: {}", self.stderr);
    }
}

impl Env {
    pub fn sqlite() -> Env {
        Env {
            dir: tempdir(),
            database_url: None,
            schema: None,
        }
    }

    /// `None` when `SENTRAL_TEST_POSTGRES` is not set.
    pub async fn postgres() -> Option<Env> {
        let url = std::env::var("SENTRAL_TEST_POSTGRES")
            .ok()
            .filter(|u| !u.is_empty())?;
        let schema = format!("cli_{}", std::process::id()) + &format!("_{:x}", nanos());
        let store = match store::Store::open_postgres_schema(&url, &schema).await {
            Ok(s) => s,
            Err(e) => panic!("create schema {schema}: {e}"),
        };
        store.close().await;
        let sep = if url.contains('?') { '&' } else { '?' };
        Some(Env {
            dir: tempdir(),
            database_url: Some(format!("{url}{sep}options[search_path]={schema}")),
            schema: Some(schema),
        })
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `sentral ARGS --data-dir DIR [--database-url URL]`.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sentral"));
        cmd.args(args).arg("--data-dir").arg(self.data_dir());
        if let Some(url) = &self.database_url {
            cmd.arg("--database-url").arg(url);
        }
        cmd.env_remove("SENTRAL_DATA_DIR")
            .env_remove("SENTRAL_DATABASE_URL")
            .env_remove("RUST_LOG");
        match cmd.output() {
            Ok(out) => Run::from(out),
            Err(e) => panic!("cannot run sentral: {e}"),
        }
    }

    pub async fn finish(self) {
        if let (Some(schema), Ok(url)) = (self.schema, std::env::var("SENTRAL_TEST_POSTGRES")) {
            match store::Store::open_postgres_schema(&url, &schema).await {
                Ok(s) => {
                    if let Err(e) = s.drop_postgres_schema(&schema).await {
                        panic!("drop schema {schema}: {e}");
                    }
                }
                Err(e) => panic!("reopen schema {schema}: {e}"),
            }
        }
    }
}

fn tempdir() -> tempfile::TempDir {
    match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("temp dir: {e}"),
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

pub fn json(s: &str) -> serde_json::Value {
    match serde_json::from_str(s) {
        Ok(v) => v,
        Err(e) => panic!("not JSON ({e}):\n{s}"),
    }
}

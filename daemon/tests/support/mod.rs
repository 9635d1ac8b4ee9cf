//! Shared helpers of the CLI tests: running the built `dinoedge`, and a small HTTP server
//! on 127.0.0.1 that serves files with range requests, for `model pull`.

#![allow(dead_code)] // each test binary uses its own part of this module

pub mod broker;
pub mod http;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../heads/tests/fixtures/parity")
}

/// Runs `dinoedge` with `args`; the cache goes to `cache` so no test touches $HOME.
pub fn dinoedge(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dinoedge"))
        .args(args)
        .env("DINOEDGE_CACHE_DIR", cache)
        .output()
        .expect("dinoedge runs")
}

/// A path as a command-line argument.
pub fn path(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts a failure with exactly one error line mentioning every `needle`.
pub fn assert_fails(out: &Output, code: i32, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "exit code; stderr: {err}");
    assert!(!err.contains("panicked"), "a panic: {err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("dinoedge: error:")).count(), 1, "one error: {err}");
    for needle in needles {
        assert!(err.contains(needle), "the error should mention `{needle}`: {err}");
    }
}

/// The files in a folder (names only), sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

pub fn sha256(path: &Path) -> String {
    dinoedge_heads::files::sha256_file(path).unwrap()
}

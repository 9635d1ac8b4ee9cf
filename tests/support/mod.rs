//! Shared helpers of the CLI tests: running the built `dinoedge`, and a small HTTP server
//! on 127.0.0.1 that serves files with range requests, for `model pull`, a broker, and a
//! simulated dock whose camera is known, for calibrate; and a small filesystem to fill.

#![allow(dead_code)] // each test binary uses its own part of this module

pub mod broker;
pub mod disk;
pub mod dock;
pub mod http;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A port free on 127.0.0.1 and not handed out before in this test process (the tests of a
/// binary run in parallel, and the kernel may give a just-closed port out again).
pub fn free_port() -> u16 {
    static TAKEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut taken = TAKEN.lock().unwrap();
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if !taken.contains(&port) {
            taken.push(port);
            return port;
        }
    }
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("backbone/tests/fixtures/parity")
}

/// Runs `dinoedge` with `args`; the cache goes to `cache` so no test touches $HOME.
pub fn dinoedge(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dinoedge"))
        .args(args)
        .env("DINOEDGE_CACHE_DIR", cache)
        .output()
        .expect("dinoedge runs")
}

/// Runs `dinoedge` and returns its stdout; a failure fails the test with its stderr.
pub fn run_ok(args: &[&str], dir: &Path) -> String {
    let out = dinoedge(args, dir);
    assert!(out.status.success(), "{:?}: {}", args, stderr(&out));
    stdout(&out)
}

/// A random ViT-S/14 imported at 56x56 (16 patches), seed `seed`.
pub fn backbone(dir: &Path, seed: &str) -> PathBuf {
    let (w, onnx) = (dir.join(format!("w{seed}.safetensors")), dir.join(format!("b{seed}.onnx")));
    run_ok(&["model", "init", "--random", "--seed", seed, "--out", path(&w)], dir);
    run_ok(&["model", "import", "--weights", path(&w), "--out", path(&onnx), "--input", "56x56"], dir);
    onnx
}

/// A random 56x56 backbone and a lin.1 head trained for it on 4 small simulated frames.
pub fn tiny_model(dir: &Path) -> (PathBuf, PathBuf) {
    let (train, head) = (dir.join("train"), dir.join("head.safetensors"));
    run_ok(
        &["sim", "dataset", "--n", "4", "--seed", "1", "--out", path(&train), "--width", "112", "--height", "84"],
        dir,
    );
    let onnx = backbone(dir, "7");
    run_ok(
        &["heads", "train", "--data", path(&train), "--backbone", path(&onnx), "--out", path(&head), "--epochs", "2"],
        dir,
    );
    (onnx, head)
}

/// A full-size random published depth model of the catalog's `name` (seed `seed`) made by
/// `model init --depth` in its published layout — Depth Anything V2 Small, or one of Meta's
/// heads with a random ViT-S/14 backbone — imported at 56x56: the depth model's ONNX.
pub fn depth_model(dir: &Path, name: &str, seed: &str) -> PathBuf {
    let (folder, onnx) = (dir.join(format!("{name}-{seed}")), dir.join(format!("{name}-{seed}.onnx")));
    let out = run_ok(&["model", "init", "--random", "--depth", name, "--seed", seed, "--out", path(&folder)], dir);
    let import = ["model", "import", "--depth", name, "--out", path(&onnx), "--input", "56x56"];
    if out.contains("head.safetensors") {
        let backbone = folder.join("backbone.safetensors");
        run_ok(&["model", "init", "--random", "--seed", seed, "--out", path(&backbone)], dir);
        let head = folder.join("head.safetensors");
        run_ok(&[&import[..], &["--weights", path(&backbone), "--head", path(&head)]].concat(), dir);
    } else {
        run_ok(&[&import[..], &["--weights", path(&folder.join("model.safetensors"))]].concat(), dir);
    }
    onnx
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
    dinoedge_backbone::files::sha256_file(path).unwrap()
}

/// Starts `dinoedge run --config config` with its log on a pipe.
pub fn spawn_daemon(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dinoedge"))
        .args(["run", "--config", path(config)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dinoedge runs")
}

/// Waits for a daemon to exit with success (its sources are finite, or it was told to stop);
/// returns its log.
pub fn finish(mut daemon: Child, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = daemon.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(daemon.stderr.as_mut().unwrap(), &mut err).unwrap();
            assert!(status.success(), "the daemon failed: {status}\n{err}");
            return err;
        }
        if Instant::now() > deadline {
            let _ = daemon.kill();
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(daemon.stderr.as_mut().unwrap(), &mut err);
            panic!("the daemon did not finish within {within:?}:\n{err}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends SIGTERM and waits for a clean exit within `within`; returns the log.
pub fn terminate(daemon: Child, within: Duration) -> String {
    let status = Command::new("kill").args(["-TERM", &daemon.id().to_string()]).status().unwrap();
    assert!(status.success());
    finish(daemon, within)
}

/// A spawned daemon's log (its stderr, piped), collected as it comes by a thread of its own.
pub fn log_lines(daemon: &mut Child) -> std::sync::Arc<std::sync::Mutex<String>> {
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (stderr, into) = (daemon.stderr.take().expect("stderr piped"), log.clone());
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            let mut log = into.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    log
}

/// Waits until `done` holds for the log so far, or `within`.
pub fn wait_for_log(log: &std::sync::Mutex<String>, within: Duration, done: impl Fn(&str) -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if done(&log.lock().unwrap()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done(&log.lock().unwrap())
}

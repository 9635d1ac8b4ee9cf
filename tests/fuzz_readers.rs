//! Mutation fuzzing of the readers of untrusted files, on stable Rust, inside the test command:
//! the config, a calibration, the outbox log, image files (through their size limits), weight
//! files (safetensors, and `.pth`: a zip holding a pickle), backbone ONNX files (loaded), and
//! calibrate's points file (TOML, and the page's JSON body; fitted). Each target's seeds (the
//! committed corpus: `tests/fuzz/<target>/` and the fixtures named in `targets`) are mutated by
//! a seeded generator (bit flips, telling bytes, cuts, repeats, splices of two seeds) and each
//! mutant is read. A panic anywhere fails the test, and the mutant is kept in
//! `$CARGO_TARGET_TMPDIR/fuzz-crashes/` to become a seed of the corpus once fixed. The outbox
//! also keeps its promise on every mutant it opens: an event added is there after a reopen.
//!
//! A reader still busy with one mutant after 30 s ends the test, the mutant kept likewise.
//!
//! The readers are `tests/fuzz/readers.rs`, which the coverage-guided cargo-fuzz targets of
//! `tests/fuzz/` (a nightly compiler, run by hand; BENCHMARKS.md has their figures) share.
//! This run is not coverage-guided: it runs a fixed number of mutants per target, the same ones
//! every time, in a few seconds. `DINOEDGE_FUZZ_RUNS` (per
//! target; 2000 by default, a few seconds in all) and `DINOEDGE_FUZZ_SEED` run longer or other ones.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

#[path = "fuzz/readers.rs"]
mod readers;

/// A reader under test: it gets the mutant's bytes written to a file of the name it wants.
struct Target {
    name: &'static str,
    /// The file name the mutant is written to (readers tell formats by name or by bytes).
    file: &'static str,
    seeds: Vec<PathBuf>,
    /// Reads the file; true when it was read without error (what the seeds must be).
    read: fn(&Path) -> bool,
}

fn targets() -> Vec<Target> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = |paths: &[&str]| paths.iter().map(|p| root.join(p)).collect::<Vec<_>>();
    vec![
        Target {
            name: "config",
            file: "dinoedge.toml",
            seeds: seeds(&["config/examples/dock.toml"]),
            read: readers::config,
        },
        Target {
            name: "calibration",
            file: "dock1.calibration.toml",
            seeds: seeds(&["tests/fuzz/seeds/calibration/dock1.calibration.toml"]),
            read: readers::calibration,
        },
        Target {
            name: "outbox",
            file: "outbox/events.jsonl",
            // The second was found by this test: the next record was glued to the header.
            seeds: seeds(&[
                "tests/fuzz/seeds/outbox/events.jsonl",
                "tests/fuzz/seeds/outbox/header-without-newline.jsonl",
            ]),
            read: readers::outbox,
        },
        Target {
            name: "image",
            file: "frame.png",
            seeds: seeds(&["heads/tests/fixtures/middlebury-motorcycle/depth/motorcycle.png"]),
            read: readers::image,
        },
        Target {
            name: "safetensors",
            file: "weights.bin",
            seeds: seeds(&["backbone/tests/fixtures/parity/dinov2/io_42x56.safetensors"]),
            read: readers::weights,
        },
        Target {
            name: "pth",
            file: "weights.bin",
            seeds: seeds(&["heads/tests/fixtures/published/dinov2_nyu_linear_head.pth"]),
            read: readers::weights,
        },
        Target { name: "onnx", file: "backbone.onnx", seeds: vec![tiny_onnx()], read: readers::onnx },
        Target {
            // The points file, and the calibrate page's POST body.
            name: "points",
            file: "dock1.points.toml",
            seeds: seeds(&["tests/fuzz/seeds/points/dock1.points.toml", "tests/fuzz/seeds/points/dock1.points.json"]),
            read: readers::points,
        },
    ]
}

/// A backbone ONNX file as `dinoedge model import` writes it, of the tiny DINOv2 of the parity
/// fixtures at 42x56 (a full-size one is 88 MB), made once per build.
fn tiny_onnx() -> PathBuf {
    use dinoedge_backbone::import::{ImportOptions, import};
    use dinoedge_backbone::onnx::meta::AttentionForm;
    static MADE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    MADE.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let onnx = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-seed-backbone.onnx");
        let attention = AttentionForm::Decomposed; // `model import`'s default
        let options = ImportOptions { input: "42x56".parse().unwrap(), blocks: Some(vec![1, 2]), attention };
        import(&root.join("backbone/tests/fixtures/parity/dinov2/model.safetensors"), &onnx, &options).unwrap();
        onnx
    })
    .clone()
}

/// `seed` changed in one to four places.
fn mutate(rng: &mut StdRng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    const TELLING: &[u8] = b"\x00\xff\x7f\x80\"\\\n 9-.e{}[]=,:";
    let mut bytes = seed.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        if bytes.is_empty() {
            bytes.push(0);
        }
        let at = rng.random_range(0..bytes.len());
        match rng.random_range(0..7) {
            0 => bytes[at] ^= 1 << rng.random_range(0..8),
            1 => bytes[at] = TELLING[rng.random_range(0..TELLING.len())],
            2 => bytes.truncate(at),
            3 => {
                let end = (at + rng.random_range(1..64)).min(bytes.len());
                bytes.drain(at..end);
            }
            4 => {
                let end = (at + rng.random_range(1..64)).min(bytes.len());
                let run = bytes[at..end].to_vec();
                bytes.splice(at..at, run.iter().copied().cycle().take(run.len() * rng.random_range(1..8)));
            }
            5 => {
                let n = rng.random_range(1..8usize);
                let values: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                bytes.splice(at..at, values);
            }
            _ => {
                let from = rng.random_range(0..other.len().max(1));
                bytes.truncate(at);
                bytes.extend_from_slice(other.get(from..).unwrap_or_default());
            }
        }
    }
    bytes
}

#[test]
fn no_reader_of_untrusted_files_panics_on_mutants_of_its_corpus() {
    let runs: usize = std::env::var("DINOEDGE_FUZZ_RUNS").map_or(2000, |n| n.parse().expect("DINOEDGE_FUZZ_RUNS"));
    let seed: u64 = std::env::var("DINOEDGE_FUZZ_SEED").map_or(17, |n| n.parse().expect("DINOEDGE_FUZZ_SEED"));
    let reading = Watchdog::start();
    let mut failed = Vec::new();
    for target in targets() {
        let corpus: Vec<Vec<u8>> = target.seeds.iter().map(|p| std::fs::read(p).unwrap()).collect();
        let mut rng = StdRng::seed_from_u64(seed);
        for run in 0..runs {
            let seed_bytes = &corpus[run % corpus.len()];
            let other = &corpus[rng.random_range(0..corpus.len())];
            let mutant = mutate(&mut rng, seed_bytes, other);
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(target.file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &mutant).unwrap();
            let name = format!("{}-{seed}-{run}", target.name);
            reading.watch(&name, &mutant);
            let panicked = catch_unwind(AssertUnwindSafe(|| (target.read)(&path))).is_err();
            reading.done();
            if panicked {
                let kept = keep(&name, &mutant);
                failed.push(format!("{}: run {run} panicked; the mutant is {}", target.name, kept.display()));
            }
        }
    }
    assert!(failed.is_empty(), "{} of the mutants made a reader panic:\n{}", failed.len(), failed.join("\n"));
}

/// Keeps `mutant` as `$CARGO_TARGET_TMPDIR/fuzz-crashes/<name>`.
fn keep(name: &str, mutant: &[u8]) -> PathBuf {
    let crashes = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-crashes");
    std::fs::create_dir_all(&crashes).unwrap();
    let kept = crashes.join(name);
    std::fs::write(&kept, mutant).unwrap();
    kept
}

/// Ends the test binary when one mutant is read for longer than [`Watchdog::LIMIT`] (a reader
/// looping for ever cannot be stopped from outside its thread), keeping the mutant first.
struct Watchdog {
    current: Arc<Mutex<Option<Reading>>>,
}

/// A mutant being read: since when, its name, its bytes.
type Reading = (Instant, String, Vec<u8>);

impl Watchdog {
    const LIMIT: Duration = Duration::from_secs(30);

    fn start() -> Watchdog {
        let current: Arc<Mutex<Option<Reading>>> = Arc::default();
        let watched = current.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                if let Some((since, name, mutant)) = &*watched.lock().unwrap()
                    && since.elapsed() > Self::LIMIT
                {
                    let kept = keep(name, mutant);
                    eprintln!("{name}: still reading after {:?}; the mutant is {}", Self::LIMIT, kept.display());
                    std::process::exit(1);
                }
            }
        });
        Watchdog { current }
    }

    fn watch(&self, name: &str, mutant: &[u8]) {
        *self.current.lock().unwrap() = Some((Instant::now(), name.to_string(), mutant.to_vec()));
    }

    fn done(&self) {
        *self.current.lock().unwrap() = None;
    }
}

/// The seeds themselves are read without error, so the mutants start from files that work.
#[test]
fn every_seed_of_the_corpus_is_read_cleanly() {
    for target in targets() {
        for seed in &target.seeds {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(target.file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::copy(seed, &path).unwrap();
            assert!((target.read)(&path), "{}: the seed {} is not read", target.name, seed.display());
        }
    }
}

//! `dinoedge model pull` against a local HTTP server with the hub's URL layout: it
//! downloads, verifies the sha256, imports; resumes an interrupted download; refuses a
//! wrong checksum and keeps nothing of it; fails fast, with the manual route, offline. With
//! `--depth`, a published depth model's files (the committed fixtures, served at the
//! published paths): the first download's sha256 recorded and held to, and the import.

mod support;

use std::time::{Duration, Instant};

use dinoedge_backbone::pull::DINOV2_SMALL;
use support::http::Server;
use support::{assert_fails, dinoedge, fixtures, listing, sha256, stdout};

fn hub_path() -> String {
    format!("/{}/resolve/{}/{}", DINOV2_SMALL.repo, DINOV2_SMALL.revision, DINOV2_SMALL.file)
}

/// `dinoedge model pull` from `server`, expecting `sha`, then `extra` arguments.
fn pull_args<'a>(server: &'a str, sha: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["model", "pull", "--endpoint", server, "--sha256", sha];
    args.extend_from_slice(extra);
    args
}

/// A full-size random ViT-S/14 weight file, made by `dinoedge model init --random`.
fn random_weights(dir: &std::path::Path) -> (Vec<u8>, String) {
    let path = dir.join("served.safetensors");
    let out = dinoedge(&["model", "init", "--random", "--seed", "3", "--out", path.to_str().unwrap()], dir);
    assert!(out.status.success(), "{}", support::stderr(&out));
    (std::fs::read(&path).unwrap(), sha256(&path))
}

#[test]
fn pull_downloads_verifies_and_imports_then_trusts_its_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let (body, sha) = random_weights(tmp.path());
    let server = Server::start(&hub_path(), body, None, 0);
    let cache = tmp.path().join("cache");
    let endpoint = server.endpoint();
    let args = pull_args(&endpoint, &sha, &["--input", "112x112"]);

    let out = dinoedge(&args, &cache);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let weights = cache.join(DINOV2_SMALL.cache_name());
    assert_eq!(sha256(&weights), sha);
    assert_eq!(listing(&cache), vec!["dinov2-small_112x112.onnx".to_string(), DINOV2_SMALL.cache_name()]);
    assert_eq!(server.seen().len(), 1);

    let again = dinoedge(&args, &cache);
    assert!(again.status.success(), "{}", support::stderr(&again));
    assert!(stdout(&again).contains("already in the cache"), "{}", stdout(&again));
    assert_eq!(server.seen().len(), 1, "a verified file is not downloaded again");
}

#[test]
fn pull_resumes_an_interrupted_download_where_it_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let (body, sha) = random_weights(tmp.path());
    let cut = 30 << 20;
    let server = Server::start(&hub_path(), body, Some(cut), 1);
    let cache = tmp.path().join("cache");
    let endpoint = server.endpoint();
    let args = pull_args(&endpoint, &sha, &["--no-import"]);

    let first = dinoedge(&args, &cache);
    assert_fails(&first, 69, &["run again to resume"]);
    let part = cache.join(format!("{}.part", DINOV2_SMALL.cache_name()));
    assert_eq!(std::fs::metadata(&part).unwrap().len(), cut as u64, "the partial download is kept");
    assert!(!cache.join(DINOV2_SMALL.cache_name()).exists(), "nothing unverified is in place");

    let second = dinoedge(&args, &cache);
    assert!(second.status.success(), "{}", support::stderr(&second));
    assert!(stdout(&second).contains(&format!("resumed after {cut}")), "{}", stdout(&second));
    assert_eq!(server.seen()[1].range.as_deref(), Some(format!("bytes={cut}-").as_str()));
    assert_eq!(sha256(&cache.join(DINOV2_SMALL.cache_name())), sha);
    assert_eq!(listing(&cache), vec![DINOV2_SMALL.cache_name()]);
}

#[test]
fn pull_refuses_a_wrong_checksum_and_keeps_nothing_a_later_run_would_trust() {
    let tmp = tempfile::tempdir().unwrap();
    // A random-weight file served where the official one should be: its sha256 is not the pinned one.
    let body = std::fs::read(fixtures().join("dinov2/model.safetensors")).unwrap();
    let server = Server::start(&hub_path(), body, None, 0);
    let cache = tmp.path().join("cache");
    let args = ["model", "pull", "--endpoint", &server.endpoint()];

    let out = dinoedge(&args, &cache);
    assert_fails(&out, 65, &[DINOV2_SMALL.sha256, "the file was removed"]);
    assert_eq!(listing(&cache), Vec::<String>::new());

    let again = dinoedge(&args, &cache);
    assert_fails(&again, 65, &[DINOV2_SMALL.sha256]);
    assert_eq!(server.seen().len(), 2, "the second run downloads afresh");
    assert!(server.seen().iter().all(|s| s.range.is_none()), "nothing of the bad file is resumed");
}

#[test]
fn pull_offline_fails_in_seconds_naming_the_url_and_the_manual_route() {
    let tmp = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port(); // closed once dropped
    let endpoint = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let out = dinoedge(&["model", "pull", "--endpoint", &endpoint], &tmp.path().join("cache"));
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}", started.elapsed());
    assert_fails(&out, 69, &[&format!("{endpoint}{}", hub_path()), "dinoedge model import --weights"]);
}

fn published(file: &str) -> Vec<u8> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("heads/tests/fixtures/published").join(file))
        .unwrap()
}

const DA_REPO: &str = "/depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf/resolve/main";

/// A Depth Anything model has no pinned sha256: the first download's is recorded beside the
/// file and the model imported; later pulls trust the cache through the record; a file the
/// publisher changed afterwards is refused, and nothing of it kept.
#[test]
fn pull_depth_records_the_first_download_then_holds_the_publisher_to_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (weights, config) =
        (published("depth_anything_metric/model.safetensors"), published("depth_anything_metric/config.json"));
    let server = Server::files(vec![
        (format!("{DA_REPO}/model.safetensors"), weights.clone()),
        (format!("{DA_REPO}/config.json"), config.clone()),
    ]);
    let cache = tmp.path().join("cache");
    let endpoint = server.endpoint();
    let name = "depth-anything-v2-metric-indoor-small";
    let args = ["model", "pull", "--depth", name, "--endpoint", &endpoint, "--input", "42x56"];

    let out = dinoedge(&args, &cache);
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert!(stdout(&out).contains("no sha256 is pinned"), "{}", stdout(&out));
    let folder = cache.join(name);
    let record = std::fs::read_to_string(folder.join("model.safetensors.sha256")).unwrap();
    assert_eq!(record, format!("{}  model.safetensors\n", sha256(&folder.join("model.safetensors"))));
    assert!(cache.join(format!("{name}_42x56.onnx")).is_file());
    assert!(stdout(&out).contains(&format!("backbone = \"{}\"", cache.join(format!("{name}_42x56.onnx")).display())));
    assert_eq!(server.seen().len(), 2);

    let again = dinoedge(&args, &cache);
    assert!(again.status.success(), "{}", support::stderr(&again));
    assert_eq!(stdout(&again).matches("already in the cache").count(), 2, "{}", stdout(&again));
    assert_eq!(server.seen().len(), 2, "verified files are not downloaded again");

    // The publisher's file changes (here: another model at the same URL) after the first pull.
    std::fs::remove_file(folder.join("model.safetensors")).unwrap();
    let changed = Server::files(vec![
        (format!("{DA_REPO}/model.safetensors"), published("depth_anything_relative/model.safetensors")),
        (format!("{DA_REPO}/config.json"), config),
    ]);
    let endpoint = changed.endpoint();
    let args = ["model", "pull", "--depth", name, "--endpoint", &endpoint, "--input", "42x56"];
    let refused = dinoedge(&args, &cache);
    assert_fails(&refused, 65, &["model.safetensors", record.split_whitespace().next().unwrap(), "removed"]);
    assert!(!folder.join("model.safetensors").exists());
    assert!(!folder.join("model.safetensors.part").exists());
}

/// Meta's heads: the head checkpoint from Meta's server (its sha256 recorded), the backbone
/// from the hub (pinned; a mirror's own with --sha256), imported together.
#[test]
fn pull_depth_fetches_a_meta_head_and_its_backbone() {
    let tmp = tempfile::tempdir().unwrap();
    let head = published("dinov2_nyu_linear4_head.pth");
    let backbone = published("backbone/model.safetensors");
    let backbone_sha = {
        let path = tmp.path().join("b.safetensors");
        std::fs::write(&path, &backbone).unwrap();
        sha256(&path)
    };
    let server = Server::files(vec![
        ("/dinov2/dinov2_vits14/dinov2_vits14_nyu_linear4_head.pth".to_string(), head),
        (hub_path(), backbone),
    ]);
    let cache = tmp.path().join("cache");
    let endpoint = server.endpoint();
    let name = "dinov2-small-nyu-linear4";
    let args = [
        "model",
        "pull",
        "--depth",
        name,
        "--endpoint",
        &endpoint,
        "--meta-endpoint",
        &endpoint,
        "--sha256",
        &backbone_sha,
        "--input",
        "42x56",
    ];
    let out = dinoedge(&args, &cache);
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert!(cache.join(name).join("dinov2_vits14_nyu_linear4_head.pth.sha256").is_file());
    assert_eq!(sha256(&cache.join(DINOV2_SMALL.cache_name())), backbone_sha);
    assert!(stdout(&out).contains("dinov2-small-nyu-linear4: metric depth"), "{}", stdout(&out));

    // --sha256 replaces a pinned sum: a model with none refuses it.
    let da = ["model", "pull", "--depth", "depth-anything-v2-metric-indoor-small", "--sha256", &backbone_sha];
    assert_fails(&dinoedge(&da, &cache), 64, &["--sha256", "has none"]);
}

/// Depth Anything V2 Small is pulled as its original checkpoint, pinned: a file with another
/// sha256 is refused and nothing kept; a mirror's own copy is taken with --sha256, and imported
/// as the relative model.
#[test]
fn pull_depth_holds_an_original_checkpoint_to_its_pinned_sha256() {
    let tmp = tempfile::tempdir().unwrap();
    let served = published("depth_anything_v2_relative.pth");
    let served_sha = {
        let path = tmp.path().join("served.pth");
        std::fs::write(&path, &served).unwrap();
        sha256(&path)
    };
    let server = Server::files(vec![(
        "/depth-anything/Depth-Anything-V2-Small/resolve/main/depth_anything_v2_vits.pth".to_string(),
        served,
    )]);
    let cache = tmp.path().join("cache");
    let endpoint = server.endpoint();
    let name = "depth-anything-v2-small";
    let pinned = "715fade13be8f229f8a70cc02066f656f2423a59effd0579197bbf57860e1378";
    let args = ["model", "pull", "--depth", name, "--endpoint", &endpoint, "--input", "42x56"];
    assert_fails(&dinoedge(&args, &cache), 65, &[pinned, "the file was removed"]);
    assert!(!cache.join(name).join("depth_anything_v2_vits.pth").exists());

    let out = dinoedge(&[&args[..], &["--sha256", &served_sha]].concat(), &cache);
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert!(stdout(&out).contains("depth-anything-v2-small: relative depth"), "{}", stdout(&out));
    assert!(!cache.join(name).join("depth_anything_v2_vits.pth.sha256").exists(), "a pinned file needs no record");
    assert!(cache.join(format!("{name}_42x56.onnx")).is_file());
}

//! `dinoedge man`: the manual pages the packages install, one per command, rendered from the
//! same definition as `--help`.

mod support;

use support::{assert_fails, dinoedge, stderr};

#[test]
fn the_manual_has_a_page_for_every_command_with_its_flags() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let run = dinoedge(&["man", "--out", out.to_str().unwrap()], dir.path());
    assert!(run.status.success(), "{}", stderr(&run));

    for page in
        ["dinoedge.1", "dinoedge-run.1", "dinoedge-check-config.1", "dinoedge-calibrate.1", "dinoedge-model-pull.1"]
    {
        assert!(out.join(page).is_file(), "{page} is missing");
    }
    let calibrate = std::fs::read_to_string(out.join("dinoedge-calibrate.1")).unwrap();
    assert!(calibrate.starts_with(".ie \\n(.g .ds Aq"), "roff: {calibrate:.40}");
    assert!(calibrate.contains("allow\\-remote"), "the page lists calibrate's flags");
    // Only pages: the staging folder is gone.
    assert!(std::fs::read_dir(&out).unwrap().all(|e| e.unwrap().path().extension().is_some_and(|x| x == "1")));
}

#[test]
fn an_out_path_that_is_a_file_is_one_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("taken");
    std::fs::write(&file, "").unwrap();
    assert_fails(&dinoedge(&["man", "--out", file.to_str().unwrap()], dir.path()), 74, &["--out", "taken"]);
}

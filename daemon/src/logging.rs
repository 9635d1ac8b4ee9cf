//! Logs go to the journal when systemd started us (JOURNAL_STREAM names our stderr), to
//! stderr otherwise. Levels as in `RUST_LOG` (default `info`, and `error` for tract, whose
//! warning about our ONNX opset being newer than its test suite is noise to an integrator).

pub fn init() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<log::LevelFilter>().ok())
        .unwrap_or(log::LevelFilter::Info);
    if systemd_journal_logger::connected_to_journal()
        && let Ok(journal) = systemd_journal_logger::JournalLog::new()
        && journal.install().is_ok()
    {
        log::set_max_level(level);
        return;
    }
    env_logger::Builder::new()
        .filter_level(log::LevelFilter::Info)
        .filter_module("tract_onnx", log::LevelFilter::Error)
        .parse_env(env_logger::Env::default())
        .format_timestamp_millis()
        .init();
}

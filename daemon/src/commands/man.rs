//! `dinoedge man`: the manual pages, rendered from the command-line definition itself (so
//! they cannot drift from `--help`); the packages install them.

use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::Cli;

/// Writes dinoedge.1 and a page per subcommand into `out`. They are rendered into a staging
/// folder first and moved in only when all are written.
pub fn write_pages(out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("--out {}", out.display()))?;
    let staging = tempfile::tempdir_in(out).with_context(|| format!("--out {}", out.display()))?;
    clap_mangen::generate_to(Cli::command(), staging.path())
        .with_context(|| format!("writing the manual pages to {}", out.display()))?;
    for page in std::fs::read_dir(staging.path())? {
        let page = page?;
        let to = out.join(page.file_name());
        std::fs::rename(page.path(), &to).with_context(|| format!("writing {}", to.display()))?;
    }
    Ok(())
}

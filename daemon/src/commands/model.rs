//! `dinoedge model init | import | pull`: backbones, and published depth models imported
//! with their backbone (`import --depth`).

use std::path::Path;

use anyhow::Context;
use dinoedge_backbone::import::{ImportOptions, import};
use dinoedge_backbone::onnx::meta::BackboneMeta;
use dinoedge_backbone::pull::{self, DINOV2_SMALL, Fetched};
use dinoedge_backbone::vit::Arch;
use dinoedge_backbone::{InputSize, init};
use indicatif::ProgressBar;

use dinoedge_heads::published::{self, catalog, catalog::Family};

use super::progress;
use crate::cli::{ArchArg, ModelCommand};
use crate::exit::UsageError;

pub fn run(cmd: ModelCommand) -> anyhow::Result<()> {
    match cmd {
        ModelCommand::Init { random: _, depth: Some(name), seed, out, .. } => {
            let entry = catalog::find(&name).expect("clap checks the name against the catalog");
            let Family::DepthAnything { max_depth } = entry.family else {
                return Err(UsageError(format!(
                    "--depth {name} is a head for the official DINOv2 backbone; `init` makes Depth Anything models \
                     (and `init` without --depth a backbone)"
                ))
                .into());
            };
            published::init::write_random_depth_anything(entry.output, max_depth, seed, &out)?;
            println!("wrote random {name} weights (seed {seed}) to {}", out.display());
            Ok(())
        }
        ModelCommand::Init { random: _, arch, registers, seed, out, depth: None } => {
            let arch = match arch {
                ArchArg::Small => Arch::Small,
                ArchArg::Base => Arch::Base,
            };
            init::write_random(arch, registers, seed, &out)?;
            println!(
                "wrote random {} weights (seed {seed}) to {}",
                dinoedge_backbone::vit::VitSpec::new(arch, registers).name(),
                out.display()
            );
            Ok(())
        }
        ModelCommand::Import { weights, out, input, blocks, attention, depth: None, .. } => {
            let meta = import(&weights, &out, &ImportOptions { input, blocks, attention })?;
            report_import(&meta, &out);
            Ok(())
        }
        ModelCommand::Import { weights, out, input, attention, depth: Some(name), head, .. } => {
            let entry = catalog::find(&name).expect("clap checks the name against the catalog");
            let meta = match (entry.family, head) {
                (Family::DinoLinear(range), Some(head)) => {
                    published::import::linear(entry.name, &weights, &head, range, input, attention, &out)?
                }
                (Family::DepthAnything { max_depth }, None) => published::import::depth_anything(
                    entry.name,
                    (entry.output, max_depth),
                    &weights,
                    input,
                    attention,
                    &out,
                )?,
                (Family::DinoLinear(_), None) => {
                    return Err(UsageError(format!(
                        "--depth {name} is Meta's head on the DINOv2 backbone: give its checkpoint with --head, \
                         and the backbone's weights with --weights"
                    ))
                    .into());
                }
                (Family::DepthAnything { .. }, Some(_)) => {
                    return Err(UsageError(format!(
                        "--depth {name} is one file with its own head: give it with --weights, without --head"
                    ))
                    .into());
                }
            };
            report_import(&meta, &out);
            Ok(())
        }
        ModelCommand::Pull { input, cache_dir, endpoint, sha256, no_import, attention } => {
            let cache = cache_dir.unwrap_or_else(pull::cache_dir);
            let import = (!no_import).then_some(ImportOptions { input, blocks: None, attention });
            pull_and_import(input, &cache, &endpoint, sha256, import)
        }
    }
}

fn report_import(meta: &BackboneMeta, out: &Path) {
    let blocks: Vec<String> = meta.blocks.iter().map(ToString::to_string).collect();
    let depth = meta.depth.as_ref().map_or(String::new(), |d| format!(" and depth ({}: {} depth)", d.model, d.kind));
    println!(
        "wrote {} ({}, input {}, outputs cls, patch_tokens and blocks {}{depth})",
        out.display(),
        meta.spec.name(),
        meta.input,
        blocks.join(",")
    );
}

fn pull_and_import(
    input: InputSize,
    cache: &Path,
    endpoint: &str,
    sha256: Option<String>,
    import_options: Option<ImportOptions>,
) -> anyhow::Result<()> {
    let pinned = DINOV2_SMALL;
    let url = pinned.url(endpoint);
    let sha256 = sha256.unwrap_or_else(|| pinned.sha256.to_string()).to_lowercase();
    let weights = cache.join(pinned.cache_name());
    let bar = ProgressBar::hidden();
    bar.set_style(progress::style("{msg}", "{bytes}/{total_bytes} {bytes_per_sec} eta {eta}"));
    bar.set_message(pinned.repo);
    let mut progress = |done: u64, total: Option<u64>| {
        if bar.is_hidden() {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        if let Some(total) = total {
            bar.set_length(total);
        }
        bar.set_position(done);
    };
    let fetched = pull::fetch(&url, &sha256, &weights, &mut progress).with_context(|| {
        format!(
            "could not download {}. Without network access, copy {} (sha256 {sha256}) onto this machine \
             and run `dinoedge model import --weights FILE --out {}`",
            pinned.repo,
            pinned.file,
            pull::cached_backbone(cache, input).display()
        )
    })?;
    bar.finish_and_clear();
    match fetched {
        Fetched::AlreadyPresent => println!("{} is already in the cache, checksum verified", weights.display()),
        Fetched::Downloaded { bytes, resumed_from: 0 } => {
            println!("downloaded {} ({bytes} bytes, sha256 verified)", weights.display())
        }
        Fetched::Downloaded { bytes, resumed_from } => {
            println!("downloaded {} ({bytes} bytes, resumed after {resumed_from}, sha256 verified)", weights.display())
        }
    }
    if let Some(options) = import_options {
        let out = pull::cached_backbone(cache, input);
        let meta = import(&weights, &out, &options)?;
        report_import(&meta, &out);
    }
    Ok(())
}

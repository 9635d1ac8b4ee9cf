//! `dinoedge model init | import | pull`: backbones, and published depth models imported
//! with their backbone (`import --depth`).

use std::path::Path;

use anyhow::Context;
use dinoedge_backbone::import::{ImportOptions, import};
use dinoedge_backbone::onnx::meta::{AttentionForm, BackboneMeta};
use dinoedge_backbone::pull::{self, DINOV2_SMALL, Expect, Fetched};
use dinoedge_backbone::vit::Arch;
use dinoedge_backbone::{InputSize, init};
use indicatif::ProgressBar;

use dinoedge_heads::published;
use dinoedge_heads::published::catalog::{self, Family, Published};

use super::progress;
use crate::cli::{ArchArg, ModelCommand};
use crate::exit::UsageError;

pub fn run(cmd: ModelCommand) -> anyhow::Result<()> {
    match cmd {
        ModelCommand::Init { random: _, depth: Some(name), seed, out, .. } => {
            let entry = catalog::find(&name).expect("clap checks the name against the catalog");
            match entry.family {
                Family::DepthAnything { max_depth } => {
                    published::init::write_random_depth_anything(entry.output, max_depth, seed, &out)?;
                    println!("wrote random {name} weights (seed {seed}) to {}", out.display());
                }
                Family::Meta { head, .. } => {
                    let path = published::init::write_random_meta_head(head, seed, &out)?;
                    println!(
                        "wrote a random {name} head (seed {seed}) to {}; import it with a ViT-S/14 backbone \
                         (`dinoedge model init --random` makes one): dinoedge model import --depth {name} \
                         --weights BACKBONE --head {}",
                        path.display(),
                        path.display()
                    );
                }
            }
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
                (Family::Meta { head: kind, range }, Some(head)) => {
                    published::import::meta(entry.name, (kind, range), &weights, &head, input, attention, &out)?
                }
                (Family::DepthAnything { max_depth }, None) => published::import::depth_anything(
                    entry.name,
                    (entry.output, max_depth),
                    &weights,
                    input,
                    attention,
                    &out,
                )?,
                (Family::Meta { .. }, None) => {
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
            report_model(entry);
            Ok(())
        }
        ModelCommand::Pull { depth: None, input, cache_dir, endpoint, sha256, no_import, attention, .. } => {
            let cache = cache_dir.unwrap_or_else(pull::cache_dir);
            let import = (!no_import).then_some(ImportOptions { input, blocks: None, attention });
            pull_and_import(input, &cache, &endpoint, sha256, import)
        }
        ModelCommand::Pull {
            depth: Some(name),
            input,
            cache_dir,
            endpoint,
            meta_endpoint,
            sha256,
            no_import,
            attention,
        } => {
            let entry = catalog::find(&name).expect("clap checks the name against the catalog");
            if sha256.is_some()
                && entry.source.pinned_sha256().is_none()
                && !matches!(entry.family, Family::Meta { .. })
            {
                return Err(UsageError(format!(
                    "--sha256 replaces a pinned sha256, and {name} has none (its files are checked against the \
                     sha256 recorded at their first download)"
                ))
                .into());
            }
            let cache = cache_dir.unwrap_or_else(pull::cache_dir);
            let sources = Sources { hub: &endpoint, meta: &meta_endpoint, sha256 };
            pull_depth(entry, &cache, &sources, (!no_import).then_some((input, attention)))
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

/// What a published model is and its licence, for the integrator to see once.
fn report_model(entry: &Published) {
    println!("{}: {}; licence {}", entry.name, entry.about, entry.licence);
}

/// Downloads `url` to `dest` with a progress bar, checked as `expect` says, and says how it went.
fn download(label: &str, url: &str, expect: Expect, dest: &Path) -> dinoedge_backbone::error::Result<()> {
    let bar = ProgressBar::hidden();
    bar.set_style(progress::style("{msg}", "{bytes}/{total_bytes} {bytes_per_sec} eta {eta}"));
    bar.set_message(label.to_string());
    let mut progress = |done: u64, total: Option<u64>| {
        if bar.is_hidden() {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        if let Some(total) = total {
            bar.set_length(total);
        }
        bar.set_position(done);
    };
    let fetched = pull::fetch(url, expect, dest, &mut progress)?;
    bar.finish_and_clear();
    let dest = dest.display();
    match fetched {
        Fetched::AlreadyPresent => println!("{dest} is already in the cache, checksum verified"),
        Fetched::Downloaded { bytes, resumed_from: 0 } => {
            println!("downloaded {dest} ({bytes} bytes, sha256 verified)")
        }
        Fetched::Downloaded { bytes, resumed_from } => {
            println!("downloaded {dest} ({bytes} bytes, resumed after {resumed_from}, sha256 verified)")
        }
        Fetched::Recorded { bytes, sha256 } => println!(
            "downloaded {dest} ({bytes} bytes); no sha256 is pinned for it, so this download's, {sha256}, is \
             recorded in {dest}.sha256 and every later pull is checked against it: compare it with the publisher's"
        ),
    }
    Ok(())
}

fn pull_and_import(
    input: InputSize,
    cache: &Path,
    endpoint: &str,
    sha256: Option<String>,
    import_options: Option<ImportOptions>,
) -> anyhow::Result<()> {
    let pinned = DINOV2_SMALL;
    let sha256 = sha256.unwrap_or_else(|| pinned.sha256.to_string()).to_lowercase();
    let weights = cache.join(pinned.cache_name());
    download(pinned.repo, &pinned.url(endpoint), Expect::Pinned(&sha256), &weights).with_context(|| {
        format!(
            "could not download {}. Without network access, copy {} (sha256 {sha256}) onto this machine \
             and run `dinoedge model import --weights FILE --out {}`",
            pinned.repo,
            pinned.file,
            pull::cached_backbone(cache, input).display()
        )
    })?;
    if let Some(options) = import_options {
        let out = pull::cached_backbone(cache, input);
        let meta = import(&weights, &out, &options)?;
        report_import(&meta, &out);
    }
    Ok(())
}

/// Where a depth model's files come from: the hub (or a mirror), Meta's file server (or a
/// mirror), and the backbone's sha256 if not the pinned one.
struct Sources<'a> {
    hub: &'a str,
    meta: &'a str,
    /// --sha256: what a mirror's copy of the pinned file hashes to (Meta's heads: the
    /// backbone; a pinned original checkpoint: the checkpoint).
    sha256: Option<String>,
}

/// `model pull --depth NAME`: the model's files into `cache/<name>/` (and, for Meta's heads,
/// the pinned backbone), then the import at `input` as `cache/<name>_<input>.onnx`.
fn pull_depth(
    entry: &Published,
    cache: &Path,
    sources: &Sources,
    import: Option<(InputSize, AttentionForm)>,
) -> anyhow::Result<()> {
    let (hub, meta) = (sources.hub, sources.meta);
    let folder = cache.join(entry.name);
    let manual = |url: &str| {
        format!(
            "could not download {url}. Without network access, copy the file onto this machine and run \
             `dinoedge model import --depth {}` (see README, \"Published depth models\")",
            entry.name
        )
    };
    // A pinned file is held to its sha256 (a mirror's own with --sha256); the others to the
    // one recorded at their first download.
    let expect = match entry.source.pinned_sha256() {
        Some(pinned) => Expect::Pinned(sources.sha256.as_deref().unwrap_or(pinned)),
        None => Expect::FirstUse,
    };
    let mut files = Vec::new();
    for (url, name) in entry.source.files(hub, meta) {
        let dest = folder.join(name);
        download(name, &url, expect, &dest).with_context(|| manual(&url))?;
        files.push(dest);
    }
    // What the import reads: the model's own file, and for Meta's heads the pinned backbone.
    let weights = match entry.family {
        Family::Meta { .. } => {
            let pinned = DINOV2_SMALL;
            let weights = cache.join(pinned.cache_name());
            let (url, sha256) = (pinned.url(hub), sources.sha256.as_deref().unwrap_or(pinned.sha256));
            download(pinned.repo, &url, Expect::Pinned(sha256), &weights).with_context(|| manual(&url))?;
            weights
        }
        Family::DepthAnything { .. } => files[0].clone(),
    };
    let Some((input, attention)) = import else { return Ok(()) };
    let out = entry.cached_model(cache, input);
    let meta = match entry.family {
        Family::Meta { head, range } => {
            published::import::meta(entry.name, (head, range), &weights, &files[0], input, attention, &out)?
        }
        Family::DepthAnything { max_depth } => {
            published::import::depth_anything(entry.name, (entry.output, max_depth), &weights, input, attention, &out)?
        }
    };
    report_import(&meta, &out);
    report_model(entry);
    println!("use it with:\n[model]\nkind = \"dinov2\"\nbackbone = \"{}\"", out.display());
    Ok(())
}

//! The published depth models dinoedge imports, by the names `dinoedge model import|pull
//! --depth` take: what family each belongs to (which importer reads it), where its files
//! are published, what its output is, its range, and its licence.
//!
//! Meta's heads: the depth range is their training configuration's
//! (`dinov2_vits14_{nyu,kitti}_{linear,linear4,dpt}_config.py`: 0.001 to 10 m on NYU, to 80 m
//! on KITTI), which is what a linear head's 256 bins were trained to mean and where a DPT
//! head's output is clamped. `dinov2/hub/depthers.py` agrees for the DPT heads but builds
//! every linear head with `max_depth=80` whatever the dataset (its `_make_dinov2_linear_depth_head`
//! ignores the range it is given; only the DPT builder passes it on), which would stretch an
//! NYU head's depths about 8 times; dinoedge follows the configuration.

use std::path::{Path, PathBuf};

use super::bn_head::DepthRange;
use dinoedge_backbone::InputSize;
use dinoedge_backbone::onnx::meta::DepthKind;

/// Which of Meta's heads a checkpoint holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaHead {
    /// `BNHead` on the last block (lin.1, [`super::bn_head`]).
    Linear1,
    /// `BNHead` on four blocks (lin.4).
    Linear4,
    /// `DPTHead` ([`super::dpt_head`]).
    Dpt,
}

/// Which importer reads a model, and what it needs beyond its files.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Family {
    /// One of Meta's depth heads (a `.pth` checkpoint) on the official DINOv2 backbone.
    Meta { head: MetaHead, range: DepthRange },
    /// Depth Anything in transformers' layout (`model.safetensors` and `config.json`, whose
    /// `max_depth` scales the output: 1 for the relative model).
    DepthAnything { max_depth: f32 },
}

/// Where `dinoedge model pull --depth` downloads a model's files from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A Hugging Face repository's `model.safetensors` and `config.json` (revision `main`:
    /// their sha256 are recorded at the first download, none could be learned in advance).
    HuggingFace { repo: &'static str },
    /// A head checkpoint under `dinov2/dinov2_vits14/` on Meta's file server (sha256 recorded
    /// at the first download), with the pinned `facebook/dinov2-small` backbone.
    Meta { file: &'static str },
    /// The original repository's checkpoint `file` in the hub repository `repo` (revision
    /// `main`), whose sha256 is pinned.
    Original { repo: &'static str, file: &'static str, sha256: &'static str },
}

/// Meta's file server.
pub const META_FILES: &str = "https://dl.fbaipublicfiles.com";

impl Source {
    /// The files to download: (URL, name in the model's cache folder).
    pub fn files(&self, hub: &str, meta: &str) -> Vec<(String, &'static str)> {
        match self {
            Source::HuggingFace { repo } => ["model.safetensors", "config.json"]
                .into_iter()
                .map(|f| (format!("{}/{repo}/resolve/main/{f}", hub.trim_end_matches('/')), f))
                .collect(),
            Source::Meta { file } => {
                vec![(format!("{}/dinov2/dinov2_vits14/{file}", meta.trim_end_matches('/')), *file)]
            }
            Source::Original { repo, file, .. } => {
                vec![(format!("{}/{repo}/resolve/main/{file}", hub.trim_end_matches('/')), *file)]
            }
        }
    }

    /// The pinned sha256 of the model's own file, if it has one.
    pub fn pinned_sha256(&self) -> Option<&'static str> {
        match self {
            Source::Original { sha256, .. } => Some(sha256),
            Source::HuggingFace { .. } | Source::Meta { .. } => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Published {
    pub name: &'static str,
    pub family: Family,
    pub source: Source,
    pub output: DepthKind,
    /// Where it was trained and what it sees, for `--help` and the README.
    pub about: &'static str,
    pub licence: &'static str,
}

const NYU: DepthRange = DepthRange { min: 0.001, max: 10.0 };
const KITTI: DepthRange = DepthRange { min: 0.001, max: 80.0 };

pub const CATALOG: [Published; 9] = [
    Published {
        name: "depth-anything-v2-metric-indoor-small",
        family: Family::DepthAnything { max_depth: 20.0 },
        source: Source::HuggingFace { repo: "depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf" },
        output: DepthKind::Metric,
        about: "Depth Anything V2 Small fine-tuned on Hypersim (indoor, 0 to 20 m)",
        licence: "Apache-2.0 (Depth Anything V2 Small)",
    },
    Published {
        name: "depth-anything-v2-metric-outdoor-small",
        family: Family::DepthAnything { max_depth: 80.0 },
        source: Source::Original {
            repo: "depth-anything/Depth-Anything-V2-Metric-VKITTI-Small",
            file: "depth_anything_v2_metric_vkitti_vits.pth",
            sha256: "9203e538d35255c90dda4b7fedb47ff33fe725497bcca3b1e53b3a65ee63f0cb",
        },
        output: DepthKind::Metric,
        about: "Depth Anything V2 Small fine-tuned on Virtual KITTI 2 (outdoor, 0 to 80 m)",
        licence: "Apache-2.0 (Depth Anything V2 Small); trained on Virtual KITTI 2 (CC BY-NC-SA 3.0 data)",
    },
    Published {
        name: "depth-anything-v2-small",
        family: Family::DepthAnything { max_depth: 1.0 },
        source: Source::Original {
            repo: "depth-anything/Depth-Anything-V2-Small",
            file: "depth_anything_v2_vits.pth",
            sha256: "715fade13be8f229f8a70cc02066f656f2423a59effd0579197bbf57860e1378",
        },
        output: DepthKind::Relative,
        about: "Depth Anything V2 Small, relative inverse depth (aligned to metres by `dinoedge calibrate`)",
        licence: "Apache-2.0",
    },
    Published {
        name: "dinov2-small-nyu-dpt",
        family: Family::Meta { head: MetaHead::Dpt, range: NYU },
        source: Source::Meta { file: "dinov2_vits14_nyu_dpt_head.pth" },
        output: DepthKind::Metric,
        about: "Meta's DPT head on the frozen DINOv2 ViT-S/14, NYU Depth v2 (indoor, 0 to 10 m)",
        licence: "Apache-2.0",
    },
    Published {
        name: "dinov2-small-kitti-dpt",
        family: Family::Meta { head: MetaHead::Dpt, range: KITTI },
        source: Source::Meta { file: "dinov2_vits14_kitti_dpt_head.pth" },
        output: DepthKind::Metric,
        about: "Meta's DPT head on the frozen DINOv2 ViT-S/14, KITTI (driving, 0 to 80 m)",
        licence: "Apache-2.0",
    },
    Published {
        name: "dinov2-small-nyu-linear4",
        family: Family::Meta { head: MetaHead::Linear4, range: NYU },
        source: Source::Meta { file: "dinov2_vits14_nyu_linear4_head.pth" },
        output: DepthKind::Metric,
        about: "Meta's lin.4 head on the frozen DINOv2 ViT-S/14, NYU Depth v2 (indoor, 0 to 10 m)",
        licence: "Apache-2.0",
    },
    Published {
        name: "dinov2-small-nyu-linear",
        family: Family::Meta { head: MetaHead::Linear1, range: NYU },
        source: Source::Meta { file: "dinov2_vits14_nyu_linear_head.pth" },
        output: DepthKind::Metric,
        about: "Meta's lin.1 head on the frozen DINOv2 ViT-S/14, NYU Depth v2 (indoor, 0 to 10 m)",
        licence: "Apache-2.0",
    },
    Published {
        name: "dinov2-small-kitti-linear4",
        family: Family::Meta { head: MetaHead::Linear4, range: KITTI },
        source: Source::Meta { file: "dinov2_vits14_kitti_linear4_head.pth" },
        output: DepthKind::Metric,
        about: "Meta's lin.4 head on the frozen DINOv2 ViT-S/14, KITTI (driving, 0 to 80 m)",
        licence: "Apache-2.0",
    },
    Published {
        name: "dinov2-small-kitti-linear",
        family: Family::Meta { head: MetaHead::Linear1, range: KITTI },
        source: Source::Meta { file: "dinov2_vits14_kitti_linear_head.pth" },
        output: DepthKind::Metric,
        about: "Meta's lin.1 head on the frozen DINOv2 ViT-S/14, KITTI (driving, 0 to 80 m)",
        licence: "Apache-2.0",
    },
];

impl Published {
    /// Where `dinoedge model pull --depth` writes the model imported for `input`.
    pub fn cached_model(&self, cache: &Path, input: InputSize) -> PathBuf {
        cache.join(format!("{}_{input}.onnx", self.name))
    }
}

/// The catalog entry whose own file has the pinned sha256 `sha256`, if any: such a file is
/// that model, whatever name it is imported under.
pub fn pinned_to(sha256: &str) -> Option<&'static Published> {
    CATALOG.iter().find(|p| p.source.pinned_sha256() == Some(sha256))
}

/// The model a new dock site should use (the shipped config's, README.Debian's), and the
/// demo's when it is in the model cache.
pub const RECOMMENDED: &str = "depth-anything-v2-metric-indoor-small";

/// The catalog entry named `name`.
pub fn find(name: &str) -> Option<&'static Published> {
    CATALOG.iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_give_the_published_urls() {
        let da =
            find("depth-anything-v2-metric-indoor-small").unwrap().source.files("https://huggingface.co", META_FILES);
        assert_eq!(
            da[0],
            (
                "https://huggingface.co/depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf/resolve/main/model.safetensors"
                    .to_string(),
                "model.safetensors"
            )
        );
        assert_eq!(da[1].1, "config.json");
        let original = find("depth-anything-v2-small").unwrap();
        assert_eq!(
            original.source.files("https://huggingface.co", META_FILES)[0].0,
            "https://huggingface.co/depth-anything/Depth-Anything-V2-Small/resolve/main/depth_anything_v2_vits.pth"
        );
        assert_eq!(pinned_to(original.source.pinned_sha256().unwrap()).map(|p| p.name), Some(original.name));
        let meta = find("dinov2-small-nyu-linear4").unwrap().source.files("https://huggingface.co", META_FILES);
        assert_eq!(
            meta,
            vec![(
                "https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_nyu_linear4_head.pth".to_string(),
                "dinov2_vits14_nyu_linear4_head.pth"
            )]
        );
    }
}

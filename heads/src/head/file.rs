//! The head file: safetensors with `weight` [K, F] and `bias` [K], and one metadata entry,
//! `dinoedge.head`, a JSON document naming the head's kind, layers and bins, the backbone it
//! was trained on (architecture, input size, weights' sha256) and the training summary and
//! metrics. A head refuses to load for another backbone.

use std::path::Path;

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::bins::Bins;
use super::linear::{HeadLayers, LinearHead};
use super::pixels::PixelBaseline;
use crate::head_file::{self, HeadFileBytes};
use dinoedge_backbone::error::Result;
use dinoedge_backbone::onnx::meta::BackboneMeta;

const KEY: &str = "dinoedge.head";
const FORMAT_VERSION: u32 = 1;
const PIXEL_WEIGHT: &str = "pixel_baseline.weight";
const PIXEL_BIAS: &str = "pixel_baseline.bias";

/// What identifies the backbone a head was trained on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackboneId {
    pub arch: String,
    pub hidden: usize,
    pub input: String,
    pub weights_sha256: String,
}

impl BackboneId {
    pub fn of(meta: &BackboneMeta) -> Self {
        Self {
            arch: meta.spec.name(),
            hidden: meta.spec.hidden,
            input: meta.input.to_string(),
            weights_sha256: meta.weights_sha256.clone(),
        }
    }

    /// Refuses a head trained on this backbone for another one (`meta`), saying which and how
    /// to make one for it (`train`, a command).
    pub fn check(&self, meta: &BackboneMeta, train: &str) -> std::result::Result<(), String> {
        let have = BackboneId::of(meta);
        if have == *self {
            return Ok(());
        }
        let short = |s: &str| s.chars().take(12).collect::<String>();
        Err(format!(
            "trained on another backbone ({}, input {}, weights sha256 {}…); this one is {}, input {}, weights sha256 {}…. Train a head for it with `{train}`",
            self.arch,
            self.input,
            short(&self.weights_sha256),
            have.arch,
            have.input,
            short(&have.weights_sha256)
        ))
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format_version: u32,
    kind: String,
    layers: HeadLayers,
    bins: Bins,
    backbone: BackboneId,
    info: serde_json::Value,
}

/// A head with where it came from.
#[derive(Debug, Clone)]
pub struct HeadFile {
    pub head: LinearHead,
    pub backbone: BackboneId,
    /// Training data summary, options and metrics, as written by training.
    pub info: serde_json::Value,
    /// The pixel baseline fitted with the head, for `heads eval`.
    pub pixel_baseline: Option<PixelBaseline>,
}

pub fn save(
    path: &Path,
    head: &LinearHead,
    pixel_baseline: Option<&PixelBaseline>,
    backbone: &BackboneId,
    info: &serde_json::Value,
) -> Result<()> {
    let header = Header {
        format_version: FORMAT_VERSION,
        kind: "linear".into(),
        layers: head.layers,
        bins: head.bins,
        backbone: backbone.clone(),
        info: info.clone(),
    };
    // ndarray iterates in logical (row-major) order whatever the memory layout.
    let mut tensors = vec![
        ("weight", head.weight.shape().to_vec(), head.weight.iter().copied().collect()),
        ("bias", head.bias.shape().to_vec(), head.bias.to_vec()),
    ];
    if let Some(p) = pixel_baseline {
        tensors.push((PIXEL_WEIGHT, vec![p.weight.len()], p.weight.to_vec()));
        tensors.push((PIXEL_BIAS, vec![1], vec![p.bias]));
    }
    head_file::save(path, KEY, &header, tensors)
}

/// Reads a head; with `backbone`, refuses it unless it was trained on that backbone.
pub fn load(path: &Path, backbone: Option<&BackboneMeta>) -> Result<HeadFile> {
    let file = HeadFileBytes::read(path, "head")?;
    let header: Header = file.header(KEY)?;
    if header.format_version != FORMAT_VERSION || header.kind != "linear" {
        return Err(file.fail(format!(
            "a {} head of format {}; this dinoedge reads linear heads of format {FORMAT_VERSION}",
            header.kind, header.format_version
        )));
    }
    if let Some(meta) = backbone {
        header.backbone.check(meta, "dinoedge heads train").map_err(|e| file.fail(e))?;
    }
    let tensors = file.tensors()?;
    let (k, f) = (header.bins.count, header.layers.feature_dim(header.backbone.hidden));
    let head = LinearHead {
        layers: header.layers,
        bins: header.bins,
        weight: Array2::from_shape_vec((k, f), tensors.f32("weight", &[k, f])?).expect("checked shape"),
        bias: Array1::from_vec(tensors.f32("bias", &[k])?),
    };
    let pixel_baseline = match (tensors.shape(PIXEL_WEIGHT), tensors.shape(PIXEL_BIAS)) {
        (Some(w), Some(_)) => {
            let len = w.iter().product();
            Some(PixelBaseline {
                weight: Array1::from_vec(tensors.f32(PIXEL_WEIGHT, &[len])?),
                bias: tensors.f32(PIXEL_BIAS, &[1])?[0],
            })
        }
        _ => None,
    };
    Ok(HeadFile { head, backbone: header.backbone, info: header.info, pixel_baseline })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::head::bins::BinSpacing;
    use dinoedge_backbone::onnx::meta::AttentionForm;
    use dinoedge_backbone::size::InputSize;
    use dinoedge_backbone::vit::{Arch, VitSpec};

    /// A ViT-S/14 backbone's metadata at 224×224 whose weights' sha256 is `sha` repeated: the
    /// backbone a head file is bound to (the class head's tests use it too).
    pub(crate) fn meta(sha: &str) -> BackboneMeta {
        BackboneMeta {
            spec: VitSpec::new(Arch::Small, 0),
            input: InputSize::new(224, 224),
            blocks: vec![3, 6, 9, 12],
            attention: AttentionForm::Decomposed,
            weights_sha256: sha.repeat(64),
            depth: None,
        }
    }

    #[test]
    fn a_head_round_trips_and_refuses_another_backbone() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("head.safetensors");
        let bins = Bins::new(0.5, 20.0, 16, BinSpacing::Log).unwrap();
        let mut head = LinearHead::zeros(HeadLayers::Four, bins, 384);
        head.weight[[3, 100]] = 0.25;
        head.bias[7] = -1.5;
        let info = serde_json::json!({ "frames": 400 });
        let pixel = PixelBaseline { weight: Array1::from_elem(588, 0.5), bias: 1.25 };
        save(&path, &head, Some(&pixel), &BackboneId::of(&meta("a")), &info).unwrap();

        let loaded = load(&path, Some(&meta("a"))).unwrap();
        assert_eq!(loaded.head, head);
        assert_eq!(loaded.pixel_baseline, Some(pixel));
        assert_eq!(loaded.info, info);
        let err = load(&path, Some(&meta("b"))).unwrap_err().to_string();
        assert!(err.contains("head.safetensors") && err.contains("trained on another backbone"), "{err}");
        assert!(err.contains("aaaaaaaaaaaa") && err.contains("bbbbbbbbbbbb"), "{err}");
    }
}

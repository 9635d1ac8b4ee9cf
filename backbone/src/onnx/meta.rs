//! What a dinoedge backbone ONNX file says about itself, in its `metadata_props`: the
//! architecture, the fixed input size, which blocks' tokens it outputs, the hash of the
//! weight file it was made from, and, for an imported depth model, what its `depth` output
//! is ([`DepthMeta`]). The runtime reads it back instead of guessing.

use std::collections::HashMap;
use std::str::FromStr;

pub use dinoedge_config::DepthKind;

use crate::posembed::Resample;
use crate::size::InputSize;
use crate::vit::VitSpec;

/// Bumped when the graph's inputs, outputs or metadata change meaning.
pub const FORMAT_VERSION: u32 = 2;
const PREFIX: &str = "dinoedge.";

#[derive(Debug, Clone, PartialEq)]
pub struct BackboneMeta {
    pub spec: VitSpec,
    pub input: InputSize,
    /// 1-based indices of the blocks whose normed tokens are outputs.
    pub blocks: Vec<usize>,
    /// How attention is written in the graph.
    pub attention: AttentionForm,
    /// sha256 of the weight file the backbone was built from.
    pub weights_sha256: String,
    /// The depth head inside the graph, if it has one (an imported published depth model).
    pub depth: Option<DepthMeta>,
}

/// A depth head imported into the graph with the backbone: its `depth` output [H, W] at the
/// input's size.
#[derive(Debug, Clone, PartialEq)]
pub struct DepthMeta {
    /// The model's catalog name (e.g. `dinov2-small-nyu-linear4`).
    pub model: String,
    pub kind: DepthKind,
    /// sha256 of the head's weight file (of the whole model's file when the backbone came
    /// from it too).
    pub source_sha256: String,
}

/// The two ways the graph can write attention; both compute the same function (the parity
/// tests run both), and which is faster depends on the runtime and the sequence length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionForm {
    /// MatMul, Softmax, MatMul per head (opset 20).
    Decomposed,
    /// One ONNX `Attention` operator per block (opset 23); tract runs it as a
    /// head-parallel flash attention kernel.
    Fused,
}

impl AttentionForm {
    pub fn as_str(&self) -> &'static str {
        match self {
            AttentionForm::Decomposed => "decomposed",
            AttentionForm::Fused => "fused",
        }
    }
}

impl FromStr for AttentionForm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "decomposed" => Ok(AttentionForm::Decomposed),
            "fused" => Ok(AttentionForm::Fused),
            other => Err(format!("`{other}` is not an attention form (decomposed or fused)")),
        }
    }
}

impl BackboneMeta {
    pub fn to_props(&self) -> Vec<(String, String)> {
        let s = &self.spec;
        let resample = match s.pos_resample {
            Resample::Bicubic => "bicubic",
            Resample::BicubicAntialias => "bicubic-antialias",
            Resample::BicubicOffset => "bicubic-offset",
        };
        [
            ("format_version", FORMAT_VERSION.to_string()),
            ("arch", s.name()),
            ("hidden", s.hidden.to_string()),
            ("depth", s.depth.to_string()),
            ("heads", s.heads.to_string()),
            ("mlp_hidden", s.mlp_hidden.to_string()),
            ("patch", s.patch.to_string()),
            ("registers", s.registers.to_string()),
            ("pos_grid", s.pos_grid.to_string()),
            ("layer_norm_eps", s.layer_norm_eps.to_string()),
            ("pos_resample", resample.to_string()),
            ("input", self.input.to_string()),
            ("blocks", self.blocks.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")),
            ("attention", self.attention.as_str().to_string()),
            ("weights_sha256", self.weights_sha256.clone()),
        ]
        .into_iter()
        .chain(self.depth.iter().flat_map(|d| {
            [
                ("depth.model", d.model.clone()),
                ("depth.kind", d.kind.as_str().to_string()),
                ("depth.source_sha256", d.source_sha256.clone()),
            ]
        }))
        .map(|(k, v)| (format!("{PREFIX}{k}"), v))
        .collect()
    }

    /// Reads the metadata back; the error names the missing or malformed key.
    pub fn from_props(props: &[(String, String)]) -> Result<Self, String> {
        let map: HashMap<&str, &str> =
            props.iter().filter_map(|(k, v)| Some((k.strip_prefix(PREFIX)?, v.as_str()))).collect();
        let get = |key: &str| map.get(key).copied().ok_or_else(|| format!("metadata `{PREFIX}{key}` is missing"));
        fn num<T: FromStr>(key: &str, v: &str) -> Result<T, String> {
            v.parse().map_err(|_| format!("metadata `{PREFIX}{key}` = `{v}` is not a number"))
        }
        let version: u32 = num("format_version", get("format_version")?)?;
        if version != FORMAT_VERSION {
            return Err(format!(
                "made by a dinoedge with backbone format {version}, this one reads {FORMAT_VERSION}; import it again"
            ));
        }
        let n = |key: &str| -> Result<usize, String> { num(key, get(key)?) };
        let spec = VitSpec {
            hidden: n("hidden")?,
            depth: n("depth")?,
            heads: n("heads")?,
            mlp_hidden: n("mlp_hidden")?,
            patch: n("patch")?,
            registers: n("registers")?,
            pos_grid: n("pos_grid")?,
            layer_norm_eps: num("layer_norm_eps", get("layer_norm_eps")?)?,
            pos_resample: match get("pos_resample")? {
                "bicubic" => Resample::Bicubic,
                "bicubic-antialias" => Resample::BicubicAntialias,
                "bicubic-offset" => Resample::BicubicOffset,
                other => {
                    return Err(format!("metadata `{PREFIX}pos_resample` = `{other}` is unknown"));
                }
            },
        };
        let input = get("input")?.parse().map_err(|e| format!("metadata `{PREFIX}input`: {e}"))?;
        let blocks = get("blocks")?
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|b| num("blocks", b))
            .collect::<Result<Vec<usize>, _>>()?;
        let attention = get("attention")?.parse().map_err(|e| format!("metadata `{PREFIX}attention`: {e}"))?;
        let depth = match map.get("depth.kind") {
            None => None,
            Some(kind) => Some(DepthMeta {
                model: get("depth.model")?.to_string(),
                kind: kind.parse().map_err(|e| format!("metadata `{PREFIX}depth.kind`: {e}"))?,
                source_sha256: get("depth.source_sha256")?.to_string(),
            }),
        };
        Ok(Self { spec, input, blocks, attention, weights_sha256: get("weights_sha256")?.to_string(), depth })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vit::Arch;

    #[test]
    fn metadata_round_trips() {
        let meta = BackboneMeta {
            spec: VitSpec::new(Arch::Small, 4),
            input: InputSize::new(224, 308),
            blocks: vec![3, 6, 9, 12],
            attention: AttentionForm::Fused,
            weights_sha256: "ab".repeat(32),
            depth: None,
        };
        assert_eq!(BackboneMeta::from_props(&meta.to_props()).unwrap(), meta);
        let with_depth = BackboneMeta {
            depth: Some(DepthMeta {
                model: "dinov2-small-nyu-linear4".into(),
                kind: DepthKind::Metric,
                source_sha256: "cd".repeat(32),
            }),
            ..meta
        };
        assert_eq!(BackboneMeta::from_props(&with_depth.to_props()).unwrap(), with_depth);
    }

    #[test]
    fn missing_metadata_is_named() {
        let err = BackboneMeta::from_props(&[]).unwrap_err();
        assert!(err.contains("dinoedge.format_version"), "{err}");
    }
}

//! The float precision the backbone runs in: f32 everywhere, or f16 for the matrix products,
//! convolutions and element-wise work, where the CPU computes in half precision (FEAT_FP16:
//! the Cortex-A76 of a Raspberry Pi 5, the A78AE of a Jetson Orin). In f16 the LayerNorms, the
//! softmaxes, the reductions and the bilinear resizes stay in f32: their sums of many terms and
//! their exponentials are where half precision loses most, and they cost little.
//!
//! The translation is tract's own `FloatPrecisionTranslator`, applied to the typed graph before
//! it is optimised, with [`keeps_f32`] as its filter: tract then casts around each node kept.

use std::fmt;
use std::str::FromStr;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::floats::FloatPrecisionTranslator;

/// The precision of a loaded backbone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    #[default]
    F32,
    F16,
}

impl Precision {
    /// f16 where the CPU computes it natively, else f32.
    pub fn native() -> Self {
        if cpu_has_f16() { Precision::F16 } else { Precision::F32 }
    }

    /// Rewrites `model` into this precision (nothing to do for f32).
    pub(crate) fn apply(self, model: &mut TypedModel) -> TractResult<()> {
        match self {
            Precision::F32 => Ok(()),
            Precision::F16 => {
                model.transform(&FloatPrecisionTranslator::with_filter(f32::datum_type(), f16::datum_type(), |node| {
                    !keeps_f32(node.op.name().as_ref())
                }))
            }
        }
    }
}

/// Whether an operator (by its tract name) stays in f32 in an f16 graph: normalisations,
/// softmaxes and reductions (dinoedge's and tract's), and the bilinear resize.
pub fn keeps_f32(op: &str) -> bool {
    matches!(op, "LayerNorm" | "SoftmaxRows" | "Softmax" | "BilinearResize") || op.starts_with("Reduce")
}

/// Whether this CPU computes in half precision (aarch64 FEAT_FP16, which the kernel lists as
/// `fphp`/`asimdhp`; read from the auxiliary vector, which under qemu is the emulated CPU's
/// while `/proc/cpuinfo` is the host's).
pub fn cpu_has_f16() -> bool {
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("fp16")
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        false
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        })
    }
}

impl FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(Precision::F32),
            "f16" => Ok(Precision::F16),
            _ => Err(format!("unknown precision `{s}` (f32 or f16)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisations_softmaxes_reductions_and_resizes_stay_in_f32() {
        for op in ["LayerNorm", "SoftmaxRows", "Softmax", "BilinearResize", "Reduce<Sum>", "Reduce<Max>"] {
            assert!(keeps_f32(op), "{op}");
        }
        for op in ["EinSum", "Conv", "Add", "Mul", "GeluExact", "Erf", "MatMul"] {
            assert!(!keeps_f32(op), "{op}");
        }
        assert_eq!("f16".parse::<Precision>(), Ok(Precision::F16));
        assert!("f8".parse::<Precision>().unwrap_err().contains("f32 or f16"));
    }
}

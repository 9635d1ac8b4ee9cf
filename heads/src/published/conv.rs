//! Convolutions as torch stores them (`weight` [out, in, k, k], optional `bias` [out]), read
//! from a weight file with their shapes checked, and appended to a graph as ONNX `Conv` /
//! `ConvTranspose` nodes.

use ndarray::{Array1, Array4, Ix1, Ix4};

use dinoedge_backbone::error::Result;
use dinoedge_backbone::onnx::graph::{Attr, GraphBuilder};
use dinoedge_backbone::tensors::Scope;

#[derive(Debug, Clone)]
pub struct Conv {
    /// [out, in, k, k] for a convolution; [in, out, k, k] for a transposed one (torch's order).
    pub weight: Array4<f32>,
    pub bias: Option<Array1<f32>>,
}

/// Whether the layer has a bias in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bias {
    Yes,
    No,
}

impl Conv {
    /// Reads `{stem}.weight` of shape `[a, b, k, k]` and, with [`Bias::Yes`], `{stem}.bias`
    /// of length `bias_len`.
    pub fn read_shaped(scope: &Scope, stem: &str, shape: [usize; 4], bias: Bias, bias_len: usize) -> Result<Self> {
        let weight = scope.get(&format!("{stem}.weight"), &shape)?.into_dimensionality::<Ix4>().expect("checked");
        let bias = match bias {
            Bias::Yes => {
                Some(scope.get(&format!("{stem}.bias"), &[bias_len])?.into_dimensionality::<Ix1>().expect("checked"))
            }
            Bias::No => None,
        };
        Ok(Self { weight, bias })
    }

    /// A convolution `[out, in, k, k]`, with a bias of length `out` when it has one.
    pub fn read(scope: &Scope, stem: &str, out: usize, inp: usize, k: usize, bias: Bias) -> Result<Self> {
        Self::read_shaped(scope, stem, [out, inp, k, k], bias, out)
    }

    fn inputs(&self, g: &mut GraphBuilder, x: &str) -> Vec<String> {
        let mut inputs = vec![x.to_string(), g.constant("conv_weight", self.weight.view())];
        if let Some(bias) = &self.bias {
            inputs.push(g.constant("conv_bias", bias.view()));
        }
        inputs
    }

    /// Appends the convolution with `stride` and `pad` pixels of zero padding on each side.
    pub fn apply(&self, g: &mut GraphBuilder, x: &str, stride: usize, pad: usize) -> String {
        let k = self.weight.dim().2 as i64;
        let inputs = self.inputs(g, x);
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let (s, p) = (stride as i64, pad as i64);
        g.node(
            "Conv",
            &refs,
            &[
                ("kernel_shape", Attr::Ints(vec![k, k])),
                ("strides", Attr::Ints(vec![s, s])),
                ("pads", Attr::Ints(vec![p, p, p, p])),
            ],
        )
    }

    /// Appends the layer as a transposed convolution with kernel = stride (no overlap).
    pub fn apply_transposed(&self, g: &mut GraphBuilder, x: &str) -> String {
        let k = self.weight.dim().2 as i64;
        let inputs = self.inputs(g, x);
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        g.node("ConvTranspose", &refs, &[("kernel_shape", Attr::Ints(vec![k, k])), ("strides", Attr::Ints(vec![k, k]))])
    }
}

//! The architecture of a DINOv2 vision transformer: everything the graph builder needs to
//! know that is not a weight value. It is read off the tensors' shapes, and from an
//! optional Hugging Face `config.json` for what shapes cannot tell (head count, epsilon).

use crate::posembed::Resample;

/// The DINOv2 sizes `dinoedge model init` can make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// ViT-S/14: 384 wide, 12 blocks, 6 heads (`facebook/dinov2-small`).
    Small,
    /// ViT-B/14: 768 wide, 12 blocks, 12 heads (`facebook/dinov2-base`).
    Base,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VitSpec {
    /// Token width D.
    pub hidden: usize,
    /// Number of transformer blocks.
    pub depth: usize,
    pub heads: usize,
    /// Width of the MLP's hidden layer.
    pub mlp_hidden: usize,
    /// Patch side in pixels (14 for DINOv2).
    pub patch: usize,
    /// Register tokens (0, or 4 for the `*-with-registers` models).
    pub registers: usize,
    /// Side of the square grid the position embedding was trained for (37 for 518 px).
    pub pos_grid: usize,
    pub layer_norm_eps: f32,
    /// How the position embedding is resampled to another grid, as the reference does it.
    pub pos_resample: Resample,
}

impl VitSpec {
    pub fn new(arch: Arch, registers: usize) -> Self {
        let (hidden, heads) = match arch {
            Arch::Small => (384, 6),
            Arch::Base => (768, 12),
        };
        Self {
            hidden,
            depth: 12,
            heads,
            mlp_hidden: 4 * hidden,
            patch: 14,
            registers,
            pos_grid: 37,
            layer_norm_eps: 1e-6,
            pos_resample: if registers > 0 { Resample::BicubicAntialias } else { Resample::Bicubic },
        }
    }

    pub fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }

    /// A short human name, e.g. `ViT-S/14` or `ViT-B/14+4reg`.
    pub fn name(&self) -> String {
        let size = match self.hidden {
            384 => "S".to_string(),
            768 => "B".to_string(),
            1024 => "L".to_string(),
            d => format!("{d}w"),
        };
        let reg = if self.registers > 0 { format!("+{}reg", self.registers) } else { String::new() };
        format!("ViT-{size}/{}{reg} ({} blocks)", self.patch, self.depth)
    }

    /// Multiply-adds × 2 of one forward pass at a token count (`1 + registers + patches`).
    pub fn flops(&self, patches: usize) -> f64 {
        let t = (1 + self.registers + patches) as f64;
        let (d, m) = (self.hidden as f64, self.mlp_hidden as f64);
        let patch_embed = 2.0 * patches as f64 * (3 * self.patch * self.patch) as f64 * d;
        let per_block = 2.0 * t * d * 3.0 * d // q, k, v
            + 2.0 * 2.0 * t * t * d // scores and weighted sum
            + 2.0 * t * d * d // output projection
            + 2.0 * 2.0 * t * d * m; // MLP
        patch_embed + self.depth as f64 * per_block
    }
}

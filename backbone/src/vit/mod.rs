//! The DINOv2 vision transformer as a set of weights: its architecture ([`VitSpec`]), the
//! tensor names of the Hugging Face layout ([`layout`]) and the weights read from a
//! weight file ([`DinoWeights`]), with what its `config.json` adds ([`HfConfig`]).

pub mod layout;
pub mod spec;
pub mod weights;

pub use spec::{Arch, VitSpec};
pub use weights::{Block, DinoWeights, HfConfig, LayerNorm, Linear};

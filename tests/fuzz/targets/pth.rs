//! A weight file grown from a PyTorch checkpoint seed (a zip holding a pickle), every tensor read.
#![no_main]

use dinoedge_fuzz::{read_as, readers};

libfuzzer_sys::fuzz_target!(|data: &[u8]| read_as(data, "weights.bin", readers::weights));

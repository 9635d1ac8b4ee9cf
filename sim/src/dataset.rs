//! `dinoedge sim dataset`: a randomised training set in the RGB-D folder format
//! ([`crate::output`]). Frame i is drawn from its own stream of the seeded generator, so
//! frames can be rendered in any order, on any number of threads, with the same result.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::dock::build;
use crate::render::{RenderOptions, render};
use crate::{output, random, record, truth};

/// The name of frame `i` in a dataset or clip.
pub fn frame_name(i: usize) -> String {
    format!("{i:06}")
}

/// Renders and writes frame `i` of the dataset of `seed`.
fn write_one(dir: &Path, i: usize, seed: u64, width: u32, height: u32) -> std::io::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(i as u64);
    let layout = random::layout(&mut rng);
    let (camera, noise) = random::camera(&mut rng, width, height);
    let scene = build(&layout);
    let frame = render(&scene, &camera, &RenderOptions { noise, seed: seed ^ (i as u64).wrapping_mul(0x9E37_79B9) });
    let truth = truth::truth(&layout, &scene);
    output::write_frame(dir, &frame_name(i), &frame, &record::frame_record(&camera, &layout, &scene, &truth))
}

/// Writes `n` frames on `threads` threads; `progress` is called after each frame.
pub fn write_dataset(
    dir: &Path,
    n: usize,
    seed: u64,
    (width, height): (u32, u32),
    threads: usize,
    progress: &(dyn Fn() + Sync),
) -> std::io::Result<()> {
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| -> std::io::Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            return Ok(());
                        }
                        write_one(dir, i, seed, width, height)?;
                        progress();
                    }
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| w.join().expect("a render thread panicked"))
    })
}

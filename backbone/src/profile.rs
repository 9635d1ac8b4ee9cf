//! Where a backbone's time goes: every node of the optimised tract plan timed over a few
//! runs, summed by operator kind. Used by `dinoedge bench backbone --profile`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ndarray::Array4;
use tract_linalg::multithread::multithread_tract_scope;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::plan::{SimpleState, eval};

use crate::error::{ModelError, Result};
use crate::runtime::Backbone;

/// Time spent in one kind of operator, per run.
#[derive(Debug, Clone)]
pub struct OpTime {
    /// The operator's name (and output shape when grouped by shape).
    pub op: String,
    /// How many nodes of this kind the plan has.
    pub nodes: usize,
    pub per_run: Duration,
}

/// Runs the backbone `runs` times on `pixels`, timing each node; most expensive first.
/// Nodes are grouped by operator, and with `by_shape` also by output shape.
pub fn profile(backbone: &Backbone, pixels: &Array4<f32>, runs: u32, by_shape: bool) -> Result<Vec<OpTime>> {
    let fail = |e: TractError| ModelError::Inference(format!("{e:#}"));
    let mut totals: HashMap<String, (std::collections::HashSet<usize>, Duration)> = HashMap::new();
    multithread_tract_scope(backbone.executor().clone(), || -> Result<()> {
        let mut state = SimpleState::new(backbone.plan()).map_err(fail)?;
        for _ in 0..runs.max(1) {
            state
                .run_plan_with_eval(tvec!(backbone.input(pixels.clone())?), |ctx, op_state, node, inputs| {
                    let start = Instant::now();
                    let out = eval(ctx, op_state, node, inputs);
                    let key = match node.outputs.first() {
                        Some(out) if by_shape => {
                            format!("{} → {:?}", node.op().name(), out.fact.shape)
                        }
                        _ => node.op().name().to_string(),
                    };
                    let entry = totals.entry(key).or_default();
                    entry.0.insert(node.id);
                    entry.1 += start.elapsed();
                    out
                })
                .map_err(fail)?;
        }
        Ok(())
    })?;
    let mut times: Vec<OpTime> = totals
        .into_iter()
        .map(|(op, (nodes, total))| OpTime { op, nodes: nodes.len(), per_run: total / runs.max(1) })
        .collect();
    times.sort_by_key(|t| std::cmp::Reverse(t.per_run));
    Ok(times)
}

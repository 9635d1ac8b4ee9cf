//! What is checked of an ONNX file read, before tract-onnx builds a model of it (found by
//! tests/fuzz_readers.rs: tract-onnx panics on some damaged graphs and loops for ever on
//! others, so a damaged model file must never reach it):
//!
//! - **its graph's sha256**, which `dinoedge model import` writes into the metadata
//!   ([`stamp`]): a file changed since (a flipped bit, a cut) is refused, naming the file;
//! - **its wiring**: every name a node takes as input, and every output of the graph, is made
//!   by a graph input, an initializer or a node; no node carries a subgraph (`If`, `Loop`:
//!   dinoedge's graphs have none). tract-onnx looks these names up by index and panics on one
//!   that is missing; here it is an error naming the tensor.
//!
//! A file made to pass both (a graph rewritten, its sha256 written anew) is as trusted as the
//! dinoedge binary: tract-onnx's own checks are all that stand then.

use std::collections::HashSet;

use prost::Message;
use sha2::{Digest, Sha256};
use tract_onnx::pb;

/// The metadata key of the graph's sha256.
const GRAPH_SHA256: &str = "dinoedge.graph_sha256";

/// The metadata entry that [`check`] verifies: the sha256 of `graph` as protobuf.
pub fn stamp(graph: &pb::GraphProto) -> pb::StringStringEntryProto {
    pb::StringStringEntryProto { key: GRAPH_SHA256.into(), value: sha256(graph) }
}

fn sha256(graph: &pb::GraphProto) -> String {
    hex::encode(Sha256::digest(graph.encode_to_vec()))
}

/// Ok when `model` has its graph as stamped, wired; else what is wrong.
pub fn check(model: &pb::ModelProto) -> Result<(), String> {
    let graph = model.graph.as_ref().ok_or("it has no graph")?;
    let stamped = model.metadata_props.iter().find(|p| p.key == GRAPH_SHA256).ok_or_else(|| {
        format!("metadata `{GRAPH_SHA256}` is missing (made by an older dinoedge, or not by dinoedge); import it again")
    })?;
    if stamped.value != sha256(graph) {
        return Err("its graph is not the one `dinoedge model import` wrote (the file was damaged or changed since); \
                    import it again"
            .into());
    }
    wiring(graph)
}

/// Ok when `graph` is wired; else what is wrong, naming the node and tensor.
fn wiring(graph: &pb::GraphProto) -> Result<(), String> {
    let mut made: HashSet<&str> = graph.input.iter().map(|i| i.name.as_str()).collect();
    made.extend(graph.initializer.iter().map(|t| t.name.as_str()));
    made.extend(graph.node.iter().flat_map(|n| n.output.iter().map(String::as_str)));
    for node in &graph.node {
        let name = || if node.name.is_empty() { node.op_type.clone() } else { node.name.clone() };
        if node.attribute.iter().any(|a| a.g.is_some() || !a.graphs.is_empty()) {
            return Err(format!("node `{}` holds a subgraph, which dinoedge's graphs never do", name()));
        }
        // An empty name is an optional input left out.
        if let Some(input) = node.input.iter().find(|i| !i.is_empty() && !made.contains(i.as_str())) {
            return Err(format!("node `{}` takes the tensor `{input}`, which nothing makes", name()));
        }
    }
    if let Some(output) = graph.output.iter().find(|o| !made.contains(o.name.as_str())) {
        return Err(format!("the graph's output `{}` is made by no node", output.name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(nodes: &[(&str, &[&str], &[&str])], outputs: &[&str]) -> pb::GraphProto {
        let value = |name: &&str| pb::ValueInfoProto { name: name.to_string(), ..Default::default() };
        pb::GraphProto {
            input: vec![value(&"pixels")],
            node: nodes
                .iter()
                .map(|(op, inputs, outputs)| pb::NodeProto {
                    op_type: op.to_string(),
                    input: inputs.iter().map(|s| s.to_string()).collect(),
                    output: outputs.iter().map(|s| s.to_string()).collect(),
                    ..Default::default()
                })
                .collect(),
            output: outputs.iter().map(value).collect(),
            ..Default::default()
        }
    }

    /// `graph` in a model, stamped.
    fn model(graph: pb::GraphProto) -> pb::ModelProto {
        pb::ModelProto { metadata_props: vec![stamp(&graph)], graph: Some(graph), ..Default::default() }
    }

    #[test]
    fn a_wired_graph_passes_and_a_dangling_name_is_named() {
        let wired = graph(&[("Relu", &["pixels"], &["y"]), ("Clip", &["y", "", ""], &["z"])], &["z"]);
        assert_eq!(check(&model(wired)), Ok(()));
        let err = check(&model(graph(&[("Relu", &["pixel"], &["y"])], &["y"]))).unwrap_err();
        assert_eq!(err, "node `Relu` takes the tensor `pixel`, which nothing makes");
        let err = check(&model(graph(&[("Relu", &["pixels"], &["y"])], &["z"]))).unwrap_err();
        assert_eq!(err, "the graph's output `z` is made by no node");
    }

    #[test]
    fn a_subgraph_is_refused() {
        let mut g = graph(&[("If", &["pixels"], &["y"])], &["y"]);
        g.node[0].attribute.push(pb::AttributeProto { g: Some(graph(&[], &[])), ..Default::default() });
        assert!(check(&model(g)).unwrap_err().contains("node `If` holds a subgraph"));
    }

    #[test]
    fn a_graph_changed_after_its_stamp_or_without_one_is_refused() {
        let mut changed = model(graph(&[("Relu", &["pixels"], &["y"])], &["y"]));
        changed.graph.as_mut().unwrap().node[0].op_type = "Elu".into();
        assert!(check(&changed).unwrap_err().contains("damaged or changed since"));
        changed.metadata_props.clear();
        assert!(check(&changed).unwrap_err().contains("metadata `dinoedge.graph_sha256` is missing"));
    }
}

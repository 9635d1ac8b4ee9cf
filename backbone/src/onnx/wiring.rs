//! The wiring check of an ONNX graph read from a file, before tract-onnx builds a model of it:
//! every name a node takes as input, and every output of the graph, is made by a graph input,
//! an initializer or a node; and no node carries a subgraph (`If`, `Loop`: the graphs
//! `dinoedge model import` writes have none). tract-onnx looks these names up by index and
//! panics on one that is missing (found by tests/fuzz_readers.rs); here it is an error naming
//! the tensor.

use std::collections::HashSet;

use tract_onnx::pb;

/// Ok when `graph` is wired; else what is wrong, naming the node and tensor.
pub fn check(graph: &pb::GraphProto) -> Result<(), String> {
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

    #[test]
    fn a_wired_graph_passes_and_a_dangling_name_is_named() {
        assert_eq!(check(&graph(&[("Relu", &["pixels"], &["y"]), ("Clip", &["y", "", ""], &["z"])], &["z"])), Ok(()));
        let err = check(&graph(&[("Relu", &["pixel"], &["y"])], &["y"])).unwrap_err();
        assert_eq!(err, "node `Relu` takes the tensor `pixel`, which nothing makes");
        let err = check(&graph(&[("Relu", &["pixels"], &["y"])], &["z"])).unwrap_err();
        assert_eq!(err, "the graph's output `z` is made by no node");
    }

    #[test]
    fn a_subgraph_is_refused() {
        let mut g = graph(&[("If", &["pixels"], &["y"])], &["y"]);
        g.node[0].attribute.push(pb::AttributeProto { g: Some(graph(&[], &[])), ..Default::default() });
        assert!(check(&g).unwrap_err().contains("node `If` holds a subgraph"));
    }
}

//! The class head file: safetensors with `weight` [classes, F] and `bias` [classes], and one
//! metadata entry, `dinoedge.classes`: a JSON document naming the classes in logit order, the
//! layers read, the backbone the head was fitted on (refused on another) and what it was
//! fitted on (frames, labels, scores).

use std::path::Path;

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::{CLASSES, ClassHead};
use crate::head::file::BackboneId;
use crate::head::linear::HeadLayers;
use crate::head_file::{self, HeadFileBytes};
use dinoedge_backbone::error::Result;
use dinoedge_backbone::onnx::meta::BackboneMeta;
use dinoedge_config::ObjectClass;

const KEY: &str = "dinoedge.classes";
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format_version: u32,
    classes: Vec<ObjectClass>,
    layers: HeadLayers,
    backbone: BackboneId,
    info: serde_json::Value,
}

/// A class head with where it came from.
#[derive(Debug, Clone)]
pub struct ClassHeadFile {
    pub head: ClassHead,
    pub backbone: BackboneId,
    pub info: serde_json::Value,
}

pub fn save(path: &Path, head: &ClassHead, backbone: &BackboneId, info: &serde_json::Value) -> Result<()> {
    let header = Header {
        format_version: FORMAT_VERSION,
        classes: ObjectClass::ALL.to_vec(),
        layers: head.layers,
        backbone: backbone.clone(),
        info: info.clone(),
    };
    let tensors = [
        ("weight", head.weight.shape().to_vec(), head.weight.iter().copied().collect()),
        ("bias", head.bias.shape().to_vec(), head.bias.to_vec()),
    ];
    head_file::save(path, KEY, &header, tensors)
}

/// Reads a class head; with `backbone`, refuses it unless it was fitted on that backbone.
pub fn load(path: &Path, backbone: Option<&BackboneMeta>) -> Result<ClassHeadFile> {
    let file = HeadFileBytes::read(path, "class head")?;
    let header: Header = file.header(KEY)?;
    if header.format_version != FORMAT_VERSION {
        return Err(file.fail(format!(
            "a class head of format {}; this dinoedge reads format {FORMAT_VERSION}",
            header.format_version
        )));
    }
    if header.classes != ObjectClass::ALL {
        let names: Vec<&str> = header.classes.iter().map(|c| c.as_str()).collect();
        return Err(file.fail(format!("classes {}; this dinoedge's are {}", names.join(", "), ObjectClass::names())));
    }
    if let Some(meta) = backbone {
        header.backbone.check(meta, "dinoedge heads train-classes").map_err(|e| file.fail(e))?;
    }
    let tensors = file.tensors()?;
    let f = header.layers.feature_dim(header.backbone.hidden);
    let read = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
        let values = tensors.f32(name, shape)?;
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(file.fail(format!("tensor `{name}`: value {i} is {}", values[i])));
        }
        Ok(values)
    };
    let head = ClassHead {
        layers: header.layers,
        weight: Array2::from_shape_vec((CLASSES, f), read("weight", &[CLASSES, f])?).expect("checked shape"),
        bias: Array1::from_vec(read("bias", &[CLASSES])?),
    };
    Ok(ClassHeadFile { head, backbone: header.backbone, info: header.info })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::file::tests::meta;

    #[test]
    fn a_class_head_round_trips_and_refuses_another_backbone_and_bad_values() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("classes.safetensors");
        let mut head =
            ClassHead { layers: HeadLayers::One, weight: Array2::zeros((CLASSES, 768)), bias: Array1::zeros(CLASSES) };
        head.weight[[2, 700]] = 0.5;
        head.bias[4] = -2.0;
        let info = serde_json::json!({ "frames": 12 });
        save(&path, &head, &BackboneId::of(&meta("a")), &info).unwrap();
        let loaded = load(&path, Some(&meta("a"))).unwrap();
        assert_eq!((loaded.head, loaded.info), (head.clone(), info.clone()));
        let err = load(&path, Some(&meta("b"))).unwrap_err().to_string();
        assert!(err.contains("classes.safetensors") && err.contains("trained on another backbone"), "{err}");
        assert!(err.contains("dinoedge heads train-classes"), "{err}");

        head.bias[0] = f32::NAN;
        save(&path, &head, &BackboneId::of(&meta("a")), &info).unwrap();
        let err = load(&path, None).unwrap_err().to_string();
        assert!(err.contains("tensor `bias`: value 0 is NaN"), "{err}");
        // A depth head's file is not a class head's.
        let depth = tmp.path().join("depth.safetensors");
        let bins = crate::head::Bins::new(0.5, 20.0, 4, crate::head::BinSpacing::Log).unwrap();
        let depth_head = crate::head::LinearHead::zeros(HeadLayers::One, bins, 384);
        crate::head::file::save(&depth, &depth_head, None, &BackboneId::of(&meta("a")), &info).unwrap();
        let err = load(&depth, None).unwrap_err().to_string();
        assert!(err.contains("not a dinoedge class head file"), "{err}");
    }
}

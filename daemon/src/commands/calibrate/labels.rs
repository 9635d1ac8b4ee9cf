//! Few-shot classes on the calibrate page. The integrator holds frames from the camera and
//! brushes strokes of a class on them; the strokes become per-pixel labels ([`paint`],
//! checked: a point outside the frame is an error naming it). A class head is fitted on the box
//! from the backbone's features of those frames ([`fit`]: the softmax regression of `dinoedge
//! heads train-classes`, on the same patch shares, in a second or two). Both are saved beside
//! the calibration ([`save`]): `<stem>.labels/` in the RGB-D folder layout (`rgb/`, `labels/`)
//! and `<stem>.classes.safetensors`, so `dinoedge heads train-classes --data <stem>.labels`
//! re-runs the same fit scripted, with the simulator's frames as a prior if wanted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use dinoedge_config::ObjectClass;
use dinoedge_heads::classes::targets::{majority, patch_shares};
use dinoedge_heads::classes::train::{FitOptions, FitReport, fit as fit_linear};
use dinoedge_heads::classes::{ClassHead, file as class_file};
use dinoedge_heads::head::file::BackboneId;
use dinoedge_heads::head::linear::{HeadLayers, features};
use dinoedge_heads::head::model::DepthModel;
use image::{GrayImage, Luma, RgbImage};
use ndarray::{Array2, Axis, concatenate};
use serde::{Deserialize, Serialize};

/// Frames the page holds for labelling at most.
pub const MAX_HELD: usize = 16;
/// The widest brush, pixels.
const MAX_RADIUS: f64 = 200.0;

/// What the page sends for one held frame: its strokes, in the order painted (a later stroke
/// paints over an earlier one).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Strokes {
    pub strokes: Vec<Stroke>,
}

/// A brush stroke: discs of `radius` pixels along the polyline through `points` (frame pixels).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stroke {
    pub class: ObjectClass,
    pub radius: f64,
    pub points: Vec<[f64; 2]>,
}

/// A frame held for labelling, with its labels so far (`None`: unlabelled).
pub struct Held {
    pub image: RgbImage,
    pub labels: Array2<Option<ObjectClass>>,
}

impl Held {
    pub fn new(image: RgbImage) -> Self {
        let (w, h) = image.dimensions();
        Held { image, labels: Array2::from_elem((h as usize, w as usize), None) }
    }

    /// Labelled pixels per class.
    pub fn counts(&self) -> BTreeMap<ObjectClass, usize> {
        let mut counts = BTreeMap::new();
        for class in self.labels.iter().flatten() {
            *counts.entry(*class).or_default() += 1;
        }
        counts
    }
}

/// The labels `strokes` paint on a `width`×`height` frame; an error names the first stroke
/// (and point) that is not a brush stroke on this frame.
pub fn paint(strokes: &[Stroke], width: u32, height: u32) -> Result<Array2<Option<ObjectClass>>, String> {
    let (w, h) = (f64::from(width), f64::from(height));
    let mut labels = Array2::from_elem((height as usize, width as usize), None);
    for (i, stroke) in strokes.iter().enumerate() {
        let n = i + 1;
        if !(stroke.radius > 0.0 && stroke.radius <= MAX_RADIUS) {
            return Err(format!("stroke {n}: radius {} px; expected above 0 and at most {MAX_RADIUS}", stroke.radius));
        }
        if stroke.points.is_empty() {
            return Err(format!("stroke {n}: no points"));
        }
        if let Some((j, [x, y])) =
            stroke.points.iter().enumerate().find(|(_, [x, y])| !(*x >= 0.0 && *y >= 0.0 && *x < w && *y < h))
        {
            return Err(format!("stroke {n}, point {}: ({x}, {y}) is outside the {width}x{height} frame", j + 1));
        }
        let step = (stroke.radius / 2.0).max(0.5);
        let first = stroke.points[0];
        for pair in std::iter::once([first, first]).chain(stroke.points.windows(2).map(|p| [p[0], p[1]])) {
            let [[x0, y0], [x1, y1]] = pair;
            let steps = ((x1 - x0).hypot(y1 - y0) / step).ceil().max(1.0) as usize;
            for s in 0..=steps {
                let t = s as f64 / steps as f64;
                disc(&mut labels, [x0 + t * (x1 - x0), y0 + t * (y1 - y0)], stroke.radius, stroke.class);
            }
        }
    }
    Ok(labels)
}

/// Sets the pixels whose centres are within `radius` of `at`.
fn disc(labels: &mut Array2<Option<ObjectClass>>, at: [f64; 2], radius: f64, class: ObjectClass) {
    let (h, w) = labels.dim();
    let y0 = (at[1] - radius).floor().max(0.0) as usize;
    let y1 = ((at[1] + radius).ceil() as usize).min(h.saturating_sub(1));
    let x0 = (at[0] - radius).floor().max(0.0) as usize;
    let x1 = ((at[0] + radius).ceil() as usize).min(w.saturating_sub(1));
    for y in y0..=y1 {
        for x in x0..=x1 {
            if (x as f64 + 0.5 - at[0]).hypot(y as f64 + 0.5 - at[1]) <= radius {
                labels[[y, x]] = Some(class);
            }
        }
    }
}

/// A class head fitted on held frames, and how well it fits them.
pub struct Fitted {
    pub head: ClassHead,
    pub backbone: BackboneId,
    pub summary: FitSummary,
}

#[derive(Debug, Clone, Serialize)]
pub struct FitSummary {
    pub frames: usize,
    #[serde(flatten)]
    pub fit: FitReport,
    /// The share of labelled patches whose majority class the head predicts.
    pub agreement: f64,
    /// Labelled patches per class.
    pub patches_per_class: BTreeMap<ObjectClass, usize>,
}

/// Fits a class head on the labelled frames of `held`, on `model`'s backbone features.
pub fn fit(model: &DepthModel, held: &[Held]) -> Result<Fitted, String> {
    let labelled: Vec<&Held> = held.iter().filter(|h| h.labels.iter().any(Option::is_some)).collect();
    if labelled.is_empty() {
        return Err("no labels yet: hold a frame and brush some classes on it first".into());
    }
    let mut xs = Vec::new();
    let mut shares = Vec::new();
    for frame in &labelled {
        let fail = |e: dinoedge_backbone::ModelError| format!("the backbone on a held frame: {e}");
        let outputs = model.backbone.embed(&frame.image).map_err(fail)?;
        let (rows, cols, _) = outputs.patch_tokens.dim();
        let x = features(&outputs, HeadLayers::One).map_err(fail)?;
        xs.push(x);
        shares.push(patch_shares(&frame.labels, rows, cols));
    }
    let x = concatenate(Axis(0), &xs.iter().map(|a| a.view()).collect::<Vec<_>>()).expect("one backbone");
    let shares = concatenate(Axis(0), &shares.iter().map(|a| a.view()).collect::<Vec<_>>()).expect("same classes");
    let (linear, fit) = fit_linear(x.view(), shares.view(), FitOptions::default());
    let truth = majority(&shares);
    let predicted = linear.predict(x.view());
    let judged: Vec<(ObjectClass, ObjectClass)> =
        truth.iter().zip(&predicted).filter_map(|(t, p)| Some(((*t)?, *p))).collect();
    let mut patches_per_class = BTreeMap::new();
    for (t, _) in &judged {
        *patches_per_class.entry(*t).or_default() += 1;
    }
    let agreement = judged.iter().filter(|(t, p)| t == p).count() as f64 / judged.len().max(1) as f64;
    Ok(Fitted {
        head: linear.head(HeadLayers::One),
        backbone: BackboneId::of(model.backbone.meta()),
        summary: FitSummary { frames: labelled.len(), fit, agreement, patches_per_class },
    })
}

/// The files the labels and the head are saved as.
#[derive(Debug, Clone, Serialize)]
pub struct SavedLabels {
    pub labels: PathBuf,
    pub head: PathBuf,
    pub frames: usize,
}

/// Writes the labelled frames of `held` as `<stem>.labels/` beside `calibration` and the fitted
/// head as `<stem>.classes.safetensors`. Both are written aside first and moved into place
/// only when both were written: a failure leaves the old ones.
pub fn save(calibration: &Path, held: &[Held], fitted: &Fitted) -> Result<SavedLabels> {
    let stem = calibration.file_stem().and_then(|s| s.to_str()).unwrap_or("calibration");
    let saved = SavedLabels {
        labels: calibration.with_file_name(format!("{stem}.labels")),
        head: calibration.with_file_name(format!("{stem}.classes.safetensors")),
        frames: 0,
    };
    let staged_dir = calibration.with_file_name(format!("{stem}.labels.new"));
    let staged_head = calibration.with_file_name(format!("{stem}.classes.safetensors.new"));
    let result = (|| -> Result<usize> {
        if staged_dir.exists() {
            std::fs::remove_dir_all(&staged_dir).with_context(|| format!("clearing {}", staged_dir.display()))?;
        }
        for sub in ["rgb", "labels"] {
            let dir = staged_dir.join(sub);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut frames = 0;
        for frame in held.iter().filter(|h| h.labels.iter().any(Option::is_some)) {
            let name = format!("{frames:04}.png");
            let rgb = staged_dir.join("rgb").join(&name);
            frame.image.save(&rgb).with_context(|| format!("writing {}", rgb.display()))?;
            let (h, w) = frame.labels.dim();
            let image = GrayImage::from_fn(w as u32, h as u32, |x, y| {
                Luma([frame.labels[[y as usize, x as usize]].map_or(0, |c| 1 + c.index())])
            });
            let labels = staged_dir.join("labels").join(&name);
            image.save(&labels).with_context(|| format!("writing {}", labels.display()))?;
            frames += 1;
        }
        let info = serde_json::json!({
            "fitted_by": "dinoedge calibrate --ui",
            "labels": saved.labels.display().to_string(),
            "summary": fitted.summary,
        });
        class_file::save(&staged_head, &fitted.head, &fitted.backbone, &info)?;
        let old = calibration.with_file_name(format!("{stem}.labels.old"));
        if saved.labels.exists() {
            let _ = std::fs::remove_dir_all(&old);
            std::fs::rename(&saved.labels, &old).with_context(|| format!("moving {} aside", saved.labels.display()))?;
        }
        std::fs::rename(&staged_dir, &saved.labels).with_context(|| format!("writing {}", saved.labels.display()))?;
        std::fs::rename(&staged_head, &saved.head).with_context(|| format!("writing {}", saved.head.display()))?;
        let _ = std::fs::remove_dir_all(&old);
        Ok(frames)
    })();
    match result {
        Ok(frames) => Ok(SavedLabels { frames, ..saved }),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staged_dir);
            let _ = std::fs::remove_file(&staged_head);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stroke(class: ObjectClass, radius: f64, points: &[[f64; 2]]) -> Stroke {
        Stroke { class, radius, points: points.to_vec() }
    }

    #[test]
    fn strokes_paint_discs_along_their_path_later_over_earlier() {
        let strokes = [
            stroke(ObjectClass::Floor, 2.0, &[[5.0, 10.0], [25.0, 10.0]]),
            stroke(ObjectClass::Person, 1.0, &[[15.5, 10.5]]),
        ];
        let labels = paint(&strokes, 40, 20).unwrap();
        assert_eq!(labels[[10, 5]], Some(ObjectClass::Floor));
        assert_eq!(labels[[10, 20]], Some(ObjectClass::Floor), "between the points");
        assert_eq!(labels[[10, 15]], Some(ObjectClass::Person), "painted over");
        assert_eq!(labels[[10, 30]], None, "past the end");
        assert_eq!(labels[[14, 10]], None, "outside the brush");
        let floor = labels.iter().filter(|c| **c == Some(ObjectClass::Floor)).count();
        assert!((70..=100).contains(&floor), "a 4-pixel band 20 long: {floor}");
    }

    #[test]
    fn a_stroke_that_leaves_the_frame_is_refused_by_number() {
        let inside = stroke(ObjectClass::Load, 3.0, &[[1.0, 1.0]]);
        let err = paint(&[inside, stroke(ObjectClass::Floor, 3.0, &[[1.0, 1.0], [40.0, 5.0]])], 40, 20).unwrap_err();
        assert_eq!(err, "stroke 2, point 2: (40, 5) is outside the 40x20 frame");
        let err = paint(&[stroke(ObjectClass::Floor, 3.0, &[[f64::NAN, 1.0]])], 40, 20).unwrap_err();
        assert!(err.contains("point 1: (NaN, 1)"), "{err}");
        let err = paint(&[stroke(ObjectClass::Floor, 0.0, &[[1.0, 1.0]])], 40, 20).unwrap_err();
        assert!(err.starts_with("stroke 1: radius 0 px"), "{err}");
        let err = paint(&[stroke(ObjectClass::Floor, 500.0, &[[1.0, 1.0]])], 40, 20).unwrap_err();
        assert!(err.contains("at most 200"), "{err}");
        assert_eq!(paint(&[stroke(ObjectClass::Floor, 3.0, &[])], 40, 20).unwrap_err(), "stroke 1: no points");
        let unknown = serde_json::from_str::<Strokes>(r#"{"strokes":[{"class":"cat","radius":3,"points":[[1,1]]}]}"#);
        assert!(unknown.unwrap_err().to_string().contains("forklift"), "the known classes are named");
    }
}

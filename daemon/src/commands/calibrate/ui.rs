//! `dinoedge calibrate --ui`: a small web server (axum) for calibrating a camera from a
//! browser. It runs the camera's source and the model at about 2 frames a second, and serves
//! the page (embedded in the binary, no CDN), the newest frame, its colour-mapped depth, the
//! depth under the cursor, and the fit and save of the points the user clicked. Everything
//! the page sends is checked here like any other input: the JSON is a points file, its zones
//! are checked polygons, and a fit that fails is an error on the page, with nothing written.
//! The page also labels classes ([`labels`](super::labels)): frames held for brushing, a class
//! head fitted on them on the box, its class map over the newest frame, both saved beside the
//! calibration.
//!
//! It listens on loopback unless `--allow-remote` is given (integrators reach it through an
//! SSH tunnel); on loopback, requests naming a host other than an IP address or `localhost`
//! are refused, so a web page cannot reach it through DNS rebinding.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path as UrlPath, Query, Request, State as Shared};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use dinoedge_calibration::workflow::{Outcome, PointsFile, calibrate};
use dinoedge_config::ObjectClass;
use glam::DVec2;
use ndarray::Array2;
use serde::Deserialize;
use serde_json::json;

use super::labels::{self, Fitted, Held, MAX_HELD, Strokes};
use super::{Report, Setup, Written, report, save};
use crate::lock::lock;
use crate::pipeline::camera::{CameraLink, State};
use crate::pipeline::depth::{DepthProvider, Perceived};
use crate::pipeline::handoff::Taken;
use crate::pipeline::snapshot;
use crate::source::Frame;

/// The frames of the empty scene a fit takes the background (median depth and spread) of.
const SHOTS: usize = dinoedge_calibration::background::CALIBRATION_FRAMES;
/// The model runs at most this often: enough for a live view, and it leaves the CPU to fits.
const DEPTH_EVERY: Duration = Duration::from_millis(500);

const INDEX_HTML: &str = include_str!("page/index.html");
const APP_JS: &str = include_str!("page/app.js");
const STYLE_CSS: &str = include_str!("page/style.css");

/// One frame and what the model makes of it: (unaligned) depth, and classes when it gives them.
struct Shot {
    frame: Frame,
    depth: Arc<Array2<f32>>,
    classes: Option<Array2<ObjectClass>>,
}

/// The newest frame, and the depth of the newest [`SHOTS`] (oldest first) a fit takes the
/// background of: only the newest keeps its picture and classes.
#[derive(Default)]
struct Shots {
    newest: Option<Arc<Shot>>,
    depths: VecDeque<Arc<Array2<f32>>>,
}

struct Session {
    setup: Setup,
    out: PathBuf,
    source: Mutex<State>,
    shots: Mutex<Shots>,
    /// The last successful fit: the read-out and the overlay use its alignment.
    fit: Mutex<Option<Outcome>>,
    saved: Mutex<Option<Written>>,
    /// Frames held for labelling, in the order held (their index is the page's).
    held: Mutex<Vec<Held>>,
    /// The class head fitted on the held frames' labels.
    fitted: Mutex<Option<Fitted>>,
}

/// An error for the page: a status and a message, sent as `{"error": …}`.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({ "error": self.1 }))).into_response()
    }
}

pub fn serve(setup: Setup, out: &Path, listen: SocketAddr) -> Result<()> {
    let session = Arc::new(Session {
        setup,
        out: out.to_path_buf(),
        source: Mutex::new(State::Starting),
        shots: Mutex::new(Shots::default()),
        fit: Mutex::new(None),
        saved: Mutex::new(None),
        held: Mutex::new(Vec::new()),
        fitted: Mutex::new(None),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let link = Arc::new(CameraLink::new(session.setup.camera.name.clone()));
    start_camera(&session, &link, &stop)?;

    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
        let bound = listener.local_addr()?;
        println!("calibrate UI for camera {}: http://{bound}/", session.setup.camera.name);
        let mut app = router(session.clone());
        if bound.ip().is_loopback() {
            println!(
                "from another machine: ssh -L {0}:127.0.0.1:{0} <this box>, then open http://127.0.0.1:{0}/",
                bound.port()
            );
            app = app.layer(middleware::from_fn(loopback_hosts_only));
        } else {
            log::warn!(
                "the calibrate UI listens on {bound}: anyone who can reach it can change this camera's calibration"
            );
        }
        crate::http::serve(listener, app, crate::http::PAGE, shutdown()).await;
        anyhow::Ok(())
    });
    stop.store(true, Ordering::Relaxed);
    crate::pipeline::capture::interrupt(&link);
    result
}

fn router(session: Arc<Session>) -> Router {
    Router::new()
        .route("/", get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX_HTML) }))
        .route("/app.js", get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], APP_JS) }))
        .route("/style.css", get(|| async { ([(header::CONTENT_TYPE, "text/css")], STYLE_CSS) }))
        .route("/api/status", get(status))
        .route("/api/frame.jpg", get(frame_jpeg))
        .route("/api/depth.png", get(depth_png))
        .route("/api/read", get(read))
        .route("/api/fit", post(fit))
        .route("/api/save", post(save_points))
        .route("/api/labels/hold", post(hold))
        .route("/api/labels/{index}/frame.jpg", get(held_jpeg))
        .route("/api/labels/{index}", put(label))
        .route("/api/classes/fit", post(fit_classes))
        .route("/api/classes.png", get(classes_png))
        .route("/api/classes/save", post(save_classes))
        .with_state(session)
}

async fn shutdown() {
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Refuses a request whose Host is a name other than `localhost` (DNS rebinding).
async fn loopback_hosts_only(request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.parse::<u16>().is_ok() => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    if name == "localhost" || name.parse::<std::net::IpAddr>().is_ok() {
        next.run(request).await
    } else {
        Refusal(StatusCode::MISDIRECTED_REQUEST, format!("host `{host}`: open this page by IP address or localhost"))
            .into_response()
    }
}

/// The camera's capture thread (restarting its source like the daemon does) and a thread
/// that runs the model on the newest frame.
fn start_camera(session: &Arc<Session>, link: &Arc<CameraLink>, stop: &Arc<AtomicBool>) -> Result<()> {
    let (source, l, s, st) = (session.setup.camera.source.clone(), link.clone(), session.clone(), stop.clone());
    std::thread::Builder::new()
        .name("capture".into())
        .spawn(move || crate::pipeline::capture::run(&source, &l, &|state| *lock(&s.source) = state, &st))
        .context("starting the capture thread")?;
    let (l, s, st) = (link.clone(), session.clone(), stop.clone());
    std::thread::Builder::new()
        .name("depth".into())
        .spawn(move || {
            while !st.load(Ordering::Relaxed) {
                let started = Instant::now();
                match l.cell.take(Duration::from_millis(500)) {
                    Taken::Frame(frame) => match s.setup.provider.perceive(&frame) {
                        Ok(Perceived { depth, classes }) => {
                            let depth = Arc::new(depth);
                            let mut shots = lock(&s.shots);
                            if shots.depths.front().is_some_and(|o| o.dim() != depth.dim()) {
                                shots.depths.clear();
                            }
                            shots.depths.push_back(depth.clone());
                            while shots.depths.len() > SHOTS {
                                shots.depths.pop_front();
                            }
                            shots.newest = Some(Arc::new(Shot { frame, depth, classes }));
                        }
                        Err(e) => *lock(&s.source) = State::Down(format!("depth: {e:#}")),
                    },
                    Taken::Idle => continue,
                    Taken::Ended => std::thread::sleep(Duration::from_millis(500)),
                }
                std::thread::sleep(DEPTH_EVERY.saturating_sub(started.elapsed()));
            }
        })
        .context("starting the depth thread")?;
    Ok(())
}

impl Session {
    fn newest(&self) -> Result<Arc<Shot>, Refusal> {
        lock(&self.shots).newest.clone().ok_or_else(|| self.no_frame_yet())
    }

    fn no_frame_yet(&self) -> Refusal {
        let state = lock(&self.source).clone();
        Refusal(StatusCode::SERVICE_UNAVAILABLE, format!("no frame from the camera yet ({})", describe(&state)))
    }

    /// Fits `points` to the newest frames' median depth.
    fn fit(&self, points: &PointsFile) -> Result<(Arc<Shot>, Outcome), Refusal> {
        let (newest, depths) = {
            let shots = lock(&self.shots);
            (shots.newest.clone(), shots.depths.iter().cloned().collect::<Vec<_>>())
        };
        let newest = newest.ok_or_else(|| self.no_frame_yet())?;
        let outcome = calibrate(&self.setup.camera.name, points, &depths, self.setup.provider.kind())
            .map_err(|e| Refusal(StatusCode::UNPROCESSABLE_ENTITY, e))?;
        *lock(&self.fit) = Some(outcome.clone());
        Ok((newest, outcome))
    }
}

fn describe(state: &State) -> String {
    match state {
        State::Starting => "starting".into(),
        State::Up => "up".into(),
        State::Ended => "ended: the image sequence has no more frames".into(),
        State::Down(reason) => format!("down: {reason}"),
    }
}

async fn status(Shared(s): Shared<Arc<Session>>) -> axum::Json<serde_json::Value> {
    let newest = lock(&s.shots).newest.clone();
    let source = describe(&lock(&s.source));
    let fit = lock(&s.fit).as_ref().map(Report::new);
    axum::Json(json!({
        "camera": s.setup.camera.name.as_str(),
        "source": source,
        "width": newest.as_ref().map(|n| n.frame.image.width()),
        "height": newest.as_ref().map(|n| n.frame.image.height()),
        "seq": newest.as_ref().map(|n| n.frame.seq),
        "out": s.out,
        "fit": fit,
        "saved": *lock(&s.saved),
    }))
}

async fn frame_jpeg(Shared(s): Shared<Arc<Session>>) -> Result<Response, Refusal> {
    let shot = s.newest()?;
    let bytes = tokio::task::spawn_blocking(move || snapshot::encode_jpeg(&shot.frame.image)).await.expect("encoder");
    Ok(([(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, "no-store")], bytes).into_response())
}

/// The newest depth colour-mapped, in metres by the last fit (the model's own depth before one).
async fn depth_png(Shared(s): Shared<Arc<Session>>) -> Result<Response, Refusal> {
    let shot = s.newest()?;
    let alignment = lock(&s.fit).as_ref().map(|o| o.file.alignment);
    let bytes = tokio::task::spawn_blocking(move || {
        let depth = match alignment {
            Some(a) => shot.depth.mapv(|d| a.to_metres(d).unwrap_or(0.0)),
            None => (*shot.depth).clone(),
        };
        let mut out = std::io::Cursor::new(Vec::new());
        snapshot::depth_colours(&depth).write_to(&mut out, image::ImageFormat::Png).expect("PNG encoding");
        out.into_inner()
    })
    .await
    .expect("encoder");
    Ok(([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "no-store")], bytes).into_response())
}

#[derive(Deserialize)]
struct At {
    x: f64,
    y: f64,
}

/// The depth at a pixel; after a fit also the distance from the camera, the height above
/// the floor and the distance to each plane.
async fn read(Shared(s): Shared<Arc<Session>>, Query(at): Query<At>) -> Result<axum::Json<serde_json::Value>, Refusal> {
    let shot = s.newest()?;
    let (h, w) = shot.depth.dim();
    if !(at.x >= 0.0 && at.y >= 0.0 && at.x < w as f64 && at.y < h as f64) {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            format!("pixel ({}, {}) is outside the {w}x{h} image", at.x, at.y),
        ));
    }
    let predicted = shot.depth[(at.y as usize, at.x as usize)];
    let fit = lock(&s.fit).clone();
    let Some((outcome, depth)) = fit.and_then(|o| o.file.alignment.to_metres(predicted).map(|d| (o, d as f64))) else {
        return Ok(axum::Json(json!({ "predicted_m": finite(predicted) })));
    };
    let camera = report::camera(&outcome);
    let point = camera.back_project(DVec2::new(at.x, at.y), depth);
    let planes: serde_json::Map<String, serde_json::Value> =
        report::planes(&outcome).map(|(name, plane)| (name, json!(plane.distance(point)))).collect();
    Ok(axum::Json(json!({
        "predicted_m": predicted,
        "depth_m": depth,
        "distance_m": point.distance(camera.pose.position),
        "height_m": point.z,
        "floor": [point.x, point.y],
        "planes": planes,
    })))
}

fn finite(v: f32) -> Option<f32> {
    v.is_finite().then_some(v)
}

/// A body the JSON extractor refused, with the status it gives: 415 without a JSON content
/// type, 413 past the body limit, 400 for malformed JSON, 422 for JSON of the wrong shape.
fn refused_body(e: JsonRejection) -> Refusal {
    Refusal(e.status(), e.body_text())
}

fn points_from(body: Result<axum::Json<PointsFile>, JsonRejection>) -> Result<PointsFile, Refusal> {
    body.map(|b| b.0).map_err(refused_body)
}

async fn fit(
    Shared(s): Shared<Arc<Session>>,
    body: Result<axum::Json<PointsFile>, JsonRejection>,
) -> Result<axum::Json<Report>, Refusal> {
    let points = points_from(body)?;
    tokio::task::spawn_blocking(move || s.fit(&points).map(|(_, outcome)| axum::Json(Report::new(&outcome))))
        .await
        .expect("the fit")
}

/// Fits and writes the calibration, its background, preview and points file.
async fn save_points(
    Shared(s): Shared<Arc<Session>>,
    body: Result<axum::Json<PointsFile>, JsonRejection>,
) -> Result<axum::Json<serde_json::Value>, Refusal> {
    let points = points_from(body)?;
    tokio::task::spawn_blocking(move || {
        let (shot, outcome) = s.fit(&points)?;
        let written = save(&s.setup, &s.out, &shot.frame.image, &points, &outcome)
            .map_err(|e| Refusal(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))?;
        let report = Report::new(&outcome);
        // To the log, not stdout: the terminal that started the UI may be gone.
        log::info!("{written}\n{report}");
        *lock(&s.saved) = Some(written.clone());
        Ok(axum::Json(json!({ "written": written, "report": report })))
    })
    .await
    .expect("the save")
}

/// Holds the newest frame for labelling; answers its index and size.
async fn hold(Shared(s): Shared<Arc<Session>>) -> Result<axum::Json<serde_json::Value>, Refusal> {
    let shot = s.newest()?;
    let mut held = lock(&s.held);
    if held.len() >= MAX_HELD {
        return Err(Refusal(StatusCode::CONFLICT, format!("{MAX_HELD} frames are held already: label those")));
    }
    held.push(Held::new(shot.frame.image.clone()));
    let (width, height) = shot.frame.image.dimensions();
    Ok(axum::Json(json!({ "index": held.len() - 1, "width": width, "height": height, "seq": shot.frame.seq })))
}

fn held_index(held: &[Held], index: usize) -> Result<&Held, Refusal> {
    held.get(index).ok_or_else(|| Refusal(StatusCode::NOT_FOUND, format!("no held frame {index}")))
}

async fn held_jpeg(Shared(s): Shared<Arc<Session>>, UrlPath(index): UrlPath<usize>) -> Result<Response, Refusal> {
    let image = held_index(&lock(&s.held), index)?.image.clone();
    let bytes = tokio::task::spawn_blocking(move || snapshot::encode_jpeg(&image)).await.expect("encoder");
    Ok(([(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, "no-store")], bytes).into_response())
}

/// Replaces a held frame's labels with what its strokes paint; answers the pixels per class.
async fn label(
    Shared(s): Shared<Arc<Session>>,
    UrlPath(index): UrlPath<usize>,
    body: Result<axum::Json<Strokes>, JsonRejection>,
) -> Result<axum::Json<serde_json::Value>, Refusal> {
    let strokes = body.map(|b| b.0).map_err(refused_body)?;
    let (width, height) = held_index(&lock(&s.held), index)?.image.dimensions();
    let painted = tokio::task::spawn_blocking(move || labels::paint(&strokes.strokes, width, height))
        .await
        .expect("painting")
        .map_err(|e| Refusal(StatusCode::UNPROCESSABLE_ENTITY, format!("held frame {index}: {e}")))?;
    let mut held = lock(&s.held);
    let frame = held.get_mut(index).expect("held frames are never removed");
    frame.labels = painted;
    Ok(axum::Json(json!({ "index": index, "pixels": frame.counts() })))
}

impl Session {
    /// The depth model, whose backbone a class head is fitted on.
    fn model(&self) -> Result<&dinoedge_heads::head::DepthModel, Refusal> {
        match &self.setup.provider {
            DepthProvider::Model { model, .. } => Ok(model),
            DepthProvider::SimTruth(_) => Err(Refusal(
                StatusCode::CONFLICT,
                "the sim-truth model has no backbone to fit a class head on; use a dinov2 model".into(),
            )),
        }
    }
}

async fn fit_classes(Shared(s): Shared<Arc<Session>>) -> Result<axum::Json<serde_json::Value>, Refusal> {
    tokio::task::spawn_blocking(move || {
        let model = s.model()?;
        let fitted = labels::fit(model, &lock(&s.held)).map_err(|e| Refusal(StatusCode::CONFLICT, e))?;
        let summary = fitted.summary.clone();
        *lock(&s.fitted) = Some(fitted);
        Ok(axum::Json(json!(summary)))
    })
    .await
    .expect("the class fit")
}

/// The newest frame tinted by its classes: by the head fitted here, else the model's own.
async fn classes_png(Shared(s): Shared<Arc<Session>>) -> Result<Response, Refusal> {
    let shot = s.newest()?;
    tokio::task::spawn_blocking(move || {
        let image = &shot.frame.image;
        let classes = match &*lock(&s.fitted) {
            Some(fitted) => {
                let (h, w) = (image.height() as usize, image.width() as usize);
                let outputs = s.model()?.backbone.embed(image);
                outputs
                    .and_then(|outputs| fitted.head.class_map(&outputs, h, w))
                    .map_err(|e| Refusal(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
            }
            None => shot.classes.clone().ok_or_else(|| {
                Refusal(
                    StatusCode::NOT_FOUND,
                    "no class head: the config has no [model] classes; label frames and fit one here".into(),
                )
            })?,
        };
        let mut out = std::io::Cursor::new(Vec::new());
        snapshot::class_overlay(image, &classes).write_to(&mut out, image::ImageFormat::Png).expect("PNG encoding");
        Ok(([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "no-store")], out.into_inner())
            .into_response())
    })
    .await
    .expect("the class map")
}

/// Writes the labelled frames and the fitted head beside the calibration.
async fn save_classes(Shared(s): Shared<Arc<Session>>) -> Result<axum::Json<serde_json::Value>, Refusal> {
    tokio::task::spawn_blocking(move || {
        let fitted = lock(&s.fitted);
        let fitted = fitted.as_ref().ok_or_else(|| Refusal(StatusCode::CONFLICT, "fit the class head first".into()))?;
        let saved = labels::save(&s.out, &lock(&s.held), fitted)
            .map_err(|e| Refusal(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))?;
        log::info!("wrote {} ({} frames) and {}", saved.labels.display(), saved.frames, saved.head.display());
        Ok(axum::Json(json!({ "saved": saved })))
    })
    .await
    .expect("the class save")
}

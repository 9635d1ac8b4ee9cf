//! `dinoedge calibrate --ui` in a real headless Chromium, driven through chromedriver the way
//! an integrator uses it: on a simulated dock whose camera is known, the page is loaded, the
//! floor marks, a floor region, a reference, the dock edge and a zone are clicked on the live
//! picture, Fit shows the solved camera, the cursor reads distances, and Save writes a
//! calibration within the issue's bounds. What the page sends is checked by the server.
//!
//! Set DINOEDGE_KEEP_IMAGES=folder to keep the page's screenshot and the saved preview there
//! (the README's pictures: calibrate-ui.png, calibrate-preview.png).

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dinoedge_calibration::Calibration;
use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use fantoccini::{Client, ClientBuilder, Locator};
use glam::DVec3;
use serde_json::{Value, json};
use support::dock::{MARKS, Site, site};
use support::{dinoedge, free_port, path};

/// A process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `dinoedge calibrate --ui` on the site, and the address it printed.
fn start_ui(s: &Site) -> (Killed, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dinoedge"))
        .args(["calibrate", "--config", "dinoedge.toml", "--camera", "dock1", "--out", "dock1.toml"])
        .args(["--ui", "--listen", "127.0.0.1:0"])
        .current_dir(s.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dinoedge runs");
    let mut first = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut first).unwrap();
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let url = first.split_whitespace().last().expect("the UI prints its address").to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{first}");
    (Killed(child), url)
}

/// Chromium under chromedriver, headless, with a new profile and no background traffic.
async fn browser(profile: &std::path::Path) -> (Killed, Client) {
    let port = free_port();
    let driver = Command::new("/usr/bin/chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian: apt install chromium-driver)");
    let driver = Killed(driver);
    let caps = json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1400,1000", format!("--user-data-dir={}", profile.display()),
            ]
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(caps.as_object().unwrap().clone());
        match builder.connect(&format!("http://127.0.0.1:{port}")).await {
            Ok(client) => return (driver, client),
            Err(e) if Instant::now() > deadline => panic!("chromedriver did not start: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

struct Page {
    client: Client,
}

impl Page {
    async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Waits until `condition` (a JS expression) is true.
    async fn until(&self, condition: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.js(&format!("return Boolean({condition});")).await != json!(true) {
            if Instant::now() > deadline {
                let result = self.js("return document.getElementById('result').textContent;").await;
                panic!("waited 20 s for {what}; the page says: {result}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Where a frame pixel is on the screen.
    async fn screen(&self, pixel: [f64; 2]) -> (f64, f64) {
        let r = self.js("const r = document.getElementById('canvas').getBoundingClientRect(); return [r.left, r.top, r.width, r.height];").await;
        let r: Vec<f64> = r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        (r[0] + pixel[0] / 320.0 * r[2], r[1] + pixel[1] / 240.0 * r[3])
    }

    async fn pointer(&self, pixel: [f64; 2], click: bool) {
        let (x, y) = self.screen(pixel).await;
        let mut mouse = MouseActions::new("mouse".into()).then(PointerAction::MoveTo { duration: None, x, y });
        if click {
            mouse = mouse.then(PointerAction::Down { button: 0 }).then(PointerAction::Up { button: 0 });
        }
        self.client.perform_actions(mouse).await.unwrap();
    }

    async fn click_at(&self, pixel: [f64; 2]) {
        self.pointer(pixel, true).await;
    }

    async fn press(&self, css: &str) {
        self.client.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
    }

    async fn type_into(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    async fn text(&self, css: &str) -> String {
        self.client.find(Locator::Css(css)).await.unwrap().text().await.unwrap()
    }

    /// POSTs `body` to the server from the page, as the page would; returns (status, answer).
    async fn post(&self, path: &str, body: &str) -> (u64, Value) {
        self.request("POST", path, body).await
    }

    async fn request(&self, method: &str, path: &str, body: &str) -> (u64, Value) {
        let script = "const [method, path, body, done] = arguments; \
             fetch(path, {method, headers: {'content-type': 'application/json'}, body}) \
               .then(async r => done([r.status, await r.json()]));";
        let answer = self.client.execute_async(script, vec![json!(method), json!(path), json!(body)]).await.unwrap();
        (answer[0].as_u64().unwrap(), answer[1].clone())
    }

    /// Presses the mouse at the first pixel, moves it through the others and lets go.
    async fn drag(&self, pixels: &[[f64; 2]]) {
        let (x, y) = self.screen(pixels[0]).await;
        let mut mouse = MouseActions::new("mouse".into())
            .then(PointerAction::MoveTo { duration: None, x, y })
            .then(PointerAction::Down { button: 0 });
        for pixel in &pixels[1..] {
            let (x, y) = self.screen(*pixel).await;
            mouse = mouse.then(PointerAction::MoveTo { duration: Some(Duration::from_millis(100)), x, y });
        }
        self.client.perform_actions(mouse.then(PointerAction::Up { button: 0 })).await.unwrap();
    }
}

/// A zone's corners, normalised, as pixels of the 320x240 frame.
fn corners(points: &[[f64; 2]]) -> Vec<[f64; 2]> {
    points.iter().map(|p| [p[0] * 320.0, p[1] * 240.0]).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_integrator_calibrates_the_simulated_dock_in_the_browser() {
    let s = site();
    let (_ui, url) = start_ui(&s);
    let (_driver, client) = browser(&s.path().join("profile")).await;
    let page = Page { client };
    page.client.goto(&url).await.unwrap();
    page.until("document.getElementById('canvas').width === 320", "the first frame").await;
    page.until("document.getElementById('source').textContent.includes('frame')", "the live frame").await;

    // What the page sends is checked by the server: a two-corner zone, a missing coordinate.
    let (status, answer) = page
        .post("/api/fit", r#"{"camera": {"hfov_deg": 85}, "zone": [{"name": "z", "points": [[0, 0], [1, 1]]}]}"#)
        .await;
    assert_eq!(status, 422);
    assert!(answer["error"].as_str().unwrap().contains("zone[0].points: a zone needs at least 3 points"), "{answer}");
    let (status, answer) = page
        .post("/api/save", r#"{"camera": {"hfov_deg": 85}, "floor_point": [{"pixel": [1, 2], "floor": [0, null]}]}"#)
        .await;
    assert_eq!(status, 422);
    assert!(answer["error"].as_str().unwrap().contains("floor_point[0].floor[1]"), "{answer}");
    assert!(!s.path().join("dock1.toml").exists(), "a refused save writes nothing");
    // A body that is not JSON by its type, or past the size limit, gets the status that says so.
    let status_of = |content_type: &str, body: &str| {
        format!(
            "return fetch('/api/fit', {{method: 'POST', headers: {{'content-type': '{content_type}'}}, body: {body}}})\
             .then(r => r.status);"
        )
    };
    assert_eq!(page.js(&status_of("text/plain", "'{}'")).await, 415);
    assert_eq!(page.js(&status_of("application/json", "' '.repeat(3 << 20)")).await, 413);

    page.type_into("#hfov", "85").await;
    for mark in MARKS {
        page.click_at(s.pixel(DVec3::new(mark[0], mark[1], 0.0))).await;
        page.type_into("#floor-points tbody tr:last-child input[name=x]", &mark[0].to_string()).await;
        page.type_into("#floor-points tbody tr:last-child input[name=y]", &mark[1].to_string()).await;
    }
    page.press("[data-mode=region]").await;
    for corner in corners(&[[0.35, 0.8], [0.75, 0.8], [0.75, 0.99], [0.35, 0.99]]) {
        page.click_at(corner).await;
    }
    page.press("#close-polygon").await;
    let reference = DVec3::new(0.5, 6.0, 0.0);
    let measured = reference.distance(s.camera.pose.position);
    page.press("[data-mode=reference]").await;
    page.click_at(s.pixel(reference)).await;
    page.type_into("#references tbody tr:last-child input[name=distance]", &format!("{measured:.3}")).await;
    page.press("[data-mode=dock]").await;
    page.click_at(s.pixel(DVec3::new(-1.0, s.wall_y, 0.0))).await;
    page.click_at(s.pixel(DVec3::new(2.0, s.wall_y, 0.0))).await;
    page.press("[data-mode=zone]").await;
    for corner in corners(&[[0.3, 0.55], [0.7, 0.55], [0.7, 0.95], [0.3, 0.95]]) {
        page.click_at(corner).await;
    }
    page.press("#close-polygon").await;
    page.type_into("#zones tbody tr:last-child input[name=name]", "approach").await;

    page.press("#fit").await;
    page.until("document.getElementById('report')", "the fit's report").await;
    let report = page.text("#report").await;
    assert!(report.contains("camera height") && report.contains("plane dock_face"), "{report}");

    // The read-out under the cursor, at a floor mark 9 m out: the true distance, within the
    // fit's held-out residual (plus the depth's change across the pixel the cursor is on).
    let fit = page.js("return fetch('/api/status').then(r => r.json()).then(s => s.fit);").await;
    let residual = fit["holdout_max_m"].as_f64().unwrap();
    let mark = DVec3::new(2.0, 9.0, 0.0);
    page.pointer(s.pixel(mark), false).await;
    page.until("document.getElementById('readout').textContent.includes('distance')", "a metric read-out").await;
    let line = page.text("#readout").await;
    let read: f64 = line.split("distance ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    let truth = mark.distance(s.camera.pose.position);
    assert!((read - truth).abs() <= residual + 0.05, "{line}: truth {truth:.3}, residual {residual:.3}");

    page.press("#save").await;
    page.until("document.getElementById('saved')", "the save").await;
    let screenshot = page.client.screenshot().await.unwrap();
    let shot = image::load_from_memory(&screenshot).unwrap();
    assert!(shot.width() == 1400 && shot.height() > 500, "{}x{}", shot.width(), shot.height());
    if let Ok(keep) = std::env::var("DINOEDGE_KEEP_IMAGES") {
        let keep = std::path::Path::new(&keep);
        std::fs::write(keep.join("calibrate-ui.png"), &screenshot).unwrap();
        std::fs::copy(s.path().join("dock1.preview.png"), keep.join("calibrate-preview.png")).unwrap();
    }
    page.client.close().await.unwrap();

    let c = Calibration::load(&s.path().join("dock1.toml")).unwrap();
    s.assert_recovered_by(&c, "saved through the page");
    let zone = c.zone(&"approach".to_string().try_into().unwrap()).expect("the drawn zone is saved");
    assert!(zone.contains(0.5, 0.75) && !zone.contains(0.5, 0.3));
    for beside in ["dock1.background.png", "dock1.preview.png", "dock1.points.toml"] {
        assert!(s.path().join(beside).is_file(), "{beside}");
    }

    // A rule watches the drawn zone by its name; a name the calibration lacks is refused.
    let config = std::fs::read_to_string(s.path().join("dinoedge.toml"))
        .unwrap()
        .replace("[camera.source]", "calibration = \"dock1.toml\"\n[camera.source]")
        + "\n[[rule]]\nname = \"near\"\ncamera = \"dock1\"\nkind = \"min_distance\"\nzone = \"approach\"\nalarm_below = 2.0\nclear_above = 2.5\n";
    let named = s.path().join("named.toml");
    std::fs::write(&named, &config).unwrap();
    let check = dinoedge(&["check-config", path(&named)], s.path());
    assert!(check.status.success(), "{}", support::stderr(&check));
    std::fs::write(&named, config.replace("zone = \"approach\"", "zone = \"loading\"")).unwrap();
    let check = dinoedge(&["check-config", path(&named)], s.path());
    support::assert_fails(&check, 78, &["dock1.toml", "no zone `loading`, which rule `near` watches"]);

    // The saved points file is a scripted calibration's input, and gives the same camera.
    let again = s.path().join("again.toml");
    let run = s.calibrate_scripted(&s.path().join("dock1.points.toml"), &again);
    assert!(run.status.success(), "{}", support::stderr(&run));
    let scripted = Calibration::load(&again).unwrap();
    assert!((scripted.camera.pose.position - c.camera.pose.position).length() < 1e-6);
}

/// Few-shot classes on the page, on a model with a backbone (a random published depth model:
/// its classes mean nothing, the plumbing is what is tested): the integrator holds a frame,
/// brushes floor along the bottom and `other` along the wall, fits a class head on the box,
/// sees the live class map, and saves the labels and the head beside the calibration. The
/// scripted re-fit from the saved labels gives the same head. A stroke that leaves the frame is
/// refused by number, and the labels stay as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_integrator_brushes_classes_and_fits_a_class_head_on_the_box() {
    let s = site();
    let model = support::depth_model(s.path(), "depth-anything-v2-metric-indoor-small", "7");
    let config = std::fs::read_to_string(s.path().join("dinoedge.toml")).unwrap();
    let config = config.replace("kind = \"sim-truth\"", &format!("kind = \"dinov2\"\nbackbone = \"{}\"", path(&model)));
    std::fs::write(s.path().join("dinoedge.toml"), config).unwrap();
    let (_ui, url) = start_ui(&s);
    let (_driver, client) = browser(&s.path().join("profile")).await;
    let page = Page { client };
    page.client.goto(&url).await.unwrap();
    page.until("document.getElementById('source').textContent.includes('frame')", "the live frame").await;
    let (status, answer) = page.post("/api/classes/fit", "").await;
    assert_eq!(status, 409);
    assert!(answer["error"].as_str().unwrap().contains("no labels yet"), "{answer}");

    page.press("#hold").await;
    page.until("document.getElementById('held').textContent.includes('1 frame held')", "the held frame").await;
    for (class, y) in [("floor", 215.0), ("other", 25.0)] {
        page.js(&format!("document.getElementById('label-class').value = '{class}';")).await;
        page.drag(&[[20.0, y], [160.0, y + 3.0], [300.0, y]]).await;
        page.until(&format!("document.getElementById('classes-result').textContent.includes('{class}')"), class).await;
    }
    let strokes = r#"{"strokes": [{"class": "load", "radius": 5, "points": [[10, 10], [400, 10]]}]}"#;
    let (status, answer) = page.request("PUT", "/api/labels/0", strokes).await;
    assert_eq!(status, 422);
    let error = answer["error"].as_str().unwrap();
    assert!(error.contains("stroke 1, point 2: (400, 10) is outside the 320x240 frame"), "{error}");

    let keep = std::env::var("DINOEDGE_KEEP_IMAGES").ok().map(std::path::PathBuf::from);
    if let Some(keep) = &keep {
        std::fs::write(keep.join("calibrate-labels.png"), page.client.screenshot().await.unwrap()).unwrap();
    }
    page.press("#fit-classes").await;
    page.until("document.getElementById('class-fit')", "the class fit").await;
    let fit = page.text("#class-fit").await;
    assert!(fit.contains("Fitted on 1 frame (floor ") && fit.contains("other ") && !fit.contains("load"), "{fit}");
    let agreement: f64 = fit.split("agrees with ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(agreement >= 90.0, "the head fits the patches it was fitted on: {fit}");
    let overlay =
        page.js("return fetch('/api/classes.png').then(r => [r.status, r.headers.get('content-type')]);").await;
    assert_eq!(overlay, json!([200, "image/png"]));
    if let Some(keep) = &keep {
        page.until("shownSeq !== null", "the live frame under its class map").await;
        std::fs::write(keep.join("calibrate-classes.png"), page.client.screenshot().await.unwrap()).unwrap();
    }

    page.press("#save-classes").await;
    page.until("document.getElementById('classes-saved')", "the class save").await;
    let hint = page.text("#classes-result").await;
    assert!(hint.contains("dinoedge heads train-classes --data") && hint.contains("[model] classes ="), "{hint}");
    page.client.close().await.unwrap();

    let labels = image::open(s.path().join("dock1.labels/labels/0000.png")).unwrap().into_luma8();
    assert_eq!(labels.dimensions(), (320, 240));
    let floor = 1 + dinoedge_config::ObjectClass::Floor.index();
    let other = 1 + dinoedge_config::ObjectClass::Other.index();
    assert_eq!(
        (labels.get_pixel(160, 217)[0], labels.get_pixel(160, 27)[0], labels.get_pixel(160, 120)[0]),
        (floor, other, 0)
    );
    assert!(s.path().join("dock1.labels/rgb/0000.png").is_file());

    // The scripted re-fit on the saved labels: the same head as the page's.
    let labels_dir = s.path().join("dock1.labels");
    let refit = s.path().join("refit.safetensors");
    let args = ["heads", "train-classes", "--data", path(&labels_dir), "--val", path(&labels_dir)];
    let run = dinoedge(&[&args[..], &["--backbone", path(&model), "--out", path(&refit)]].concat(), s.path());
    assert!(run.status.success(), "{}", support::stderr(&run));
    let weights = |file: &std::path::Path| -> Vec<f32> {
        let bytes = std::fs::read(file).unwrap();
        let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        tensors.tensor("weight").unwrap().data().chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
    };
    let (page_head, scripted) = (weights(&s.path().join("dock1.classes.safetensors")), weights(&refit));
    assert_eq!(page_head.len(), scripted.len());
    let worst = page_head.iter().zip(&scripted).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    let scale = page_head.iter().map(|a| a.abs()).fold(0.0f32, f32::max);
    assert!(worst <= 1e-4 * scale.max(1.0), "page and scripted fits differ by {worst} (weights up to {scale})");
}

#[test]
fn the_ui_refuses_an_address_other_machines_can_reach_unless_told() {
    let s = site();
    let run = Command::new(env!("CARGO_BIN_EXE_dinoedge"))
        .args(["calibrate", "--config", "dinoedge.toml", "--camera", "dock1", "--out", "x.toml"])
        .args(["--ui", "--listen", "0.0.0.0:0"])
        .current_dir(s.path())
        .output()
        .unwrap();
    support::assert_fails(&run, 64, &["reachable from the network", "--allow-remote"]);
}

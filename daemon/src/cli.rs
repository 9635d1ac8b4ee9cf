//! The command-line interface: subcommands, flags and their help texts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use dinoedge_backbone::InputSize;
use dinoedge_backbone::Precision;
use dinoedge_backbone::onnx::meta::AttentionForm;
use dinoedge_backbone::ops::Operators;
use dinoedge_config::Name;
use dinoedge_sim::clip::Scenario;

#[derive(Debug, Parser)]
#[command(name = "dinoedge", version, about = "Edge monitoring: DINOv2 depth on the CPU, distance rules, MQTT alarms")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make, import and download backbone models.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Measure performance.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Render simulated loading-dock scenes with exact depth and ground truth.
    #[command(subcommand)]
    Sim(SimCommand),
    /// Train and evaluate metric depth heads on frozen backbone features.
    #[command(subcommand)]
    Heads(HeadsCommand),
    /// Run the daemon: cameras → depth → rules → MQTT alarms.
    Run {
        /// The configuration file (see config/examples/dock.toml).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// The main job: a simulated dock clip through the full pipeline to MQTT alarms (no camera,
    /// broker or internet needed; official weights used when in the model cache).
    Demo {
        /// forklift-approach (stops 2.5 m short: no alarm), forklift-cross (alarms),
        /// person-between, empty-lighting, forklift-meets-person or forklift-parked.
        #[arg(long, default_value = "forklift-approach")]
        scenario: Scenario,
        /// The broker events are published to, if it answers.
        #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
        mqtt: String,
        /// Output folder for the annotated frames and the distance plot.
        #[arg(long, default_value = "dinoedge-demo")]
        out: PathBuf,
    },
    /// Calibrate a camera: its pose from floor marks, the depth alignment, the background,
    /// the dock plane and named zones. In a browser (`--ui`: the live camera, points clicked
    /// on the page) or scripted (`--frame … --points`). Writes the calibration file, its
    /// background depth, a preview and the points file beside `--out`.
    Calibrate {
        /// The daemon's configuration (its model and the camera's source are used).
        #[arg(long)]
        config: PathBuf,
        /// The camera's name in the configuration.
        #[arg(long)]
        camera: Name,
        /// The calibration file to write.
        #[arg(long)]
        out: PathBuf,
        /// Serve the calibration page instead of reading a points file.
        #[arg(long, conflicts_with_all = ["frames", "points"])]
        ui: bool,
        /// Where the page listens (loopback: reach it through an SSH tunnel).
        #[arg(long, default_value = "127.0.0.1:8090", requires = "ui")]
        listen: std::net::SocketAddr,
        /// Allow --listen on an address other machines can reach (the page has no login).
        #[arg(long, requires = "ui")]
        allow_remote: bool,
        /// Scripted: a frame of the empty scene; give several for a median background.
        #[arg(long = "frame", required_unless_present = "ui")]
        frames: Vec<PathBuf>,
        /// Scripted: the points file (see calibration/src/workflow.rs).
        #[arg(long, required_unless_present = "ui")]
        points: Option<PathBuf>,
    },
    /// Check a configuration file (and the calibration and model files it names) without starting.
    CheckConfig {
        /// The configuration file.
        config: PathBuf,
    },
    /// Write the manual pages: dinoedge.1 and one per subcommand (dinoedge-run.1, …).
    Man {
        /// The folder to write them into (made if missing).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum HeadsCommand {
    /// Train a linear depth head (DINOv2's lin.1 or lin.4) on an RGB-D folder.
    Train(HeadsTrainArgs),
    /// Evaluate a depth model (a trained head, or a published depth model) on an RGB-D folder:
    /// AbsRel, SqRel, RMSE, RMSE log, log10, δ<1.25ⁿ, next to the median baseline.
    Eval(HeadsEvalArgs),
    /// Fit a class head (forklift, person, load, floor, other) on a folder with labels/
    /// (`sim dataset` writes them): per-class IoU of held-out pixels beside a pixel baseline.
    TrainClasses(HeadsTrainClassesArgs),
}

#[derive(Debug, Args)]
pub struct HeadsTrainClassesArgs {
    /// Training folder: rgb/ and labels/ (1 + class index per pixel, 0 = unlabelled);
    /// depth/ is not needed. Repeat to fit on several: the simulator's frames and the labels
    /// painted in `calibrate --ui` (`<calibration>.labels/`).
    #[arg(long, required = true)]
    pub data: Vec<PathBuf>,
    /// Validation folder [default: every 10th training frame, held out].
    #[arg(long)]
    pub val: Option<PathBuf>,
    #[arg(long)]
    pub backbone: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    /// Full-batch Adam steps of the softmax regression.
    #[arg(long, default_value_t = 300)]
    pub steps: usize,
    #[arg(long, default_value_t = 0.05)]
    pub lr: f32,
    #[arg(long, default_value_t = 1e-4)]
    pub weight_decay: f32,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: HeadsCommon,
}

#[derive(Debug, Args)]
pub struct HeadsTrainArgs {
    /// Training RGB-D folder (rgb/, depth/ in --depth-scale units per metre).
    #[arg(long)]
    pub data: PathBuf,
    /// Validation folder [default: every 10th training frame, held out].
    #[arg(long)]
    pub val: Option<PathBuf>,
    #[arg(long)]
    pub backbone: PathBuf,
    /// 1: last block (lin.1); 4: four blocks (lin.4).
    #[arg(long, value_enum, default_value_t = LayersArg::One)]
    pub layers: LayersArg,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 256)]
    pub bins: usize,
    #[arg(long, default_value_t = 0.5)]
    pub min_depth: f32,
    #[arg(long, default_value_t = 20.0)]
    pub max_depth: f32,
    #[arg(long, value_enum, default_value_t = SpacingArg::Log)]
    pub spacing: SpacingArg,
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    #[arg(long, default_value_t = 2048)]
    pub batch: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f32,
    #[arg(long, default_value_t = 1e-5)]
    pub weight_decay: f32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub common: HeadsCommon,
}

#[derive(Debug, Args)]
pub struct HeadsEvalArgs {
    #[arg(long)]
    pub data: PathBuf,
    /// A backbone (with --head), or a published depth model (`model import|pull --depth`).
    #[arg(long)]
    pub backbone: PathBuf,
    /// The trained head to score; none for a published depth model.
    #[arg(long)]
    pub head: Option<PathBuf>,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: HeadsCommon,
}

/// Options shared by `heads train` and `heads eval`.
#[derive(Debug, Clone, Args)]
pub struct HeadsCommon {
    /// Depth PNG units per metre (1000: millimetres, as the simulator and NYU write them).
    #[arg(long, default_value_t = 1000.0)]
    pub depth_scale: f32,
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Feature cache [default: <model cache>/features].
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LayersArg {
    /// lin.1: the last block's tokens
    #[value(name = "1")]
    One,
    /// lin.4: four blocks' tokens
    #[value(name = "4")]
    Four,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SpacingArg {
    Uniform,
    Log,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Render the example dock scene once: rgb/, depth/, instance/, class/, meta/ under --out.
    Frame {
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        view: ViewArgs,
        /// Sensor noise, standard deviation in 8-bit levels.
        #[arg(long, default_value_t = 0.0)]
        noise: f32,
        /// Seed of the sensor noise.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Write a randomised training set (layouts, cameras, lighting) in the RGB-D folder
    /// format that `dinoedge heads train` reads. The same seed gives the same files.
    Dataset {
        /// How many frames.
        #[arg(long)]
        n: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        size: FrameSize,
        /// Render threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
    /// Write a scripted clip with per-frame ground truth (truth.json): forklift-approach,
    /// forklift-cross, person-between, empty-lighting, forklift-meets-person or forklift-parked.
    Clip {
        #[arg(long)]
        scenario: Scenario,
        #[arg(long, default_value_t = 10.0)]
        fps: f64,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        size: FrameSize,
        /// Also encode rgb/ as clip.mp4 (H.264) with ffmpeg from PATH.
        #[arg(long)]
        mp4: bool,
    },
}

/// The size of rendered frames, pixels.
#[derive(Debug, Clone, Copy, Args)]
pub struct FrameSize {
    #[arg(long, default_value_t = 640)]
    pub width: u32,
    #[arg(long, default_value_t = 480)]
    pub height: u32,
}

/// The simulated camera.
#[derive(Debug, Clone, Args)]
pub struct ViewArgs {
    #[command(flatten)]
    pub size: FrameSize,
    /// Horizontal field of view, degrees.
    #[arg(long, default_value_t = 90.0)]
    pub hfov: f64,
    /// Camera position on the floor (x, y) and height, metres.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub camera_x: f64,
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub camera_y: f64,
    #[arg(long, default_value_t = 4.0)]
    pub camera_height: f64,
    /// Heading (degrees, counter-clockwise from +y, towards the dock).
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub yaw: f64,
    /// Downward tilt, degrees.
    #[arg(long, default_value_t = 25.0, allow_hyphen_values = true)]
    pub pitch: f64,
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub roll: f64,
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Write a DINOv2 weight file with random weights (Hugging Face layout), for tests,
    /// benchmarks and the offline demo.
    Init {
        /// Random weights, initialised as the reference does (the only kind `init` makes;
        /// official weights come from `dinoedge model pull`).
        #[arg(long, required = true)]
        random: bool,
        #[arg(long, value_enum, default_value_t = ArchArg::Small)]
        arch: ArchArg,
        /// Register tokens (4 for the `*-with-registers` layout).
        #[arg(long, default_value_t = 0)]
        registers: usize,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// A full-size published depth model in its layout instead: `--out` is then a folder
        /// (Depth Anything: model.safetensors and config.json; Meta's heads: head.safetensors,
        /// for a backbone that `init` makes without --depth).
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(
            dinoedge_heads::published::catalog::CATALOG.map(|p| p.name)), conflicts_with_all = ["arch", "registers"])]
        depth: Option<String>,
        /// The safetensors file to write (a folder with --depth).
        #[arg(long)]
        out: PathBuf,
    },
    /// Build a backbone ONNX graph from a Hugging Face DINOv2 safetensors file (and the
    /// `config.json` beside it, if any); with --depth, a published depth model's graph:
    /// backbone and depth head together.
    Import {
        /// The DINOv2 weights (safetensors or a PyTorch checkpoint); with --depth, the depth
        /// model's weights (Depth Anything: its model.safetensors, config.json beside it) or,
        /// for Meta's heads, the backbone's.
        #[arg(long)]
        weights: PathBuf,
        /// A published depth model to import (see README, "Depth models").
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(
            dinoedge_heads::published::catalog::CATALOG.map(|p| p.name)), conflicts_with = "blocks")]
        depth: Option<String>,
        /// Meta's depth head checkpoint (dinov2_vits14_*_head.pth), for the dinov2-small-* models.
        #[arg(long, requires = "depth")]
        head: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// Input size HEIGHTxWIDTH in pixels, each a multiple of 14.
        #[arg(long, default_value = "224x224")]
        input: InputSize,
        /// 1-based blocks whose normed tokens are extra outputs [default: 4 evenly spaced,
        /// 3,6,9,12 for ViT-S/14].
        #[arg(long, value_delimiter = ',')]
        blocks: Option<Vec<usize>>,
        /// How attention is written in the graph (both compute the same; see BENCHMARKS.md).
        #[arg(long, default_value = "decomposed")]
        attention: AttentionForm,
    },
    /// Download the official facebook/dinov2-small weights (pinned revision and sha256)
    /// into the model cache, then import them; with --depth, a published depth model.
    Pull {
        /// A published depth model to download and import (see README, "Depth models").
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(
            dinoedge_heads::published::catalog::CATALOG.map(|p| p.name)))]
        depth: Option<String>,
        /// A mirror of Meta's file server (for Meta's depth heads).
        #[arg(long, default_value = dinoedge_heads::published::catalog::META_FILES)]
        meta_endpoint: String,
        /// Input size of the imported backbone.
        #[arg(long, default_value = "224x224")]
        input: InputSize,
        /// Model cache [default: $DINOEDGE_CACHE_DIR, $STATE_DIRECTORY/models,
        /// $XDG_CACHE_HOME/dinoedge or ~/.cache/dinoedge].
        #[arg(long)]
        cache_dir: Option<PathBuf>,
        /// A mirror with the hub's URL layout.
        #[arg(long, default_value = dinoedge_backbone::pull::HUGGING_FACE)]
        endpoint: String,
        /// Expect this sha256 instead of the pinned one (for a mirror's own file): the
        /// backbone's; with --depth, the backbone's for Meta's heads, the checkpoint's for a
        /// model pulled as its pinned original checkpoint.
        #[arg(long)]
        sha256: Option<String>,
        /// Only download; do not import.
        #[arg(long)]
        no_import: bool,
        /// How attention is written in the imported graph.
        #[arg(long, default_value = "decomposed")]
        attention: AttentionForm,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ArchArg {
    /// ViT-S/14 (facebook/dinov2-small)
    Small,
    /// ViT-B/14 (facebook/dinov2-base)
    Base,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The whole daemon on a simulated clip: frames per second, capture-to-decision latency
    /// by stage, resident memory, next to the bare model timed in the same run.
    Pipeline(BenchPipelineArgs),
    /// Cost of a depth head next to its backbone: both timed on the same frames.
    Head(BenchHeadArgs),
    /// Render time of the simulator: the example dock scene, one thread, repeated.
    Render(BenchRenderArgs),
    /// Latency of the backbone: load time, median and p90 over repeated runs, GFLOP/s and
    /// the fraction of the CPU's f32 FMA rate it is.
    Backbone(BenchBackboneArgs),
    /// This CPU's f32 FMA rate, the limit a model's speed is measured against: on one
    /// thread, then on each number of threads up to --threads running together.
    Peak(BenchPeakArgs),
    /// The shipped rules on every simulated scenario, through the real pipeline and a real
    /// broker, with a depth model's errors at each noise level: each due alarm's lead at the
    /// subscriber, missed alarms, false starts per simulated hour, flicker.
    Alarms(BenchAlarmsArgs),
    /// What half precision changes: a depth model in f16 against f32 on a clip's frames
    /// (feature cosine, depth AbsRel), with the time of each.
    Precision(BenchPrecisionArgs),
}

#[derive(Debug, Args)]
pub struct BenchPeakArgs {
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: u16,
    /// How long each thread count is measured, in seconds.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=600))]
    pub seconds: u16,
    /// Print one JSON object per thread count instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchPrecisionArgs {
    /// A backbone ONNX with --head, or an imported depth model.
    #[arg(long)]
    pub backbone: PathBuf,
    #[arg(long)]
    pub head: Option<PathBuf>,
    /// A clip folder from `dinoedge sim clip` (its rgb/ frames).
    #[arg(long)]
    pub clip: PathBuf,
    /// Frames compared, spread over the clip.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub frames: u64,
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
}

#[derive(Debug, Args)]
pub struct BenchPipelineArgs {
    /// A clip folder from `dinoedge sim clip` (rgb/, calibration.toml).
    #[arg(long)]
    pub clip: PathBuf,
    /// A backbone ONNX, or an imported depth model (then no --head).
    #[arg(long)]
    pub backbone: PathBuf,
    /// A trained depth head for the backbone.
    #[arg(long)]
    pub head: Option<PathBuf>,
    /// A class head for the backbone: then the rules count classes (a forklift-only dock
    /// rule, a person-to-forklift object_distance) and both heads run on every frame.
    #[arg(long)]
    pub classes: Option<PathBuf>,
    /// Cameras, each playing the clip in a loop.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=8))]
    pub cameras: u32,
    /// Frame rate of each camera (10 is a typical camera; above the model's rate the
    /// newest-frame cells drop frames and the run measures throughput).
    #[arg(long, default_value_t = 10.0)]
    pub fps: f64,
    /// How long to run (at least 10 s).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(10..))]
    pub seconds: u64,
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// A broker to publish to; then frame-to-MQTT latency is measured too.
    #[arg(long)]
    pub mqtt: Option<String>,
    /// The cameras' change gate (`[camera.gate] enabled`): `false` runs the model on every
    /// frame taken.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub gate: bool,
}

#[derive(Debug, Args)]
pub struct BenchAlarmsArgs {
    /// The broker the daemons publish to, and the subscriber here reads from.
    #[arg(long)]
    pub mqtt: String,
    /// The noise levels of the simulated model's errors (0.05 = "5 %"), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0,0.02,0.05,0.1")]
    pub levels: Vec<f64>,
    /// Seconds the simulated model takes per frame: the pipeline's pace (0.271 is the default
    /// model's on two x86 cores, BENCHMARKS.md; 0 runs at the cameras' 10 frames a second).
    #[arg(long, default_value_t = 0.271)]
    pub model_time: f64,
    /// Plays of each scenario an alarm is due on, per level, each with its own errors, at the
    /// real pace: the lead figures.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub plays: u32,
    /// Simulated minutes of the scenarios no alarm is due on, per level (replayed by daemons
    /// side by side, each at the pace): the false starts.
    #[arg(long, default_value_t = 60.0)]
    pub minutes: f64,
    /// Daemons replaying side by side.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub jobs: u32,
    /// The frame size of the simulated camera.
    #[command(flatten)]
    pub size: FrameSize,
    /// The first seed of the errors (each play and replay takes the next).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct BenchHeadArgs {
    #[arg(long)]
    pub backbone: PathBuf,
    #[arg(long)]
    pub head: PathBuf,
    /// A class head for the backbone, timed beside the depth head (class map at the frame size).
    #[arg(long)]
    pub classes: Option<PathBuf>,
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Timed runs (at least 10).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(10..))]
    pub runs: u32,
    /// The frame the depth map is resized to.
    #[command(flatten)]
    pub size: FrameSize,
}

#[derive(Debug, Args)]
pub struct BenchRenderArgs {
    #[command(flatten)]
    pub size: FrameSize,
    /// Timed renders (at least 5).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(5..))]
    pub runs: u32,
}

#[derive(Debug, Args)]
pub struct BenchBackboneArgs {
    /// The backbone ONNX [default: the cached one for --input].
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Input size; must be the model's own (it is fixed at import).
    #[arg(long)]
    pub input: Option<InputSize>,
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Timed runs (at least 20).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(20..))]
    pub runs: u32,
    /// Untimed runs first.
    #[arg(long, default_value_t = 3)]
    pub warmup: u32,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also time every operator of the plan (5 runs) and print the costliest kinds.
    #[arg(long)]
    pub profile: bool,
    /// With --profile: group operators by output shape too.
    #[arg(long, requires = "profile")]
    pub by_shape: bool,
    /// `dinoedge`: dinoedge's own operators where it has them; `tract`: tract-onnx's only
    /// (what each of dinoedge's operators is measured against).
    #[arg(long, default_value = "dinoedge")]
    pub operators: Operators,
    /// `f16`: the plan in half precision (LayerNorms, softmaxes, reductions and resizes kept
    /// in f32); fast only on CPUs with FEAT_FP16 (Cortex-A76, A78AE).
    #[arg(long, default_value_t = Precision::F32)]
    pub precision: Precision,
}

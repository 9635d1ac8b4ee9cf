//! The command line's progress bars, one look for all of them: a label, a 30-column `=>` bar,
//! then what is counted (indicatif template keys such as `{pos}/{len}`, `{bytes}`, `{eta}`).

use indicatif::{ProgressBar, ProgressStyle};

/// The style of a bar: `label [=====>    ] counts`. The label may be a template key too
/// (`{msg}`).
pub fn style(label: &str, counts: &str) -> ProgressStyle {
    ProgressStyle::with_template(&format!("{label} [{{bar:30}}] {counts}"))
        .expect("the bar's template is ours and valid")
        .progress_chars("=> ")
}

/// A bar of `len` steps, drawn on stderr.
pub fn bar(len: usize, label: &str, counts: &str) -> ProgressBar {
    ProgressBar::new(len as u64).with_style(style(label, counts))
}

//! The demo's plot: one panel per rule, distance (m) against time (s), the simulator's truth
//! beside each run's measurement, and the rule's alarm and clear distances; SVG, no
//! dependencies.

use std::fmt::Write as _;

use super::config::Pass;

/// How a line is drawn.
#[derive(Debug, Clone, Copy)]
pub enum Style {
    Truth,
    Run(Pass),
}

impl Style {
    fn stroke(self) -> (&'static str, &'static str) {
        match self {
            Style::Truth => ("#222", ""),
            Style::Run(Pass::Exact) => ("#2ca02c", ""),
            Style::Run(Pass::Model) => ("#1f77b4", r#"stroke-dasharray="6 3""#),
        }
    }
}

/// One series of (seconds, metres).
pub struct Line {
    pub label: String,
    pub style: Style,
    pub points: Vec<(f64, f64)>,
}

/// One rule's plot.
pub struct Panel {
    pub title: String,
    pub alarm_below: f64,
    pub clear_above: f64,
    pub lines: Vec<Line>,
}

const WIDTH: f64 = 820.0;
const PANEL_HEIGHT: f64 = 400.0;
/// Margins around a panel's plot area.
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 90.0;

/// The panels stacked, over `seconds` of clip.
pub fn plot(panels: &[Panel], seconds: f64) -> String {
    let height = PANEL_HEIGHT * panels.len() as f64;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="12"><rect width="{WIDTH}" height="{height}" fill="white"/>"#
    );
    for (i, panel) in panels.iter().enumerate() {
        svg += &draw(panel, seconds, i as f64 * PANEL_HEIGHT);
    }
    svg + "</svg>\n"
}

fn draw(panel: &Panel, seconds: f64, top: f64) -> String {
    let y_max = panel.lines.iter().flat_map(|l| &l.points).map(|p| p.1).fold(4.0f64, f64::max).min(20.0).ceil();
    let x = |t: f64| LEFT + t / seconds.max(1e-9) * (WIDTH - LEFT - RIGHT);
    let y = |d: f64| top + PANEL_HEIGHT - BOTTOM - d.clamp(0.0, y_max) / y_max * (PANEL_HEIGHT - BOTTOM - TOP);
    let mut svg = String::new();
    let _ = write!(svg, r#"<text x="{LEFT}" y="{:.1}" font-size="15">{}</text>"#, top + 24.0, escape(&panel.title));
    for i in 0..=(y_max as usize) {
        let (d, x2) = (i as f64, WIDTH - RIGHT);
        let yd = y(d);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{yd:.1}" y2="{yd:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{d} m</text>"##,
            LEFT - 6.0,
            yd + 4.0
        );
    }
    let step = if seconds > 20.0 { 5.0 } else { 1.0 };
    let mut t = 0.0;
    while t <= seconds + 1e-9 {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{t} s</text>"#,
            x(t),
            top + PANEL_HEIGHT - BOTTOM + 18.0
        );
        t += step;
    }
    // The alarm distance's label under its line, the clear distance's above: apart when close.
    for (d, label, dy) in [(panel.alarm_below, "alarm below", 14.0), (panel.clear_above, "clear above", -4.0)] {
        let (x2, yd) = (WIDTH - RIGHT, y(d));
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{yd:.1}" y2="{yd:.1}" stroke="#c00" stroke-dasharray="4 4"/><text x="{:.1}" y="{:.1}" fill="#c00" text-anchor="end">{label} {d} m</text>"##,
            x2 - 4.0,
            yd + dy
        );
    }
    for (i, line) in panel.lines.iter().enumerate() {
        let (colour, dash) = line.style.stroke();
        let points: Vec<String> = line.points.iter().map(|(t, d)| format!("{:.1},{:.1}", x(*t), y(*d))).collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" {dash} points="{}"/>"#,
            points.join(" ")
        );
        let ly = top + PANEL_HEIGHT - BOTTOM + 38.0 + 15.0 * i as f64;
        let _ = write!(
            svg,
            r#"<line x1="{}" x2="{}" y1="{ly:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="2" {dash}/><text x="{}" y="{:.1}" fill="{colour}">{}</text>"#,
            LEFT,
            LEFT + 30.0,
            LEFT + 36.0,
            ly + 4.0,
            escape(&line.label)
        );
    }
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panel_per_rule_with_a_line_per_series() {
        let line = |style, points| Line { label: "a <b>".into(), style, points };
        let panel = |title: &str| Panel {
            title: title.into(),
            alarm_below: 1.5,
            clear_above: 1.8,
            lines: vec![
                line(Style::Truth, vec![(0.0, 3.0), (1.0, 1.0)]),
                line(Style::Run(Pass::Exact), vec![(0.0, 3.1)]),
                line(Style::Run(Pass::Model), vec![]),
            ],
        };
        let svg = plot(&[panel("dock"), panel("person")], 10.0);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains(&format!(r#"height="{}""#, 2.0 * PANEL_HEIGHT)));
        assert_eq!(svg.matches("<polyline").count(), 6);
        assert_eq!(svg.matches("a &lt;b&gt;").count(), 6, "labels escaped");
        assert!(svg.contains(">dock</text>") && svg.contains(">person</text>"));
    }
}

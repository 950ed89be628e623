//! The report's PNG: three horizontal bar charts, each bar green when its
//! target is met and red when not, with the target drawn as a black mark:
//! guest-level ours / QEMU (log scale), crate-level cost growth from the
//! small to the large size, and 1 -> 2 thread interrupt throughput.

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;
use serde_json::Value;

/// (label, value, target, whether lower is better)
type Bar = (String, f64, Option<f64>, bool);

fn register_font() -> Result<()> {
    for p in [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    ] {
        if let Ok(bytes) = std::fs::read(p) {
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| anyhow!("{p}: not a font"))?;
            return Ok(());
        }
    }
    Err(anyhow!("no DejaVuSans.ttf for the labels"))
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    bars: &[Bar],
    log: bool,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    if bars.is_empty() {
        area.titled(&format!("{title}: no data"), ("sans-serif", 20))
            .map_err(|e| anyhow!("{e}"))?;
        return Ok(());
    }
    let max = bars
        .iter()
        .flat_map(|b| [Some(b.1), b.2])
        .flatten()
        .fold(1.0f64, f64::max);
    let min = bars
        .iter()
        .flat_map(|b| [Some(b.1), b.2])
        .flatten()
        .fold(1.0f64, f64::min);
    let n = bars.len();
    let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    let mut b = ChartBuilder::on(area);
    b.caption(title, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(300);
    let style = |bar: &Bar| -> ShapeStyle {
        let met = bar
            .2
            .is_none_or(|t| if bar.3 { bar.1 <= t } else { bar.1 >= t });
        if bar.2.is_none() {
            BLUE.mix(0.6).filled()
        } else if met {
            GREEN.mix(0.7).filled()
        } else {
            RED.mix(0.7).filled()
        }
    };
    // A bar from `base`, and a thin black mark at the target.
    let shapes = |i: usize, bar: &Bar, base: f64| {
        let r = Rectangle::new(
            [
                (base, SegmentValue::Exact(i)),
                (bar.1.max(base), SegmentValue::Exact(i + 1)),
            ],
            style(bar),
        );
        let t = bar.2.map(|t| {
            Rectangle::new(
                [
                    (t * 0.99, SegmentValue::Exact(i)),
                    (t * 1.01, SegmentValue::Exact(i + 1)),
                ],
                BLACK.filled(),
            )
        });
        std::iter::once(r).chain(t)
    };
    let fmt_y = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    if log {
        let lo = (min / 2.0).max(1e-3);
        let mut chart = b
            .build_cartesian_2d((lo..max * 2.0).log_scale(), (0..n).into_segmented())
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .y_labels(n)
            .y_label_formatter(&fmt_y)
            .x_desc("ours / QEMU (log scale, lower is better)")
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        for (i, bar) in bars.iter().enumerate() {
            chart
                .draw_series(shapes(i, bar, lo))
                .map_err(|e| anyhow!("{e}"))?;
        }
    } else {
        let mut chart = b
            .build_cartesian_2d(0.0..max * 1.15, (0..n).into_segmented())
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .y_labels(n)
            .y_label_formatter(&fmt_y)
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        for (i, bar) in bars.iter().enumerate() {
            chart
                .draw_series(shapes(i, bar, 0.0))
                .map_err(|e| anyhow!("{e}"))?;
        }
    }
    Ok(())
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

/// Draws the PNG from the report document.
pub(crate) fn draw(path: &Path, doc: &Value) -> Result<()> {
    register_font()?;
    let guest: Vec<Bar> = doc["compare"]["workloads"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| {
            Some((
                w["metric"].as_str()?.to_string(),
                w["ratio"].as_f64()?,
                w["target"].as_f64(),
                true,
            ))
        })
        .chain(["downtime_ratio", "bytes_ratio"].iter().filter_map(|k| {
            Some((
                format!("migration {}", k.trim_end_matches("_ratio")),
                doc["compare"]["migration"][k].as_f64()?,
                None,
                true,
            ))
        }))
        .collect();
    let growth: Vec<Bar> = doc["growth"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| {
            let v = g["interleaved_growth"].as_f64().or(g["growth"].as_f64())?;
            Some((
                short(g["label"].as_str()?, 44),
                v,
                g["target"].as_f64(),
                true,
            ))
        })
        .collect();
    let scaling: Vec<Bar> = doc["scaling"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let v = s["cpu_x"].as_f64().or(s["wall_x"].as_f64())?;
            Some((short(s["label"].as_str()?, 44), v, Some(1.6), false))
        })
        .collect();
    let root = BitMapBackend::new(path, (1300, 1500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let h = [
        60 + 40 * guest.len().max(2) as u32,
        60 + 40 * growth.len().max(2) as u32,
        60 + 40 * scaling.len().max(2) as u32,
    ];
    let total: u32 = h.iter().sum();
    let scale = |x: u32| x * 1500 / total;
    let (a, rest) = root.split_vertically(scale(h[0]));
    let (b, c) = rest.split_vertically(scale(h[1]));
    panel(
        &a,
        "Guest level: ours / QEMU 7.2 TCG (target mark)",
        &guest,
        true,
    )?;
    panel(
        &b,
        "Crate level: cost growth small → large size (target 1.2x)",
        &growth,
        false,
    )?;
    panel(
        &c,
        "Scaling: 2-thread / 1-thread throughput, CPU time (target 1.6x)",
        &scaling,
        false,
    )?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

//! The report's PNG: three horizontal bar charts, each bar green when its
//! target is met and red when not, with the target drawn as a black mark:
//! guest-level ours / QEMU (log scale), crate-level cost growth from the
//! small to the large size, and 1 -> 2 thread interrupt throughput.

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::element::DynElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
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
    x_desc: &str,
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
    let values = || bars.iter().flat_map(|b| [Some(b.1), b.2]).flatten();
    let max = values().fold(1.0f64, f64::max);
    let min = values().filter(|v| *v > 0.0).fold(1.0f64, f64::min);
    let n = bars.len() as f64;
    let style = |bar: &Bar| -> ShapeStyle {
        let met = bar
            .2
            .is_none_or(|t| if bar.3 { bar.1 <= t } else { bar.1 >= t });
        if bar.2.is_none() {
            BLUE.mix(0.35).filled()
        } else if met {
            GREEN.mix(0.45).filled()
        } else {
            RED.mix(0.45).filled()
        }
    };
    // Bar i spans y in [i + 0.15, i + 0.85], from `base`; the target is a
    // black mark across it; the label sits on the bar's left, the value at
    // its end.
    let shapes = |i: usize, bar: &Bar, base: f64, mark: f64| {
        let y = i as f64;
        let mut v: Vec<DynElement<'static, DB, (f64, f64)>> =
            vec![
                Rectangle::new([(base, y + 0.15), (bar.1.max(base), y + 0.85)], style(bar))
                    .into_dyn(),
            ];
        if let Some(t) = bar.2 {
            v.push(
                Rectangle::new([(t / mark, y + 0.05), (t * mark, y + 0.95)], BLACK.filled())
                    .into_dyn(),
            );
        }
        v.push(
            Text::new(
                format!("{}  {:.3}", bar.0, bar.1),
                (base, y + 0.5),
                TextStyle::from(("sans-serif", 15).into_font())
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            )
            .into_dyn(),
        );
        v
    };
    let mut b = ChartBuilder::on(area);
    b.caption(title, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(5);
    if log {
        let lo = (min / 2.0).max(1e-3);
        let mut chart = b
            .build_cartesian_2d((lo..max * 2.0).log_scale(), 0.0..n)
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc(x_desc)
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        for (i, bar) in bars.iter().enumerate() {
            chart
                .draw_series(shapes(i, bar, lo, 1.01))
                .map_err(|e| anyhow!("{e}"))?;
        }
    } else {
        let mut chart = b
            .build_cartesian_2d(0.0..max * 1.15, 0.0..n)
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc(x_desc)
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        for (i, bar) in bars.iter().enumerate() {
            chart
                .draw_series(shapes(i, bar, 0.0, 1.004))
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
            let label = g["short"].as_str().or(g["label"].as_str())?;
            Some((short(label, 60), v, g["target"].as_f64(), true))
        })
        .collect();
    let scaling: Vec<Bar> = doc["scaling"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let v = s["cpu_x"].as_f64().or(s["wall_x"].as_f64())?;
            Some((short(s["label"].as_str()?, 60), v, Some(1.6), false))
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
        "Guest level: ours / QEMU 7.2 TCG, ratio of medians (black: target)",
        "ours / QEMU, log scale, lower is better (blue: no target set)",
        &guest,
        true,
    )?;
    panel(
        &b,
        "Crate level: cost at the large size / at the small size (black: 1.2x)",
        "growth, log scale, lower is better",
        &growth,
        true,
    )?;
    panel(
        &c,
        "Scaling: 2-thread / 1-thread interrupt throughput, thread CPU time (black: 1.6x)",
        "throughput ratio, higher is better",
        &scaling,
        false,
    )?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

//! The PNG of `huxley simulate`: voltage traces drawn with plotters into an RGB buffer, text
//! from an embedded font (DejaVu Sans; no system fonts needed), encoded with `png`.

use crate::simulate::Traces;
use crate::{CliError, CliResult};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use std::path::Path;
use std::sync::Once;

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 700;

static FONT: Once = Once::new();

/// Makes the embedded font plotters' "sans-serif".
fn register() {
    FONT.call_once(|| {
        // The bytes are a valid TrueType font shipped by the `dejavu` crate.
        let _ = register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    });
}

fn plot_err(e: impl std::fmt::Display) -> CliError {
    CliError(format!("cannot draw the plot: {e}"))
}

/// Draws `traces` (time in ms, voltages in mV) and writes a PNG to `path`.
pub fn draw(path: &Path, title: &str, traces: &Traces) -> CliResult<()> {
    register();
    let mut buffer = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let t_end = traces.t.last().copied().unwrap_or(1.0).max(1e-9);
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for row in &traces.v {
            for &v in row {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        if !(lo.is_finite() && hi.is_finite()) {
            (lo, hi) = (-80.0, 40.0);
        }
        let pad = ((hi - lo) * 0.05).max(1.0);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..t_end, (lo - pad)..(hi + pad))
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("time (ms)")
            .y_desc("membrane potential (mV)")
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(plot_err)?;
        for (r, label) in traces.labels.iter().enumerate() {
            let color = Palette99::pick(r).to_rgba();
            let points = traces.t.iter().zip(&traces.v).map(|(&t, row)| (t, row[r]));
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(plot_err)?
                .label(label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 16))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    write_png(path, &buffer)
}

fn write_png(path: &Path, rgb: &[u8]) -> CliResult<()> {
    let err = |e: &dyn std::fmt::Display| CliError(format!("cannot write {}: {e}", path.display()));
    let file = std::fs::File::create(path).map_err(|e| err(&e))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| err(&e))?;
    writer.write_image_data(rgb).map_err(|e| err(&e))?;
    writer.finish().map_err(|e| err(&e))
}

//! Compartment geometry of one branch: Jaxley's
//! `split_xyzr_into_equal_length_segments` and `morph_attrs_from_xyzr`
//! (`jaxley/utils/morph_attributes.py`), operation for operation.

use std::f64::consts::PI;
use std::ops::Range;

use super::CompGeometry;
use super::error::SwcError;
use super::numpy::{linspace_at, pairwise_sum};

/// Reusable buffers, so that reading a whole cell allocates per branch at most.
#[derive(Default)]
pub(crate) struct Scratch {
    cum: Vec<f64>,
    dists: Vec<f64>,
    a: Vec<f64>,
    b: Vec<f64>,
    halves: Vec<[f64; 4]>,
    half_ranges: Vec<Range<usize>>,
}

/// Radius, area, volume and the two resistive loads of one compartment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MorphAttrs {
    pub radius: f64,
    pub area: f64,
    pub volume: f64,
    pub load_in: f64,
    pub load_out: f64,
}

#[inline]
fn dist(p: &[f64; 4], q: &[f64; 4]) -> f64 {
    let dx = q[0] - p[0];
    let dy = q[1] - p[1];
    let dz = q[2] - p[2];
    ((dx * dx + dy * dy) + dz * dz).sqrt()
}

/// Splits `xyzr` into `ncomp` pieces of equal path length, inserting interpolated
/// points at the cuts. The pieces' points are appended to `out` one after another
/// (this concatenation is what Jaxley stores as the branch's `xyzr`), and their
/// ranges in `out` are appended to `ranges`.
pub(crate) fn split_equal_length(
    xyzr: &[[f64; 4]],
    ncomp: usize,
    out: &mut Vec<[f64; 4]>,
    ranges: &mut Vec<Range<usize>>,
    cum: &mut Vec<f64>,
    dists: &mut Vec<f64>,
) {
    let n = xyzr.len();
    if n == 1 {
        for _ in 0..ncomp {
            let s = out.len();
            out.push(xyzr[0]);
            ranges.push(s..s + 1);
        }
        return;
    }
    if n == 0 {
        return;
    }
    dists.clear();
    cum.clear();
    cum.push(0.0);
    let mut acc = 0.0;
    for w in xyzr.windows(2) {
        let d = dist(&w[0], &w[1]);
        dists.push(d);
        acc += d;
        cum.push(acc);
    }
    let total = cum[n - 1];
    let split_point = |t: f64| -> [f64; 4] {
        // searchsorted(cum, t, side="right") - 1, clipped to [0, n-2].
        let idx = cum
            .partition_point(|&c| c <= t)
            .saturating_sub(1)
            .min(n - 2);
        let local = t - cum[idx];
        let seg = if dists[idx] < 1e-14 {
            1e-14
        } else {
            dists[idx]
        };
        let frac = local / seg;
        let (p, q) = (&xyzr[idx], &xyzr[idx + 1]);
        [
            p[0] + frac * (q[0] - p[0]),
            p[1] + frac * (q[1] - p[1]),
            p[2] + frac * (q[2] - p[2]),
            p[3] + frac * (q[3] - p[3]),
        ]
    };
    let mut t_prev = linspace_at(0.0, total, ncomp + 1, 0);
    let mut prev = split_point(t_prev);
    for i in 1..=ncomp {
        let t = linspace_at(0.0, total, ncomp + 1, i);
        let next = split_point(t);
        let start = out.len();
        out.push(prev);
        // Original points strictly inside (t_prev, t).
        let lo = cum.partition_point(|&c| c <= t_prev);
        let hi = cum.partition_point(|&c| c < t);
        if lo < hi {
            out.extend_from_slice(&xyzr[lo..hi]);
        }
        out.push(next);
        ranges.push(start..out.len());
        t_prev = t;
        prev = next;
    }
}

/// Jaxley's `swc_resistive_load` of a piece (at least two points).
fn resistive_load(piece: &[[f64; 4]], terms: &mut Vec<f64>) -> f64 {
    terms.clear();
    for w in piece.windows(2) {
        let l = dist(&w[0], &w[1]);
        let (rs, re) = (w[0][3], w[1][3]);
        let dr = re - rs;
        // np.isclose(dr, 0): |dr| <= 1e-8 + 1e-5 * 0
        terms.push(if dr.abs() <= 1e-8 {
            l / (rs * rs)
        } else {
            (l / dr) * (1.0 / rs - 1.0 / re)
        });
    }
    pairwise_sum(terms) / PI
}

/// Jaxley's `morph_attrs_from_xyzr` for one compartment's points. `Err(radius)` when
/// the radius is not positive and `min_radius` is `None` (Jaxley asserts there).
pub(crate) fn morph_attrs(
    piece: &[[f64; 4]],
    min_radius: Option<f64>,
    ncomp: usize,
    s: &mut Scratch,
) -> Result<MorphAttrs, f64> {
    let n = piece.len();
    let nc = ncomp as f64;
    let (mut radius, area, volume, load_in, load_out);
    if n > 1 {
        // Length-weighted radius.
        s.a.clear();
        s.a.resize(n, 0.0);
        for k in 0..n - 1 {
            let l = dist(&piece[k], &piece[k + 1]);
            s.a[k + 1] += l;
        }
        for k in 0..n - 1 {
            let l = dist(&piece[k], &piece[k + 1]);
            s.a[k] += l;
        }
        let total = pairwise_sum(&s.a);
        s.b.clear();
        s.b.extend(piece.iter().zip(&s.a).map(|(p, w)| p[3] * (w / total)));
        radius = pairwise_sum(&s.b);
        // Frustum areas and volumes.
        s.a.clear();
        s.b.clear();
        for w in piece.windows(2) {
            let l = dist(&w[0], &w[1]);
            let (rs, re) = (w[0][3], w[1][3]);
            let dr = re - rs;
            s.a.push(PI * (rs + re) * (dr * dr + l * l).sqrt());
            s.b.push((PI / 3.0) * l * ((rs * rs + rs * re) + re * re));
        }
        area = pairwise_sum(&s.a);
        volume = pairwise_sum(&s.b);
        // Resistive loads of the proximal and distal halves.
        s.halves.clear();
        s.half_ranges.clear();
        split_equal_length(
            piece,
            2,
            &mut s.halves,
            &mut s.half_ranges,
            &mut s.cum,
            &mut s.dists,
        );
        let (h0, h1) = (s.half_ranges[0].clone(), s.half_ranges[1].clone());
        load_in = resistive_load(&s.halves[h0], &mut s.a);
        load_out = resistive_load(&s.halves[h1], &mut s.a);
    } else {
        let r = piece[0][3];
        radius = r;
        area = 4.0 * PI * (r * r) / nc;
        volume = 4.0 / 3.0 * PI * r.powf(3.0) / nc;
        let length = r / nc;
        load_in = length / (r * r) / PI;
        load_out = load_in;
    }
    match min_radius {
        None => {
            // Also catches NaN (Jaxley: `assert avg_radius > 0.0`).
            if radius.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                return Err(radius);
            }
        }
        Some(m) => {
            if radius < m || radius.is_nan() {
                radius = m;
            }
        }
    }
    Ok(MorphAttrs {
        radius,
        area,
        volume,
        load_in,
        load_out,
    })
}

/// Path length of a piece and the point halfway along it.
fn length_and_midpoint(piece: &[[f64; 4]], ncomp: usize) -> (f64, [f64; 3]) {
    if piece.len() == 1 {
        let p = piece[0];
        return (2.0 * p[3] / ncomp as f64, [p[0], p[1], p[2]]);
    }
    let total: f64 = piece.windows(2).map(|w| dist(&w[0], &w[1])).sum();
    let half = 0.5 * total;
    let mut acc = 0.0;
    for w in piece.windows(2) {
        let d = dist(&w[0], &w[1]);
        if acc + d >= half && d > 0.0 {
            let f = (half - acc) / d;
            let c = |k: usize| w[0][k] + f * (w[1][k] - w[0][k]);
            return (total, [c(0), c(1), c(2)]);
        }
        acc += d;
    }
    let p = piece[0];
    (total, [p[0], p[1], p[2]])
}

/// Splits one branch's traced points into `ncomp` compartments of equal path length
/// and computes their geometry, as Jaxley does for SWC branches (also in
/// `set_ncomp`). Compartment 0 is at `xyzr[0]`.
///
/// `radius`, `area`, `volume` and the resistive loads are Jaxley's. Jaxley takes
/// `length` and `center` from elsewhere (the SWC path length, resp. the traced
/// samples), so here they are only the piece's Euclidean path length (for a
/// single-point branch the sphere-equivalent `2r/ncomp`) and the point halfway along
/// it. To reproduce `set_ncomp`, set every length to the branch's previous total
/// length divided by `ncomp`, as Jaxley does.
pub fn compartmentalize(
    xyzr: &[[f64; 4]],
    ncomp: usize,
    min_radius: Option<f64>,
) -> Result<Vec<CompGeometry>, SwcError> {
    super::check_ncomp(ncomp)?;
    if xyzr.is_empty() {
        return Err(SwcError::EmptyBranch);
    }
    let mut scratch = Scratch::default();
    let mut points = Vec::with_capacity(xyzr.len() + 2 * ncomp);
    let mut ranges = Vec::with_capacity(ncomp);
    let (mut cum, mut dists) = (Vec::new(), Vec::new());
    split_equal_length(xyzr, ncomp, &mut points, &mut ranges, &mut cum, &mut dists);
    let mut comps = Vec::with_capacity(ncomp);
    for (k, range) in ranges.into_iter().enumerate() {
        let piece = &points[range];
        let m = morph_attrs(piece, min_radius, ncomp, &mut scratch).map_err(|radius| {
            SwcError::DegenerateCompartment {
                branch: 0,
                comp: k,
                radius,
            }
        })?;
        let (length, center) = length_and_midpoint(piece, ncomp);
        comps.push(CompGeometry {
            radius: m.radius,
            length,
            area: m.area,
            volume: m.volume,
            resistive_load_in: m.load_in,
            resistive_load_out: m.load_out,
            center,
        });
    }
    Ok(comps)
}

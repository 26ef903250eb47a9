//! Spike detection on recorded voltages.

/// Times (ms) at which `trace` (sampled every `dt` ms, first sample at t = 0) crosses
/// `threshold` upwards, linearly interpolated between the two samples around each crossing.
///
/// ```
/// let v = [-70.0, -20.0, 30.0, 10.0, -60.0, 0.0];
/// let t = huxley::spike_times(&v, 0.0, 0.5);
/// assert_eq!(t.len(), 2);
/// assert!((t[0] - 0.7).abs() < 1e-12); // between 0.5 ms (−20) and 1.0 ms (30)
/// assert!((t[1] - 2.5).abs() < 1e-12); // reaches 0 exactly at the last sample
/// ```
pub fn spike_times(trace: &[f64], threshold: f64, dt: f64) -> Vec<f64> {
    trace
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < threshold && w[1] >= threshold)
        .map(|(k, w)| (k as f64 + (threshold - w[0]) / (w[1] - w[0])) * dt)
        .collect()
}

/// Number of upward threshold crossings of `trace`.
pub fn spike_count(trace: &[f64], threshold: f64) -> usize {
    trace
        .windows(2)
        .filter(|w| w[0] < threshold && w[1] >= threshold)
        .count()
}

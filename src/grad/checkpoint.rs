//! Where the backward sweep keeps states: every k-th state of the forward run is stored, and the
//! states inside each segment of k steps are recomputed from it during the sweep.

use super::Checkpointing;
use crate::error::{Error, Result};

/// The segment length k for `steps` steps and states of `state_bytes` bytes. The sweep holds at
/// most `ceil(steps / k) + k − 1` states.
pub(crate) fn segment_len(cp: Checkpointing, steps: usize, state_bytes: usize) -> Result<usize> {
    let steps = steps.max(1);
    let sqrt = (steps as f64).sqrt().ceil() as usize;
    let held = |k: usize| steps.div_ceil(k) + k - 1;
    Ok(match cp {
        Checkpointing::All => 1,
        Checkpointing::Every(0) => {
            return Err(Error::InvalidValue {
                name: "Checkpointing::Every".into(),
                value: 0.0,
                requirement: "at least 1",
                location: "value_and_grad".into(),
            });
        }
        Checkpointing::Every(k) => k.min(steps),
        Checkpointing::Auto => sqrt.max(1),
        Checkpointing::MemoryBudget { bytes } => {
            let fit = bytes / state_bytes.max(1);
            // The smallest k (least recomputation) that fits; if none does, the least memory.
            (1..=steps)
                .find(|&k| held(k) <= fit)
                .unwrap_or_else(|| (1..=steps).min_by_key(|&k| held(k)).unwrap_or(1))
        }
    })
}

/// The most states the sweep holds with segments of `k` steps.
pub(crate) fn held_states(steps: usize, k: usize) -> usize {
    steps.div_ceil(k) + k - 1
}

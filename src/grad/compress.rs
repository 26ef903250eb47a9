//! Fewer dual-number passes for mechanisms whose states update independently (see
//! [`Compression`]).

use super::passes::{PassSeed, mechanisms_reached};
use crate::compile::Compiled;
use crate::dynamics::DynamicStateUtils;
use std::ops::Range;

/// A pass that differentiates through the currents alone: its mechanism's states start at their
/// updated values, taken from the diagonal pass, and no update runs. For a state seed the
/// derivative parts of the seeded entries are the diagonal pass's, `∂x'/∂x` per node, so the
/// pass's outputs are those of the whole pass seeded before the update.
#[derive(Clone, Debug)]
pub(crate) struct AfterUpdate {
    /// Ranges of `states.data` (the mechanism's state keys) whose values are taken from the
    /// diagonal pass.
    pub copy: Vec<Range<usize>>,
    /// Whether the seed is a state (derivative parts from the diagonal pass) rather than a
    /// parameter (seeded in the parameters).
    pub state_seed: bool,
}

/// Compression of the passes through mechanisms with independent states
/// ([`crate::mechanisms::Mechanism::INDEPENDENT_STATES`]): one *diagonal* pass seeds all their
/// states at once and runs only their updates, which gives every `∂x'/∂x` per node (each
/// update reads only its own state); the passes of those states, and of parameters that only
/// the currents read, then run only their mechanism's current, starting after the updates. A
/// Hodgkin–Huxley cell's three gates then cost one update pass and three current passes instead
/// of three whole passes.
pub(crate) struct Compression {
    /// Per seed (as given to [`compress`]): `Some` if its pass starts after the updates.
    pub after_update: Vec<Option<AfterUpdate>>,
    /// The diagonal pass's seeded flat-state entries and which mechanisms' updates it runs
    /// (`None`: no pass starts after the updates, so no diagonal pass).
    pub diagonal: Option<(Vec<usize>, Vec<bool>)>,
}

/// Which passes of `seeds` can start after the updates (see [`Compression`]). A seed qualifies
/// if it reaches exactly one mechanism, a channel with independent states none of which is
/// clamped, and is one of its states or a parameter its update does not read.
pub(crate) fn compress(c: &Compiled, utils: &DynamicStateUtils, seeds: &[PassSeed]) -> Compression {
    let none = || Compression {
        after_update: vec![None; seeds.len()],
        diagonal: None,
    };
    if c.sets_voltage {
        return none();
    }
    let clamped: Vec<usize> = c
        .externals
        .series
        .iter()
        .filter(|s| s.key_id != usize::MAX)
        .map(|s| c.states.offset(s.key_id))
        .collect();
    let key_of_off = |off: usize| c.states.key_at(off).expect("a state key");
    let owner: Vec<bool> = c
        .mechs
        .iter()
        .map(|m| {
            let info = m.mech.info();
            info.independent_states
                && m.target == 0
                && !m.state_off.iter().any(|o| clamped.contains(o))
        })
        .collect();
    let mut diag_idx = Vec::new();
    let mut after_update = Vec::with_capacity(seeds.len());
    for seed in seeds {
        let only = match mechanisms_reached(c, utils, seed) {
            Some(on) if on.iter().filter(|&&x| x).count() == 1 => on.iter().position(|&x| x),
            _ => None,
        };
        let au = only.filter(|&mi| owner[mi]).and_then(|mi| {
            let m = &c.mechs[mi];
            let state_seed = match seed {
                PassSeed::NodeState(k, _) => m
                    .state_off
                    .contains(&c.states.offset(utils.layout.all_key[*k])),
                _ => false,
            };
            let param_seed =
                matches!(seed, PassSeed::NodeParam(_)) && !m.mech.info().update_reads_params;
            (state_seed || param_seed).then(|| AfterUpdate {
                copy: m
                    .state_off
                    .iter()
                    .map(|&o| c.states.range(key_of_off(o)))
                    .collect(),
                state_seed,
            })
        });
        if let (Some(a), PassSeed::NodeState(_, r)) = (&au, seed)
            && a.state_seed
        {
            diag_idx.extend(r.clone());
        }
        after_update.push(au);
    }
    if after_update.iter().all(Option::is_none) {
        return none();
    }
    Compression {
        after_update,
        diagonal: Some((diag_idx, owner)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::*;

    /// Which passes start after the updates: states and current-only parameters of channels
    /// with independent states, not the voltage, pumps, ion states, parameters an update reads,
    /// or the states of a channel with a clamped state.
    #[test]
    fn compression_takes_independent_channels_only() -> Result<()> {
        let build = |clamp_k: bool| -> Result<Cell> {
            let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
            cell.insert(Leak)?.insert(Na)?.insert(K)?.insert(CaL)?;
            cell.branch(0)?.insert(CaPump)?;
            cell.insert(CaNernstReversal)?;
            if clamp_k {
                cell.branch(1)?.comp(0)?.clamp("K_n", &[0.3; 4])?;
            }
            Ok(cell)
        };
        for clamp_k in [false, true] {
            let cell = build(clamp_k)?;
            let utils = build_dynamic_state_utils(&cell)?;
            let (c, dl) = (utils.c.clone(), &utils.layout);
            let state = |key: &str| {
                let k = dl.keys.iter().position(|x| x == key).expect(key);
                PassSeed::NodeState(k, dl.range(k))
            };
            let param =
                |key: &str| PassSeed::NodeParam(c.params.range(c.params.position(key).expect(key)));
            let seeds = [
                state("Na_h"),
                state("K_n"),
                state("v"),
                state("CaL_q"),
                state("CaCon_i"),
                param("Leak_gLeak"),
                param("Na_gNa"),
                param("CaL_gCaL"),
                param("K_gK"),
            ];
            let comp = compress(&c, &utils, &seeds);
            let after: Vec<Option<bool>> = comp
                .after_update
                .iter()
                .map(|a| a.as_ref().map(|a| a.state_seed))
                .collect();
            let k_after = if clamp_k { None } else { Some(true) };
            // Na and K read their parameter `vt` in their updates, so `Na_gNa` and `K_gK` need
            // the whole pass.
            assert_eq!(
                after,
                [
                    Some(true),
                    k_after,
                    None,
                    Some(true),
                    None,
                    Some(false),
                    None,
                    Some(false),
                    None
                ]
            );
            let (idx, updates) = comp.diagonal.expect("a diagonal pass");
            let mut expected: Vec<usize> = ["Na_h", "CaL_q"]
                .iter()
                .chain(if clamp_k { &[][..] } else { &["K_n"][..] })
                .flat_map(|k| dl.range(dl.keys.iter().position(|x| x == k).expect(k)))
                .collect();
            expected.sort_unstable();
            let mut idx = idx;
            idx.sort_unstable();
            assert_eq!(idx, expected);
            // Leak, Na, K, CaL, CaPump, CaNernstReversal.
            assert_eq!(updates, [true, true, !clamp_k, true, false, false]);
        }
        Ok(())
    }
}

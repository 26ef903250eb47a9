//! Checkpoints rebuilt from their voltages on the forward run's second thread (see
//! [`super::store`]): for models whose states other than the voltages each update from
//! themselves and the voltages alone, the stepping thread hands over only the voltages, and the
//! second thread advances the other states with the step's own update kernels.

use super::local::{LocalVjp, Wanted};
use super::store::Rebuild;
use crate::compile::Compiled;
use crate::dynamics::DynamicStateUtils;
use crate::state::{AllParams, AllStates, Workspace};
use crate::step;

/// A state of the model on the second thread, advanced by the mechanisms' updates alone.
pub(crate) struct Updates<'a> {
    c: &'a Compiled,
    utils: &'a DynamicStateUtils,
    params: &'a AllParams<f64>,
    dt: f64,
    /// The flat state's key `v`.
    kv: usize,
    s: AllStates<f64>,
    ws: Workspace<f64>,
}

impl<'a> Updates<'a> {
    /// For the model of `utils`, with the states `s` (its values other than the dynamic states
    /// are kept: what the updates read of them stays as it is), if every dynamic state other
    /// than `v` belongs to a mechanism whose update reads only its own states, the voltages and
    /// its parameters (the models the local reverse mode covers, see [`LocalVjp`]).
    pub(crate) fn new(
        utils: &'a DynamicStateUtils,
        params: &'a AllParams<f64>,
        mut s: AllStates<f64>,
        dt: f64,
    ) -> Option<Updates<'a>> {
        let c = &utils.c;
        let kv = utils.layout.key("v")?;
        LocalVjp::new(c, utils, kv, Wanted::default())?;
        let ws = step::take_workspace(c, &mut s);
        Some(Updates {
            c,
            utils,
            params,
            dt,
            kv,
            s,
            ws,
        })
    }
}

impl Rebuild for Updates<'_> {
    fn load(&mut self, x: &[f64]) {
        self.utils.layout.scatter_all(x, &mut self.s.data);
    }

    fn advance(&mut self, v: &[f64]) {
        step::update_states(self.c, &mut self.s, self.params, self.dt, &mut self.ws);
        let dl = &self.utils.layout;
        let r = dl.states.range(dl.all_key[self.kv]);
        dl.scatter_key(self.kv, v, &mut self.s.data[r]);
    }

    fn for_each_run(&self, f: &mut dyn FnMut(&[f64])) {
        self.utils.all_runs(&self.s).for_each(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::*;

    /// Advanced from the first state and the voltages alone, the states are the stepped ones to
    /// the last bit, step after step (HH and Pospischil's channels on parts of a cell, with a
    /// current step); models with other states are not rebuilt.
    #[test]
    fn updates_rebuild_the_stepped_states_exactly() -> Result<()> {
        let mut cell = Cell::new(&Branch::new(&Compartment::new(), 4)?, &[-1, 0, 0, 1])?;
        cell.branch(0)?.insert(HH)?;
        cell.branch(1)?.insert(Na)?.insert(K)?.insert(Leak)?;
        cell.branch(2)?.insert(HH)?.insert(Km)?.insert(CaL)?;
        cell.branch(3)?.insert(CaT)?;
        cell.branch(0)?
            .comp(0)?
            .stimulate(&step_current(0.5, 3.0, 0.3, 0.025, 10.0, 0.0));
        cell.branch(3)?.comp(3)?.record("v")?;
        let (init_fn, step_fn) =
            build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler)?;
        let utils = DynamicStateUtils::for_step_fn(&step_fn);
        let (mut s, p) = init_fn.init::<f64>(&[], None, None, 0.025)?;
        let mut rebuilt = Updates::new(&utils, &p, s.clone(), 0.025).expect("covered");
        let flat = |runs: &mut dyn Iterator<Item = &[f64]>| runs.flatten().copied().collect();
        let opts = IntegrateOptions {
            t_max: Some(10.0),
            ..Default::default()
        };
        let (_, ext) = crate::integrate::plan_steps(&init_fn.compiled().externals, &opts)?;
        let kv = utils.layout.key("v").expect("v");
        let x0: Vec<f64> = flat(&mut utils.flat_runs(&s)?);
        rebuilt.load(&x0);
        let mut spiked = false;
        for t in 0..400 {
            step_fn.step(&mut s, &p, ext.at(t), 0.025)?;
            let v: Vec<f64> = flat(&mut utils.key_runs(kv, &s));
            rebuilt.advance(&v);
            let want: Vec<f64> = flat(&mut utils.flat_runs(&s)?);
            let mut got = Vec::new();
            rebuilt.for_each_run(&mut |r| got.extend_from_slice(r));
            assert_eq!(got, want, "step {t}");
            spiked |= v.iter().any(|&v| v > 0.0);
        }
        assert!(spiked, "the states went through a spike");
        // A pump's ion concentration updates from its current: not rebuilt.
        cell.branch(3)?.insert(CaPump)?;
        let (init_fn, step_fn) =
            build_init_and_step_fn(&cell, VoltageSolver::Hines, Solver::BwdEuler)?;
        let utils = DynamicStateUtils::for_step_fn(&step_fn);
        let (s, p) = init_fn.init::<f64>(&[], None, None, 0.025)?;
        assert!(Updates::new(&utils, &p, s, 0.025).is_none());
        Ok(())
    }
}

//! Step: the voltage solvers.
//!
//! Every solver advances the membrane voltage of all nodes by one time step, given the
//! linearised membrane currents (`lin`, `cst`, already divided by the capacitance) and the axial
//! conductances. [`hines`] is an O(N) elimination on the tree in an order computed once;
//! [`sparse_lu`] hands the same system to faer's sparse LU; [`explicit`] is forward Euler and
//! [`exp_euler`] the exponential (Lie–Trotter) scheme.

pub mod dense;
pub mod exp_euler;
pub mod explicit;
mod faer_lu;
pub mod hines;
pub mod sparse_lu;

/// Time-stepping scheme for the voltage (Jaxley's `solver`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Solver {
    /// Backward (implicit) Euler: first order, unconditionally stable. The default.
    #[default]
    BwdEuler,
    /// Crank–Nicolson: an implicit half step, then `v = 2 v_half − v_old`. Second order where
    /// the solution is smooth; stiff modes excited by a current step are not damped.
    CrankNicolson,
    /// Forward (explicit) Euler: conditionally stable.
    FwdEuler,
    /// Exponential Euler: channels by exponential Euler, then the cable by the matrix
    /// exponential of the conductance matrix with branchpoints eliminated (dense; small cells).
    ExpEuler,
}

/// Linear solver for the implicit schemes (Jaxley's `voltage_solver`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VoltageSolver {
    /// O(N) Hines elimination on the tree (children before parents, level-interleaved). The
    /// default.
    #[default]
    Hines,
    /// faer's sparse LU: symbolic factorisation once, numeric factorisation every step.
    SparseLu,
}

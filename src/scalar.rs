//! The scalar types the step is generic over.
//!
//! Every mechanism and the whole step are written once, generic over [`Scalar`]. Plain `f64`
//! runs simulations at full speed; [`Dual64`] (forward-mode dual numbers from `num-dual`) pushes
//! derivatives through exactly the same code, which is how Jacobian–vector products and
//! forward-mode gradients are computed.
//!
//! The trait is sealed: the library dispatches mechanism kernels once per mechanism and step on the
//! concrete scalar type, so it must know every implementation.

use crate::math;
use crate::mechanisms::driver::{CurrentArgs, DynMechanism, UpdateArgs};
use crate::synapses::driver::{DynSynapse, SynCurrentArgs, SynPreAffineArgs, SynUpdateArgs};
use nalgebra::RealField;
pub use num_dual::Dual64;
use std::fmt::Debug;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f64 {}
    impl Sealed for num_dual::Dual64 {}
}

/// A real scalar the simulation can run on: `f64` or [`Dual64`].
///
/// Mechanism code uses the ordinary arithmetic operators plus the functions of [`crate::math`]
/// (`exp`, `save_exp`, `ln`, `vtrap`, `efun`, …), which call the methods below. The real part of
/// a dual number is computed with exactly the same operations as the `f64` value, so a
/// forward-mode run reproduces the `f64` trajectory bit for bit.
pub trait Scalar:
    RealField + Copy + From<f64> + Send + Sync + Debug + 'static + sealed::Sealed
{
    /// The real part (the value itself for `f64`).
    fn re(self) -> f64;
    /// `e^x` with the library's branch-free polynomial (≤ 1 ulp from the correctly rounded value
    /// on `[-708, 709]`; 0 below, +∞ above; NaN stays NaN).
    fn exp_fast(self) -> Self;
    /// `e^min(x, 20)` (Jaxley's `save_exp`) with the same polynomial as [`Scalar::exp_fast`].
    fn save_exp_fast(self) -> Self;
    /// Natural logarithm.
    fn ln_fast(self) -> Self;
    /// `true` if the value (and for dual numbers every derivative part) is finite.
    fn all_finite(self) -> bool;
    /// `true` if both values are equal in every part (for dual numbers: value and derivative).
    fn same(self, other: Self) -> bool;
    /// Converts between the supported scalar types: `f64 → Dual64` has a zero derivative,
    /// `Dual64 → f64` keeps the real part.
    fn lift<U: Scalar>(u: U) -> Self;
    #[doc(hidden)]
    fn run_update(m: &dyn DynMechanism, args: &mut UpdateArgs<'_, Self>, init: bool);
    #[doc(hidden)]
    fn run_current(m: &dyn DynMechanism, args: &mut CurrentArgs<'_, Self>);
    #[doc(hidden)]
    fn run_syn_pre_affine(y: &dyn DynSynapse, args: &mut SynPreAffineArgs<'_, Self>);
    #[doc(hidden)]
    fn run_syn_update(y: &dyn DynSynapse, args: &mut SynUpdateArgs<'_, Self>);
    #[doc(hidden)]
    fn run_syn_current(y: &dyn DynSynapse, args: &mut SynCurrentArgs<'_, Self>);
}

impl Scalar for f64 {
    #[inline(always)]
    fn re(self) -> f64 {
        self
    }
    #[inline(always)]
    fn exp_fast(self) -> Self {
        math::exp_f64(self)
    }
    #[inline(always)]
    fn save_exp_fast(self) -> Self {
        math::save_exp_f64(self)
    }
    #[inline(always)]
    fn ln_fast(self) -> Self {
        self.ln()
    }
    #[inline(always)]
    fn all_finite(self) -> bool {
        self.is_finite()
    }
    #[inline(always)]
    fn same(self, other: Self) -> bool {
        self == other
    }
    #[inline(always)]
    fn lift<U: Scalar>(u: U) -> Self {
        u.re()
    }
    fn run_update(m: &dyn DynMechanism, args: &mut UpdateArgs<'_, f64>, init: bool) {
        m.update_f64(args, init)
    }
    fn run_current(m: &dyn DynMechanism, args: &mut CurrentArgs<'_, f64>) {
        m.current_f64(args)
    }
    fn run_syn_pre_affine(y: &dyn DynSynapse, args: &mut SynPreAffineArgs<'_, f64>) {
        y.pre_affine_f64(args)
    }
    fn run_syn_update(y: &dyn DynSynapse, args: &mut SynUpdateArgs<'_, f64>) {
        y.update_f64(args)
    }
    fn run_syn_current(y: &dyn DynSynapse, args: &mut SynCurrentArgs<'_, f64>) {
        y.current_f64(args)
    }
}

impl Scalar for Dual64 {
    #[inline(always)]
    fn re(self) -> f64 {
        self.re
    }
    #[inline(always)]
    fn exp_fast(self) -> Self {
        let e = math::exp_f64(self.re);
        Dual64::new(e, self.eps * e)
    }
    #[inline(always)]
    fn save_exp_fast(self) -> Self {
        let e = math::save_exp_f64(self.re);
        // d/dx e^min(x, 20) is 0 above the clip.
        Dual64::new(e, if self.re > 20.0 { 0.0 } else { self.eps * e })
    }
    #[inline(always)]
    fn ln_fast(self) -> Self {
        Dual64::new(self.re.ln(), self.eps / self.re)
    }
    #[inline(always)]
    fn all_finite(self) -> bool {
        self.re.is_finite() && self.eps.is_finite()
    }
    #[inline(always)]
    fn same(self, other: Self) -> bool {
        self.re == other.re && self.eps == other.eps
    }
    #[inline(always)]
    fn lift<U: Scalar>(u: U) -> Self {
        match (&u as &dyn std::any::Any).downcast_ref::<Dual64>() {
            Some(d) => *d,
            None => Dual64::from(u.re()),
        }
    }
    fn run_update(m: &dyn DynMechanism, args: &mut UpdateArgs<'_, Dual64>, init: bool) {
        m.update_dual(args, init)
    }
    fn run_current(m: &dyn DynMechanism, args: &mut CurrentArgs<'_, Dual64>) {
        m.current_dual(args)
    }
    fn run_syn_pre_affine(y: &dyn DynSynapse, args: &mut SynPreAffineArgs<'_, Dual64>) {
        y.pre_affine_dual(args)
    }
    fn run_syn_update(y: &dyn DynSynapse, args: &mut SynUpdateArgs<'_, Dual64>) {
        y.update_dual(args)
    }
    fn run_syn_current(y: &dyn DynSynapse, args: &mut SynCurrentArgs<'_, Dual64>) {
        y.current_dual(args)
    }
}

/// Converts an `f64` constant into the scalar type (shorthand for `T::from(x)`).
#[inline(always)]
pub fn c<T: Scalar>(x: f64) -> T {
    T::from(x)
}

//! Bit-faithful versions of the few numpy / jax.numpy primitives that Jaxley's SWC
//! reader uses, so that our sums round exactly as Jaxley's do.

/// `np.sum` of a contiguous float64 array: numpy's pairwise summation (blocks of at
/// most 128 summed with 8 accumulators, shorter than 8 summed in order).
pub(crate) fn pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0;
        for &x in a {
            res += x;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - (n % 8) {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

/// Element `k` of `np.linspace(start, stop, num)` (endpoint included).
pub(crate) fn linspace_at(start: f64, stop: f64, num: usize, k: usize) -> f64 {
    let div = num.saturating_sub(1);
    let delta = stop - start;
    let y = if div > 0 {
        if num > 1 && k == num - 1 {
            return stop;
        }
        let step = delta / div as f64;
        if step == 0.0 {
            (k as f64 / div as f64) * delta
        } else {
            k as f64 * step
        }
    } else {
        k as f64 * delta
    };
    y + start
}

/// numpy's float `floor_divide` (`a // b`), including its rounding fix-up.
pub(crate) fn floor_divide(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        return a / b;
    }
    let mut m = a % b; // C fmod
    let mut div = (a - m) / b;
    if m != 0.0 {
        if (b < 0.0) != (m < 0.0) {
            m += b;
            div -= 1.0;
        }
    } else {
        m = 0.0f64.copysign(b);
    }
    let _ = m;
    if div != 0.0 {
        let mut fl = div.floor();
        if div - fl > 0.5 {
            fl += 1.0;
        }
        fl
    } else {
        0.0f64.copysign(a / b)
    }
}

/// `jnp.interp(x, xp, fp)` for one point (constant extrapolation, `xp` sorted).
pub(crate) fn interp(x: f64, xp: &[f64], fp: &[f64]) -> f64 {
    let n = xp.len();
    if n == 0 {
        return f64::NAN;
    }
    if n == 1 {
        return fp[0];
    }
    // searchsorted(side="right"), clipped to [1, n-1].
    let i = xp.partition_point(|&v| v <= x).clamp(1, n - 1);
    let df = fp[i] - fp[i - 1];
    let dx = xp[i] - xp[i - 1];
    let delta = x - xp[i - 1];
    // np.spacing(np.finfo(float64).eps)
    let epsilon = f64::EPSILON * f64::EPSILON;
    let mut f = if dx.abs() <= epsilon {
        fp[i - 1]
    } else {
        fp[i - 1] + (delta / dx) * df
    };
    if x < xp[0] {
        f = fp[0];
    }
    if x > xp[n - 1] {
        f = fp[n - 1];
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_matches_numpy_order() {
        // np.sum(np.array([0.1*k + 1.0/(k+1) for k in range(N)])) in numpy 2.4, and
        // the plain left-to-right sum, which differs for N >= 20.
        for (n, numpy, naive) in [
            (5, 3.2833333333333337, 3.2833333333333337),
            (20, 22.59773965714368, 22.597739657143684),
            (130, 843.9485913382658, 843.9485913382662),
            (300, 4491.2826638803, 4491.282663880303),
            (1000, 49957.485470860556, 49957.485470860585),
        ] {
            let a: Vec<f64> = (0..n)
                .map(|k| 0.1 * k as f64 + 1.0 / (k as f64 + 1.0))
                .collect();
            assert_eq!(pairwise_sum(&a), numpy, "n = {n}");
            assert_eq!(a.iter().fold(0.0, |s, x| s + x), naive, "n = {n}");
        }
    }

    #[test]
    fn linspace_and_floor_divide() {
        assert_eq!(linspace_at(0.0, 1.0, 3, 1), 0.5);
        assert_eq!(linspace_at(0.0, 1.0, 3, 2), 1.0);
        assert_eq!(linspace_at(2.5, 2.5, 1, 0), 2.5);
        assert_eq!(floor_divide(7.0, 2.0), 3.0);
        assert_eq!(floor_divide(0.3, 0.1), 2.0); // numpy: 0.3 // 0.1 == 2.0
        assert_eq!(floor_divide(-1.0, 3.0), -1.0);
    }

    #[test]
    fn interp_clamps_and_skips_zero_steps() {
        let xp = [0.0, 0.0, 2.0];
        let fp = [5.0, 1.0, 3.0];
        assert_eq!(interp(1.0, &xp, &fp), 2.0);
        assert_eq!(interp(-1.0, &xp, &fp), 5.0);
        assert_eq!(interp(3.0, &xp, &fp), 3.0);
        assert_eq!(interp(0.0, &xp, &fp), 1.0);
    }
}

//! A small, seedable pseudo-random generator (xoshiro256** seeded by SplitMix64), so that random
//! connectivity is reproducible on every platform without extra dependencies.

/// xoshiro256** (Blackman & Vigna), seeded from a `u64` by SplitMix64.
#[derive(Clone, Debug)]
pub(crate) struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            x ^ (x >> 31)
        };
        Rng {
            s: [next(), next(), next(), next()],
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in (0, 1].
    pub fn uniform_open0(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `0..n` (Lemire's method, unbiased). `n > 0`.
    pub fn below(&mut self, n: u64) -> u64 {
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = self.next_u64() as u128 * n as u128;
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// A draw from Binomial(`n`, `p`), by skipping over failures with geometric jumps (exact;
    /// O(n·min(p, 1 − p)) work).
    pub fn binomial(&mut self, n: u64, p: f64) -> u64 {
        if n == 0 || p <= 0.0 {
            return 0;
        }
        if p >= 1.0 {
            return n;
        }
        if p > 0.5 {
            return n - self.binomial(n, 1.0 - p);
        }
        let log_q = (-p).ln_1p();
        let mut count = 0u64;
        let mut pos: f64 = -1.0;
        loop {
            let skip = (self.uniform_open0().ln() / log_q).floor();
            pos += skip + 1.0;
            if pos >= n as f64 {
                return count;
            }
            count += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn binomial_mean_is_right() {
        let mut rng = Rng::new(7);
        let (n, p) = (10_000u64, 0.003);
        let draws = 2000;
        let mean: f64 = (0..draws).map(|_| rng.binomial(n, p) as f64).sum::<f64>() / draws as f64;
        assert!((mean - 30.0).abs() < 0.6, "mean {mean}");
        let mean_hi: f64 = (0..draws)
            .map(|_| rng.binomial(100, 0.9) as f64)
            .sum::<f64>()
            / draws as f64;
        assert!((mean_hi - 90.0).abs() < 0.3, "mean {mean_hi}");
    }

    #[test]
    fn below_is_in_range_and_seeded() {
        let mut a = Rng::new(1);
        let mut b = Rng::new(1);
        for _ in 0..1000 {
            let x = a.below(13);
            assert!(x < 13);
            assert_eq!(x, b.below(13));
        }
    }
}

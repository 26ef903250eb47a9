//! Number parsing straight from bytes.
//!
//! Floats take Clinger's fast path (at most 19 significant digits that fit in 2^53 and
//! a decimal exponent within ±22: one correctly rounded multiplication or division)
//! and fall back to `str::parse::<f64>` otherwise, so every result is the correctly
//! rounded value, as numpy's `loadtxt` gives.

/// Exact powers of ten representable in f64.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses a decimal float (`[+-]digits[.digits][(e|E)[+-]digits]`, also `.5` and
/// `5.`). Returns `None` for anything else. Also accepts whatever Rust's `f64` parser
/// accepts (e.g. `inf`, `nan`); callers check finiteness.
pub(crate) fn parse_f64(s: &[u8]) -> Option<f64> {
    fast_f64(s).or_else(|| std::str::from_utf8(s).ok()?.parse::<f64>().ok())
}

/// Reads a run of digits into `mantissa` (at most 19 significant digits, else
/// `None`), counting `exp10` down for digits after the point (`frac`). Returns the
/// rest of the input and whether there was any digit.
#[inline]
fn digits<'a>(
    mut s: &'a [u8],
    mantissa: &mut u64,
    sig: &mut u32,
    frac: bool,
    exp10: &mut i64,
) -> Option<(&'a [u8], bool)> {
    let mut any = false;
    while let Some((&c, rest)) = s.split_first() {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        any = true;
        if *mantissa == 0 && d == 0 {
            // Leading zero: not significant.
        } else if *sig < 19 {
            *mantissa = *mantissa * 10 + u64::from(d);
            *sig += 1;
        } else {
            return None; // too many digits: slow path
        }
        if frac {
            *exp10 -= 1;
        }
        s = rest;
    }
    Some((s, any))
}

fn fast_f64(s: &[u8]) -> Option<f64> {
    let (neg, mut s) = match s.split_first()? {
        (b'-', rest) => (true, rest),
        (b'+', rest) => (false, rest),
        _ => (false, s),
    };
    let mut mantissa: u64 = 0;
    let mut sig = 0u32;
    let mut exp10: i64 = 0;
    let (rest, int_digits) = digits(s, &mut mantissa, &mut sig, false, &mut exp10)?;
    s = rest;
    let mut frac_digits = false;
    if let Some((b'.', rest)) = s.split_first() {
        let (rest, any) = digits(rest, &mut mantissa, &mut sig, true, &mut exp10)?;
        s = rest;
        frac_digits = any;
    }
    if !int_digits && !frac_digits {
        return None;
    }
    if let Some((&(b'e' | b'E'), rest)) = s.split_first() {
        let (eneg, rest) = match rest.split_first() {
            Some((b'-', r)) => (true, r),
            Some((b'+', r)) => (false, r),
            _ => (false, rest),
        };
        if rest.is_empty() {
            return None;
        }
        let mut e: i64 = 0;
        for &c in rest {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            if e < 100_000 {
                e = e * 10 + i64::from(d);
            }
        }
        exp10 += if eneg { -e } else { e };
        s = &[];
    }
    if !s.is_empty() || mantissa > (1u64 << 53) {
        return None;
    }
    let m = mantissa as f64; // exact
    let v = if mantissa == 0 {
        0.0
    } else if exp10 == 0 {
        m
    } else if (1..=22).contains(&exp10) {
        m * POW10[exp10 as usize]
    } else if (-22..=-1).contains(&exp10) {
        m / POW10[(-exp10) as usize]
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

/// Parses an integer field. Plain integers are read directly; a float spelling of an
/// integral value (`3.0`, `1e2`) is accepted too, as numpy's `loadtxt` + `int()` and
/// NEURON's `%f` scanning do. Non-integral values give `None`.
pub(crate) fn parse_int(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if !digits.is_empty() && digits.len() <= 18 && digits.iter().all(u8::is_ascii_digit) {
        let mut v: i64 = 0;
        for &d in digits {
            v = v * 10 + i64::from(d - b'0');
        }
        return Some(if neg { -v } else { v });
    }
    let f = parse_f64(s)?;
    // 2^53: every integer up to here is exact in f64.
    if f.is_finite() && f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
        Some(f as i64)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_match_std() {
        let cases = [
            "0",
            "-0",
            "1",
            "263.248016357",
            "-3.380000114",
            "1e5",
            "1.5E-3",
            ".5",
            "5.",
            "+2.25",
            "0.000000000001",
            "123456789012345678",
            "1234567890123456789012",
            "9007199254740993",
            "1e-30",
            "1e30",
            "0.1",
            "2.2250738585072014e-308",
            "00012.5000",
            "8.119",
        ];
        for c in cases {
            let want: f64 = c.parse().unwrap();
            let got = parse_f64(c.as_bytes()).unwrap();
            assert_eq!(got.to_bits(), want.to_bits(), "{c}");
        }
        for bad in ["", "-", ".", "e5", "1e", "1.2.3", "abc", "1x", "--1"] {
            assert!(parse_f64(bad.as_bytes()).is_none(), "{bad}");
        }
    }

    #[test]
    fn ints() {
        assert_eq!(parse_int(b"17"), Some(17));
        assert_eq!(parse_int(b"-1"), Some(-1));
        assert_eq!(parse_int(b"+4"), Some(4));
        assert_eq!(parse_int(b"3.0"), Some(3));
        assert_eq!(parse_int(b"1e2"), Some(100));
        assert_eq!(parse_int(b"3.5"), None);
        assert_eq!(parse_int(b"x"), None);
        assert_eq!(parse_int(b"nan"), None);
        assert_eq!(parse_int(b"1e300"), None);
        assert_eq!(parse_int(b"99999999999999999999999"), None);
    }
}

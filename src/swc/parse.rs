//! Splitting SWC bytes into samples.
//!
//! Follows what numpy's `loadtxt` (Jaxley) and NEURON's `Import3d_SWC_read` agree on:
//! `#` starts a comment (whole-line or trailing), blank lines are skipped, fields are
//! separated by spaces or tabs, and `\n`, `\r\n` or a lone `\r` end a line. Fields after
//! the seventh are ignored, as NEURON does (Jaxley's reader fails on them).

use super::error::SwcError;
use super::number::{parse_f64, parse_int};

/// The samples of an SWC file, in file order (structure of arrays).
#[derive(Debug, Default, Clone)]
pub(crate) struct Samples {
    pub id: Vec<i64>,
    pub type_id: Vec<i32>,
    /// x, y, z, radius.
    pub xyzr: Vec<[f64; 4]>,
    pub parent: Vec<i64>,
    /// 1-based line number of each sample.
    pub line: Vec<usize>,
}

impl Samples {
    pub fn len(&self) -> usize {
        self.id.len()
    }
}

const FIELD_NAMES: [&str; 7] = ["id", "type", "x", "y", "z", "radius", "parent"];

/// Byte classes: 1 = blank (field separator), 2 = line end, 3 = comment start.
const CLASS: [u8; 256] = {
    let mut c = [0u8; 256];
    c[b' ' as usize] = 1;
    c[b'\t' as usize] = 1;
    c[0x0b] = 1;
    c[0x0c] = 1;
    c[b'\n' as usize] = 2;
    c[b'\r' as usize] = 2;
    c[b'#' as usize] = 3;
    c
};

const SPACES: u64 = 0x2020_2020_2020_2020;

/// Parses SWC text into samples in one pass over the bytes. Only syntax is checked.
pub(crate) fn parse_samples(text: &[u8]) -> Result<Samples, SwcError> {
    let mut s = Samples::default();
    let estimate = text.len() / 40 + 1;
    s.id.reserve(estimate);
    s.type_id.reserve(estimate);
    s.xyzr.reserve(estimate);
    s.parent.reserve(estimate);
    s.line.reserve(estimate);

    let n = text.len();
    let mut i = 0usize;
    let mut line_no = 1usize;
    let mut fields: [&[u8]; 7] = [&[]; 7];
    let mut found = 0usize;
    loop {
        // Runs of spaces (fixed-width files have many): 8 bytes at a time.
        while let Some(chunk) = text.get(i..i + 8) {
            if u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])) != SPACES {
                break;
            }
            i += 8;
        }
        while i < n && CLASS[text[i] as usize] == 1 {
            i += 1;
        }
        let class = if i < n { CLASS[text[i] as usize] } else { 2 };
        match class {
            0 => {
                let start = i;
                while i < n && CLASS[text[i] as usize] == 0 {
                    i += 1;
                }
                fields[found] = &text[start..i];
                found += 1;
                if found == 7 {
                    // Fields after the seventh (and comments) are ignored.
                    while i < n && CLASS[text[i] as usize] != 2 {
                        i += 1;
                    }
                }
            }
            3 => {
                while i < n && CLASS[text[i] as usize] != 2 {
                    i += 1;
                }
            }
            _ => {
                // End of a line (or of the text).
                if found > 0 {
                    push_sample(&fields[..found], line_no, &mut s)?;
                    found = 0;
                }
                if i >= n {
                    break;
                }
                if text[i] == b'\r' && i + 1 < n && text[i + 1] == b'\n' {
                    i += 1;
                }
                i += 1;
                line_no += 1;
            }
        }
    }
    Ok(s)
}

fn push_sample(fields: &[&[u8]], line_no: usize, s: &mut Samples) -> Result<(), SwcError> {
    if fields.len() < 7 {
        return Err(SwcError::FieldCount {
            line: line_no,
            found: fields.len(),
        });
    }
    let text = |k: usize| String::from_utf8_lossy(fields[k]).into_owned();
    let int_field = |k: usize| -> Result<i64, SwcError> {
        parse_int(fields[k]).ok_or_else(|| SwcError::BadNumber {
            line: line_no,
            field: FIELD_NAMES[k],
            expected: "an integer",
            text: text(k),
        })
    };
    let float_field = |k: usize| -> Result<f64, SwcError> {
        let v = parse_f64(fields[k]).ok_or_else(|| SwcError::BadNumber {
            line: line_no,
            field: FIELD_NAMES[k],
            expected: "a number",
            text: text(k),
        })?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(SwcError::NonFinite {
                line: line_no,
                field: FIELD_NAMES[k],
                text: text(k),
            })
        }
    };
    let id = int_field(0)?;
    let type_id = i32::try_from(int_field(1)?).map_err(|_| SwcError::BadNumber {
        line: line_no,
        field: "type",
        expected: "a 32-bit integer",
        text: text(1),
    })?;
    let x = float_field(2)?;
    let y = float_field(3)?;
    let z = float_field(4)?;
    let r = float_field(5)?;
    let parent = int_field(6)?;
    s.id.push(id);
    s.type_id.push(type_id);
    s.xyzr.push([x, y, z, r]);
    s.parent.push(parent);
    s.line.push(line_no);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_blank_lines_and_line_endings() {
        let text = b"# header\r\n\r\n  1 1 0 0 0 1 -1 # root\r\n2 3 1.5 0 0 0.5 1 extra 9\r3\t3 2 0 0 0.5 2";
        let s = parse_samples(text).unwrap();
        assert_eq!(s.id, vec![1, 2, 3]);
        assert_eq!(s.line, vec![3, 4, 5]);
        assert_eq!(s.type_id, vec![1, 3, 3]);
        assert_eq!(s.xyzr[1], [1.5, 0.0, 0.0, 0.5]);
        assert_eq!(s.parent, vec![-1, 1, 2]);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse_samples(b"1 1 0 0 0 1 -1\n2 1 0 0\n").unwrap_err();
        assert!(
            matches!(e, SwcError::FieldCount { line: 2, found: 4 }),
            "{e}"
        );
        let e = parse_samples(b"1 1 0 0 0 1 -1\n\n2 1 0 zero 0 1 1\n").unwrap_err();
        assert!(
            matches!(
                e,
                SwcError::BadNumber {
                    line: 3,
                    field: "y",
                    ..
                }
            ),
            "{e}"
        );
        let e = parse_samples(b"1 1 0 0 0 nan -1\n").unwrap_err();
        assert!(matches!(
            e,
            SwcError::NonFinite {
                line: 1,
                field: "radius",
                ..
            }
        ));
        let e = parse_samples(b"1.5 1 0 0 0 1 -1\n").unwrap_err();
        assert!(matches!(
            e,
            SwcError::BadNumber {
                line: 1,
                field: "id",
                ..
            }
        ));
        let e = parse_samples(b"1 99999999999 0 0 0 1 -1\n").unwrap_err();
        assert!(matches!(
            e,
            SwcError::BadNumber {
                line: 1,
                field: "type",
                ..
            }
        ));
    }
}

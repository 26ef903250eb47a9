//! Locations on a cell given on the command line: `TARGET[:X]`.
//!
//! `TARGET` is a branch index (`12`), a group (`soma`: its first branch) or the k-th branch of a
//! group (`apical[3]`, `apical[-1]` for the last); `X ∈ [0, 1]` is the position along the
//! branch (default 0.5; Jaxley's rounding to a compartment).

use crate::{CliError, CliResult};
use huxley::Module;
use std::str::FromStr;

/// A parsed location.
#[derive(Clone, Debug, PartialEq)]
pub struct Location {
    target: Target,
    /// Position along the branch.
    pub x: f64,
    text: String,
}

#[derive(Clone, Debug, PartialEq)]
enum Target {
    Branch(usize),
    Group(String, i64),
}

impl FromStr for Location {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (target, x) = match s.rsplit_once(':') {
            Some((t, x)) => {
                let x: f64 = x
                    .parse()
                    .map_err(|_| format!("position `{x}` in `{s}` is not a number"))?;
                if !(0.0..=1.0).contains(&x) {
                    return Err(format!("position {x} in `{s}` is not in [0, 1]"));
                }
                (t, x)
            }
            None => (s, 0.5),
        };
        let target = if let Ok(b) = target.parse::<usize>() {
            Target::Branch(b)
        } else if let Some((name, k)) = target.strip_suffix(']').and_then(|t| t.split_once('[')) {
            let k: i64 = k
                .parse()
                .map_err(|_| format!("branch number `{k}` in `{s}` is not an integer"))?;
            Target::Group(name.to_string(), k)
        } else if target.is_empty() {
            return Err(format!("`{s}` names no branch or group"));
        } else {
            Target::Group(target.to_string(), 0)
        };
        Ok(Location {
            target,
            x,
            text: s.to_string(),
        })
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Location {
    /// A location at position `x` of the k-th branch of a group.
    pub fn group(name: &str, k: i64, x: f64) -> Location {
        let text = if k == 0 {
            format!("{name}:{x}")
        } else {
            format!("{name}[{k}]:{x}")
        };
        Location {
            target: Target::Group(name.to_string(), k),
            x,
            text,
        }
    }

    /// The branch (global index) this location is on.
    pub fn branch(&self, cell: &Module) -> CliResult<usize> {
        match &self.target {
            Target::Branch(b) if *b < cell.n_branches() => Ok(*b),
            Target::Branch(b) => Err(CliError(format!(
                "location `{self}`: branch {b} does not exist (the cell has {})",
                cell.n_branches()
            ))),
            Target::Group(name, k) => {
                let branches = group_branches(cell, name)
                    .map_err(|e| CliError(format!("location `{self}`: {e}")))?;
                let n = branches.len() as i64;
                let i = if *k < 0 { n + k } else { *k };
                if i < 0 || i >= n {
                    return Err(CliError(format!(
                        "location `{self}`: group `{name}` has {n} branches"
                    )));
                }
                Ok(branches[i as usize])
            }
        }
    }
}

/// The branches (global indices, ascending) with compartments in group `name`.
pub fn group_branches(cell: &Module, name: &str) -> huxley::Result<Vec<usize>> {
    let comps = cell.group_comps(name)?;
    let owner = comp_branches(cell);
    let mut branches: Vec<usize> = comps.iter().map(|&c| owner[c]).collect();
    branches.dedup();
    Ok(branches)
}

/// The branch of every compartment.
pub fn comp_branches(cell: &Module) -> Vec<usize> {
    cell.ncomp_per_branch()
        .iter()
        .enumerate()
        .flat_map(|(b, &n)| std::iter::repeat_n(b, n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations() {
        let l: Location = "soma".parse().unwrap();
        assert_eq!(
            (l.target.clone(), l.x),
            (Target::Group("soma".into(), 0), 0.5)
        );
        let l: Location = "apical[-1]:1".parse().unwrap();
        assert_eq!(
            (l.target.clone(), l.x),
            (Target::Group("apical".into(), -1), 1.0)
        );
        let l: Location = "12:0".parse().unwrap();
        assert_eq!((l.target.clone(), l.x), (Target::Branch(12), 0.0));
        assert!("soma:1.5".parse::<Location>().is_err());
        assert!("soma:x".parse::<Location>().is_err());
        assert!("apical[x]".parse::<Location>().is_err());
        assert!(":0.5".parse::<Location>().is_err());
    }
}

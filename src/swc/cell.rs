//! SWC geometry turned into a simulatable [`Cell`].

use super::{SwcMorphology, SwcOptions};
use crate::error::{Error, Result};
use crate::model::table::{DEFAULTS, NodeTable};
use crate::model::{CellMorph, Morphology};
use crate::{Cell, Module};
use std::path::Path;
use std::sync::Arc;

/// Reads an SWC file into a [`Cell`] with `ncomp` compartments per branch, exactly as Jaxley's
/// `jx.read_swc(path, ncomp, ...)` does (see [`crate::swc`] for how branches and compartments
/// are made, and for the few files where this reader is stricter than Jaxley).
///
/// Every compartment gets the traced radius, length, area, volume and resistive loads, and
/// Jaxley's defaults for the rest (axial resistivity 5000 Ω·cm, capacitance 1 µF/cm², v −70 mV).
/// With `options.assign_groups` (the default) the SWC types become groups: `soma`, `axon`,
/// `basal`, `apical` (and `undefined`, `custom<id>`), so `cell.group("apical")?.insert(..)` works.
/// The traced points are kept per branch for [`crate::View::set_ncomp`].
///
/// `set("radius" | "length", ..)` on such a cell turns the changed compartments into cylinders
/// (area, volume and resistive loads recomputed), as Jaxley does; Jaxley also warns, huxley does
/// not.
///
/// Errors: [`Error::Swc`] for an unreadable or malformed file (the message names the file and
/// the line).
///
/// ```
/// use huxley::{HH, SwcOptions, read_swc};
/// # fn main() -> huxley::Result<()> {
/// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/morphologies/morph_minimal.swc");
/// # if !std::path::Path::new(path).exists() { return Ok(()); }
/// let mut cell = read_swc(path, 2, &SwcOptions::default())?;
/// assert_eq!(cell.n_comps(), 2 * cell.n_branches());
/// cell.insert(HH)?;
/// # Ok(()) }
/// ```
pub fn read_swc(path: impl AsRef<Path>, ncomp: usize, options: &SwcOptions) -> Result<Cell> {
    let geometry = super::read_swc_geometry(path.as_ref(), ncomp, options)?;
    Cell::from_swc(&geometry)
}

/// [`read_swc`] from SWC text already in memory.
///
/// ```
/// use huxley::{SwcOptions, parse_swc};
/// # fn main() -> huxley::Result<()> {
/// let swc = "1 1 0 0 0 5 -1\n2 3 5 0 0 1 1\n3 3 50 0 0 1 2\n4 4 0 10 0 1 1\n5 4 0 90 0 1 4\n";
/// let cell = parse_swc(swc.as_bytes(), 1, &SwcOptions::default())?;
/// assert_eq!(cell.n_branches(), 3);
/// assert_eq!(cell.group_names(), ["apical", "basal", "soma"]);
/// let bad = parse_swc(b"1 1 0 0 0 5 -1\n2 3 5 0 0 1 7\n", 1, &SwcOptions::default());
/// assert!(bad.unwrap_err().to_string().contains("line 2"));
/// # Ok(()) }
/// ```
pub fn parse_swc(text: &[u8], ncomp: usize, options: &SwcOptions) -> Result<Cell> {
    let geometry = super::parse_swc_geometry(text, ncomp, options)?;
    Cell::from_swc(&geometry)
}

impl Cell {
    /// A cell with the branches, compartment geometry and groups of an SWC morphology (see
    /// [`read_swc`]).
    pub fn from_swc(m: &SwcMorphology) -> Result<Cell> {
        CellMorph::check_parents(&m.parents)?;
        let n: usize = m.branches.iter().map(|b| b.comps.len()).sum();
        let mut table = NodeTable {
            n,
            ..Default::default()
        };
        for (name, value) in DEFAULTS {
            table.cols.insert(name.to_string(), vec![value; n]);
        }
        type Column = (&'static str, fn(&super::CompGeometry) -> f64);
        let columns: [Column; 6] = [
            ("radius", |g| g.radius),
            ("length", |g| g.length),
            ("area", |g| g.area),
            ("volume", |g| g.volume),
            ("resistive_load_in", |g| g.resistive_load_in),
            ("resistive_load_out", |g| g.resistive_load_out),
        ];
        for (name, f) in columns {
            table
                .cols
                .insert(name.to_string(), m.comps().map(f).collect());
        }
        for (name, comps) in m.comp_groups() {
            let flags = table.group_mut(&name);
            for c in comps {
                flags[c] = true;
            }
        }
        let morph = Morphology {
            cells: vec![CellMorph {
                parents: m.parents.clone(),
                ncomp: m.branches.iter().map(|b| b.comps.len()).collect(),
            }],
        };
        if m.branches.iter().any(|b| b.comps.is_empty()) {
            return Err(Error::EmptyView(
                "an SWC branch without compartments".into(),
            ));
        }
        let mut module = Module::from_parts(morph, table, vec![]);
        module.xyzr = m
            .branches
            .iter()
            .map(|b| Some(Arc::from(b.xyzr.as_slice())))
            .collect();
        Ok(Cell::from_module(module))
    }
}

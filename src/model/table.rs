//! The node table: one column per parameter or state, one row per compartment (Jaxley's `.nodes`).

use std::collections::BTreeMap;

/// Compartment properties every module has, besides the membrane voltage `v`.
pub const GEOMETRY: [&str; 8] = [
    "radius",
    "length",
    "axial_resistivity",
    "capacitance",
    "area",
    "volume",
    "resistive_load_in",
    "resistive_load_out",
];

/// Default length (µm), radius (µm), axial resistivity (Ω·cm), capacitance (µF/cm²) and
/// voltage (mV) of a compartment.
pub const DEFAULTS: [(&str, f64); 5] = [
    ("length", 10.0),
    ("radius", 1.0),
    ("axial_resistivity", 5000.0),
    ("capacitance", 1.0),
    ("v", -70.0),
];

/// Area (µm²) of a cylinder.
pub fn cylinder_area(length: f64, radius: f64) -> f64 {
    2.0 * std::f64::consts::PI * radius * length
}

/// Volume (µm³) of a cylinder.
pub fn cylinder_volume(length: f64, radius: f64) -> f64 {
    length * radius * radius * std::f64::consts::PI
}

/// Resistive load `l / (π r²)` (1/µm) of a cylinder of length `l`.
pub fn cylinder_resistive_load(length: f64, radius: f64) -> f64 {
    length / (radius * radius) / std::f64::consts::PI
}

/// Columns of per-compartment values (NaN where a mechanism is absent) and mechanism membership.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct NodeTable {
    /// Number of rows (compartments).
    pub n: usize,
    /// Value columns.
    pub cols: BTreeMap<String, Vec<f64>>,
    /// Per mechanism name: whether it is inserted in each compartment.
    pub members: BTreeMap<String, Vec<bool>>,
    /// Per group name: whether each compartment belongs to it (Jaxley's group columns).
    pub groups: BTreeMap<String, Vec<bool>>,
}

impl NodeTable {
    /// A table for one default compartment.
    pub fn default_compartment() -> Self {
        let mut t = NodeTable {
            n: 1,
            ..Default::default()
        };
        for (k, v) in DEFAULTS {
            t.cols.insert(k.to_string(), vec![v]);
        }
        t.update_cylinder(0);
        t
    }

    /// Recomputes area, volume and resistive loads of row `i` from its length and radius.
    pub fn update_cylinder(&mut self, i: usize) {
        let l = self.cols["length"][i];
        let r = self.cols["radius"][i];
        let load = cylinder_resistive_load(l / 2.0, r);
        self.col_mut("area")[i] = cylinder_area(l, r);
        self.col_mut("volume")[i] = cylinder_volume(l, r);
        self.col_mut("resistive_load_in")[i] = load;
        self.col_mut("resistive_load_out")[i] = load;
    }

    /// The column `name`, created (NaN) if missing.
    pub fn col_mut(&mut self, name: &str) -> &mut Vec<f64> {
        let n = self.n;
        self.cols
            .entry(name.to_string())
            .or_insert_with(|| vec![f64::NAN; n])
    }

    /// Membership column of mechanism `name`, created (all false) if missing.
    pub fn members_mut(&mut self, name: &str) -> &mut Vec<bool> {
        let n = self.n;
        self.members
            .entry(name.to_string())
            .or_insert_with(|| vec![false; n])
    }

    /// Membership column of group `name`, created (all false) if missing.
    pub fn group_mut(&mut self, name: &str) -> &mut Vec<bool> {
        let n = self.n;
        self.groups
            .entry(name.to_string())
            .or_insert_with(|| vec![false; n])
    }

    /// Rows of several tables one after the other; missing columns become NaN / false.
    pub fn concat<'a>(tables: impl IntoIterator<Item = &'a NodeTable> + Clone) -> NodeTable {
        let mut out = NodeTable::default();
        for t in tables.clone() {
            for k in t.cols.keys() {
                out.cols.entry(k.clone()).or_default();
            }
            for k in t.members.keys() {
                out.members.entry(k.clone()).or_default();
            }
            for k in t.groups.keys() {
                out.groups.entry(k.clone()).or_default();
            }
        }
        for t in tables {
            for (k, col) in out.cols.iter_mut() {
                match t.cols.get(k) {
                    Some(c) => col.extend_from_slice(c),
                    None => col.extend(std::iter::repeat_n(f64::NAN, t.n)),
                }
            }
            extend_flags(&mut out.members, &t.members, t.n);
            extend_flags(&mut out.groups, &t.groups, t.n);
            out.n += t.n;
        }
        out
    }

    /// Replaces rows `start..start + len` by the rows of `new` (which has the same columns).
    pub fn splice_rows(&mut self, start: usize, len: usize, new: &NodeTable) {
        let range = start..start + len;
        for (k, col) in self.cols.iter_mut() {
            col.splice(range.clone(), new.cols[k].iter().copied());
        }
        for (k, col) in self.members.iter_mut() {
            col.splice(range.clone(), new.members[k].iter().copied());
        }
        for (k, col) in self.groups.iter_mut() {
            col.splice(range.clone(), new.groups[k].iter().copied());
        }
        self.n = self.n - len + new.n;
    }
}

/// Appends `n` rows of the flag columns of `src` to those of `out` (false where `src` lacks one).
fn extend_flags(
    out: &mut BTreeMap<String, Vec<bool>>,
    src: &BTreeMap<String, Vec<bool>>,
    n: usize,
) {
    for (k, col) in out.iter_mut() {
        match src.get(k) {
            Some(c) => col.extend_from_slice(c),
            None => col.extend(std::iter::repeat_n(false, n)),
        }
    }
}

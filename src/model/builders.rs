//! Constructors for the three kinds of module: [`Compartment`], [`Branch`] and [`Cell`].

use super::table::NodeTable;
use super::{CellMorph, Module, Morphology};
use crate::error::{Error, Result};

macro_rules! module_newtype {
    ($name:ident) => {
        impl std::ops::Deref for $name {
            type Target = Module;
            fn deref(&self) -> &Module {
                &self.0
            }
        }
        impl std::ops::DerefMut for $name {
            fn deref_mut(&mut self) -> &mut Module {
                &mut self.0
            }
        }
        impl AsRef<Module> for $name {
            fn as_ref(&self) -> &Module {
                &self.0
            }
        }
        impl From<$name> for Module {
            fn from(x: $name) -> Module {
                x.0
            }
        }
    };
}

/// A single compartment: a cylinder of length 10 µm and radius 1 µm with axial resistivity
/// 5000 Ω·cm, membrane capacitance 1 µF/cm² and voltage −70 mV (Jaxley's defaults).
///
/// ```
/// use huxley::{Compartment, HH};
/// # fn main() -> huxley::Result<()> {
/// let mut comp = Compartment::new();
/// comp.insert(HH)?;
/// assert_eq!(comp.column("HH_gNa")?, &[0.12]);
/// assert!((comp.column("area")?[0] - 62.83185307179586).abs() < 1e-12);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Compartment(Module);
module_newtype!(Compartment);

impl Compartment {
    /// A compartment with the default properties.
    pub fn new() -> Compartment {
        let morph = Morphology {
            cells: vec![CellMorph {
                parents: vec![-1],
                ncomp: vec![1],
            }],
        };
        Compartment(Module::from_parts(
            morph,
            NodeTable::default_compartment(),
            vec![],
        ))
    }
}

impl Default for Compartment {
    fn default() -> Self {
        Compartment::new()
    }
}

/// An unbranched chain of compartments; compartment 0 is the proximal end.
#[derive(Clone, Debug)]
pub struct Branch(Module);
module_newtype!(Branch);

impl Branch {
    /// `ncomp` copies of `comp` (with everything inserted into it).
    pub fn new(comp: &Compartment, ncomp: usize) -> Result<Branch> {
        if ncomp == 0 {
            return Err(Error::InvalidValue {
                name: "ncomp".into(),
                value: 0.0,
                requirement: "at least 1",
                location: "Branch::new".into(),
            });
        }
        Branch::from_compartments(&vec![comp.clone(); ncomp])
    }

    /// A branch made of the given compartments, in order.
    pub fn from_compartments(comps: &[Compartment]) -> Result<Branch> {
        if comps.is_empty() {
            return Err(Error::EmptyView(
                "a branch needs at least one compartment".into(),
            ));
        }
        let table = NodeTable::concat(comps.iter().map(|c| &c.table));
        let mechs = Module::merge_mechanisms(comps.iter().map(|c| &c.0))?;
        Module::check_group_names(&table, &mechs)?;
        let morph = Morphology {
            cells: vec![CellMorph {
                parents: vec![-1],
                ncomp: vec![comps.len()],
            }],
        };
        Ok(Branch(Module::from_parts(morph, table, mechs)))
    }
}

impl Default for Branch {
    fn default() -> Self {
        Branch::new(&Compartment::new(), 1).expect("one compartment")
    }
}

/// A neuron: a tree of branches. `parents[i]` is the parent branch of branch `i`; branch 0 is
/// the root (`-1`) and every parent comes before its children. Where branches meet, a
/// branchpoint node joins the end of the parent to the starts of its children.
///
/// ```
/// use huxley::{Branch, Cell, Compartment};
/// # fn main() -> huxley::Result<()> {
/// let branch = Branch::new(&Compartment::new(), 2)?;
/// let cell = Cell::new(&branch, &[-1, 0, 0, 1, 1])?;
/// assert_eq!(cell.n_comps(), 10);
/// assert_eq!(cell.n_nodes(), 12); // two branchpoints: below branches 1-2 and 3-4
/// assert!(Cell::new(&branch, &[0, 0]).is_err());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Cell(Module);
module_newtype!(Cell);

impl Cell {
    pub(crate) fn from_module(module: Module) -> Cell {
        Cell(module)
    }

    /// `parents.len()` copies of `branch`.
    pub fn new(branch: &Branch, parents: &[i64]) -> Result<Cell> {
        CellMorph::check_parents(parents)?;
        Cell::from_branches(&vec![branch.clone(); parents.len()], parents)
    }

    /// A cell made of the given branches (which may have different numbers of compartments).
    pub fn from_branches(branches: &[Branch], parents: &[i64]) -> Result<Cell> {
        CellMorph::check_parents(parents)?;
        if branches.len() != parents.len() {
            return Err(Error::LengthMismatch {
                what: "parents (one per branch)".into(),
                expected: branches.len(),
                got: parents.len(),
            });
        }
        let table = NodeTable::concat(branches.iter().map(|b| &b.table));
        let mechs = Module::merge_mechanisms(branches.iter().map(|b| &b.0))?;
        Module::check_group_names(&table, &mechs)?;
        let ncomp = branches.iter().map(|b| b.n_comps()).collect();
        let morph = Morphology {
            cells: vec![CellMorph {
                parents: parents.to_vec(),
                ncomp,
            }],
        };
        let mut module = Module::from_parts(morph, table, mechs);
        module.xyzr = branches.iter().map(|b| b.xyzr[0].clone()).collect();
        Ok(Cell(module))
    }
}

impl Default for Cell {
    fn default() -> Self {
        Cell::new(&Branch::default(), &[-1]).expect("one branch")
    }
}

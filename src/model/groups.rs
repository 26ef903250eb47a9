//! Groups of compartments (Jaxley's `add_to_group`, `cell.apical`, ...) and the traced points of
//! branches read from SWC.

use super::module::Module;
use super::view::{Level, View};
use crate::error::{Error, Result};

impl Module {
    /// Names of the groups, sorted (an SWC cell has `soma`, `axon`, `basal`, `apical`, ... for
    /// the SWC types it contains; [`View::add_to_group`] adds more).
    pub fn group_names(&self) -> Vec<String> {
        self.table.groups.keys().cloned().collect()
    }

    /// Global indices of the compartments in group `name`.
    ///
    /// ```
    /// use huxley::{Branch, Cell, Compartment};
    /// # fn main() -> huxley::Result<()> {
    /// let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
    /// cell.branch(2)?.add_to_group("apical")?;
    /// assert_eq!(cell.group_comps("apical")?, vec![4, 5]);
    /// assert!(cell.group_comps("basal").is_err());
    /// # Ok(()) }
    /// ```
    pub fn group_comps(&self, name: &str) -> Result<Vec<usize>> {
        let flags = self
            .table
            .groups
            .get(name)
            .ok_or_else(|| self.unknown_group(name))?;
        Ok(flags
            .iter()
            .enumerate()
            .filter(|(_, b)| **b)
            .map(|(c, _)| c)
            .collect())
    }

    /// The compartments of group `name` (a view; Jaxley's `cell.<name>` /
    /// `cell.select(cell.nodes[name])`). Parameters made trainable on it are shared by the
    /// whole group.
    ///
    /// ```
    /// use huxley::{Branch, Cell, Compartment, HH, Leak};
    /// # fn main() -> huxley::Result<()> {
    /// let mut cell = Cell::new(&Branch::new(&Compartment::new(), 2)?, &[-1, 0, 0])?;
    /// cell.branch(0)?.add_to_group("soma")?;
    /// cell.group("soma")?.insert(HH)?;
    /// cell.insert(Leak)?;
    /// assert_eq!(cell.mechanism_comps_of("HH"), vec![0, 1]);
    /// # Ok(()) }
    /// ```
    pub fn group(&mut self, name: &str) -> Result<View<'_>> {
        self.all().group(name)
    }

    /// Adds every compartment to group `name`; see [`View::add_to_group`].
    pub fn add_to_group(&mut self, name: &str) -> Result<&mut Self> {
        self.all().add_to_group(name)?;
        Ok(self)
    }

    /// Compartments (global indices) where mechanism `name` is inserted (empty if nowhere).
    pub fn mechanism_comps_of(&self, name: &str) -> Vec<usize> {
        self.mechanism_comps(name)
    }

    /// The traced points `[x, y, z, radius]` (µm) of global branch `branch`, if the module was
    /// read from SWC: the points of its compartments one after another, cut points repeated
    /// (Jaxley's `cell.xyzr[branch]`). `None` for branches built from compartments.
    pub fn xyzr(&self, branch: usize) -> Result<Option<&[[f64; 4]]>> {
        self.xyzr
            .get(branch)
            .map(|x| x.as_deref())
            .ok_or(Error::IndexOutOfRange {
                what: "branch",
                index: branch,
                len: self.n_branches(),
            })
    }

    pub(crate) fn unknown_group(&self, name: &str) -> Error {
        let names = self.group_names();
        Error::UnknownGroup {
            name: name.to_string(),
            known: if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            },
        }
    }
}

impl<'a> View<'a> {
    /// The compartments of the view that belong to group `name`.
    pub fn group(self, name: &str) -> Result<View<'a>> {
        let flags = self
            .m
            .table
            .groups
            .get(name)
            .ok_or_else(|| self.m.unknown_group(name))?;
        let comps: Vec<usize> = self.comps.iter().copied().filter(|&c| flags[c]).collect();
        if comps.is_empty() {
            return Err(Error::EmptyView(format!(
                "no compartment of this view belongs to group `{name}`"
            )));
        }
        Ok(View::new(self.m, comps, Level::Group))
    }

    /// Adds the view's compartments to group `name`, creating the group if needed (Jaxley's
    /// `add_to_group`). A group may not share its name with a mechanism.
    pub fn add_to_group(&mut self, name: &str) -> Result<&mut Self> {
        if name.is_empty() {
            return Err(Error::InvalidGroupName(name.to_string()));
        }
        if self.m.has_mechanism(name) {
            return Err(Error::GroupMechanismClash(name.to_string()));
        }
        let flags = self.m.table.group_mut(name);
        for &c in &self.comps {
            flags[c] = true;
        }
        Ok(self)
    }
}

//! Trainable parameters (`make_trainable`, `get_parameters`) and run-time parameter values
//! (`data_set`), with Jaxley's semantics.

use crate::scalar::Scalar;

/// A parameter made trainable by `make_trainable`: which nodes each of its values controls.
#[derive(Clone, Debug, PartialEq)]
pub struct Trainable {
    /// Parameter (or initial-state) name.
    pub key: String,
    /// Per trainable value: the nodes it sets.
    pub nodes: Vec<Vec<usize>>,
    /// Initial values (one per group).
    pub values: Vec<f64>,
}

/// One entry of the list `get_parameters()` returns: a key and one value per shared group
/// (Jaxley's `{key: array}`).
#[derive(Clone, Debug, PartialEq)]
pub struct ParamGroup<T> {
    /// Parameter name.
    pub key: String,
    /// One value per group of nodes sharing it.
    pub values: Vec<T>,
}

impl ParamGroup<f64> {
    /// The same values in another scalar type (e.g. dual numbers to differentiate with respect to
    /// them).
    pub fn cast<T: Scalar>(&self) -> ParamGroup<T> {
        ParamGroup {
            key: self.key.clone(),
            values: self.values.iter().map(|&v| T::from(v)).collect(),
        }
    }
}

/// A parameter value set at run time for given nodes (Jaxley's `param_state` entries, from
/// `data_set` or from trainable parameters).
#[derive(Clone, Debug, PartialEq)]
pub struct ParamState<T> {
    /// Parameter or initial-state name.
    pub key: String,
    /// Per value: the nodes it sets.
    pub nodes: Vec<Vec<usize>>,
    /// The values.
    pub values: Vec<T>,
}

impl<T: Copy> ParamState<T> {
    /// The same keys and nodes with every value mapped by `f` (e.g. to dual numbers, or to a
    /// gradient's zeros).
    pub fn map<U>(&self, f: impl FnMut(T) -> U) -> ParamState<U> {
        ParamState {
            key: self.key.clone(),
            nodes: self.nodes.clone(),
            values: self.values.iter().copied().map(f).collect(),
        }
    }
}

impl crate::Module {
    /// The trainable parameters with their current values (Jaxley's `get_parameters()`); pass
    /// them (or changed values) to `init_fn` / `integrate`.
    pub fn get_parameters(&self) -> Vec<ParamGroup<f64>> {
        self.trainables
            .iter()
            .map(|t| ParamGroup {
                key: t.key.clone(),
                values: t.values.clone(),
            })
            .collect()
    }

    /// The trainable parameters' definitions (which nodes each value controls).
    pub fn trainables(&self) -> &[Trainable] {
        &self.trainables
    }

    /// Removes all trainable parameters.
    pub fn delete_trainables(&mut self) {
        self.trainables.clear();
    }

    /// Writes trained values into the module (Jaxley's `write_trainables`): each value of
    /// `params` (one group per `make_trainable` call, as [`crate::Module::get_parameters`]
    /// returns them) is set at the nodes or edges it controls, in order, as `set` would (a
    /// `radius` or `length` recomputes area, volume and resistive loads), and the trainables are
    /// then removed, so that [`crate::integrate`] without parameters simulates what
    /// [`crate::integrate_with`] with `params` did.
    ///
    /// Values are checked as `set` checks them (finite; positive for geometry) before anything
    /// is written; wrong keys or lengths are an [`crate::Error::LengthMismatch`].
    ///
    /// ```
    /// use huxley::{Cell, HH, IntegrateOptions, integrate, integrate_with};
    /// # fn main() -> huxley::Result<()> {
    /// let mut cell = Cell::default();
    /// cell.insert(HH)?;
    /// cell.record("v")?;
    /// cell.make_trainable("HH_gK", None)?;
    /// let mut params = cell.get_parameters();
    /// params[0].values[0] = 0.05;
    /// let opts = IntegrateOptions::t_max(2.0);
    /// let trained = integrate_with(&cell, &opts, &params, None, None)?;
    /// cell.write_trainables(&params)?;
    /// assert_eq!(cell.column("HH_gK")?, &[0.05]);
    /// assert!(cell.get_parameters().is_empty());
    /// assert_eq!(integrate(&cell, &opts)?.recordings, trained.recordings);
    /// # Ok(()) }
    /// ```
    pub fn write_trainables(&mut self, params: &[ParamGroup<f64>]) -> crate::Result<()> {
        use crate::Error;
        if params.len() != self.trainables.len() {
            return Err(Error::LengthMismatch {
                what: "trainable parameter groups (one per make_trainable call)".into(),
                expected: self.trainables.len(),
                got: params.len(),
            });
        }
        let mut node_comp = vec![usize::MAX; self.n_nodes()];
        for (c, &node) in self.ix.comp_node.iter().enumerate() {
            node_comp[node] = c;
        }
        // Check everything before writing anything.
        for (t, p) in self.trainables.iter().zip(params) {
            if p.key != t.key || p.values.len() != t.nodes.len() {
                return Err(Error::LengthMismatch {
                    what: format!("values of trainable `{}` (given as `{}`)", t.key, p.key),
                    expected: t.nodes.len(),
                    got: p.values.len(),
                });
            }
            let synapse = self.is_synapse_key(&t.key);
            for (nodes, &v) in t.nodes.iter().zip(&p.values) {
                for &node in nodes {
                    if synapse {
                        if !v.is_finite() {
                            return Err(Error::InvalidValue {
                                name: t.key.clone(),
                                value: v,
                                requirement: "finite",
                                location: format!("edge {node} of its type"),
                            });
                        }
                    } else {
                        let c = node_comp.get(node).copied().unwrap_or(usize::MAX);
                        if c == usize::MAX {
                            return Err(Error::IndexOutOfRange {
                                what: "node of a trainable (not a compartment)",
                                index: node,
                                len: self.n_nodes(),
                            });
                        }
                        crate::View::check_value(&t.key, v, c)?;
                    }
                }
            }
        }
        let trainables = std::mem::take(&mut self.trainables);
        for (t, p) in trainables.iter().zip(params) {
            let geometric = t.key == "radius" || t.key == "length";
            if self.is_synapse_key(&t.key) {
                let col = self.edges.cols.get_mut(&t.key).expect("a synapse column");
                for (rows, &v) in t.nodes.iter().zip(&p.values) {
                    for &r in rows {
                        col[r] = v;
                    }
                }
                continue;
            }
            for (nodes, &v) in t.nodes.iter().zip(&p.values) {
                for &node in nodes {
                    let c = node_comp[node];
                    self.table.col_mut(&t.key)[c] = v;
                    if geometric {
                        self.table.update_cylinder(c);
                    }
                }
            }
        }
        Ok(())
    }

    /// Jaxley's `data_set` on the whole module (for a synapse parameter or state: on every edge
    /// of its type); see [`crate::View::data_set`].
    pub fn data_set<T: Scalar>(
        &self,
        key: &str,
        value: T,
        param_state: Option<Vec<ParamState<T>>>,
    ) -> crate::Result<Vec<ParamState<T>>> {
        if self.is_synapse_key(key) {
            let t = self.edges.type_of_key(key).expect("a synapse key");
            if !self.edges.cols.contains_key(key) {
                return Err(crate::Error::UnknownName {
                    name: key.to_string(),
                    context: "a synapse current is computed, not set".into(),
                });
            }
            let rows: Vec<usize> = (0..self.edges.len())
                .filter(|&e| self.edges.ty[e] == t)
                .map(|e| self.edges.within[e])
                .collect();
            if rows.is_empty() {
                return Err(crate::Error::EmptyView(format!(
                    "the network has no synapse with `{key}`"
                )));
            }
            let mut ps = param_state.unwrap_or_default();
            ps.push(ParamState {
                key: key.to_string(),
                values: vec![value; rows.len()],
                nodes: rows.into_iter().map(|r| vec![r]).collect(),
            });
            return Ok(ps);
        }
        let col = self
            .table
            .cols
            .get(key)
            .ok_or_else(|| self.unknown(key, "cannot data_set it"))?;
        let nodes: Vec<Vec<usize>> = (0..self.n_comps())
            .filter(|&c| !col[c].is_nan())
            .map(|c| vec![self.ix.comp_node[c]])
            .collect();
        if nodes.is_empty() {
            return Err(crate::Error::EmptyView(format!(
                "`{key}` is not defined in any compartment"
            )));
        }
        let mut ps = param_state.unwrap_or_default();
        ps.push(ParamState {
            key: key.to_string(),
            values: vec![value; nodes.len()],
            nodes,
        });
        Ok(ps)
    }
}

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

//! The crate's error type.

/// Everything that can go wrong when describing, compiling or running a model.
///
/// Every variant says what was wrong and where: the offending name, index, node, step or line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The parents list of a cell does not describe a tree.
    #[error("invalid parents list: {0}")]
    InvalidParents(String),
    /// A number is outside the range it must lie in.
    #[error("`{name}` must be {requirement}, got {value} ({location})")]
    InvalidValue {
        /// What the value is (a parameter name, `delta_t`, ...).
        name: String,
        /// The offending value.
        value: f64,
        /// The rule it breaks, e.g. "positive and finite".
        requirement: &'static str,
        /// Where it was given (compartment, argument, ...).
        location: String,
    },
    /// A parameter, state or mechanism name that this module does not have.
    #[error("unknown name `{name}`: {context}")]
    UnknownName {
        /// The name that was asked for.
        name: String,
        /// Why it is unknown / what exists instead.
        context: String,
    },
    /// An index beyond the end of a list (a branch, compartment, cell, ...).
    #[error("{what} index {index} is out of range: there are {len}")]
    IndexOutOfRange {
        /// What was indexed ("branch", "compartment", "cell", ...).
        what: &'static str,
        /// The index given.
        index: usize,
        /// How many there are.
        len: usize,
    },
    /// A view that selects nothing.
    #[error("empty view: {0}")]
    EmptyView(String),
    /// `integrate` was called without anything recorded.
    #[error("nothing is recorded: call `record(...)` on the module or a view before `integrate`")]
    NoRecordings,
    /// `integrate` was called without stimuli or clamps and without `t_max`.
    #[error("without stimuli or clamps the duration is unknown: pass `t_max` to `integrate`")]
    MissingTmax,
    /// Several external inputs of different lengths and no `t_max` to settle the length.
    #[error("external inputs have different lengths ({0}); pass `t_max` to choose the duration")]
    InconsistentExternals(String),
    /// A clamp shorter than the simulation.
    #[error("the clamp of `{state}` has {len} time points but the run needs {needed}")]
    ClampTooShort {
        /// Clamped state.
        state: String,
        /// Length of the clamp.
        len: usize,
        /// Steps the run needs.
        needed: usize,
    },
    /// Arrays whose lengths do not fit together.
    #[error("length mismatch for {what}: expected {expected}, got {got}")]
    LengthMismatch {
        /// What has the wrong length.
        what: String,
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// A matrix whose shape does not fit (e.g. a connectivity matrix).
    #[error("shape mismatch for {what}: expected {expected:?}, got {got:?}")]
    ShapeMismatch {
        /// What has the wrong shape.
        what: String,
        /// Expected (rows, columns).
        expected: (usize, usize),
        /// Actual (rows, columns); for ragged rows, the first offending row's length.
        got: (usize, usize),
    },
    /// A mechanism inserted under a name that another, different mechanism already uses.
    #[error("a different mechanism is already inserted under the name `{0}`")]
    MechanismConflict(String),
    /// A state or parameter container built for a different model.
    #[error("{0}")]
    LayoutMismatch(String),
    /// A simulation produced NaN or infinity.
    #[error(
        "non-finite value {value} in `{state}` at node {node} after step {step} (t = {time} ms)"
    )]
    NonFinite {
        /// The state that became non-finite.
        state: String,
        /// Node index (Jaxley's numbering).
        node: usize,
        /// Step after which it appeared (1 = the first step).
        step: usize,
        /// Time at the end of that step.
        time: f64,
        /// The value (NaN or ±inf).
        value: f64,
    },
    /// A loss, or a gradient, that is NaN or infinite.
    #[error("non-finite {what}: {value}")]
    NonFiniteGradient {
        /// What was non-finite ("loss", "gradient of the loss w.r.t. the recordings",
        /// "gradient of `HH_gNa` value 3", ...).
        what: String,
        /// The value (NaN or ±inf).
        value: f64,
    },
    /// The linear solver failed.
    #[error("linear solver failed: {0}")]
    Solver(String),
    /// An operation that the model does not support in its current state.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A mechanism's declaration (`INDEPENDENT_STATES`, `UPDATE_READS_PARAMS`) does not match
    /// its update (see `mechanisms::check_declarations`).
    #[error("mechanism `{mechanism}`: {what}")]
    WrongDeclaration {
        /// The mechanism's name.
        mechanism: String,
        /// What its update does that the declaration rules out.
        what: String,
    },
    /// A group that the module does not have.
    #[error("unknown group `{name}`; the groups are: {known}")]
    UnknownGroup {
        /// The name asked for.
        name: String,
        /// The module's groups, comma-separated (or "none").
        known: String,
    },
    /// A name used both for a group and for a mechanism (Jaxley forbids this too: both are
    /// columns of its node table and attributes of its modules).
    #[error("`{0}` cannot be both a group and a mechanism name; rename one of them")]
    GroupMechanismClash(String),
    /// A group name that cannot be used (it is empty).
    #[error("invalid group name {0:?}: a group needs a non-empty name")]
    InvalidGroupName(String),
    /// `set_ncomp` was called where Jaxley does not allow it; see [`SetNcompError`].
    #[error("cannot set_ncomp on branch {branch}: {reason}")]
    SetNcomp {
        /// The (global) branch of the view, or the first one if there are several.
        branch: usize,
        /// Which restriction was violated.
        reason: SetNcompError,
    },
    /// A name given twice where each must be unique (e.g. two transforms for one trainable key).
    #[error("`{name}` is given twice: {context}")]
    DuplicateName {
        /// The repeated name.
        name: String,
        /// Where.
        context: String,
    },
    /// An SWC file could not be read; the message names the file and, where there is one, the
    /// line (see [`crate::swc::SwcError::line`]).
    #[error(transparent)]
    Swc(#[from] crate::swc::SwcError),
}

/// Why `set_ncomp` refused to change a branch (Jaxley's restrictions, checked before anything
/// changes).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SetNcompError {
    /// The module has stimuli (node indices would move).
    #[error("the module has stimuli; call set_ncomp before stimulate (or delete_stimuli)")]
    Stimuli,
    /// The module has clamps.
    #[error("the module has clamps; call set_ncomp before clamp (or delete_clamps)")]
    Clamps,
    /// The module has recordings.
    #[error("the module has recordings; call set_ncomp before record (or delete_recordings)")]
    Recordings,
    /// The module has trainable parameters.
    #[error(
        "the module has trainable parameters; call set_ncomp before make_trainable (or \
         delete_trainables)"
    )]
    Trainables,
    /// The module has more than one cell (Jaxley does not allow it on networks).
    #[error("the module has {0} cells; set_ncomp works on cells, not on networks")]
    Network(usize),
    /// The view does not select exactly one branch.
    #[error("the view spans {0} branches; select a single branch, e.g. `cell.branch(i)`")]
    NotOneBranch(usize),
    /// The view selects only some compartments of the branch.
    #[error(
        "the view holds {in_view} of the branch's {ncomp} compartments; select the whole branch"
    )]
    PartialBranch {
        /// Compartments of the branch in the view.
        in_view: usize,
        /// Compartments of the branch.
        ncomp: usize,
    },
    /// A compartment property differs between the branch's compartments.
    #[error(
        "the compartments of the branch have different `{0}`; call set_ncomp first and \
         then set per-compartment values"
    )]
    Inhomogeneous(String),
    /// A mechanism is inserted in some compartments of the branch only.
    #[error("mechanism `{0}` is inserted in only some compartments of the branch")]
    MechanismInSomeComps(String),
    /// A mechanism parameter or state differs between the branch's compartments.
    #[error("mechanism parameter or state `{0}` differs between the compartments of the branch")]
    MechanismValuesDiffer(String),
    /// Some compartments of the branch belong to a group and others do not.
    #[error("only some compartments of the branch belong to group `{0}`")]
    GroupInSomeComps(String),
}

/// Shorthand for `Result<T, huxley::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn check_positive(
    name: &str,
    value: f64,
    location: impl FnOnce() -> String,
) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidValue {
            name: name.to_string(),
            value,
            requirement: "positive and finite",
            location: location(),
        })
    }
}

//! The reader's error type.

use std::path::PathBuf;

/// Everything that can go wrong while reading an SWC morphology.
///
/// Line numbers are 1-based and count every line of the file (comments and blank
/// lines included); `\n`, `\r\n` and a lone `\r` each end a line.
///
/// `Clone` and `PartialEq` (so that it can live inside [`crate::Error`]); an I/O failure is
/// kept as its [`std::io::ErrorKind`] and message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SwcError {
    /// The file could not be opened or read.
    #[error("cannot read SWC file {}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What kind of I/O failure it was.
        kind: std::io::ErrorKind,
        /// The operating system's message.
        message: String,
    },

    /// An error found while reading the file at `path` (added by `read_swc_geometry`).
    #[error("{}: {source}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// The error inside the file.
        #[source]
        source: Box<SwcError>,
    },

    /// A data line has fewer than the 7 fields `id type x y z radius parent`.
    #[error("line {line}: expected 7 fields (id type x y z radius parent), found {found}")]
    FieldCount {
        /// 1-based line number.
        line: usize,
        /// Number of fields found.
        found: usize,
    },

    /// A field is not a number of the expected kind.
    #[error("line {line}: field `{field}` is not {expected}: {text:?}")]
    BadNumber {
        /// 1-based line number.
        line: usize,
        /// Which field (`id`, `type`, `x`, ...).
        field: &'static str,
        /// What it should be.
        expected: &'static str,
        /// The offending text.
        text: String,
    },

    /// A field is NaN or infinite.
    #[error("line {line}: field `{field}` is not finite: {text:?}")]
    NonFinite {
        /// 1-based line number.
        line: usize,
        /// Which field (`id`, `type`, `x`, ...).
        field: &'static str,
        /// The offending text.
        text: String,
    },

    /// The file has no samples (only comments and blank lines, or nothing at all).
    #[error("the SWC data has no samples")]
    Empty,

    /// Two samples share an id.
    #[error("line {line}: sample id {id} was already defined on line {first_line}")]
    DuplicateId {
        /// 1-based line number.
        line: usize,
        /// The sample id.
        id: i64,
        /// Line of the earlier definition.
        first_line: usize,
    },

    /// A sample names a parent id that no sample has (only -1 marks a root).
    #[error("line {line}: parent id {parent} of sample {id} does not exist")]
    MissingParent {
        /// 1-based line number.
        line: usize,
        /// The sample id.
        id: i64,
        /// The parent id given.
        parent: i64,
    },

    /// More than one sample has parent -1.
    #[error(
        "line {line}: sample {id} is a second root (parent -1); the first root is on \
         line {first_line}"
    )]
    MultipleRoots {
        /// 1-based line number.
        line: usize,
        /// The sample id.
        id: i64,
        /// Line of the earlier definition.
        first_line: usize,
    },

    /// The parent links form a cycle (a sample is its own ancestor), so the samples
    /// are not a tree.
    #[error("line {line}: sample {id} is its own ancestor (the parent links form a cycle)")]
    Cycle {
        /// 1-based line number.
        line: usize,
        /// The sample id.
        id: i64,
    },

    /// A radius is zero or negative and no `min_radius` was given.
    #[error(
        "line {line}: sample {id} has radius {radius}, which is not positive \
         (set `min_radius` to read such files)"
    )]
    NonPositiveRadius {
        /// 1-based line number.
        line: usize,
        /// The sample id.
        id: i64,
        /// The radius.
        radius: f64,
    },

    /// The file has a single sample which is not a soma (type 1): there is no branch.
    #[error(
        "line {line}: the only sample is not a soma (type 1), so the morphology has \
         no branch"
    )]
    SingleSample {
        /// 1-based line number.
        line: usize,
    },

    /// `ncomp` was zero.
    #[error("ncomp must be at least 1")]
    ZeroNcomp,

    /// An option value is unusable (e.g. a non-positive `max_branch_len`).
    #[error("invalid option `{name}`: {reason}")]
    InvalidOption {
        /// The option.
        name: &'static str,
        /// Why it is unusable.
        reason: String,
    },

    /// `compartmentalize` was given no points.
    #[error("a branch needs at least one xyzr point")]
    EmptyBranch,

    /// A compartment's length-weighted radius is not positive (e.g. all points of a
    /// branch coincide) and no `min_radius` was given. Jaxley asserts here.
    #[error(
        "branch {branch}, compartment {comp}: radius {radius} is not positive \
         (set `min_radius`)"
    )]
    DegenerateCompartment {
        /// Branch index.
        branch: usize,
        /// Compartment index within the branch.
        comp: usize,
        /// The radius.
        radius: f64,
    },
}

impl SwcError {
    /// The 1-based line number the error refers to, if any (looks through `InFile`).
    pub fn line(&self) -> Option<usize> {
        match self {
            SwcError::InFile { source, .. } => source.line(),
            SwcError::FieldCount { line, .. }
            | SwcError::BadNumber { line, .. }
            | SwcError::NonFinite { line, .. }
            | SwcError::DuplicateId { line, .. }
            | SwcError::MissingParent { line, .. }
            | SwcError::MultipleRoots { line, .. }
            | SwcError::Cycle { line, .. }
            | SwcError::NonPositiveRadius { line, .. }
            | SwcError::SingleSample { line } => Some(*line),
            _ => None,
        }
    }

    /// The error without the `InFile` wrapper.
    pub fn inner(&self) -> &SwcError {
        match self {
            SwcError::InFile { source, .. } => source.inner(),
            other => other,
        }
    }
}

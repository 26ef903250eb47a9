//! Describe: the user-facing model.
//!
//! [`Compartment`], [`Branch`] and [`Cell`] build a [`Module`]; views such as
//! `cell.branch(2)?.comp(0)?` select parts of it, and `set`, `insert`, `record`, `stimulate`,
//! `clamp` and `make_trainable` change it. Everything here is flexible and may allocate; the
//! simulation itself runs on a compiled copy (see [`crate::compile`]).

mod builders;
pub(crate) mod edges;
mod groups;
mod module;
mod morphology;
mod network;
mod set_ncomp;
pub(crate) mod table;
mod trainable;
mod view;

pub use builders::{Branch, Cell, Compartment};
pub use edges::Connection;
pub use module::{Clamp, Module, Recording, Stimulus};
pub(crate) use morphology::{CellMorph, MorphIndex, Morphology};
pub use network::{
    EdgeLevel, EdgeView, Network, connect, connectivity_matrix_connect, fully_connect,
    sparse_connect,
};
pub use table::{GEOMETRY, cylinder_area, cylinder_resistive_load, cylinder_volume};
pub use trainable::{ParamGroup, ParamState, Trainable};
pub use view::{Level, Selection, View, Views};

//! The XIVE engine, with nothing of sPAPR in it.
//!
//! Pieces, in the order an event crosses them:
//! - [`source::SourceBlock`]: per-source PQ and LSI state, ESB trigger and
//!   management pages;
//! - [`router::Router`]: the EAS table, the END table with event queues in
//!   guest memory, NVTs through the owner's [`nvt::NvtBackend`], END ESB
//!   pages and escalation;
//! - [`presenter::Presenter`]: thread contexts with their four rings,
//!   matched by CAM line through an index, and the TIMA views
//!   ([`tima`]) served by [`router::Router::tima_read`] and
//!   [`router::Router::tima_write`].
//!
//! A machine model owns these, decides the numbering (which END serves
//! which thread and priority, which NVT is which thread) and wires the
//! output lines; `examples/engine.rs` builds one with no machine at all.

pub mod cam;
pub mod eas;
pub mod end;
pub mod nvt;
pub mod pq;
pub mod presenter;
pub mod regs;
pub mod router;
pub mod source;
pub mod tctx;
pub mod tima;

pub use eas::{Eas, EasTable};
pub use end::{End, EndTable, EnqueueError};
pub use nvt::{cam_line, Nvt, NvtBackend, NvtError, NvtTable};
pub use presenter::{MatchResult, Presenter};
pub use router::{Router, RouterConfig};
pub use source::{Notifier, SourceBlock, SourceConfig};
pub use tctx::{Ring, TctxState};
pub use tima::Page;

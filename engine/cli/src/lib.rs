//! The informaticist's side of the engine: reading visit types, rules, charts and answers from
//! disk, and the commands of the `intake` binary. All file I/O of the project lives here; the
//! engine itself never touches the filesystem.

pub mod args;
pub mod commands;
pub mod project;
pub mod scenario;
pub mod preview;
pub mod serve;

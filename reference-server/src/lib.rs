//! Keygate's reference S3 + IAM + STS server.
//!
//! A minimal but complete server modelled on WEKA's S3 protocol (itself built on MinIO):
//! objects are files on a real filesystem, every request is SigV4-verified by the pure
//! `keygate-sigv4` crate and authorised by the pure `keygate-policy` crate. The contract is
//! `SPEC.md` (rule ids in comments and test names refer to it).
//!
//! Embed it with [`Server::start`]; the binary `keygate-server` wraps the same call.

mod admin;
mod auth;
mod authz;
pub mod clock;
pub mod config;
pub mod conn;
mod hotpath;
mod http_util;
pub mod iam;
pub mod metrics;
mod root;
pub mod s3;
mod server;
mod state;
pub mod store;
mod sts;
pub mod tls;

pub use config::ServerConfig;
pub use conn::ConnLimits;
pub use hotpath::HotPath;
pub use server::{RunningServer, Server};
pub use tls::TlsConfig;

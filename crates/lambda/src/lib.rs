//! The imperative shell around `coverage-core` for AWS Lambda: configuration
//! from the environment, AWS clients built once, fact gathering, the guarded
//! `UpdateAddon` OVERWRITE, the follow-up's schedules on EventBridge
//! Scheduler, publishing the alert to SNS, and, in an organization hub, the
//! member accounts' clients from their assumed roles; in approve mode the
//! approval token's KMS HMAC; its metrics as CloudWatch embedded metric
//! format; and `coverage sweep`'s terminal run of the sweep.

pub mod accounts;
pub mod approval;
pub mod audit_log;
pub mod aws_error;
pub mod config;
pub mod emf;
pub mod gather;
pub mod handler;
pub mod logging;
pub mod payload;
pub mod publish;
pub mod remediate;
pub mod schedule;
pub mod sweep;
pub mod terminal;
pub mod tls;

pub use config::{Config, ConfigError, MessageFormat};
pub use handler::{App, HandlerError, Reply};

//! The function's metrics as CloudWatch embedded metric format (EMF) lines on
//! standard output, which Lambda's log group turns into metrics. Owns the
//! process's one `metrics` recorder (metrics_cloudwatch_embedded), adding
//! the core's counts (`coverage_core::metrics`) to it, and writing them out
//! once per invocation. No EMF is written by hand: the backend serializes.
//!
//! Counts from invocations that overlap are written by whichever flushes
//! first; each count is written exactly once (a flush takes what it writes),
//! so the sums in CloudWatch stay exact.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use coverage_core::metrics::{Count, DEFAULT_NAMESPACE, MetricName};
use metrics_cloudwatch_embedded::{Builder, Collector};

/// The CloudWatch namespace of every metric.
pub const METRICS_NAMESPACE: &str = "METRICS_NAMESPACE";
/// Set by Lambda: the dimension every metric carries, so that two stacks in
/// one account keep their metrics apart and the alarms find theirs.
pub const AWS_LAMBDA_FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
/// The dimension key of the function's name.
pub const FUNCTION_DIMENSION: &str = "Function";

/// Why the metrics could not be set up (a start-up error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    #[error(
        "environment variable METRICS_NAMESPACE: {0:?} is not a CloudWatch namespace (1-255 printable ASCII characters, not starting with ':' or 'AWS/')"
    )]
    Namespace(String),
    #[error("the metrics recorder could not be installed: {0}")]
    Install(String),
}

/// Where the metrics go: the namespace and the function's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSettings {
    pub namespace: String,
    pub function_name: Option<String>,
}

impl MetricsSettings {
    pub fn from_env() -> Result<MetricsSettings, MetricsError> {
        MetricsSettings::from_lookup(|name| std::env::var(name).ok())
    }

    /// From any lookup; empty values count as unset.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<MetricsSettings, MetricsError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let namespace = match get(METRICS_NAMESPACE) {
            None => DEFAULT_NAMESPACE.to_owned(),
            Some(namespace) if is_namespace(&namespace) => namespace,
            Some(namespace) => {
                return Err(MetricsError::Namespace(coverage_core::text::clip(
                    &namespace, 300,
                )));
            }
        };
        Ok(MetricsSettings {
            namespace,
            function_name: get(AWS_LAMBDA_FUNCTION_NAME)
                .map(|name| coverage_core::text::clip(&name, 140)),
        })
    }
}

/// CloudWatch's rule for a custom namespace.
fn is_namespace(namespace: &str) -> bool {
    (1..=255).contains(&namespace.len())
        && namespace.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !namespace.starts_with(':')
        && !namespace.starts_with("AWS/")
}

/// The installed recorder: `flush` writes what was counted since the last flush.
#[derive(Clone, Copy)]
pub struct Emitter {
    collector: &'static Collector,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter").finish_non_exhaustive()
    }
}

static EMITTER: OnceLock<Result<Emitter, MetricsError>> = OnceLock::new();
/// A flush sets the request id property and then writes: one at a time.
static FLUSH: Mutex<()> = Mutex::new(());

/// Installs the process's recorder, once: a later call returns the first
/// one (its settings win). Until installed, counts go nowhere.
pub fn install(settings: &MetricsSettings) -> Result<Emitter, MetricsError> {
    EMITTER
        .get_or_init(|| {
            let mut builder = Builder::new().cloudwatch_namespace(settings.namespace.clone());
            if let Some(function) = &settings.function_name {
                builder = builder.with_dimension(FUNCTION_DIMENSION, function.clone());
            }
            let emitter = builder
                .init()
                .map(|collector| Emitter { collector })
                .map_err(|error| MetricsError::Install(error.to_string()));
            // Every metric is a count (the dashboard sums them).
            for metric in MetricName::ALL {
                ::metrics::describe_counter!(metric.as_str(), ::metrics::Unit::Count, "");
            }
            emitter
        })
        .clone()
}

/// Adds the core's counts to the recorder (nothing when none is installed).
pub fn record(counts: &[Count]) {
    for count in counts {
        let name = count.metric.as_str();
        match (count.metric.dimension(), count.dimension_value) {
            (Some(key), Some(value)) => {
                ::metrics::counter!(name, key => value).increment(count.value)
            }
            _ => ::metrics::counter!(name).increment(count.value),
        }
    }
}

impl Emitter {
    /// The EMF lines (one JSON document per line) of everything counted
    /// since the last flush, with the invocation's request id as a property
    /// so that the metrics and the logs line up. Empty when nothing moved.
    pub fn flush(&self, request_id: &str) -> Vec<u8> {
        let _one_at_a_time = FLUSH
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut lines = Vec::new();
        let written = self
            .collector
            .set_property("RequestId", coverage_core::text::clip(request_id, 64))
            .flush(&mut lines);
        if let Err(error) = written {
            tracing::warn!(error = %error, "metrics not written");
            return Vec::new();
        }
        lines
    }

    /// Flush to standard output in one write, so that no log line lands
    /// inside a metrics document.
    pub fn flush_to_stdout(&self, request_id: &str) {
        let lines = self.flush(request_id);
        if lines.is_empty() {
            return;
        }
        let mut stdout = std::io::stdout().lock();
        if let Err(error) = stdout.write_all(&lines).and_then(|()| stdout.flush()) {
            tracing::warn!(error = %error, "metrics not written to standard output");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_follow_cloudwatch_rules() {
        for good in ["GuardDutyCoverage", "Team/Coverage", "a", &"x".repeat(255)] {
            assert!(is_namespace(good), "{good}");
        }
        for bad in ["", ":x", "AWS/Lambda", "tab\there", "é", &"x".repeat(256)] {
            assert!(!is_namespace(bad), "{bad}");
        }
    }

    #[test]
    fn settings_default_to_the_namespace_and_carry_the_function_name() {
        let none = MetricsSettings::from_lookup(|_| None).unwrap();
        assert_eq!(none.namespace, DEFAULT_NAMESPACE);
        assert_eq!(none.function_name, None);
        let set = MetricsSettings::from_lookup(|name| match name {
            METRICS_NAMESPACE => Some("Ops/Coverage".into()),
            AWS_LAMBDA_FUNCTION_NAME => Some("coverage-fn".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(set.namespace, "Ops/Coverage");
        assert_eq!(set.function_name.as_deref(), Some("coverage-fn"));
        let bad = MetricsSettings::from_lookup(|name| {
            (name == METRICS_NAMESPACE).then(|| "AWS/Lambda".to_owned())
        });
        assert!(matches!(bad, Err(MetricsError::Namespace(ns)) if ns == "AWS/Lambda"));
    }
}

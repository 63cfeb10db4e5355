//! The cluster's audit log, read through CloudWatch Logs Insights: the core's
//! `AuditQuery` as `StartQuery`, then `GetQueryResults` every `poll_ms` until
//! the query ends or its deadline passes. Every failure is a typed fact
//! (`AuditFailure`) the alert explains: no log group (audit logging is off),
//! still running at the deadline (the query id), `LimitExceededException`,
//! access denied, anything else in words. It never fails the event.

use std::time::Duration;

use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;
use aws_sdk_cloudwatchlogs::types::QueryStatus;
use coverage_core::AuditRead;
use coverage_core::audit::{AuditChange, AuditFailure, AuditTrail};
use coverage_core::facts::Fact;

use crate::aws_error::error_text;
use crate::gather::{now_ms, until};

/// The typed failure for an error code CloudWatch Logs sent.
fn failure_for(code: Option<&str>, text: String) -> AuditFailure {
    match code {
        Some("ResourceNotFoundException") => AuditFailure::LogGroupNotFound,
        Some("LimitExceededException") => AuditFailure::LimitExceeded,
        Some("AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation") => {
            AuditFailure::AccessDenied { message: text }
        }
        _ => AuditFailure::Other { message: text },
    }
}

fn unreadable(failure: AuditFailure) -> Fact<AuditTrail> {
    Fact::Known(AuditTrail::Unreadable { failure })
}

/// No SDK retries: a `LimitExceededException` (30 concurrent queries per
/// account) does not clear within the budget, and backing off would only hide
/// it behind a timeout; the polling loop is the retry of `GetQueryResults`.
fn one_attempt() -> aws_sdk_cloudwatchlogs::config::Builder {
    aws_sdk_cloudwatchlogs::config::Builder::default().retry_config(
        aws_sdk_cloudwatchlogs::config::retry::RetryConfig::standard().with_max_attempts(1),
    )
}

/// Run the query within `read.deadline_ms`.
pub async fn read(
    client: &aws_sdk_cloudwatchlogs::Client,
    read: AuditRead<'_>,
) -> Fact<AuditTrail> {
    let query = read.query;
    let start = client
        .start_query()
        .log_group_name(&query.log_group)
        .start_time(query.start_time)
        .end_time(query.end_time)
        .query_string(&query.query_string)
        .limit(i32::try_from(query.limit).unwrap_or(i32::MAX))
        .customize()
        .config_override(one_attempt())
        .send();
    let started = match tokio::time::timeout(until(read.deadline_ms), start).await {
        Err(_) => {
            return unreadable(AuditFailure::Other {
                message: "StartQuery did not answer before the query's deadline".to_owned(),
            });
        }
        Ok(Err(error)) => {
            let code = error.code().map(str::to_owned);
            return unreadable(failure_for(
                code.as_deref(),
                format!("StartQuery failed: {}", error_text(&error)),
            ));
        }
        Ok(Ok(output)) => output,
    };
    let Some(query_id) = started.query_id().filter(|id| !id.is_empty()) else {
        return unreadable(AuditFailure::Other {
            message: "StartQuery returned no query id".to_owned(),
        });
    };
    let still_running = || {
        unreadable(AuditFailure::StillRunning {
            query_id: coverage_core::text::clip(query_id, 128),
        })
    };
    let poll = Duration::from_millis(read.poll_ms.max(1));
    loop {
        let results = client
            .get_query_results()
            .query_id(query_id)
            .customize()
            .config_override(one_attempt())
            .send();
        let output = match tokio::time::timeout(until(read.deadline_ms), results).await {
            Err(_) => return still_running(),
            Ok(Err(error)) => {
                let code = error.code().map(str::to_owned);
                return unreadable(failure_for(
                    code.as_deref(),
                    format!("GetQueryResults failed: {}", error_text(&error)),
                ));
            }
            Ok(Ok(output)) => output,
        };
        match output.status() {
            Some(QueryStatus::Complete) => {
                let changes = output
                    .results()
                    .iter()
                    .map(|row| {
                        AuditChange::from_row(row.iter().filter_map(|field| {
                            Some((field.field()?, field.value().unwrap_or_default()))
                        }))
                    })
                    .collect();
                return Fact::Known(AuditTrail::Read {
                    query_id: Some(coverage_core::text::clip(query_id, 128)),
                    changes,
                });
            }
            Some(
                status @ (QueryStatus::Failed | QueryStatus::Cancelled | QueryStatus::Timeout),
            ) => {
                return unreadable(AuditFailure::QueryEnded {
                    query_id: coverage_core::text::clip(query_id, 128),
                    status: status.as_str().to_owned(),
                });
            }
            // Scheduled, Running, Unknown or a status this code does not know: look again.
            _ => {}
        }
        // Another look only if it can be made before the deadline.
        if now_ms().saturating_add(read.poll_ms) >= read.deadline_ms {
            return still_running();
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_become_typed_failures() {
        assert_eq!(
            failure_for(Some("ResourceNotFoundException"), "x".into()),
            AuditFailure::LogGroupNotFound
        );
        assert_eq!(
            failure_for(Some("LimitExceededException"), "x".into()),
            AuditFailure::LimitExceeded
        );
        assert_eq!(
            failure_for(Some("AccessDeniedException"), "no".into()),
            AuditFailure::AccessDenied {
                message: "no".into()
            }
        );
        assert_eq!(
            failure_for(Some("MalformedQueryException"), "bad".into()),
            AuditFailure::Other {
                message: "bad".into()
            }
        );
        assert_eq!(
            failure_for(None, "reset".into()),
            AuditFailure::Other {
                message: "reset".into()
            }
        );
    }
}

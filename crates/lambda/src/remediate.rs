//! Executing the one write the core may plan: `UpdateAddon` on
//! `aws-guardduty-agent` with conflict resolution OVERWRITE, the add-on's
//! current version and configuration values, the event's idempotency token,
//! and nothing else (no pod identity associations, no service account role).

use aws_sdk_eks::error::SdkError;
use aws_sdk_eks::types::ResolveConflicts;
use coverage_core::WriteResult;
use coverage_core::decide::{ADDON_NAME, OverwriteRequest, RESOLVE_CONFLICTS};

use crate::gather::error_text;

/// Make the call and report what EKS answered. The caller bounds it in time
/// (an unanswered call is `WriteResult::NoAnswer`).
pub async fn overwrite(eks: &aws_sdk_eks::Client, request: &OverwriteRequest) -> WriteResult {
    // The request comes from the core, which only ever plans this; checked
    // again here because this is the line that writes to a cluster.
    if request.addon_name != ADDON_NAME || request.resolve_conflicts != RESOLVE_CONFLICTS {
        return WriteResult::Failed {
            error: format!("refused: only {ADDON_NAME} with {RESOLVE_CONFLICTS} may be updated"),
        };
    }
    let Some(version) = request.addon_version.as_deref() else {
        return WriteResult::Failed {
            error: "refused: the add-on's current version is unknown".to_owned(),
        };
    };
    let call = eks
        .update_addon()
        .cluster_name(&request.cluster_name)
        .addon_name(ADDON_NAME)
        .addon_version(version)
        .resolve_conflicts(ResolveConflicts::Overwrite)
        .set_configuration_values(request.configuration_values.clone())
        .client_request_token(&request.client_request_token);
    match call.send().await {
        Ok(output) => match output.update() {
            Some(update) => WriteResult::Started {
                update_id: coverage_core::text::clip(update.id().unwrap_or("unknown"), 128),
                status: update.status().map_or("unknown", |s| s.as_str()).to_owned(),
            },
            None => WriteResult::Failed {
                error: "UpdateAddon answered without an update".to_owned(),
            },
        },
        Err(error) => {
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception())
            {
                WriteResult::InUse {
                    message: error_text(&error),
                }
            } else if matches!(
                error,
                SdkError::TimeoutError(_)
                    | SdkError::DispatchFailure(_)
                    | SdkError::ResponseError(_)
            ) {
                // No readable answer: the request may have reached EKS and
                // started an update, so the outcome is unknown, not failed.
                WriteResult::NoAnswer {
                    why: error_text(&error),
                }
            } else {
                WriteResult::Failed {
                    error: error_text(&error),
                }
            }
        }
    }
}

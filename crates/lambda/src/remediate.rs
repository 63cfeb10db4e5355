//! Executing the one write the core may plan: `UpdateAddon` on
//! `aws-guardduty-agent` with conflict resolution OVERWRITE, the add-on's
//! current version and configuration values, the event's idempotency token,
//! and nothing else (no pod identity associations, no service account role).

use aws_sdk_eks::types::ResolveConflicts;
use coverage_core::decide::{ADDON_NAME, Outcome, OverwriteRequest, RESOLVE_CONFLICTS};

use crate::gather::error_text;

/// Make the call and report what EKS answered.
pub async fn overwrite(eks: &aws_sdk_eks::Client, request: &OverwriteRequest) -> Outcome {
    // The request comes from the core, which only ever plans this; checked
    // again here because this is the line that writes to a cluster.
    if request.addon_name != ADDON_NAME || request.resolve_conflicts != RESOLVE_CONFLICTS {
        return Outcome::UpdateFailed {
            request: request.clone(),
            error: format!("refused: only {ADDON_NAME} with {RESOLVE_CONFLICTS} may be updated"),
        };
    }
    let Some(version) = request.addon_version.as_deref() else {
        return Outcome::UpdateFailed {
            request: request.clone(),
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
            Some(update) => Outcome::UpdateStarted {
                request: request.clone(),
                update_id: update.id().unwrap_or("unknown").to_owned(),
                status: update.status().map_or("unknown", |s| s.as_str()).to_owned(),
            },
            None => Outcome::UpdateFailed {
                request: request.clone(),
                error: "UpdateAddon answered without an update".to_owned(),
            },
        },
        Err(error) => {
            let in_use = error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception());
            if in_use {
                Outcome::UpdateInFlight {
                    request: request.clone(),
                    message: error_text(&error),
                }
            } else {
                Outcome::UpdateFailed {
                    request: request.clone(),
                    error: error_text(&error),
                }
            }
        }
    }
}

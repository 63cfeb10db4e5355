//! Executing the core's `ScheduleRequest`s on EventBridge Scheduler: the
//! one-time schedule of a follow-up's next look (`CreateSchedule`, enabled,
//! deleted once it has run) and the disabled marker that claims a posted
//! outcome (`CreateSchedule`, then `GetSchedule` to read an existing
//! marker's claim). Nothing else: no update, no delete, only in the group
//! the core names. The caller bounds each call in time.

use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, ScheduleState,
    Target,
};
use coverage_core::follow_up::{ClaimResult, FollowUpInput, ScheduleRequest, ScheduleResult};

use crate::gather::error_text;

/// Scheduler's retries of a delivery the function did not accept
/// (throttling): a look that is an hour late is stale, and Lambda's own
/// async retries cover the function's errors.
const MAX_DELIVERY_AGE_SECONDS: i32 = 3600;
const MAX_DELIVERY_ATTEMPTS: i32 = 10;

/// Create the schedule. `ConflictException` (a schedule of that name exists
/// in the group) is `AlreadyExists`: the names are the idempotency.
pub async fn create(
    client: &aws_sdk_scheduler::Client,
    request: &ScheduleRequest,
) -> ScheduleResult {
    let window = match FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
    {
        Ok(window) => window,
        Err(error) => {
            return ScheduleResult::Failed {
                why: format!("the schedule could not be built: {error}"),
            };
        }
    };
    let target = match Target::builder()
        .arn(&request.target_arn)
        .role_arn(request.role_arn.as_str())
        .input(request.input.to_json())
        .retry_policy(
            RetryPolicy::builder()
                .maximum_event_age_in_seconds(MAX_DELIVERY_AGE_SECONDS)
                .maximum_retry_attempts(MAX_DELIVERY_ATTEMPTS)
                .build(),
        )
        .build()
    {
        Ok(target) => target,
        Err(error) => {
            return ScheduleResult::Failed {
                why: format!("the schedule could not be built: {error}"),
            };
        }
    };
    let call = client
        .create_schedule()
        .name(request.name.as_str())
        .group_name(request.group.as_str())
        .schedule_expression(&request.expression)
        .schedule_expression_timezone("UTC")
        .flexible_time_window(window)
        .target(target)
        .state(if request.enabled() {
            ScheduleState::Enabled
        } else {
            ScheduleState::Disabled
        })
        .action_after_completion(if request.delete_after_completion() {
            ActionAfterCompletion::Delete
        } else {
            ActionAfterCompletion::None
        })
        .description(&request.description);
    match call.send().await {
        Ok(_) => ScheduleResult::Created,
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_conflict_exception()) =>
        {
            ScheduleResult::AlreadyExists
        }
        Err(error) => ScheduleResult::Failed {
            why: format!("CreateSchedule failed: {}", error_text(&error)),
        },
    }
}

/// Claim an outcome: create its marker; when the marker exists, read whose
/// claim it holds (its input), so the core can tell Lambda's retry of the
/// claiming invocation from a second delivery.
pub async fn claim(client: &aws_sdk_scheduler::Client, request: &ScheduleRequest) -> ClaimResult {
    match create(client, request).await {
        ScheduleResult::Created => ClaimResult::Claimed,
        ScheduleResult::Failed { why } => ClaimResult::Failed { why },
        ScheduleResult::AlreadyExists => {
            let existing = client
                .get_schedule()
                .name(request.name.as_str())
                .group_name(request.group.as_str())
                .send()
                .await;
            // A marker whose claim cannot be read is still a claim: another
            // invocation posted, so this one does not.
            if let Err(error) = &existing {
                tracing::warn!(
                    error = %error_text(error),
                    schedule = %request.name,
                    "GetSchedule on an existing claim failed: treated as another invocation's claim"
                );
            }
            let claim = existing.ok().and_then(|output| {
                output
                    .target()
                    .and_then(|target| FollowUpInput::from_json(target.input()?).ok())
                    .and_then(|input| input.claim)
            });
            ClaimResult::Taken { claim }
        }
    }
}

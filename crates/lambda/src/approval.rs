//! The KMS side of approve mode: `GenerateMac` over a token's signed part
//! when the pipeline asks (`Next::Sign`), and `VerifyMac` of an approval
//! invocation's token, each bounded by a deadline. The key is the stack's
//! HMAC_256 key (`APPROVAL_KEY_ID`); the function never holds a secret.
//! What a token means, its expiry and binding are the core's
//! (`coverage_core::approval`).

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::MacAlgorithmSpec;
use coverage_core::approval::Verification;

use crate::aws_error::error_text;
use crate::gather::until;

/// The MAC of `signed`, or why not; within `deadline_ms`.
pub async fn generate_mac(
    kms: &aws_sdk_kms::Client,
    key_id: &str,
    signed: &str,
    deadline_ms: u64,
) -> Result<Vec<u8>, String> {
    let limit = until(deadline_ms);
    let call = kms
        .generate_mac()
        .key_id(key_id)
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .message(Blob::new(signed.as_bytes()))
        .send();
    match tokio::time::timeout(limit, call).await {
        Ok(Ok(output)) => output
            .mac()
            .map(|mac| mac.as_ref().to_vec())
            .ok_or_else(|| "KMS GenerateMac answered without a MAC".to_owned()),
        Ok(Err(error)) => Err(format!("KMS GenerateMac failed: {}", error_text(&error))),
        Err(_) => Err(format!(
            "KMS GenerateMac did not answer within {} ms",
            limit.as_millis()
        )),
    }
}

/// Whether KMS says `mac` is `signed`'s; anything but a clear answer is
/// `Failed` (refused: fail closed).
pub async fn verify_mac(
    kms: &aws_sdk_kms::Client,
    key_id: &str,
    signed: &str,
    mac: &[u8],
    deadline_ms: u64,
) -> Verification {
    let limit = until(deadline_ms);
    let call = kms
        .verify_mac()
        .key_id(key_id)
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .message(Blob::new(signed.as_bytes()))
        .mac(Blob::new(mac))
        .send();
    match tokio::time::timeout(limit, call).await {
        Ok(Ok(output)) if output.mac_valid() => Verification::Valid,
        Ok(Ok(_)) => Verification::Invalid,
        Ok(Err(error))
            if error
                .as_service_error()
                .is_some_and(|e| e.is_kms_invalid_mac_exception()) =>
        {
            Verification::Invalid
        }
        Ok(Err(error)) => Verification::Failed(format!("KMS VerifyMac: {}", error_text(&error))),
        Err(_) => Verification::Failed(format!(
            "KMS VerifyMac did not answer within {} ms",
            limit.as_millis()
        )),
    }
}

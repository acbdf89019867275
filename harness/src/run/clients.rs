//! AWS SDK clients for one identity on one target: path-style S3, STS at the same endpoint,
//! both signing with the target's clock (see [`SharedClock`]) and never retrying, so each
//! step is exactly one request and its outcome is the target's first answer. Over https they
//! trust the target's CA when it names one (`Target::tls_trust`).
//!
//! The SDKs' clock-skew correction is off: it learns an offset from each answer's `Date`
//! header, and a target whose test clock was moved (`advance_clock`) may still stamp `Date`
//! with wall-clock time, which would make the SDK sign skewed requests. The harness signs with
//! the clock it was told about, nothing else.

use crate::target::{Credentials, SharedClock, Target};
use aws_sdk_s3::config::{Region, StalledStreamProtectionConfig};
use aws_smithy_async::time::TimeSource;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use std::time::{Duration, SystemTime};

impl TimeSource for SharedClock {
    fn now(&self) -> SystemTime {
        SharedClock::now(self)
    }
}

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(60))
        .build()
}

/// An S3 client signing as `who` (`None`: anonymous, unsigned requests).
pub fn s3_client(target: &dyn Target, who: Option<&Credentials>) -> aws_sdk_s3::Client {
    let mut b = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .endpoint_url(target.endpoint())
        .region(Region::new(target.region().to_owned()))
        .force_path_style(true)
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts())
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .disable_clock_skew_correction(true)
        .time_source(target.clock().clone());
    if let Some(http) = sdk_http_client(target) {
        b = b.http_client(http);
    }
    match who {
        Some(c) => b = b.credentials_provider(c.to_aws()),
        None => b = b.allow_no_auth(),
    }
    aws_sdk_s3::Client::from_conf(b.build())
}

/// An STS client at the target's S3 endpoint (SPEC S1), signing as `who`.
pub fn sts_client(target: &dyn Target, who: &Credentials) -> aws_sdk_sts::Client {
    let mut b = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .endpoint_url(target.endpoint())
        .region(aws_sdk_sts::config::Region::new(target.region().to_owned()))
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts())
        .time_source(target.clock().clone())
        .disable_clock_skew_correction(true)
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .credentials_provider(who.to_aws());
    if let Some(http) = sdk_http_client(target) {
        b = b.http_client(http);
    }
    aws_sdk_sts::Client::from_conf(b.build())
}

/// The SDK's https client trusting the target's CA; `None` keeps the SDK's default client (the
/// platform's roots). A CA that cannot be used here was already refused when the target was
/// opened, so a failure now is reported and the default client used: its requests then fail
/// certificate verification, visibly, as transport errors.
fn sdk_http_client(target: &dyn Target) -> Option<SharedHttpClient> {
    target.tls_trust().sdk_http_client().unwrap_or_else(|e| {
        say!("warning: {e:#}");
        None
    })
}

//! API errors: every failure becomes `{"error": {"code", "message", "field"}}`
//! with the status code its kind calls for.

use hyper::StatusCode;

use super::response::{Resp, json};
use crate::domain::{DomainError, ErrorKind};
use crate::service::accounts::AccountError;
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<std::borrow::Cow<'static, str>>,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after_secs: None,
        }
    }

    /// Marks the error as about one input field.
    pub fn on(mut self, field: &'static str) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "There is nothing at this address.",
        )
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Please sign in first.",
        )
    }

    /// 503: password hashing is at capacity; come back in a second.
    pub fn busy() -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "The server is busy checking other passwords. Please try again in a moment.",
        );
        e.retry_after_secs = Some(1);
        e
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on our side. Please try again.",
        )
    }

    pub fn into_response(self) -> Resp {
        let body = serde_json::json!({
            "error": {"code": self.code, "message": self.message, "field": self.field}
        });
        let mut resp = json(self.status, &body);
        if let Some(secs) = self.retry_after_secs {
            resp.headers_mut()
                .insert(hyper::header::RETRY_AFTER, secs.into());
        }
        resp
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let status = match e.kind {
            ErrorKind::Invalid => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::TooMany => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::UnsupportedType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        };
        Self {
            status,
            code: e.code,
            message: e.message,
            field: e.field,
            retry_after_secs: e.retry_after_secs,
        }
    }
}

impl From<crate::domain::live::LiveError> for ApiError {
    fn from(e: crate::domain::live::LiveError) -> Self {
        DomainError::from(e).into()
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Store(e) => e.into(),
            AccountError::Busy => Self::busy(),
            AccountError::Limited {
                error,
                retry_after_secs,
            } => {
                let mut api = Self::from(error);
                api.retry_after_secs = Some(retry_after_secs);
                api
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Rule(d) => d.into(),
            StoreError::NotFound => Self::not_found(),
            e if e.is_storage_failure() => {
                tracing::warn!(error = %e, "refused: storage is failing");
                let mut api = Self::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "storage_unavailable",
                    if e.is_disk_full() {
                        "The server's disk is full, so nothing can be saved right now and nothing was changed. Please try again later."
                    } else {
                        "The server cannot save anything right now (its storage is failing), so nothing was changed. Please try again later."
                    },
                );
                api.retry_after_secs = Some(crate::store::PROBE_EVERY.as_secs().max(1));
                api
            }
            other => {
                tracing::error!(error = %other, "store failure");
                Self::internal()
            }
        }
    }
}

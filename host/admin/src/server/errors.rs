//! Error answers: every refusal of the endpoint is a JSON [`ErrorBody`]
//! with a stable [`ErrorCode`] and a status that tells the kind, the HTTP
//! framework's own refusals included (an unknown route, a wrong method, a
//! body over the limit, a path or query that does not parse).

use axum::Json;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use wasmvisor::{CallError, ChildError};

use crate::api::{ErrorBody, ErrorCode};

/// The most of a framework's error body that is kept as the message.
const MAX_FRAMEWORK_MESSAGE: usize = 4 << 10;

/// An error answer.
pub(crate) fn error_response(status: StatusCode, code: ErrorCode, message: String) -> Response {
    (status, Json(ErrorBody::new(code, message))).into_response()
}

/// The answer to a call that got no reply.
pub(crate) fn call_error(error: &CallError) -> Response {
    let (status, code) = match error {
        CallError::NotFound(_) | CallError::NoDeadLetter(_) => {
            (StatusCode::NOT_FOUND, ErrorCode::NotFound)
        }
        CallError::DeadLetterStore { .. } => {
            (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::StateStore)
        }
        CallError::MailboxFull { .. } => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::MailboxFull),
        CallError::Rejected { .. } => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Rejected),
        CallError::Crashed { .. } => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Crashed),
        CallError::DeadLettered { .. } => {
            (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::DeadLettered)
        }
        CallError::StateCommit { .. } => {
            (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::StateCommit)
        }
        CallError::Stopped { .. } => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Stopped),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
    };
    error_response(status, code, error.to_string())
}

/// The answer to a management call the supervisor refused.
pub(crate) fn child_error(error: &ChildError) -> Response {
    let status = match error {
        ChildError::NotFound(_) => StatusCode::NOT_FOUND,
        ChildError::SupervisorDown(_) => StatusCode::SERVICE_UNAVAILABLE,
        ChildError::StartFailed { .. } | ChildError::UpgradeFailed { .. } => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::CONFLICT,
    };
    error_response(status, ErrorCode::Management, error.to_string())
}

/// The answer for a path no route serves.
pub(crate) fn no_route(uri: &Uri) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        format!("no such endpoint: {}", uri.path()),
    )
}

/// The code of an error status the framework answered by itself.
fn framework_code(status: StatusCode) -> ErrorCode {
    match status {
        StatusCode::BAD_REQUEST => ErrorCode::BadRequest,
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Busy,
        _ => ErrorCode::Internal,
    }
}

/// Turns an error answer that is not JSON (one the framework made: a wrong
/// method, a body over the limit, a path that does not parse) into an
/// [`ErrorBody`], keeping its status, its headers (`Allow` on a 405) and its
/// text as the message.
pub(crate) async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_FRAMEWORK_MESSAGE)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        let reason = status.canonical_reason().unwrap_or("refused");
        match status {
            StatusCode::METHOD_NOT_ALLOWED => {
                let allowed = parts
                    .headers
                    .get(header::ALLOW)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("-");
                format!("{reason}: this endpoint answers {allowed}")
            }
            _ => reason.to_owned(),
        }
    } else {
        text
    };
    let mut answer = error_response(status, framework_code(status), message);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer
}

//! The largest answer the client reads: [`MAX_ANSWER_BYTES`]. The vendor's
//! answers are a few hundred bytes; an answer that goes on and on (a
//! misbehaving proxy, a body that never ends) is cut off there instead of
//! filling memory. Time is bounded separately: each attempt's time limit
//! covers reading the body too.

use std::error::Error as StdError;

use http_body_util::{LengthLimitError, Limited};
use reqwest::{Response, ResponseBuilderExt};

/// The largest answer body the client reads, in bytes (1 MiB). A larger one
/// ends the call with [`Error::AnswerTooLarge`](crate::Error::AnswerTooLarge)
/// (for a send or cancel: [`Error::OutcomeUnknown`](crate::Error::OutcomeUnknown)).
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// `response`, its body cut off at [`MAX_ANSWER_BYTES`]: reading more is an
/// error that [`too_large`] recognises.
pub(crate) fn bounded(response: Response) -> Response {
    // hyper ends a body at its Content-Length: a small declared length needs
    // no wrapper (the usual case, and the cheapest).
    if response
        .content_length()
        .is_some_and(|length| length <= MAX_ANSWER_BYTES as u64)
    {
        return response;
    }
    let url = response.url().clone();
    let (mut parts, body) = http::Response::<reqwest::Body>::from(response).into_parts();
    // reqwest keeps the URL (which its errors name) in an extension that
    // only its response builder can set.
    if let Ok(with_url) = http::Response::builder().url(url).body(()) {
        parts.extensions.extend(with_url.into_parts().0.extensions);
    }
    let body = reqwest::Body::wrap(Limited::new(body, MAX_ANSWER_BYTES));
    Response::from(http::Response::from_parts(parts, body))
}

/// Whether `error` (or what caused it) is an answer passing the limit.
pub(crate) fn too_large(error: &(dyn StdError + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<LengthLimitError>() {
            return true;
        }
        cause = error.source();
    }
    false
}

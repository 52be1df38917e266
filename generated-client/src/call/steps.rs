//! The two steps of a call (`mod.rs`), which each builder's generated
//! `send_raw` takes in place of progenitor-client's hooks, with the call
//! given explicitly:
//! - [`Call::pre`]: the real URL from the route table, and the bearer token
//!   where the document asks for it (refreshed first when it is about to
//!   expire);
//! - [`Call::exec`]: retries for operations safe to repeat, one refresh (or
//!   another process's token) and one repeat after a 401, the answer's size
//!   limit, and a `tracing` span per call.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use backon::Retryable;
use reqwest::header::AUTHORIZATION;
use reqwest::{Request, Response, StatusCode};
use tracing::Instrument;

use crate::call::Call;
use crate::call::context::Auth;
use crate::call::retry_after::retry_after;
use crate::reading::limit;
use crate::routing::Credential;
use crate::tokens::access_token::AccessToken;
use crate::tokens::auth_error::AuthError;
use crate::tokens::manager::TokenManager;
use crate::tokens::secret::Secret;
#[cfg(not(another_document))]
use crate::tokens::user_tokens::UserTokens;
use crate::{Client, Error};

impl Call {
    /// Before sending: the request's real URL and its token. A failure
    /// stops the call with the crate's own error: nothing was sent.
    pub(crate) async fn pre(&self, client: &Client, request: &mut Request) -> Result<(), Error> {
        let operation = self.operation();
        let invalid = |message: String| Error::InvalidInput { operation, message };
        *request.url_mut() = client
            .inner
            .destinations
            .real_url(operation, &client.baseurl, request.url())
            .map_err(invalid)?;

        request.headers_mut().remove(AUTHORIZATION);
        if operation.route().credential != Credential::BearerToken {
            if let Some(body) = request.body().and_then(reqwest::Body::as_bytes) {
                self.record_sent_body(body);
            }
            return Ok(());
        }
        let token = match &client.inner.auth {
            Auth::None => return Ok(()),
            Auth::Static(token) => token.clone(),
            Auth::Managed(manager) => match self.within_deadline(manager.access_token()).await {
                Some(Ok(token)) => token,
                Some(Err(source)) => return Err(Error::Auth { operation, source }),
                None => return Err(self.stopped_by_deadline()),
            },
            #[cfg(not(another_document))]
            Auth::User(user) => match self.within_deadline(user.access_token()).await {
                Some(Ok(token)) => token,
                Some(Err(source)) => return Err(Error::Auth { operation, source }),
                None => return Err(self.stopped_by_deadline()),
            },
        };
        let header = token.bearer_header().ok_or_else(|| {
            invalid("the access token holds characters an HTTP header cannot carry".into())
        })?;
        self.record_sent_token(token);
        request.headers_mut().insert(AUTHORIZATION, header);
        Ok(())
    }

    /// Sends the request (retried when safe, repeated once after a 401), in
    /// a `tracing` span of the call.
    pub(crate) async fn exec(
        &self,
        client: &Client,
        request: Request,
    ) -> reqwest::Result<Response> {
        let operation = self.operation();
        let span = tracing::info_span!(
            "xoxoday_reward_points.call",
            operation = operation.id(),
            environment = client.inner.destinations.environment().name(),
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
            attempts = tracing::field::Empty,
        );
        let started = Instant::now();
        let attempts = AtomicU32::new(0);
        let result = client
            .send_once_or_retried(self, request, &attempts)
            .instrument(span.clone())
            .await;
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        span.record("attempts", attempts.load(Ordering::Relaxed));
        match &result {
            Ok(response) => {
                self.record_status(response.status().as_u16());
                span.record("status", response.status().as_u16());
                span.in_scope(|| tracing::info!("call answered"));
            }
            // reqwest's error text names the URL, never a header.
            Err(error) => span.in_scope(|| tracing::warn!(%error, "call failed")),
        }
        result
    }
}

/// What renews a call's token after a 401: the token manager (company
/// tokens) or a user client's token source.
#[derive(Clone, Copy)]
enum Renewer<'a> {
    Company(&'a TokenManager),
    #[cfg(not(another_document))]
    User(&'a UserTokens),
}

impl Renewer<'_> {
    async fn after_rejection(&self, rejected: Secret) -> Result<Option<AccessToken>, AuthError> {
        match self {
            Renewer::Company(manager) => manager.after_rejection(rejected).await,
            #[cfg(not(another_document))]
            Renewer::User(user) => user.after_rejection(rejected).await,
        }
    }

    fn note_accepted(&self) {
        match self {
            Renewer::Company(manager) => manager.note_accepted(),
            #[cfg(not(another_document))]
            Renewer::User(user) => user.note_accepted(),
        }
    }
}

impl Client {
    async fn send_once_or_retried(
        &self,
        call: &Call,
        request: Request,
        attempts: &AtomicU32,
    ) -> reqwest::Result<Response> {
        let route = call.operation().route();
        let authenticated = route.credential == Credential::BearerToken;
        let manager = match &self.inner.auth {
            Auth::Managed(manager) if authenticated => Some(Renewer::Company(manager)),
            #[cfg(not(another_document))]
            Auth::User(user) if authenticated => Some(Renewer::User(user)),
            _ => None,
        };
        // A copy to repeat after a 401, when a token manager could refresh.
        let repeat = manager.and_then(|_| request.try_clone());
        let response = if route.idempotent {
            self.with_retries(call, request, attempts).await?
        } else {
            self.attempt(call, request, attempts).await?
        };

        let Some(manager) = manager else {
            return Ok(response);
        };
        if response.status() != StatusCode::UNAUTHORIZED {
            manager.note_accepted();
            return Ok(response);
        }
        let Some(mut repeat) = repeat else {
            return Ok(response);
        };
        // A 401 was not processed by the vendor, so one repeat cannot credit
        // twice. Take the token another process refreshed, or refresh once.
        let rejected = repeat
            .headers()
            .get(AUTHORIZATION)
            .and_then(AccessToken::sent_in);
        let Some(rejected) = rejected else {
            return Ok(response);
        };
        let Some(after_rejection) = call
            .within_deadline(manager.after_rejection(rejected))
            .await
        else {
            return Ok(response);
        };
        match after_rejection {
            Ok(Some(token)) => match token.bearer_header() {
                Some(header) => {
                    call.record_sent_token(token);
                    repeat.headers_mut().insert(AUTHORIZATION, header);
                    let repeated = self.attempt(call, repeat, attempts).await?;
                    if repeated.status() != StatusCode::UNAUTHORIZED {
                        manager.note_accepted();
                    }
                    Ok(repeated)
                }
                None => Ok(response),
            },
            // The 401 stands: a refresh did not cure the last one.
            Ok(None) => Ok(response),
            Err(error) => {
                call.record_auth_failure(error);
                Ok(response)
            }
        }
    }

    /// One attempt, within its time limit (cut to the call's deadline).
    async fn attempt(
        &self,
        call: &Call,
        mut request: Request,
        attempts: &AtomicU32,
    ) -> reqwest::Result<Response> {
        let limit = call.attempt_time_limit(self.inner.options.attempt_timeout());
        // reqwest's client already holds the builder's limit; a request of
        // its own costs measurably more (BENCHMARKS.md §1), so only a limit
        // cut to the deadline or set per call is given per request.
        if limit != self.inner.client_attempt_time_limit {
            *request.timeout_mut() = Some(limit);
        }
        attempts.fetch_add(1, Ordering::Relaxed);
        call.record_sent();
        self.client.execute(request).await.map(limit::bounded)
    }

    /// Bounded retries with exponential backoff and jitter, on connection
    /// errors, timeouts, 429 and 5xx; a `Retry-After` up to the policy's cap
    /// is waited for instead, a longer one ends the retries. Only for
    /// operations safe to repeat.
    async fn with_retries(
        &self,
        call: &Call,
        request: Request,
        attempts: &AtomicU32,
    ) -> reqwest::Result<Response> {
        enum Failed {
            /// Worth another try; the response is returned if tries run out.
            Status(Response),
            Transport(reqwest::Error),
            /// Not worth another try.
            Final(reqwest::Error),
        }
        let policy = self.inner.options.retry();
        let backoff = policy
            .backoff()
            .exponential()
            .with_max_times(policy.max_attempts().saturating_sub(1) as usize);
        let streamed = request.body().is_some_and(|body| body.as_bytes().is_none());
        if streamed {
            // A streamed body cannot be sent twice: one attempt only.
            return self.attempt(call, request, attempts).await;
        }
        let attempt = || async {
            let copy = request
                .try_clone()
                .expect("checked above: the body is in memory");
            match self.attempt(call, copy, attempts).await {
                Ok(response) if retryable(response.status()) => Err(Failed::Status(response)),
                Ok(response) => Ok(response),
                Err(error) if error.is_connect() || error.is_timeout() || error.is_request() => {
                    Err(Failed::Transport(error))
                }
                Err(error) => Err(Failed::Final(error)),
            }
        };
        let longest_wait = policy.max_retry_after();
        let outcome = attempt
            .retry(backoff)
            .when(|failed| !matches!(failed, Failed::Final(_)))
            .adjust(|failed, backoff_delay| {
                let asked = match failed {
                    Failed::Status(response) => retry_after(response.headers()),
                    _ => None,
                };
                let delay = match (asked, backoff_delay) {
                    // Out of attempts, or asked to wait longer than the cap.
                    (_, None) => None,
                    (Some(asked), Some(_)) if asked > longest_wait => None,
                    (Some(asked), Some(_)) => Some(asked),
                    (None, delay) => delay,
                };
                // A pause that would pass the call's deadline ends it.
                delay.filter(|delay| call.may_wait(*delay))
            })
            .notify(|failed, delay| {
                let reason = match failed {
                    Failed::Status(response) => format!("HTTP {}", response.status()),
                    Failed::Transport(error) | Failed::Final(error) => error.to_string(),
                };
                tracing::warn!(%reason, retry_in_ms = delay.as_millis() as u64, "retrying");
            })
            .await;
        match outcome {
            Ok(response) | Err(Failed::Status(response)) => Ok(response),
            Err(Failed::Transport(error) | Failed::Final(error)) => Err(error),
        }
    }
}

fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

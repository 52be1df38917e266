//! progenitor-client's hooks, the one place where the runtime meets the
//! generated code:
//! - `pre`: the real URL from the route table, and the bearer token where the
//!   document asks for it (refreshed first when it is about to expire);
//! - `exec`: retries for operations safe to repeat, one refresh and one
//!   repeat after a 401, and a `tracing` span per call;
//! - `post`: turns a failed refresh after a 401 into the call's error.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use backon::{ExponentialBuilder, Retryable};
use progenitor_client::{ClientHooks, Error, OperationInfo};
use reqwest::header::AUTHORIZATION;
use reqwest::{Request, Response, StatusCode};
use tracing::Instrument;

use crate::access_token::AccessToken;
use crate::client_builder::Auth;
use crate::routes::Environment;
use crate::routes::ROUTES;
use crate::routing::{Route, real_url, route, route_index};
use crate::{Client, ClientContext};

type AnyRoute = Route<{ Environment::ALL.len() }>;

/// A refresh that failed after a 401, carried on that 401 response from
/// `exec` to `post`, which makes it the call's error.
#[derive(Clone)]
struct RefreshFailure(String);

impl ClientHooks<ClientContext> for Client {
    async fn pre<E>(&self, request: &mut Request, info: &OperationInfo) -> Result<(), Error<E>> {
        let index = route_index(info.operation_id).ok_or_else(|| {
            Error::InvalidRequest(format!(
                "operation `{}` has no route; run `cargo xtask regen`",
                info.operation_id
            ))
        })?;
        let route = &ROUTES[index];
        *request.url_mut() = real_url(index, &self.inner, &self.baseurl, request.url())
            .map_err(Error::InvalidRequest)?;

        request.headers_mut().remove(AUTHORIZATION);
        if !route.authenticated {
            return Ok(());
        }
        let header = match &self.inner.auth {
            Auth::None => return Ok(()),
            Auth::Static(token) => token.bearer_header(),
            Auth::Managed(manager) => manager
                .access_token()
                .await
                .map_err(|error| Error::Custom(error.to_string()))?
                .bearer_header(),
        };
        let header = header.ok_or_else(|| {
            Error::InvalidRequest(
                "the access token holds characters an HTTP header cannot carry".into(),
            )
        })?;
        request.headers_mut().insert(AUTHORIZATION, header);
        Ok(())
    }

    async fn exec(&self, request: Request, info: &OperationInfo) -> reqwest::Result<Response> {
        let route = route(info.operation_id);
        let span = tracing::info_span!(
            "xoxoday_reward_points.call",
            operation = info.operation_id,
            environment = self.inner.environment.name(),
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
            attempts = tracing::field::Empty,
        );
        let started = Instant::now();
        let attempts = AtomicU32::new(0);
        let result = self
            .send_once_or_retried(request, route, &attempts)
            .instrument(span.clone())
            .await;
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        span.record("attempts", attempts.load(Ordering::Relaxed));
        match &result {
            Ok(response) => {
                span.record("status", response.status().as_u16());
                span.in_scope(|| tracing::debug!("call answered"));
            }
            // reqwest's error text names the URL, never a header.
            Err(error) => span.in_scope(|| tracing::warn!(%error, "call failed")),
        }
        result
    }

    async fn post<E>(
        &self,
        result: &reqwest::Result<Response>,
        _info: &OperationInfo,
    ) -> Result<(), Error<E>> {
        match result {
            Ok(response) => match response.extensions().get::<RefreshFailure>() {
                Some(failure) => Err(Error::Custom(failure.0.clone())),
                None => Ok(()),
            },
            Err(_) => Ok(()),
        }
    }
}

impl Client {
    async fn send_once_or_retried(
        &self,
        request: Request,
        route: Option<&AnyRoute>,
        attempts: &AtomicU32,
    ) -> reqwest::Result<Response> {
        let authenticated = route.is_some_and(|route| route.authenticated);
        // A copy to repeat after a 401, when a token manager could refresh.
        let repeat = match &self.inner.auth {
            Auth::Managed(_) if authenticated => request.try_clone(),
            _ => None,
        };
        let idempotent = route.is_some_and(|route| route.idempotent);
        let response = if idempotent {
            self.with_retries(request, attempts).await?
        } else {
            attempts.fetch_add(1, Ordering::Relaxed);
            self.client.execute(request).await?
        };

        let Auth::Managed(manager) = &self.inner.auth else {
            return Ok(response);
        };
        let (StatusCode::UNAUTHORIZED, Some(mut repeat)) = (response.status(), repeat) else {
            return Ok(response);
        };
        // A 401 was not processed by the vendor, so one repeat cannot credit
        // twice. Refresh once (or take a refresh another call already made).
        let rejected = repeat
            .headers()
            .get(AUTHORIZATION)
            .and_then(AccessToken::sent_in);
        let Some(rejected) = rejected else {
            return Ok(response);
        };
        match manager.after_rejection(&rejected).await {
            Ok(token) => match token.bearer_header() {
                Some(header) => {
                    repeat.headers_mut().insert(AUTHORIZATION, header);
                    attempts.fetch_add(1, Ordering::Relaxed);
                    self.client.execute(repeat).await
                }
                None => Ok(response),
            },
            Err(error) => {
                let mut response = response;
                response
                    .extensions_mut()
                    .insert(RefreshFailure(error.to_string()));
                Ok(response)
            }
        }
    }

    /// Bounded retries with exponential backoff and jitter, on connection
    /// errors, timeouts, 429 and 5xx. Only for operations safe to repeat.
    async fn with_retries(
        &self,
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
        let policy = &self.inner.retry;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(policy.min_delay)
            .with_max_delay(policy.max_delay)
            .with_max_times(policy.max_attempts.saturating_sub(1) as usize)
            .with_jitter();
        let streamed = request.body().is_some_and(|body| body.as_bytes().is_none());
        if streamed {
            // A streamed body cannot be sent twice: one attempt only.
            attempts.fetch_add(1, Ordering::Relaxed);
            return self.client.execute(request).await;
        }
        let attempt = || async {
            attempts.fetch_add(1, Ordering::Relaxed);
            let copy = request
                .try_clone()
                .expect("checked above: the body is in memory");
            match self.client.execute(copy).await {
                Ok(response) if retryable(response.status()) => Err(Failed::Status(response)),
                Ok(response) => Ok(response),
                Err(error) if error.is_connect() || error.is_timeout() || error.is_request() => {
                    Err(Failed::Transport(error))
                }
                Err(error) => Err(Failed::Final(error)),
            }
        };
        let outcome = attempt
            .retry(backoff)
            .when(|failed| !matches!(failed, Failed::Final(_)))
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

//! The subcommands that make one call to the vendor (or a few, for the
//! token store): each checks its values, asks before a live host, calls,
//! and gives back the answer as JSON.

use serde::Serialize;
use serde_json::{Value, json};
use xoxoday_reward_points::types::{CreateUserTokenBody, RefreshTokenBody};
use xoxoday_reward_points::{
    Cancellation, EpochMillis, Error, Operation, Payout, Points, Recipient, StoredTokens,
    TransactionId, User,
};

use crate::args::{self, Cli};
use crate::confirm::confirm;
use crate::connect::{client, secret_from_env, token_store};
use crate::ending::{Ending, Failure};

fn json<T: Serialize>(value: &T) -> Result<Value, Failure> {
    serde_json::to_value(value).map_err(Failure::nothing_done)
}

/// `validate-token`.
pub async fn validate_token(cli: &Cli) -> Result<Ending, Failure> {
    let client = client(cli)?;
    confirm(
        cli,
        &client,
        "Validate the token",
        &[Operation::ValidateTokenPoints],
    )?;
    let answer = client.validate_token_points().send().await?;
    Ok(Ending::Done(json(&answer.into_inner())?))
}

/// `refresh-token`: through the store's lock with a store; otherwise the
/// new tokens are printed, which must be asked for.
pub async fn refresh_token(cli: &Cli) -> Result<Ending, Failure> {
    // Refused before anything is sent: printing new tokens is asked for.
    if cli.vendor.token_store.is_none() && !cli.vendor.show_token {
        return Err(Failure::nothing_done(
            "refresh-token without --token-store prints the new tokens, and the old refresh \
             token stops working: give --show-token to print them, or --token-store to keep \
             them; nothing was sent",
        ));
    }
    let client = client(cli)?;
    confirm(
        cli,
        &client,
        "Refresh the tokens",
        &[Operation::RefreshToken],
    )?;
    if let Some(manager) = client.token_manager() {
        // Through the store's lock: services using the same store see the
        // new tokens instead of being locked out by them.
        let tokens = manager.refresh_now().await.map_err(Failure::nothing_done)?;
        return Ok(Ending::Done(json!({
            "saved_to": manager.store().location(),
            "access_token_expiry": tokens.access_token_expiry,
            "refresh_token_expiry": tokens.refresh_token_expiry,
        })));
    }
    let body = RefreshTokenBody::new(
        secret_from_env("XOXODAY_REFRESH_TOKEN")?,
        secret_from_env("XOXODAY_CLIENT_ID")?.expose_secret(),
        secret_from_env("XOXODAY_CLIENT_SECRET")?,
    );
    let tokens = client
        .refresh_token()
        .body(body)
        .send()
        .await
        .map_err(Failure::nothing_done)?
        .into_inner();
    // Printed on purpose: without a store, the new refresh token exists
    // nowhere else, and the old one no longer works.
    Ok(Ending::Done(json(&tokens)?))
}

/// `seed-token-store`: the dashboard's tokens into the store, their
/// expiries as the vendor reports them.
pub async fn seed_token_store(
    cli: &Cli,
    command: &args::SeedTokenStore,
) -> Result<Ending, Failure> {
    let Some(location) = &cli.vendor.token_store else {
        return Err(Failure::nothing_done(
            "seed-token-store needs --token-store PATH|URL",
        ));
    };
    let client = client(cli)?;
    let what = "Ask the vendor about the access token";
    confirm(cli, &client, what, &[Operation::ValidateTokenPoints])?;
    let store = token_store(location, cli.vendor.token_table.as_deref())?;
    let access_token = secret_from_env("XOXODAY_ACCESS_TOKEN")?;
    let refresh_token = secret_from_env("XOXODAY_REFRESH_TOKEN")?;
    if !command.replace && store.load().await.map_err(Failure::nothing_done)?.is_some() {
        return Err(Failure::nothing_done(format!(
            "{} already holds tokens; nothing was changed (give --replace to overwrite them)",
            store.location()
        )));
    }
    let asked_at = EpochMillis::now();
    let (access_token_expiry, refresh_token_expiry, valid) = match client
        .validate_token_points()
        .send()
        .await
    {
        Ok(answer) => {
            let answer = answer.into_inner();
            let expiry =
                EpochMillis::token_expiry(asked_at, answer.access_token_expiry, answer.expires_in);
            (expiry, answer.refresh_token_expiry, true)
        }
        // An expired access token is stored as expired: the first call
        // refreshes it with the refresh token.
        Err(Error::Unauthorized { .. }) => (Some(EpochMillis(0)), None, false),
        Err(error) => {
            return Err(Failure::nothing_done(format!(
                "cannot ask the vendor about the access token, so nothing was saved: {error}"
            )));
        }
    };
    let tokens = StoredTokens::new(
        access_token,
        access_token_expiry,
        refresh_token,
        refresh_token_expiry,
    );
    store.save(tokens).await.map_err(Failure::nothing_done)?;
    Ok(Ending::Done(json!({
        "saved_to": store.location(),
        "access_token_valid": valid,
        "access_token_expiry": access_token_expiry,
        "refresh_token_expiry": refresh_token_expiry,
    })))
}

/// `create-user-token`.
pub async fn create_user_token(
    cli: &Cli,
    command: &args::CreateUserToken,
) -> Result<Ending, Failure> {
    let client = client(cli)?;
    let what = format!("Create a token for {}", command.user_email);
    confirm(cli, &client, &what, &[Operation::CreateUserToken])?;
    let body = CreateUserTokenBody::user_session(&command.user_email);
    let answer = client.create_user_token().body(body).send().await?;
    Ok(Ending::Done(json(&answer.into_inner())?))
}

/// `fetch-points`.
pub async fn fetch_points(cli: &Cli, command: &args::FetchPoints) -> Result<Ending, Failure> {
    let client = client(cli)?;
    let (user, whose) = match (&command.email, &command.phone) {
        (Some(email), _) => (User::email(email)?, email),
        (None, Some(phone)) => (User::phone(phone)?, phone),
        (None, None) => return Err(Failure::nothing_done("give --email or --phone")),
    };
    let what = format!("Fetch the points of {whose}");
    confirm(cli, &client, &what, &[Operation::FetchPoints])?;
    let answer = client.fetch_points().user(user).send().await?;
    Ok(Ending::Done(json(&answer.into_inner())?))
}

/// `send-points`: every value checked before anything is sent (or asked).
pub async fn send_points(cli: &Cli, command: &args::SendPoints) -> Result<Ending, Failure> {
    let client = client(cli)?;
    let points = command.amount.parse::<Points>()?;
    let mut recipient = Recipient::new(&command.to_name, &command.to_email, points.get())?;
    if let Some(citation) = &command.citation {
        recipient = recipient.citation(citation);
    }
    let mut payout = Payout::new(&command.sender_email)?;
    if let Some(months) = command.expiry_month {
        payout = payout.expiry_months(months)?;
    }
    let payout = payout.to(recipient);
    let what = format!("Send {points} points to {}", command.to_email);
    confirm(cli, &client, &what, &[Operation::SendPoints])?;
    let answer = client.send_points().payout(payout).send().await?;
    Ok(Ending::Done(json(&answer.into_inner())?))
}

/// `cancel-points`: partly done when some transactions were not cancelled.
pub async fn cancel_points(cli: &Cli, command: &args::CancelPoints) -> Result<Ending, Failure> {
    let client = client(cli)?;
    let cancellation = Cancellation::of(command.unique_ids.iter().copied().map(TransactionId))?;
    let ids: Vec<String> = command.unique_ids.iter().map(i64::to_string).collect();
    let what = format!("Cancel transaction(s) {}", ids.join(", "));
    confirm(cli, &client, &what, &[Operation::CancelPoints])?;
    let answer = match client
        .cancel_points()
        .transactions(cancellation)
        .send()
        .await
    {
        Ok(answer) => answer.into_inner(),
        Err(Error::Refused { refusal, .. }) if !refusal.recipients.is_empty() => {
            return Err(Failure::nothing_done(format!(
                "nothing was cancelled: {refusal}"
            )));
        }
        Err(other) => return Err(other.into()),
    };
    let outcomes: Vec<Value> = answer
        .outcomes()
        .iter()
        .map(|outcome| {
            json!({
                "unique_id": outcome.transaction.0,
                "cancelled": outcome.cancelled,
                "message": outcome.message,
            })
        })
        .collect();
    let report = json!({ "transactions": outcomes });
    Ok(if answer.is_partial() {
        Ending::Partly(report)
    } else {
        Ending::Done(report)
    })
}

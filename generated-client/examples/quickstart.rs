//! A whole session: validate the token, fetch a balance, send points, fetch
//! again, cancel, fetch again.
//!
//! `cargo run --example quickstart` needs no credentials and no network: it
//! runs against `StandIn`, an in-process stand-in of the API on 127.0.0.1.
//! With `XOXODAY_ACCESS_TOKEN`, `XOXODAY_SENDER_EMAIL` (the Super Admin) and
//! `XOXODAY_RECIPIENT_EMAIL` set, the same session runs against Sandbox.

use xoxoday_reward_points::{
    AccessToken, Cancellation, Client, Environment, Payout, Recipient, User,
};
use xoxoday_reward_points_mocks::StandIn;

type Failure = Box<dyn std::error::Error>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Failure> {
    let real = std::env::var("XOXODAY_ACCESS_TOKEN").ok();
    let sender = std::env::var("XOXODAY_SENDER_EMAIL").unwrap_or("admin@example.com".into());
    let recipient =
        std::env::var("XOXODAY_RECIPIENT_EMAIL").unwrap_or("john.doe@example.com".into());

    // Kept alive for the whole session when used.
    let stand_in;
    let client = match real {
        Some(token) => {
            println!("Sandbox, with your token");
            Client::builder(Environment::Sandbox)
                .access_token(AccessToken::new(token))
                .build()?
        }
        None => {
            println!(
                "offline: an in-process stand-in of the API (set XOXODAY_ACCESS_TOKEN for Sandbox)"
            );
            stand_in = StandIn::start().await;
            stand_in.client(Environment::Sandbox)
        }
    };
    session(&client, &sender, &recipient).await
}

async fn session(client: &Client, sender: &str, recipient: &str) -> Result<(), Failure> {
    let token = client.validate_token_points().send().await?.into_inner();
    println!(
        "1. token valid, type {:?}, expires in {:?} s",
        token.token_type, token.expires_in
    );

    let who = User::email(recipient)?;
    let balance = |step: &'static str| {
        let who = who.clone();
        async move {
            let answer = client.fetch_points().user(who).send().await?.into_inner();
            println!(
                "{step}. balance of {recipient}: {}",
                answer.total().unwrap_or(0.0)
            );
            Ok::<_, Failure>(())
        }
    };
    balance("2").await?;

    let payout =
        Payout::new(sender)?
            .expiry_months(12)?
            .to(Recipient::new("Quickstart", recipient, 100)?
                .citation("Thanks for trying the quickstart"));
    let sent = client
        .send_points()
        .payout(payout)
        .send()
        .await?
        .into_inner();
    // The vendor answers a send in one of two shapes; only one carries the
    // transaction id that cancel needs.
    let transaction = sent.transaction_id();
    match transaction {
        Some(transaction) => println!("3. sent 100 points, transaction {transaction}"),
        None => println!("3. sent 100 points; the answer carried no transaction id"),
    }
    balance("4").await?;

    match transaction {
        Some(transaction) => {
            let cancellation = Cancellation::of([transaction])?;
            client
                .cancel_points()
                .transactions(cancellation)
                .send()
                .await?;
            println!("5. cancelled transaction {transaction}");
        }
        None => println!("5. nothing to cancel without a transaction id"),
    }
    balance("6").await?;
    Ok(())
}

//! Runs one payout round in Sandbox with `XOXODAY_ACCESS_TOKEN`.
//! `XOXODAY_ORIGIN_OVERRIDES` (`https://vendor-host=http://127.0.0.1:port`,
//! space-separated) sends the vendor's hosts to local servers instead, as the
//! workspace's test does with its stand-in.

use xoxoday_reward_points::{AccessToken, Client, Environment};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let token = std::env::var("XOXODAY_ACCESS_TOKEN")
        .map_err(|_| "XOXODAY_ACCESS_TOKEN is not set: set it to a Sandbox access token")?;
    let mut client = Client::builder(Environment::Sandbox).access_token(AccessToken::new(token));
    let overrides = std::env::var("XOXODAY_ORIGIN_OVERRIDES").unwrap_or_default();
    for pair in overrides.split_whitespace() {
        let (origin, local) = pair
            .split_once('=')
            .ok_or_else(|| format!("`{pair}` in XOXODAY_ORIGIN_OVERRIDES is not ORIGIN=LOCAL"))?;
        client = client.origin_override(origin, local)?;
    }
    let client: Client = client.build()?;

    let round = payout_service::pay_and_cancel(&client).await?;
    match round.transaction {
        Some(transaction) => println!("sent 450 points to 3 recipients: transaction {transaction}"),
        None => println!("sent 450 points to 3 recipients; the answer named no transaction"),
    }
    println!("balance by email: {:?}", round.balance_by_email);
    println!("balance by phone: {:?}", round.balance_by_phone);
    for outcome in round.cancelled {
        println!("{outcome}");
    }
    Ok(())
}

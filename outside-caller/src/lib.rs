//! A payout round as a service of ours would run it: three recipients paid
//! in one send, a balance fetched by email and by phone, the send cancelled.

use xoxoday_reward_points::{Cancellation, Client, Payout, Recipient, User};

/// What one round did.
#[derive(Debug)]
pub struct Round {
    pub transaction: Option<xoxoday_reward_points::TransactionId>,
    pub balance_by_email: Option<f64>,
    pub balance_by_phone: Option<f64>,
    pub cancelled: Vec<String>,
}

/// Pays the team, reads two balances, and takes the payment back.
pub async fn pay_and_cancel(client: &Client) -> Result<Round, Box<dyn std::error::Error>> {
    // README.md: "Typed values, before and after" shows this part.
    let payout = Payout::new("admin@example.com")?
        .expiry_months(12)?
        .to(Recipient::new("John Doe", "john.doe@example.com", 100)?)
        .to(Recipient::new("Jane Roe", "jane.roe@example.com", 150)?)
        .to(Recipient::new("Max Mustermann", "max@example.com", 200)?.citation("Launch week"));
    let sent = client.send_points().payout(payout).send().await?;

    let by_email = User::email("john.doe@example.com")?;
    let by_email = client.fetch_points().user(by_email).send().await?;
    let by_phone = User::phone("+91-8999888887")?;
    let by_phone = client.fetch_points().user(by_phone).send().await?;

    let mut cancelled = Vec::new();
    if let Some(transaction) = sent.transaction_id() {
        let cancellation = Cancellation::of([transaction])?;
        let answer = client
            .cancel_points()
            .transactions(cancellation)
            .send()
            .await?;
        cancelled = answer.outcomes().iter().map(ToString::to_string).collect();
    }
    // End of the part README.md shows.

    Ok(Round {
        transaction: sent.transaction_id(),
        balance_by_email: by_email.total(),
        balance_by_phone: by_phone.total(),
        cancelled,
    })
}

//! `reward-points`: the Xoxoday Reward Points API from a shell. Prints each
//! answer as JSON; an error is one line on stderr. The exit status tells
//! done (0), failed (1), partly done (3) and maybe done (4) apart.
//!
//! `args.rs` defines the command line, `main` runs the one dispatcher
//! below, and each subcommand's handler gives back an `Ending` or a
//! `Failure` (`ending.rs`), which alone choose the exit status.

#![deny(missing_docs)]

mod args;
mod calls;
mod confirm;
mod connect;
mod ending;
mod logging;
mod payout;
mod stand_in;

use std::process::ExitCode;

use args::{Cli, Command};
use ending::{Ending, Failure};

fn main() -> ExitCode {
    let cli = args::parse();
    logging::start(cli.verbose);
    let ended = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(dispatch(&cli)),
        Err(error) => Err(Failure::nothing_done(format!("cannot start: {error}"))),
    };
    ending::exit(ended, cli.vendor.show_token)
}

/// Runs the subcommand.
async fn dispatch(cli: &Cli) -> Result<Ending, Failure> {
    match &cli.command {
        Command::ValidateToken => calls::validate_token(cli).await,
        Command::RefreshToken => calls::refresh_token(cli).await,
        Command::SeedTokenStore(command) => calls::seed_token_store(cli, command).await,
        Command::CreateUserToken(command) => calls::create_user_token(cli, command).await,
        Command::FetchPoints(command) => calls::fetch_points(cli, command).await,
        Command::SendPoints(command) => calls::send_points(cli, command).await,
        Command::CancelPoints(command) => calls::cancel_points(cli, command).await,
        Command::Payout(command) => payout::payout(cli, command).await,
        Command::PayoutUndo(command) => payout::undo(cli, command).await,
        Command::StandIn(command) => stand_in::serve(command).await,
    }
}

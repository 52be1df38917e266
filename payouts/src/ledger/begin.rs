//! How a run begins, in one transaction of the ledger, whatever its kind:
//! earlier versions' journals imported; the run found, or made with every
//! row of its file (its claim on them); its records checked against the
//! file; and the one paid-before question asked of the whole ledger for the
//! rows it would send. The ledger serializes beginnings in one environment
//! and account, so of two runs of overlapping content started together, the
//! second sees the first (its rows, and its lease) and stops.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use xoxoday_reward_points::{Environment, EpochMillis};

use super::legacy::LegacyJournal;
use super::registry::Registry;
use super::{
    Attempt, Lease, Ledger, LedgerError, LedgerRow, LedgerScope, LedgerTransaction, RunHistory,
    RunKey, RunRecord, lease_key,
};

/// What a beginning is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A payout run: the run is made if new, and checked against the rest
    /// of the ledger.
    Pay {
        /// The operator said to pay what earlier runs paid.
        pay_again: bool,
    },
    /// A dry run of a payout: the same checks, nothing kept.
    DryRun {
        /// As for a run.
        pay_again: bool,
    },
    /// An undo: the run must exist.
    Undo,
}

/// A run's beginning, as asked.
pub struct BeginRequest<'a> {
    /// The environment and account.
    pub scope: &'a LedgerScope,
    /// The run.
    pub key: &'a RunKey,
    /// The file's rows, in file order (none for an undo, which reads them
    /// from the ledger).
    pub rows: Arc<[LedgerRow]>,
    /// What it is for.
    pub purpose: Purpose,
    /// The rows a payout run would send, from its history.
    pub to_send: &'a (dyn Fn(&RunHistory) -> Vec<u64> + Sync),
    /// Journals of earlier versions found near the file, imported once.
    pub journals: &'a [LegacyJournal],
    /// The environment those journals paid in, as the operator says.
    pub journals_paid_in: Option<Environment>,
    /// Where this machine records which ledger each environment and
    /// account uses, if it does.
    pub registry: Option<&'a Registry>,
}

/// A run that began.
pub struct Begun {
    /// The run.
    pub run: RunRecord,
    /// Its rows' attempts.
    pub history: RunHistory,
    /// Its rows, as the ledger holds them (an undo's rows).
    pub rows: Vec<LedgerRow>,
    /// Held while the run goes on (a payout run only).
    pub lease: Option<Lease>,
    /// What the operator should know: journals imported, a ledger this
    /// machine could not note down.
    pub notes: Vec<String>,
}

/// An earlier run that paid (or is paying right now) what this run would
/// pay: the same recipients the same points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EarlierRun {
    /// Its name: the file's path, or the name its workers share.
    pub run: String,
    /// The file's name as that run had it.
    pub file: String,
    /// When it began.
    pub started: String,
    /// Whether its file had the same bytes as this one.
    pub same_content: bool,
    /// How many of this run's rows to send pay a recipient the points it
    /// credited (or may have, or is about to).
    pub rows_alike: u64,
    /// Whether it goes on right now (another process holds it).
    pub going_on: bool,
    /// Where it came from, for a run an earlier version journaled.
    pub source: Option<String>,
}

impl fmt::Display for EarlierRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "run {} (file {}, started {}",
            self.run, self.file, self.started
        )?;
        if self.same_content {
            f.write_str(", the same content")?;
        }
        if let Some(source) = &self.source {
            write!(f, ", imported from {source}")?;
        }
        if self.going_on {
            write!(
                f,
                "), going on right now: {} of this file's rows are among the rows it pays",
                self.rows_alike
            )
        } else {
            write!(
                f,
                "): {} of this file's rows pay a recipient the same points it credited (or may \
                 have)",
                self.rows_alike
            )
        }
    }
}

/// Why a run could not begin. Nothing was sent, and nothing was kept.
#[derive(Debug, thiserror::Error)]
pub enum BeginError {
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Rows alike were paid before, or are being paid right now.
    #[error(
        "{file} (SHA-256 {digest}…) pays what earlier payouts in {scope} paid:\n{}\npaying it \
         again credits those recipients again; nothing was sent: if that is what you want, run \
         again with --pay-again",
        list(runs)
    )]
    PaidBefore {
        /// The file's name.
        file: String,
        /// The start of its SHA-256.
        digest: String,
        /// The environment and account.
        scope: String,
        /// The earlier runs.
        runs: Vec<EarlierRun>,
    },
    /// The ledger's rows of the run say other things than the file's.
    #[error(
        "the ledger's run {run} recorded other rows than the file holds, so it cannot say what \
         was sent of this file:\n{}\nnothing was sent: pay this file under another run name \
         (--run NEW), and keep that run as the record of what it sent",
        list(lines)
    )]
    Mismatch {
        /// The run.
        run: String,
        /// Each line that differs.
        lines: Vec<String>,
    },
    /// A run named on purpose was made with another file.
    #[error(
        "the run {run} was started with another version of the file (SHA-256 {theirs}…; this \
         one is {ours}…): a changed file cannot be matched to it row by row. Pay the rows still \
         to pay from a new file under another run name; nothing was sent"
    )]
    OtherContent {
        /// The run.
        run: String,
        /// The start of its file's SHA-256.
        theirs: String,
        /// The start of this file's.
        ours: String,
    },
    /// An undo of a run the ledger does not hold.
    #[error(
        "the ledger holds no run of {file} in {scope}{}; nothing was cancelled",
        elsewhere(runs)
    )]
    NoSuchRun {
        /// The file's path.
        file: String,
        /// The environment and account.
        scope: String,
        /// Runs of the same content under other names.
        runs: Vec<String>,
    },
    /// Journals of an earlier version that say not where they paid.
    #[error(
        "{} journal(s) written by an earlier version of this tool were found (beside the \
         file, or in the ledger's database), and they do not say which environment they paid \
         in:\n{}\nnothing was sent: say where with \
         --journals-paid-in sandbox|production|testing (they are imported into the ledger \
         once, as payouts of this account, and left as they are), or move them away if they \
         are not this account's",
        journals.len(),
        list(journals)
    )]
    UnimportedJournals {
        /// Each, with what it recorded.
        journals: Vec<String>,
    },
    /// This machine records another ledger for the environment and account.
    #[error(
        "payouts of {scope} are recorded in the ledger {registered} (since {since}), not in \
         {asked}: a run recorded there could not see them. Run with that ledger (--ledger PATH; \
         for PostgreSQL --ledger URL and --ledger-table TABLE; or XOXODAY_PAYOUT_LEDGER); \
         nothing was sent"
    )]
    OtherLedger {
        /// The environment and account.
        scope: String,
        /// The ledger recorded for them.
        registered: String,
        /// Since when.
        since: String,
        /// The ledger asked for.
        asked: String,
    },
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    const SHOWN: usize = 20;
    let mut lines: Vec<String> = items
        .iter()
        .take(SHOWN)
        .map(|item| format!("  {item}"))
        .collect();
    if items.len() > SHOWN {
        lines.push(format!("  … and {} more", items.len() - SHOWN));
    }
    lines.join("\n")
}

fn elsewhere(runs: &[String]) -> String {
    if runs.is_empty() {
        String::new()
    } else {
        format!(
            " (runs of the same content: {}; an undo names the file at the path its run paid \
             it from, or the run with --run)",
            runs.join(", ")
        )
    }
}

/// Begins a run; see the module's documentation. A payout run's lease is
/// taken first, so that from the moment its rows are in the ledger another
/// run knows it goes on.
pub async fn begin(ledger: &dyn Ledger, request: &BeginRequest<'_>) -> Result<Begun, BeginError> {
    let dry = matches!(request.purpose, Purpose::DryRun { .. });
    let mut notes = Vec::new();
    if let Some(registry) = request.registry {
        notes.extend(registry.check(request.scope, &ledger.location(), dry)?);
    }
    let lease = match request.purpose {
        Purpose::Pay { .. } => Some(
            ledger
                .lease(lease_key(
                    request.scope,
                    &request.key.name,
                    &request.key.file.sha256,
                ))
                .await?,
        ),
        _ => None,
    };
    let mut transaction = ledger.transaction(dry).await?;
    match begin_in(&mut *transaction, request).await {
        Ok(mut begun) => {
            if dry {
                transaction.rollback().await?;
            } else {
                transaction.commit().await?;
            }
            begun.lease = lease;
            notes.append(&mut begun.notes);
            begun.notes = notes;
            Ok(begun)
        }
        Err(error) => {
            let _ = transaction.rollback().await;
            Err(error)
        }
    }
}

/// Begins a run inside `tx`: journals imported, then an undo's run read, or
/// a payout run found or made and checked against the rest of the ledger.
async fn begin_in(
    tx: &mut dyn LedgerTransaction,
    request: &BeginRequest<'_>,
) -> Result<Begun, BeginError> {
    let imported = import_journals(tx, request).await?;
    let existing = run_of_this_file(tx, request).await?;
    let pay_again = match request.purpose {
        Purpose::Pay { pay_again } | Purpose::DryRun { pay_again } => pay_again,
        Purpose::Undo => return begin_undo(tx, request, existing, imported).await,
    };
    let run = payout_run(tx, request, existing, pay_again).await?;
    let history = tx.history(&run.id).await?;
    let to_send = (request.to_send)(&history);
    check_paid_before(tx, request, &run, &to_send, pay_again).await?;
    Ok(Begun {
        run,
        history,
        rows: Vec::new(),
        lease: None,
        notes: imported,
    })
}

/// The ledger's run of this file (its name and content), if any. A run
/// named on purpose that the ledger holds only with other content cannot
/// go on.
async fn run_of_this_file(
    tx: &mut dyn LedgerTransaction,
    request: &BeginRequest<'_>,
) -> Result<Option<RunRecord>, BeginError> {
    let key = request.key;
    let named = tx.runs_named(request.scope, &key.name).await?;
    if key.named
        && let Some(other) = named.first()
        && !named.iter().any(|run| run.sha256 == key.file.sha256)
    {
        return Err(BeginError::OtherContent {
            run: key.name.clone(),
            theirs: other.sha256.chars().take(12).collect(),
            ours: key.file.sha256.chars().take(12).collect(),
        });
    }
    Ok(named.into_iter().find(|run| run.sha256 == key.file.sha256))
}

/// An undo's beginning: the run, which must exist, with its rows and
/// attempts.
async fn begin_undo(
    tx: &mut dyn LedgerTransaction,
    request: &BeginRequest<'_>,
    existing: Option<RunRecord>,
    imported: Vec<String>,
) -> Result<Begun, BeginError> {
    let Some(run) = existing else {
        return Err(no_such_run(tx, request).await?);
    };
    let history = tx.history(&run.id).await?;
    let rows = tx.rows(&run.id).await?;
    Ok(Begun {
        run,
        history,
        rows,
        lease: None,
        notes: imported,
    })
}

/// The run a payout goes on with: the existing one, its records checked
/// against the file, or else a new one made with the file's rows.
async fn payout_run(
    tx: &mut dyn LedgerTransaction,
    request: &BeginRequest<'_>,
    existing: Option<RunRecord>,
    pay_again: bool,
) -> Result<RunRecord, BeginError> {
    let mut run = match existing {
        Some(run) => {
            check_rows(tx, &run, &request.rows).await?;
            Some(run)
        }
        None => None,
    };
    if let Some(existing) = &run {
        let history = tx.history(&existing.id).await?;
        // Told to pay again, a run with nothing left to send pays its
        // content again as a new run; one with rows left goes on.
        if pay_again && (request.to_send)(&history).is_empty() {
            run = None;
        }
    }
    Ok(match run {
        Some(run) => run,
        None => {
            let run = new_run(request.scope, request.key);
            tx.create_run(&run, request.rows.clone()).await?;
            run
        }
    })
}

/// Stops the run when earlier runs paid (or are paying) what it would send
/// (`to_send`), unless told to pay again: then the overlaps are allowed.
async fn check_paid_before(
    tx: &mut dyn LedgerTransaction,
    request: &BeginRequest<'_>,
    run: &RunRecord,
    to_send: &[u64],
    pay_again: bool,
) -> Result<(), BeginError> {
    let (key, scope) = (request.key, request.scope);
    let earlier = paid_before(tx, scope, run, to_send).await?;
    if earlier.is_empty() {
        return Ok(());
    }
    if !pay_again {
        return Err(BeginError::PaidBefore {
            file: key.file.name.clone(),
            digest: key.file.sha256.chars().take(12).collect(),
            scope: scope.to_string(),
            runs: earlier.into_iter().map(|(_, run)| run).collect(),
        });
    }
    let ids: Vec<String> = earlier.into_iter().map(|(id, _)| id).collect();
    tx.allow_overlaps(&run.id, &ids).await?;
    Ok(())
}

fn new_run(scope: &LedgerScope, key: &RunKey) -> RunRecord {
    RunRecord {
        id: new_run_id(),
        scope: scope.clone(),
        name: key.name.clone(),
        file: key.file.name.clone(),
        sha256: key.file.sha256.clone(),
        rows: key.file.rows,
        started: httpdate::fmt_http_date(EpochMillis::now().into()),
        source: None,
    }
}

/// A run's id: 128 random bits, hex (the standard library's hasher keys
/// are drawn from the OS's randomness per process; mixed with the time and
/// process, two runs never share one).
fn new_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut id = String::new();
    for part in 0..2u64 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(part);
        hasher.write_u128(EpochMillis::now().as_millis() as u128);
        hasher.write_u32(std::process::id());
        id.push_str(&format!("{:016x}", hasher.finish()));
    }
    id
}

/// Every line whose row the ledger recorded differently from the file; the
/// rows it lacks (a run imported from a journal holds only the rows the
/// journal recorded) are added.
async fn check_rows(
    tx: &mut dyn LedgerTransaction,
    run: &RunRecord,
    rows: &Arc<[LedgerRow]>,
) -> Result<(), BeginError> {
    // Both in line order: walked side by side.
    let mut recorded = tx.contents(&run.id).await?.into_iter().peekable();
    let mut lines = Vec::new();
    let mut missing = Vec::new();
    for row in rows.iter() {
        while recorded.next_if(|theirs| theirs.line < row.line).is_some() {}
        match recorded.next_if(|theirs| theirs.line == row.line) {
            Some(theirs) if !theirs.matches(row) => lines.push(format!(
                "line {}: the file pays {} {} points ({}), which is not what the ledger \
                 recorded for that line",
                row.line, row.email, row.points, row.name
            )),
            Some(_) => {}
            None => missing.push(row.clone()),
        }
    }
    if !lines.is_empty() {
        return Err(BeginError::Mismatch {
            run: run.name.clone(),
            lines,
        });
    }
    if !missing.is_empty() {
        tx.create_run(run, missing.into()).await?;
    }
    Ok(())
}

/// The runs (by id) that paid, may have paid, or are about to pay a row
/// alike one of `lines`, other than those this run was told to pay over.
async fn paid_before(
    tx: &mut dyn LedgerTransaction,
    scope: &LedgerScope,
    run: &RunRecord,
    lines: &[u64],
) -> Result<Vec<(String, EarlierRun)>, LedgerError> {
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = tx
        .alike_elsewhere(scope, &run.id, lines)
        .await?
        .into_iter()
        .map(|other| other.run)
        .collect();
    let others = tx.runs(&ids).await?;
    // Each run's lease is looked at before its rows are counted: on
    // PostgreSQL only beginnings are serialized, and every statement sees
    // what was committed before it. A run not going on when looked at had
    // committed all it did, which the count below sees; one going on is
    // said to be. Counted first, a run that claimed, sent and ended in
    // between would look neither paid nor going on.
    let mut live = BTreeMap::new();
    for other in &others {
        let key = lease_key(&other.scope, &other.name, &other.sha256);
        live.insert(other.id.clone(), tx.live(key).await?);
    }
    let alike: BTreeMap<String, (u64, u64)> = tx
        .alike_elsewhere(scope, &run.id, lines)
        .await?
        .into_iter()
        .map(|other| {
            let not_yet = other.rows.saturating_sub(other.credited);
            (other.run, (other.credited, not_yet))
        })
        .collect();
    let mut earlier = Vec::new();
    for other in others {
        let (credited, not_yet) = alike.get(&other.id).copied().unwrap_or_default();
        let going_on = not_yet > 0 && live[&other.id];
        if credited == 0 && !going_on {
            continue;
        }
        earlier.push((
            other.id.clone(),
            EarlierRun {
                same_content: other.sha256 == run.sha256,
                rows_alike: if going_on {
                    credited + not_yet
                } else {
                    credited
                },
                going_on,
                run: other.name,
                file: other.file,
                started: other.started,
                source: other.source,
            },
        ));
    }
    Ok(earlier)
}

async fn no_such_run(
    tx: &mut dyn LedgerTransaction,
    request: &BeginRequest<'_>,
) -> Result<BeginError, LedgerError> {
    let runs = tx
        .runs_with_content(request.scope, &request.key.file.sha256)
        .await?;
    Ok(BeginError::NoSuchRun {
        file: request.key.name.clone(),
        scope: request.scope.to_string(),
        runs: runs.into_iter().map(|run| run.name).collect(),
    })
}

/// Imports the journals of earlier versions not imported yet, each once:
/// the file's own journal (its content, beside it) becomes this run, the
/// others runs of their own. They say not where they paid: the operator
/// must.
async fn import_journals(
    tx: &mut dyn LedgerTransaction,
    request: &BeginRequest<'_>,
) -> Result<Vec<String>, BeginError> {
    // Imported into the environment the operator names, or else this run's.
    let scope = request.scope.in_environment(
        request
            .journals_paid_in
            .unwrap_or(request.scope.environment()),
    );
    let mut waiting = Vec::new();
    for journal in request.journals {
        if !tx
            .imported(&journal.source(), &journal.digest, &scope)
            .await?
        {
            waiting.push(journal);
        }
    }
    if waiting.is_empty() {
        return Ok(Vec::new());
    }
    if request.journals_paid_in.is_none() {
        return Err(BeginError::UnimportedJournals {
            journals: waiting.iter().map(|journal| journal.to_string()).collect(),
        });
    }
    let mut imported = Vec::new();
    for journal in waiting {
        let run = imported_run(tx, request, &scope, journal).await?;
        let attempts: Vec<(u64, Attempt)> = journal
            .records
            .iter()
            .map(|record| {
                (
                    record.line,
                    Attempt {
                        number: record.attempt.max(1),
                        state: record.state.clone(),
                        overruled: None,
                    },
                )
            })
            .collect();
        tx.put_attempts(&run.id, &attempts).await?;
        tx.mark_imported(&journal.source(), &journal.digest, &scope)
            .await?;
        imported.push(format!(
            "imported {} into the ledger as run {} of {scope}",
            journal.source(),
            run.name
        ));
    }
    Ok(imported)
}

/// The run a journal becomes: the one made when it was imported before
/// (it grew since), this run (the file's own journal, when the ledger has
/// no run of this file yet), or a new run named after the journal.
async fn imported_run(
    tx: &mut dyn LedgerTransaction,
    request: &BeginRequest<'_>,
    scope: &LedgerScope,
    journal: &LegacyJournal,
) -> Result<RunRecord, LedgerError> {
    let source = journal.source();
    let key = request.key;
    // Imported before (it grew since): named after the journal, or after
    // the file when it became the file's run.
    let mut known = tx.runs_named(scope, &source).await?;
    known.extend(tx.runs_named(scope, &key.name).await?);
    if let Some(run) = known
        .into_iter()
        .find(|run| run.source.as_deref() == Some(&source))
    {
        tx.create_run(&run, journal.rows().into()).await?;
        return Ok(run);
    }
    let adopt = journal.own
        && journal.sha256 == key.file.sha256
        && scope == request.scope
        && !tx
            .runs_named(scope, &key.name)
            .await?
            .iter()
            .any(|run| run.sha256 == key.file.sha256 && run.source.as_deref() != Some(&source));
    let run = RunRecord {
        id: new_run_id(),
        scope: scope.clone(),
        name: if adopt {
            key.name.clone()
        } else {
            source.clone()
        },
        file: journal.file.clone(),
        sha256: journal.sha256.clone(),
        rows: journal.rows,
        started: journal
            .started
            .clone()
            .unwrap_or_else(|| "at a time its journal did not record".into()),
        source: Some(source),
    };
    tx.create_run(&run, journal.rows().into()).await?;
    Ok(run)
}

//! The ledger's schema and statements, one text for SQLite and PostgreSQL:
//! parameters are written `$1`, `$2` (PostgreSQL's form; SQLite binds them
//! by name), and where the two differ the text says so (`Dialect`).

use super::state::MAY_BE_CREDITED;

/// The states of an attempt known to have credited (and not cancelled
/// since): what a person's "credited" agrees with.
pub const CREDITS: [&str; 5] = [
    "sent",
    "confirmed_sent",
    "cancelling",
    "cancel_refused",
    "cancel_in_doubt",
];

/// Where the two engines' SQL differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
}

/// Every statement, for tables named with one prefix.
#[derive(Clone, Debug)]
pub struct Statements {
    pub schema: String,
    pub runs_named: String,
    pub runs_with_content: String,
    pub run_by_id: String,
    pub create_run: String,
    pub add_row: String,
    pub rows: String,
    pub rows_of_lines: String,
    pub history: String,
    pub history_of_lines: String,
    pub put_attempt: String,
    pub alike_elsewhere: String,
    pub allow_overlap: String,
    pub imported: String,
    pub mark_imported: String,
    pub claim: String,
    pub judge_in_doubt: String,
    pub acknowledge: String,
    pub add_judgment: String,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub acknowledge_and_add: String,
    pub claim_cancel: String,
    pub record: String,
    pub overruled: String,
}

/// `'a', 'b'`: SQL string literals of `kinds` (constants of ours).
fn quoted(kinds: &[&str]) -> String {
    kinds
        .iter()
        .map(|kind| format!("'{kind}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Statements {
    /// The statements over tables named `{prefix}runs`, `{prefix}rows`, ….
    pub fn new(prefix: &str, dialect: Dialect) -> Self {
        let tables = Tables {
            p: prefix,
            words: Words::of(dialect),
        };
        Self {
            schema: tables.schema(),
            runs_named: tables.runs_named(),
            runs_with_content: tables.runs_with_content(),
            run_by_id: tables.run_by_id(),
            create_run: tables.create_run(),
            add_row: tables.add_row(),
            rows: tables.rows(),
            rows_of_lines: tables.rows_of_lines(),
            history: tables.history(),
            history_of_lines: tables.history_of_lines(),
            put_attempt: tables.put_attempt(),
            alike_elsewhere: tables.alike_elsewhere(),
            allow_overlap: tables.allow_overlap(),
            imported: tables.imported(),
            mark_imported: tables.mark_imported(),
            claim: tables.claim(),
            judge_in_doubt: tables.judge_in_doubt(),
            acknowledge: tables.acknowledge(),
            add_judgment: tables.add_judgment(),
            acknowledge_and_add: tables.acknowledge_and_add(),
            claim_cancel: tables.claim_cancel(),
            record: tables.record(),
            overruled: tables.overruled(),
        }
    }
}

/// The words of SQL a dialect says its own way.
struct Words {
    /// The runs table's column after its key (PostgreSQL's insertion
    /// order; SQLite has its rowid).
    serial: &'static str,
    /// The type of a line, a count of rows or points.
    big: &'static str,
    /// The condition `IN` the lines bound as `$3` (a JSON array in SQLite,
    /// an array in PostgreSQL).
    lines_in: &'static str,
    /// The order of runs, newest first.
    newest: &'static str,
    /// What follows a table kept in the order of its key.
    keyed: &'static str,
}

impl Words {
    fn of(dialect: Dialect) -> Self {
        match dialect {
            Dialect::Sqlite => Self {
                serial: "",
                big: "INTEGER",
                lines_in: "IN (SELECT value FROM json_each($3))",
                newest: "rowid DESC",
                // A table in the order of its key: one B-tree, not a table
                // and an index, so a commit dirties half the pages.
                keyed: " WITHOUT ROWID",
            },
            #[cfg(feature = "postgres")]
            Dialect::Postgres => Self {
                serial: ", seq BIGSERIAL",
                big: "BIGINT",
                lines_in: "= ANY($3)",
                newest: "seq DESC",
                keyed: "",
            },
        }
    }

    /// [`Words::lines_in`], the lines bound as `$2`.
    fn lines_in_second(&self) -> String {
        self.lines_in.replace("$3", "$2")
    }
}

/// The tables' prefix and the dialect's words: what each statement is made
/// of.
struct Tables<'a> {
    p: &'a str,
    words: Words,
}

/// The columns of a run, in the order its statements bind and read them.
const RUN_COLUMNS: &str = "id, environment, account, name, file, sha256, rows, started, source";

/// The schema: every table and index, created when missing.
impl Tables<'_> {
    fn schema(&self) -> String {
        let p = self.p;
        let Words {
            serial, big, keyed, ..
        } = self.words;
        format!(
            "CREATE TABLE IF NOT EXISTS {p}runs (id TEXT PRIMARY KEY{serial}, \
             environment TEXT NOT NULL, account TEXT NOT NULL, name TEXT NOT NULL, \
             file TEXT NOT NULL, sha256 TEXT NOT NULL, rows {big} NOT NULL, \
             started TEXT NOT NULL, source TEXT);
                 CREATE INDEX IF NOT EXISTS {p}runs_by_name ON {p}runs (environment, account, name);
                 CREATE INDEX IF NOT EXISTS {p}runs_by_content ON {p}runs (environment, account, sha256);
                 CREATE TABLE IF NOT EXISTS {p}rows (run TEXT NOT NULL, line {big} NOT NULL, \
             email TEXT NOT NULL, email_key TEXT NOT NULL, points {big} NOT NULL, \
             name TEXT NOT NULL, PRIMARY KEY (run, line)){keyed};
                 CREATE INDEX IF NOT EXISTS {p}rows_alike ON {p}rows (email_key, points);
                 CREATE TABLE IF NOT EXISTS {p}attempts (run TEXT NOT NULL, line {big} NOT NULL, \
             attempt INTEGER NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL, \
             overruled TEXT, updated TEXT NOT NULL, PRIMARY KEY (run, line, attempt)){keyed};
                 CREATE INDEX IF NOT EXISTS {p}attempts_overruled ON {p}attempts (run) \
             WHERE overruled IS NOT NULL;
                 CREATE TABLE IF NOT EXISTS {p}overlaps (run TEXT NOT NULL, other TEXT NOT NULL, \
             PRIMARY KEY (run, other));
                 CREATE TABLE IF NOT EXISTS {p}imports (source TEXT NOT NULL, \
             digest TEXT NOT NULL, environment TEXT NOT NULL, account TEXT NOT NULL, \
             PRIMARY KEY (source, digest, environment, account));"
        )
    }
}

/// Runs: found by name, by content or by id, and made.
impl Tables<'_> {
    fn runs_named(&self) -> String {
        let (p, newest) = (self.p, self.words.newest);
        format!(
            "SELECT {RUN_COLUMNS} FROM {p}runs WHERE environment = $1 AND account = $2 \
             AND name = $3 ORDER BY {newest}"
        )
    }

    fn runs_with_content(&self) -> String {
        let (p, newest) = (self.p, self.words.newest);
        format!(
            "SELECT {RUN_COLUMNS} FROM {p}runs WHERE environment = $1 AND account = $2 \
             AND sha256 = $3 ORDER BY {newest}"
        )
    }

    fn run_by_id(&self) -> String {
        let p = self.p;
        format!("SELECT {RUN_COLUMNS} FROM {p}runs WHERE id = $1")
    }

    fn create_run(&self) -> String {
        let p = self.p;
        format!(
            "INSERT INTO {p}runs ({RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (id) DO NOTHING"
        )
    }
}

/// A run's rows and their attempts, as read and as imported.
impl Tables<'_> {
    fn add_row(&self) -> String {
        let p = self.p;
        format!(
            "INSERT INTO {p}rows (run, line, email, email_key, points, name) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run, line) DO NOTHING"
        )
    }

    fn rows(&self) -> String {
        let p = self.p;
        format!("SELECT line, email, points, name FROM {p}rows WHERE run = $1 ORDER BY line")
    }

    fn rows_of_lines(&self) -> String {
        let p = self.p;
        format!(
            "SELECT line, email, points, name FROM {p}rows WHERE run = $1 AND line {} \
             ORDER BY line",
            self.words.lines_in_second()
        )
    }

    fn history(&self) -> String {
        let p = self.p;
        format!(
            "SELECT line, attempt, state, overruled FROM {p}attempts WHERE run = $1 \
             ORDER BY line, attempt"
        )
    }

    fn history_of_lines(&self) -> String {
        let p = self.p;
        format!(
            "SELECT line, attempt, state, overruled FROM {p}attempts WHERE run = $1 \
             AND line {} ORDER BY line, attempt",
            self.words.lines_in_second()
        )
    }

    fn put_attempt(&self) -> String {
        let p = self.p;
        format!(
            "INSERT INTO {p}attempts (run, line, attempt, kind, state, updated) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run, line, attempt) DO NOTHING"
        )
    }
}

/// Other runs: rows alike theirs, the overlaps allowed, and the journals of
/// earlier versions imported.
impl Tables<'_> {
    /// Per other run: how many of this run's rows (to send) are alike one
    /// of its rows, and how many alike one that may be credited. Counted
    /// here, so that a large file paid again over another starts without
    /// reading every pair.
    fn alike_elsewhere(&self) -> String {
        let (p, lines_in) = (self.p, self.words.lines_in);
        let may_be_credited = quoted(&MAY_BE_CREDITED);
        format!(
            "SELECT other.run, COUNT(DISTINCT mine.line), \
             COUNT(DISTINCT CASE WHEN EXISTS (SELECT 1 FROM {p}attempts a \
             WHERE a.run = other.run AND a.line = other.line \
             AND a.kind IN ({may_be_credited})) THEN mine.line END) \
             FROM {p}rows mine \
             JOIN {p}rows other ON other.email_key = mine.email_key \
             AND other.points = mine.points AND other.run <> mine.run \
             JOIN {p}runs r ON r.id = other.run \
             WHERE mine.run = $1 AND r.environment = $2 AND mine.line {lines_in} \
             AND r.account = $4 AND NOT EXISTS (SELECT 1 FROM {p}overlaps o \
             WHERE o.run = mine.run AND o.other = other.run) \
             GROUP BY other.run"
        )
    }

    fn allow_overlap(&self) -> String {
        let p = self.p;
        format!("INSERT INTO {p}overlaps (run, other) VALUES ($1, $2) ON CONFLICT DO NOTHING")
    }

    fn imported(&self) -> String {
        let p = self.p;
        format!(
            "SELECT EXISTS (SELECT 1 FROM {p}imports WHERE source = $1 AND digest = $2 \
             AND environment = $3 AND account = $4)"
        )
    }

    fn mark_imported(&self) -> String {
        let p = self.p;
        format!(
            "INSERT INTO {p}imports (source, digest, environment, account) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
        )
    }
}

/// A send's or a cancel's claim on an attempt, and the vendor's answer.
impl Tables<'_> {
    /// Attempt $3 + 1, only if $3 is the newest (0: none yet).
    fn claim(&self) -> String {
        let p = self.p;
        format!(
            "INSERT INTO {p}attempts (run, line, attempt, kind, state, updated) \
             SELECT $1, $2, $3 + 1, 'sending', '{{\"state\":\"sending\"}}', $4 \
             WHERE (SELECT coalesce(max(attempt), 0) FROM {p}attempts \
             WHERE run = $1 AND line = $2) = $3 \
             ON CONFLICT (run, line, attempt) DO NOTHING"
        )
    }

    fn claim_cancel(&self) -> String {
        let p = self.p;
        format!(
            "UPDATE {p}attempts SET kind = 'cancelling', state = $4, updated = $5 \
             WHERE run = $1 AND line = $2 AND attempt = $3 \
             AND kind IN ('sent', 'cancel_refused')"
        )
    }

    /// The vendor's answer always lands; a person's word it contradicts is
    /// kept beside it.
    fn record(&self) -> String {
        let p = self.p;
        let may_be_credited = quoted(&MAY_BE_CREDITED);
        format!(
            "UPDATE {p}attempts SET \
             overruled = CASE \
             WHEN kind = 'not_credited' AND $4 IN ({may_be_credited}) THEN 'not_credited' \
             WHEN kind = 'confirmed_sent' AND $4 NOT IN ({may_be_credited}) \
             THEN 'confirmed_sent' ELSE overruled END, \
             kind = $4, state = $5, updated = $6 \
             WHERE run = $1 AND line = $2 AND attempt = $3"
        )
    }

    fn overruled(&self) -> String {
        let p = self.p;
        format!(
            "SELECT DISTINCT line FROM {p}attempts WHERE run = $1 AND overruled IS NOT NULL \
             ORDER BY line"
        )
    }
}

/// A person's word on an attempt.
impl Tables<'_> {
    /// On an attempt nobody has an answer to: it is the attempt's state
    /// (until the vendor's answer comes).
    fn judge_in_doubt(&self) -> String {
        let p = self.p;
        format!(
            "UPDATE {p}attempts SET kind = $5, state = $6, updated = $4 \
             WHERE run = $1 AND line = $2 AND attempt = $3 \
             AND kind IN ('sending', 'in_doubt') AND overruled IS NULL"
        )
    }

    /// On an attempt in conflict: the vendor's answer stays; the conflict
    /// is cleared, and the person's word becomes a new attempt
    /// ([`Tables::add_judgment`]), unless it agrees with a credit.
    fn acknowledge(&self) -> String {
        let p = self.p;
        format!(
            "UPDATE {p}attempts SET overruled = NULL, updated = $4 \
             WHERE run = $1 AND line = $2 AND attempt = $3 AND overruled IS NOT NULL \
             RETURNING kind"
        )
    }

    fn add_judgment(&self) -> String {
        let p = self.p;
        format!(
            "INSERT INTO {p}attempts (run, line, attempt, kind, state, updated) \
             SELECT $1, $2, max(attempt) + 1, $5, $6, $4 FROM {p}attempts \
             WHERE run = $1 AND line = $2"
        )
    }

    /// Both at once (PostgreSQL: one statement, so that nothing else on the
    /// shared connection comes between them).
    fn acknowledge_and_add(&self) -> String {
        let p = self.p;
        let credits_kept = quoted(&CREDITS);
        format!(
            "WITH acknowledged AS (UPDATE {p}attempts SET overruled = NULL, updated = $4 \
             WHERE run = $1 AND line = $2 AND attempt = $3 AND overruled IS NOT NULL \
             RETURNING kind), \
             added AS (INSERT INTO {p}attempts (run, line, attempt, kind, state, updated) \
             SELECT $1, $2, (SELECT max(attempt) FROM {p}attempts \
             WHERE run = $1 AND line = $2) + 1, $5, $6, $4 FROM acknowledged \
             WHERE $7 OR kind NOT IN ({credits_kept}) RETURNING 1) \
             SELECT count(*) FROM acknowledged"
        )
    }
}

//! The CSV of recipients: read once, into a private copy. [`PayoutFile::open`]
//! reads the file's bytes, checks every row and reports every problem at
//! once (line, column, why) before anything is sent; [`PayoutFile::rows`]
//! then gives the run the rows of those same bytes — never the file again,
//! so an edit made while a run goes on changes nothing it sends (the next
//! run sees a new version of the file: another run in the ledger). Rows are
//! known by their line: a run is bound to the bytes' SHA-256, so a
//! line always means the same row.
//!
//! Columns (a header row names them, in any order): `name`, `email`,
//! `points` (required); `citation`, `sender_email`, `expiry_months`
//! (optional: per row, or for the whole run from [`RunDefaults`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use xoxoday_reward_points::{InvalidValue, Payout, Points, Recipient};

/// What applies to every row that does not say otherwise.
#[derive(Clone, Debug, Default)]
pub struct RunDefaults {
    /// The Super Admin's email address the points come from.
    pub sender_email: Option<String>,
    /// Months until the points expire.
    pub expiry_months: Option<u32>,
}

/// One problem with one row (or the header).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowProblem {
    /// 1-based line in the file.
    pub line: u64,
    /// The column, when the problem is one value.
    pub column: Option<String>,
    /// What is wrong, and how to fix it.
    pub problem: String,
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(f, "line {}, column `{column}`: {}", self.line, self.problem),
            None => write!(f, "line {}: {}", self.line, self.problem),
        }
    }
}

/// Why a file cannot be paid out: it cannot be read, or rows are bad.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Every bad row, in file order; nothing was sent.
    #[error("{} has {} problem(s); nothing was sent:\n{}", path.display(), problems.len(), list(problems))]
    BadRows {
        /// The file.
        path: PathBuf,
        /// Each problem.
        problems: Vec<RowProblem>,
    },
    /// The file changed after it was checked.
    #[error("{} changed while the run read it: start the run again", path.display())]
    ChangedDuringRun {
        /// The file.
        path: PathBuf,
    },
    /// The file is larger than a payout file may be.
    #[error(
        "{} is larger than {} MiB, more than a payout file may be: split it into several files",
        path.display(),
        MAX_FILE_BYTES >> 20
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
}

/// The largest payout file read (256 MiB: some three million rows).
pub const MAX_FILE_BYTES: u64 = 256 << 20;

fn list(problems: &[RowProblem]) -> String {
    problems
        .iter()
        .map(|problem| format!("  {problem}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A checked payout file, with the bytes that were checked.
#[derive(Clone, Debug)]
pub struct PayoutFile {
    path: PathBuf,
    defaults: RunDefaults,
    identity: FileIdentity,
    /// The bytes checked and hashed: the rows come from here.
    bytes: Arc<[u8]>,
    contents: Contents,
}

/// What a checked file pays, all rows together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contents {
    /// Rows (not counting the header).
    pub rows: u64,
    /// Distinct recipients (email addresses, compared without case).
    pub recipients: u64,
    /// The points of every row together.
    pub points: u64,
    /// Recipients on more than one row: each would be paid once per row.
    pub duplicates: Vec<DuplicateRecipient>,
}

/// A recipient on more than one row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuplicateRecipient {
    /// The address, as its first row writes it.
    pub email: String,
    /// Its rows' lines.
    pub lines: Vec<u64>,
}

impl fmt::Display for DuplicateRecipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.lines.iter().map(u64::to_string).collect();
        write!(f, "{} on lines {}", self.email, lines.join(", "))
    }
}

/// What binds a run to a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileIdentity {
    /// The file's name, as given.
    pub name: String,
    /// The SHA-256 of its bytes, hex.
    pub sha256: String,
    /// How many rows it has (not counting the header).
    pub rows: u64,
}

/// One checked row.
#[derive(Clone, Debug)]
pub struct PayoutRow {
    /// 1-based line in the file: the row's key in the ledger.
    pub line: u64,
    /// The recipient's email address.
    pub email: String,
    /// The recipient's name.
    pub name: String,
    /// The points to credit.
    pub points: Points,
    /// The payout this row sends: one recipient, so that every credit has
    /// its own transaction id.
    pub payout: Payout,
}

const REQUIRED: [&str; 3] = ["name", "email", "points"];
const OPTIONAL: [&str; 3] = ["citation", "sender_email", "expiry_months"];

/// The positions of the known columns in the header.
struct Columns {
    name: usize,
    email: usize,
    points: usize,
    citation: Option<usize>,
    sender_email: Option<usize>,
    expiry_months: Option<usize>,
}

/// The bytes of the file at `path`, at most [`MAX_FILE_BYTES`].
fn read_bytes(path: &Path) -> Result<Arc<[u8]>, FileError> {
    let unreadable = |source| FileError::Unreadable {
        path: path.to_owned(),
        source,
    };
    let mut bytes = Vec::new();
    File::open(path)
        .map_err(unreadable)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(FileError::TooLarge {
            path: path.to_owned(),
        });
    }
    Ok(bytes.into())
}

impl PayoutFile {
    /// Reads the file once and checks the bytes read: every problem is
    /// reported at once.
    pub fn open(path: &Path, defaults: RunDefaults) -> Result<Self, FileError> {
        let bytes = read_bytes(path)?;
        let mut problems = Vec::new();
        let mut contents = Contents::default();
        // Recipients by a fingerprint of their address (a few bytes each,
        // not the addresses: a large file stays small in memory); the
        // repeated ones are told apart exactly in a second pass.
        let mut first_lines: HashMap<u64, u64> = HashMap::new();
        let mut repeated: HashSet<u64> = HashSet::new();
        let mut reader = csv_reader(&bytes[..]);
        match columns(&mut reader) {
            Ok(columns) => {
                let mut record = csv::StringRecord::new();
                loop {
                    match reader.read_record(&mut record) {
                        Ok(false) => break,
                        Ok(true) => {
                            contents.rows += 1;
                            match row(&record, &columns, &defaults) {
                                Ok(row) => {
                                    contents.points =
                                        contents.points.saturating_add(row.points.get());
                                    let key = recipient_key(&row.email);
                                    if first_lines.insert(key, row.line).is_some() {
                                        repeated.insert(key);
                                    }
                                }
                                Err(mut found) => problems.append(&mut found),
                            }
                        }
                        Err(error) => problems.push(csv_problem(&error)),
                    }
                }
            }
            Err(mut found) => problems.append(&mut found),
        }
        if contents.rows == 0 && problems.is_empty() {
            problems.push(RowProblem {
                line: 2,
                column: None,
                problem: "no rows: the file has only a header".into(),
            });
        }
        if !problems.is_empty() {
            return Err(FileError::BadRows {
                path: path.to_owned(),
                problems,
            });
        }
        contents.recipients = first_lines.len() as u64;
        let mut file = Self {
            path: path.to_owned(),
            defaults,
            identity: identity(path, &bytes, contents.rows),
            bytes,
            contents,
        };
        if !repeated.is_empty() {
            file.find_duplicates(&repeated);
        }
        Ok(file)
    }

    /// The recipients whose fingerprint came more than once, by address:
    /// the duplicates, and the true number of recipients.
    fn find_duplicates(&mut self, repeated: &HashSet<u64>) {
        let mut groups: BTreeMap<String, (String, Vec<u64>)> = BTreeMap::new();
        let repeats: Vec<(String, u64)> = self
            .rows()
            .into_iter()
            .flatten()
            .flatten()
            .filter(|row| repeated.contains(&recipient_key(&row.email)))
            .map(|row| (row.email, row.line))
            .collect();
        for (email, line) in repeats {
            groups
                .entry(email.to_lowercase())
                .or_insert_with(|| (email.clone(), Vec::new()))
                .1
                .push(line);
        }
        // Addresses that only shared a fingerprint are recipients of their
        // own.
        self.contents.recipients += groups.len().saturating_sub(repeated.len()) as u64;
        let mut duplicates: Vec<DuplicateRecipient> = groups
            .into_values()
            .filter(|(_, lines)| lines.len() > 1)
            .map(|(email, lines)| DuplicateRecipient { email, lines })
            .collect();
        duplicates.sort_by_key(|duplicate| duplicate.lines[0]);
        self.contents.duplicates = duplicates;
    }

    /// What binds a run to the file at `path`, without checking its rows
    /// (an undo reads them from the ledger).
    pub fn identify(path: &Path) -> Result<FileIdentity, FileError> {
        let bytes = read_bytes(path)?;
        let rows = csv_reader(&bytes[..]).records().count() as u64;
        Ok(identity(path, &bytes, rows))
    }

    /// What binds a run to this file.
    pub fn identity(&self) -> &FileIdentity {
        &self.identity
    }

    /// What the file pays: rows, recipients, points, recipients on several
    /// rows.
    pub fn contents(&self) -> &Contents {
        &self.contents
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file at the path no longer holds the bytes that were
    /// checked (it was edited or replaced since): what a run sent is still
    /// what was checked, but the file now says otherwise.
    pub fn changed_on_disk(&self) -> bool {
        read_bytes(&self.path).map_or(true, |now| now[..] != self.bytes[..])
    }

    /// The checked rows, from the bytes that were checked, one at a time.
    pub fn rows(
        &self,
    ) -> Result<impl Iterator<Item = Result<PayoutRow, FileError>> + '_, FileError> {
        let changed = || FileError::ChangedDuringRun {
            path: self.path.clone(),
        };
        let mut reader = csv_reader(&self.bytes[..]);
        let columns = columns(&mut reader).map_err(|_| changed())?;
        Ok(reader.into_records().map(move |record| {
            let record = record.map_err(|_| changed())?;
            row(&record, &columns, &self.defaults).map_err(|_| changed())
        }))
    }
}

/// A recipient's fingerprint: their address without regard to case.
fn recipient_key(email: &str) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    for character in email.chars().flat_map(char::to_lowercase) {
        std::hash::Hash::hash(&character, &mut hasher);
    }
    std::hash::Hasher::finish(&hasher)
}

fn identity(path: &Path, bytes: &[u8], rows: u64) -> FileIdentity {
    FileIdentity {
        name: path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default(),
        sha256: Sha256::digest(bytes)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect(),
        rows,
    }
}

fn csv_reader<R: Read>(read: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(read)
}

fn csv_problem(error: &csv::Error) -> RowProblem {
    let line = error.position().map_or(0, csv::Position::line);
    let problem = match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_owned(),
        _ => error.to_string(),
    };
    RowProblem {
        line,
        column: None,
        problem,
    }
}

fn columns<R: Read>(reader: &mut csv::Reader<R>) -> Result<Columns, Vec<RowProblem>> {
    let header = reader
        .headers()
        .map_err(|error| vec![csv_problem(&error)])?
        .clone();
    let mut problems = Vec::new();
    let find = |name: &str| header.iter().position(|column| column == name);
    for (index, column) in header.iter().enumerate() {
        if !REQUIRED.contains(&column) && !OPTIONAL.contains(&column) {
            problems.push(RowProblem {
                line: 1,
                column: Some(column.to_owned()),
                problem: format!(
                    "unknown column (column {}); the columns are {} and, optionally, {}",
                    index + 1,
                    REQUIRED.join(", "),
                    OPTIONAL.join(", ")
                ),
            });
        } else if header.iter().filter(|other| *other == column).count() > 1
            && find(column) != Some(index)
        {
            problems.push(RowProblem {
                line: 1,
                column: Some(column.to_owned()),
                problem: "named twice".into(),
            });
        }
    }
    for required in REQUIRED {
        if find(required).is_none() {
            problems.push(RowProblem {
                line: 1,
                column: Some(required.to_owned()),
                problem: "missing from the header: every row needs it".into(),
            });
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Columns {
        name: find("name").unwrap_or_default(),
        email: find("email").unwrap_or_default(),
        points: find("points").unwrap_or_default(),
        citation: find("citation"),
        sender_email: find("sender_email"),
        expiry_months: find("expiry_months"),
    })
}

/// The column an [`InvalidValue`]'s vendor field came from.
fn column_of(invalid: &InvalidValue) -> &'static str {
    match invalid.field {
        "to_name" => "name",
        "to_email" => "email",
        "amount" => "points",
        "sender_email" => "sender_email",
        "expiry_month" => "expiry_months",
        other => other,
    }
}

/// The checked row `record`, or every problem it has (line, column, why).
fn row(
    record: &csv::StringRecord,
    columns: &Columns,
    defaults: &RunDefaults,
) -> Result<PayoutRow, Vec<RowProblem>> {
    let mut check = RowCheck::new(record);
    let points = check.points(columns);
    // With a bad amount the other columns are still checked.
    let checked_points = points.as_ref().map_or(1, |points| points.get());
    let recipient = check.recipient(columns, checked_points);
    let payout = check.payout(columns, defaults);
    match (payout, recipient, points) {
        (Some(payout), Some(recipient), Some(points)) if check.problems.is_empty() => {
            Ok(PayoutRow {
                line: check.line,
                email: recipient.email().as_str().to_owned(),
                name: check.get(columns.name).to_owned(),
                points,
                payout: payout.to(recipient),
            })
        }
        _ => Err(check.problems),
    }
}

/// One row being checked: its values, and the problems found so far, in
/// the order of its columns' checks.
struct RowCheck<'a> {
    record: &'a csv::StringRecord,
    line: u64,
    problems: Vec<RowProblem>,
}

impl<'a> RowCheck<'a> {
    fn new(record: &'a csv::StringRecord) -> Self {
        Self {
            record,
            line: record.position().map_or(0, csv::Position::line),
            problems: Vec::new(),
        }
    }

    /// The value in column `index` (empty when the row has none).
    fn get(&self, index: usize) -> &'a str {
        self.record.get(index).unwrap_or_default()
    }

    /// The value in an optional column, unless absent or empty.
    fn optional(&self, index: Option<usize>) -> Option<&'a str> {
        index
            .map(|index| self.get(index))
            .filter(|value| !value.is_empty())
    }

    /// A value the client refused, in the column it came from.
    fn invalid(&mut self, invalid: InvalidValue) {
        self.problems.push(RowProblem {
            line: self.line,
            column: Some(column_of(&invalid).to_owned()),
            problem: invalid.problem,
        });
    }

    /// A problem with the value in `column`.
    fn problem(&mut self, column: &str, problem: String) {
        self.problems.push(RowProblem {
            line: self.line,
            column: Some(column.to_owned()),
            problem,
        });
    }

    /// The points, if they are a number of points.
    fn points(&mut self, columns: &Columns) -> Option<Points> {
        match self.get(columns.points).parse::<Points>() {
            Ok(points) => Some(points),
            Err(refused) => {
                self.invalid(refused);
                None
            }
        }
    }

    /// The recipient of `points`, with the row's citation, if the name and
    /// address are valid.
    fn recipient(&mut self, columns: &Columns, points: u64) -> Option<Recipient> {
        match Recipient::new(self.get(columns.name), self.get(columns.email), points) {
            Ok(recipient) => match self.optional(columns.citation) {
                Some(citation) => Some(recipient.citation(citation)),
                None => Some(recipient),
            },
            Err(refused) => {
                self.invalid(refused);
                None
            }
        }
    }

    /// The payout from the row's sender (or the run's), expiring when the
    /// row (or the run) says, if both are valid.
    fn payout(&mut self, columns: &Columns, defaults: &RunDefaults) -> Option<Payout> {
        let payout = self.sender(columns, defaults);
        let expiry = self.expiry_months(columns, defaults);
        match (payout, expiry) {
            (Some(checked), Some(months)) => match checked.expiry_months(months) {
                Ok(with_expiry) => Some(with_expiry),
                Err(refused) => {
                    self.invalid(refused);
                    None
                }
            },
            (payout, _) => payout,
        }
    }

    /// A payout from the row's sender, or else the run's.
    fn sender(&mut self, columns: &Columns, defaults: &RunDefaults) -> Option<Payout> {
        let sender = self
            .optional(columns.sender_email)
            .map(str::to_owned)
            .or_else(|| defaults.sender_email.clone());
        match sender.as_deref().map(Payout::new) {
            Some(Ok(payout)) => Some(payout),
            Some(Err(refused)) => {
                self.invalid(refused);
                None
            }
            None => {
                self.problem(
                    "sender_email",
                    "no sender: give the run's sender (--sender-email) or fill the \
                     sender_email column"
                        .into(),
                );
                None
            }
        }
    }

    /// The months until the points expire: the row's, or else the run's.
    fn expiry_months(&mut self, columns: &Columns, defaults: &RunDefaults) -> Option<u32> {
        let Some(text) = self.optional(columns.expiry_months) else {
            return defaults.expiry_months;
        };
        match text.parse::<u32>() {
            Ok(months) => Some(months),
            Err(_) => {
                self.problem(
                    "expiry_months",
                    format!("`{text}` is not a whole number of months"),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(text: &str, defaults: RunDefaults) -> Result<PayoutFile, FileError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("payouts.csv");
        std::fs::write(&path, text).unwrap();
        let file = PayoutFile::open(&path, defaults);
        // Keep the directory for `rows()`.
        std::mem::forget(dir);
        file
    }

    fn sender() -> RunDefaults {
        RunDefaults {
            sender_email: Some("admin@example.com".into()),
            expiry_months: Some(12),
        }
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line_and_column() {
        let text = "name,email,points,citation\n\
                    Ann,ann@example.com,100,Thanks\n\
                    ,bob@example.com,-50,\n\
                    Cy,cy@exmaple,1e3,\n\
                    Di,di@example.com,10,too,many\n\
                    Ed,ed@example.com,20,\n";
        let Err(FileError::BadRows { problems, .. }) = open(text, sender()) else {
            panic!("bad rows accepted");
        };
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "line 3, column `points`: `-50` is not a whole number of points written in digits",
                "line 3, column `name`: the recipient's name is empty",
                "line 4, column `points`: `1e3` is not a whole number of points written in digits",
                "line 4, column `email`: `cy@exmaple` is not an email address: its domain has no \
                 top-level domain (such as `.com`)",
                "line 5: 5 fields where the header has 4",
            ]
        );
    }

    #[test]
    fn the_header_must_name_the_columns() {
        let Err(FileError::BadRows { problems, .. }) =
            open("name,mail,points,bonus\nAnn,a@example.com,1,x\n", sender())
        else {
            panic!("bad header accepted");
        };
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "line 1, column `mail`: unknown column (column 2); the columns are name, email, \
                 points and, optionally, citation, sender_email, expiry_months",
                "line 1, column `bonus`: unknown column (column 4); the columns are name, email, \
                 points and, optionally, citation, sender_email, expiry_months",
                "line 1, column `email`: missing from the header: every row needs it",
            ]
        );
    }

    #[test]
    fn a_row_without_a_sender_is_refused_unless_the_run_gives_one() {
        let text = "name,email,points,sender_email\nAnn,ann@example.com,1,\nBo,bo@example.com,2,boss@example.com\n";
        let Err(FileError::BadRows { problems, .. }) = open(text, RunDefaults::default()) else {
            panic!("no sender accepted");
        };
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 2);
        let file = open(text, sender()).unwrap();
        let rows: Vec<PayoutRow> = file.rows().unwrap().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].line, 3);
        assert_eq!(rows[1].points.get(), 2);
        assert_eq!(file.identity().rows, 2);
        assert_eq!(file.identity().sha256.len(), 64);
    }
}

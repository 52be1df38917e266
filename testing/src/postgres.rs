//! The PostgreSQL server of the tests: `cargo xtask test` starts a
//! throwaway one and names it in `XOXODAY_TEST_POSTGRES`.

/// The variable that names the tests' server (a connection URL).
pub const TEST_POSTGRES_VARIABLE: &str = "XOXODAY_TEST_POSTGRES";

/// The connection URL of the tests' PostgreSQL server. A test that needs one
/// fails without it, saying how to get one, rather than skip.
///
/// # Panics
///
/// When `XOXODAY_TEST_POSTGRES` is not set.
pub fn test_postgres() -> String {
    std::env::var(TEST_POSTGRES_VARIABLE).unwrap_or_else(|_| {
        panic!(
            "this test needs a PostgreSQL server: run it with `cargo xtask test`, which starts \
             a throwaway one from the system's binaries (installing Debian's postgresql package \
             when missing), or set XOXODAY_TEST_POSTGRES to a server's connection URL (such as \
             postgresql://postgres@%2Ftmp%2Fpg/postgres)"
        )
    })
}

pub mod replicas;
pub mod world;

/// The PostgreSQL server the tests use (`cargo xtask test` starts one and
/// sets `XOXODAY_TEST_POSTGRES`): a test that needs one fails, saying how to
/// get one, rather than skip.
pub fn test_postgres() -> String {
    std::env::var("XOXODAY_TEST_POSTGRES").unwrap_or_else(|_| {
        panic!(
            "this test needs a PostgreSQL server: run it with `cargo xtask test`, which starts \
             a throwaway one from the system's binaries (installing Debian's postgresql package \
             when missing), or set XOXODAY_TEST_POSTGRES to a server's connection URL"
        )
    })
}

pub mod command;
pub mod replicas;
pub mod world;

pub use command::reward_points;
pub use xoxoday_reward_points_testing::postgres::test_postgres;

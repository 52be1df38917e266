pub mod replicas;

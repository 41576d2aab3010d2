use deadpool_postgres::{Config, Pool};
use tokio_postgres::NoTls;

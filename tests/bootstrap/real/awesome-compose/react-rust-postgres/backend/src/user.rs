use tokio_postgres::{Error, GenericClient, Row};


//! Storage errors: each says what the store was doing when the database failed.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error while {doing}: {source}")]
    Database {
        doing: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("running migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is unreadable ({0}); was the database edited by hand?")]
    Corrupt(String),
    #[error("the cursor `{0}` is not one this list gave out")]
    BadCursor(String),
    #[error("the database writer has stopped; nothing more can be stored")]
    WriterStopped,
    #[error("creating the data directory {path} failed: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// A busy or locked database may answer on a second try; nothing else will.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Database { source, .. } => match source {
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => true,
                sqlx::Error::Database(db) => {
                    db.message().contains("locked") || db.message().contains("busy")
                }
                _ => false,
            },
            StoreError::Migrate(_)
            | StoreError::Corrupt(_)
            | StoreError::BadCursor(_)
            | StoreError::WriterStopped
            | StoreError::DataDir { .. } => false,
        }
    }
}

/// Attaches what the store was doing to an sqlx error.
pub(crate) trait Doing<T> {
    fn doing(self, doing: &'static str) -> Result<T, StoreError>;
}

impl<T> Doing<T> for Result<T, sqlx::Error> {
    fn doing(self, doing: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Database { doing, source })
    }
}

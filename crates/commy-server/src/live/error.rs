//! Errors of the live layer, each with its wire code and a message naming the thing.

use commy_proto::ErrorCode;

/// A live-state operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    /// No service has this id (it does not exist).
    #[error("service id '{0}' does not exist")]
    ServiceNotFound(String),
    /// The variable does not exist in the service.
    #[error("variable '{variable}' does not exist in service '{service}'")]
    VariableNotFound {
        /// The service's name.
        service: String,
        /// The variable's name.
        variable: String,
    },
    /// A variable of that name exists already.
    #[error("variable '{variable}' already exists in service '{service}'")]
    VariableExists {
        /// The service's name.
        service: String,
        /// The variable's name.
        variable: String,
    },
    /// The value is larger than the variable's capacity.
    #[error("value of {len} bytes exceeds variable '{variable}' capacity of {capacity} bytes")]
    TooLarge {
        /// The variable's name.
        variable: String,
        /// The value's length.
        len: usize,
        /// The capacity.
        capacity: u32,
    },
    /// The service is full (variables or bytes).
    #[error("service '{service}' is full: {reason}")]
    Full {
        /// The service's name.
        service: String,
        /// Which limit was reached.
        reason: String,
    },
    /// A variable stayed locked by another process (a stopped or stuck writer) for the whole wait bound.
    #[error("variable '{variable}' in service '{service}' is busy: {reason}")]
    Busy {
        /// The service's name.
        service: String,
        /// The variable's name.
        variable: String,
        /// What it waited for.
        reason: String,
    },
    /// A compare-and-set found the variable at another version than expected; nothing was written.
    #[error("variable '{variable}' in service '{service}' is at version {current}, not the expected {expected}; nothing was written")]
    Conflict {
        /// The service's name.
        service: String,
        /// The variable's name.
        variable: String,
        /// The version the request expected.
        expected: u64,
        /// The variable's version.
        current: u64,
    },
    /// The service's file was found damaged at start-up and moved aside; the service is unavailable until an admin
    /// deletes it (or puts a good file back and restarts the server).
    #[error("service '{service}' in tenant '{tenant}' is unavailable: {reason}; delete the service, or put a good file back and restart the server")]
    Broken {
        /// The service's name.
        service: String,
        /// Its tenant.
        tenant: String,
        /// What was found and done.
        reason: String,
    },
    /// The service file failed: I/O or corruption.
    #[error("service '{service}': {doing} failed: {source}")]
    File {
        /// The service's name.
        service: String,
        /// What the server was doing, for example "creating the service file".
        doing: &'static str,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl LiveError {
    /// The protocol error code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            LiveError::ServiceNotFound(_) | LiveError::VariableNotFound { .. } => ErrorCode::NotFound,
            LiveError::VariableExists { .. } => ErrorCode::AlreadyExists,
            LiveError::TooLarge { .. } => ErrorCode::InvalidRequest,
            LiveError::Full { .. } => ErrorCode::LimitExceeded,
            LiveError::Busy { .. } => ErrorCode::Timeout,
            LiveError::Conflict { .. } => ErrorCode::Conflict,
            LiveError::File { .. } | LiveError::Broken { .. } => ErrorCode::InternalError,
        }
    }
}

//! What a failure means to the person or program that asked: each library error says its
//! [`ErrorKind`] once, next to its definition ([`Classify`]), and the front ends map kinds to
//! their own codes (the CLI to exit codes, `serve` to HTTP statuses) without looking inside.
//! [`crate::describe`] finds the kind of an error held as a trait object.

/// The class of a failure, independent of where it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The thing asked for does not exist: a run, a commit, a proof, an active run.
    NotFound,
    /// The input or the configuration the user gave is wrong and must be fixed by them.
    BadInput,
    /// A proof exists and does not hold under the trust in force (a signature nobody trusts, a
    /// proof of another commit).
    Invalid,
    /// The request clashes with the current state (a run already active, a run not ended).
    Conflict,
    /// Something needed is missing or unusable here: a signing key, a trust source, a remote.
    Unavailable,
    /// The repository, the index or the machine failed in a way the user did not cause.
    Internal,
}

/// An error that knows its kind.
pub trait Classify {
    /// What this failure means to the caller.
    fn kind(&self) -> ErrorKind;

    /// A stable machine-readable name for it (the `error` field of the HTTP API's errors).
    fn code(&self) -> &'static str {
        self.kind().code()
    }
}

impl ErrorKind {
    /// The generic code of the kind.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Invalid => "proof_invalid",
            Self::BadInput => "bad_input",
            Self::Conflict => "conflict",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

//! What a failure means to the person or program that asked: each library error says its
//! [`ErrorKind`] once, here or next to its definition, and the front ends map kinds to their
//! own codes (the CLI to exit codes, `serve` to HTTP statuses) without looking inside.

/// The class of a failure, independent of where it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The thing asked for does not exist: a run, a commit, a proof, an active run.
    NotFound,
    /// The input or the configuration the user gave is wrong and must be fixed by them.
    BadInput,
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
            Self::BadInput => "bad_input",
            Self::Conflict => "conflict",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

/// The kind of the outermost library error in `error`'s chain of sources, if any is one.
///
/// Front ends that hold errors as trait objects (the CLI's `anyhow` chain) call this; the
/// library's own error types are listed here once.
pub fn classify(error: &(dyn std::error::Error + 'static)) -> Option<ErrorKind> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(kind) = kind_of(e) {
            return Some(kind);
        }
        current = e.source();
    }
    None
}

fn kind_of(e: &(dyn std::error::Error + 'static)) -> Option<ErrorKind> {
    macro_rules! try_types {
        ($($t:ty),* $(,)?) => {
            $(if let Some(e) = e.downcast_ref::<$t>() {
                return Some(e.kind());
            })*
        };
    }
    try_types!(
        crate::approval::Error,
        crate::proofs::Error,
        crate::rewrite::Error,
        crate::run::Error,
        crate::trust::Error,
        crate::sync::Error,
        crate::store::Error,
        crate::signing::Error,
        crate::policy::Error,
        crate::git::Error,
        crate::hooks::Error,
        crate::inclusion::Error,
        crate::serve::Error,
        crate::agent_config::Error,
    );
    None
}

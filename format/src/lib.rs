//! The published formats, shared by the native CLI and the browser lab so both read the same
//! data and print the same numbers: the dataset folder of SPEC §2.3 (Parquet and manifest),
//! the one table of `backtest v1-baseline`'s options as text with their validation (§10;
//! `option_table` is its machinery), and the §10.1 results JSON, and the §7 baseline's rows and summary. No file system access:
//! callers hand in bytes or open files. The lab's UI model lives in `quantbot-lab-model`.

pub mod baseline;
pub mod dataset;
pub mod html;
pub mod option_table;
pub mod options;
mod page_guard;
pub mod parquet_read;
pub mod parts;
pub mod ranged;
pub mod results;
pub mod run_files;
pub mod table_file;

/// What can go wrong reading options or data. The message names the flag, file or column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A bad option value (the CLI's exit code 2): the flag it is about, when there is one
    /// (the lab shows the message under that field), and the whole message.
    #[error("{message}")]
    Usage {
        flag: Option<&'static str>,
        message: String,
    },
    /// Bad input data (the CLI's exit code 1). The message names the file and column.
    #[error("{0}")]
    Data(String),
}

impl Error {
    /// The flag a usage error is about (`--sl-mults`).
    pub fn flag(&self) -> Option<&'static str> {
        match self {
            Error::Usage { flag, .. } => *flag,
            Error::Data(_) => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// A usage error about no flag in particular.
pub(crate) fn usage(msg: impl Into<String>) -> Error {
    Error::Usage {
        flag: None,
        message: msg.into(),
    }
}

/// A usage error about `flag`: the message is `flag: detail`.
pub(crate) fn usage_at(flag: &'static str, detail: impl std::fmt::Display) -> Error {
    Error::Usage {
        flag: Some(flag),
        message: format!("{flag}: {detail}"),
    }
}

/// A usage error about `flag` whose message is written out whole (it may name other flags).
pub(crate) fn usage_about(flag: &'static str, message: impl Into<String>) -> Error {
    Error::Usage {
        flag: Some(flag),
        message: message.into(),
    }
}

pub(crate) fn data(msg: impl Into<String>) -> Error {
    Error::Data(msg.into())
}

/// Lower-case hexadecimal of bytes (SHA-256 digests).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

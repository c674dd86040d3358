//! The published formats, shared by the native CLI and the browser lab so both read the same
//! data and print the same numbers: the dataset folder of SPEC §2.3 (Parquet and manifest),
//! the options of `backtest v1-baseline` as text with their validation (§10), and the §10.1
//! results JSON. No file system access: callers hand in bytes or open files.

pub mod dataset;
pub mod lab;
pub mod options;
pub mod parquet_read;
pub mod results;
pub mod transfer;

/// What can go wrong reading options or data. The message names the flag, file or column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A bad option value (the CLI's exit code 2). The message starts with the flag.
    #[error("{0}")]
    Usage(String),
    /// Bad input data (the CLI's exit code 1). The message names the file and column.
    #[error("{0}")]
    Data(String),
}

impl Error {
    /// The flag a usage error is about (`--sl-mults`), when the message starts with one.
    pub fn flag(&self) -> Option<&str> {
        match self {
            Error::Usage(m) if m.starts_with("--") => m.split([':', ' ']).next(),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

pub(crate) fn data(msg: impl Into<String>) -> Error {
    Error::Data(msg.into())
}

/// Lower-case hexadecimal of bytes (SHA-256 digests).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

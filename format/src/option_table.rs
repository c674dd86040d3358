//! The machinery of the one option table: how an option is typed ([`Kind`]), how its value is
//! read from and written to text ([`OptionValue`]), and the macro that turns the table in
//! `options.rs` into `V1Options`, its `Default`, [`OPTIONS`](crate::options::OPTIONS) and the
//! text accessors. The CLI's flags, the lab's form and the share link are all generated from
//! that table, so adding an option touches the table and the engine, nothing else by hand.

use quantbot_core::metrics::Objective;
use quantbot_core::optimize::Mode;
use quantbot_core::policy::{CostModel, EntryPrice, Intrabar};

use crate::{usage_at, Result};

/// How an option is typed, which decides how the CLI parses it and how the lab shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text that always has a value (a JSON list); empty text means the default.
    Text,
    /// Text that may be absent: empty means "not set".
    OptText,
    /// A number; empty text means the default.
    Number,
    /// A number that may be absent: empty means "not set".
    OptNumber,
    /// A whole number from 0 to `u32::MAX`; empty text means the default.
    Whole,
    /// A whole number that may be absent.
    OptWhole,
    /// On or off (`true`/`false` as text).
    Switch,
    /// One of these words.
    Choice(&'static [&'static str]),
}

impl Kind {
    /// Whether empty text means "not set" rather than "the default".
    pub fn optional(self) -> bool {
        matches!(self, Kind::OptText | Kind::OptNumber | Kind::OptWhole)
    }

    /// Whether the value is a number (the CLI then accepts a leading minus sign as a value,
    /// so `--taker-fee-bps -5` reaches the check that names the flag).
    pub fn numeric(self) -> bool {
        matches!(
            self,
            Kind::Number | Kind::OptNumber | Kind::Whole | Kind::OptWhole
        )
    }

    /// The placeholder of a value in help texts.
    pub fn value_name(self) -> &'static str {
        match self {
            Kind::Text | Kind::OptText => "JSON",
            Kind::Number | Kind::OptNumber => "NUMBER",
            Kind::Whole | Kind::OptWhole => "N",
            Kind::Switch => "",
            Kind::Choice(_) => "CHOICE",
        }
    }
}

/// Where an option sits in the lab's form (and in `--help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// The exit policies searched (SPEC §3): each list is one grid dimension.
    Grid,
    /// Capital, sizing and costs (SPEC §3.4, §4).
    Wallet,
    /// Objective, constraints, holdout and the grouped wallet (SPEC §5, §6).
    Search,
    /// Which calls (SPEC §2.2).
    Selection,
}

impl Group {
    pub const ALL: [Group; 4] = [Group::Grid, Group::Wallet, Group::Search, Group::Selection];

    pub fn title(self) -> &'static str {
        match self {
            Group::Grid => "Exit grid",
            Group::Wallet => "Wallet and costs",
            Group::Search => "Objective and constraints",
            Group::Selection => "Calls",
        }
    }
}

/// One row of the option table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionSpec {
    /// The command-line flag, `--tp-mults`; also the share link's key without the dashes.
    pub flag: &'static str,
    /// The field's name (snake_case), as in [`V1Options`](crate::options::V1Options).
    pub name: &'static str,
    /// The lab's label.
    pub label: &'static str,
    pub kind: Kind,
    pub group: Group,
    /// The help text, as written in the table (one doc line per line).
    pub doc: &'static str,
}

impl OptionSpec {
    /// The help text on one line.
    pub fn help(&self) -> String {
        self.doc
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The share link's key: the flag without its dashes.
    pub fn key(&self) -> &'static str {
        &self.flag[2..]
    }

    /// The default as text (empty for "not set").
    pub fn default_text(&self) -> String {
        crate::options::V1Options::default()
            .text(self.flag)
            .unwrap_or_default()
    }
}

/// A value type of the option table: read from text (naming the flag when it cannot be) and
/// written back as the text that reads the same value.
pub trait OptionValue: Sized {
    const KIND: Kind;
    fn parse(flag: &'static str, text: &str) -> Result<Self>;
    fn to_text(&self) -> String;
}

fn number(flag: &'static str, text: &str) -> Result<f64> {
    text.trim()
        .parse::<f64>()
        .map_err(|_| usage_at(flag, format!("{:?} is not a number", text.trim())))
}

fn whole(flag: &'static str, text: &str) -> Result<u32> {
    text.trim().parse::<u32>().map_err(|_| {
        usage_at(
            flag,
            format!(
                "{:?} is not a whole number from 0 to {}",
                text.trim(),
                u32::MAX
            ),
        )
    })
}

/// The empty text as "not set", anything else through `f`.
fn optional<T>(text: &str, f: impl FnOnce(&str) -> Result<T>) -> Result<Option<T>> {
    match text.trim() {
        "" => Ok(None),
        t => f(t).map(Some),
    }
}

impl OptionValue for String {
    const KIND: Kind = Kind::Text;
    fn parse(_: &'static str, text: &str) -> Result<Self> {
        Ok(text.trim().to_string())
    }
    fn to_text(&self) -> String {
        self.clone()
    }
}

impl OptionValue for Option<String> {
    const KIND: Kind = Kind::OptText;
    fn parse(_: &'static str, text: &str) -> Result<Self> {
        optional(text, |t| Ok(t.to_string()))
    }
    fn to_text(&self) -> String {
        self.clone().unwrap_or_default()
    }
}

impl OptionValue for f64 {
    const KIND: Kind = Kind::Number;
    fn parse(flag: &'static str, text: &str) -> Result<Self> {
        number(flag, text)
    }
    fn to_text(&self) -> String {
        self.to_string()
    }
}

impl OptionValue for Option<f64> {
    const KIND: Kind = Kind::OptNumber;
    fn parse(flag: &'static str, text: &str) -> Result<Self> {
        optional(text, |t| number(flag, t))
    }
    fn to_text(&self) -> String {
        self.map(|v| v.to_string()).unwrap_or_default()
    }
}

impl OptionValue for u32 {
    const KIND: Kind = Kind::Whole;
    fn parse(flag: &'static str, text: &str) -> Result<Self> {
        whole(flag, text)
    }
    fn to_text(&self) -> String {
        self.to_string()
    }
}

/// Counts held as `usize` take the same range as `u32` ones, so the CLI and the lab (32-bit
/// WebAssembly) accept the same values.
impl OptionValue for usize {
    const KIND: Kind = Kind::Whole;
    fn parse(flag: &'static str, text: &str) -> Result<Self> {
        whole(flag, text).map(|v| v as usize)
    }
    fn to_text(&self) -> String {
        self.to_string()
    }
}

impl OptionValue for Option<u32> {
    const KIND: Kind = Kind::OptWhole;
    fn parse(flag: &'static str, text: &str) -> Result<Self> {
        optional(text, |t| whole(flag, t))
    }
    fn to_text(&self) -> String {
        self.map(|v| v.to_string()).unwrap_or_default()
    }
}

impl OptionValue for bool {
    const KIND: Kind = Kind::Switch;
    fn parse(flag: &'static str, text: &str) -> Result<Self> {
        match text.trim() {
            "true" => Ok(true),
            "false" => Ok(false),
            t => Err(usage_at(flag, format!("{t:?} is not true or false"))),
        }
    }
    fn to_text(&self) -> String {
        self.to_string()
    }
}

/// A choice among words; `aliases` are other spellings the command line has always taken.
fn choice<T: Copy>(
    flag: &'static str,
    text: &str,
    all: &[T],
    words: &[&str],
    aliases: &[(&str, T)],
) -> Result<T> {
    let t = text.trim();
    words
        .iter()
        .position(|w| *w == t)
        .map(|i| all[i])
        .or_else(|| aliases.iter().find(|(a, _)| *a == t).map(|(_, v)| *v))
        .ok_or_else(|| usage_at(flag, format!("{t:?} is not one of {}", words.join(", "))))
}

/// Implements [`OptionValue`] for an engine enum from its words, in order.
macro_rules! choice_value {
    ($ty:ty, [$($variant:path => $word:literal),* $(,)?], aliases: [$($alias:literal => $avariant:path),*]) => {
        impl OptionValue for $ty {
            const KIND: Kind = Kind::Choice(&[$($word),*]);
            fn parse(flag: &'static str, text: &str) -> Result<Self> {
                choice(flag, text, &[$($variant),*], &[$($word),*], &[$(($alias, $avariant)),*])
            }
            fn to_text(&self) -> String {
                match self {
                    $($variant => $word,)*
                }
                .to_string()
            }
        }
    };
}

choice_value!(CostModel, [CostModel::Fills => "fills", CostModel::V1 => "v1"], aliases: []);
choice_value!(EntryPrice, [EntryPrice::Open => "open", EntryPrice::Close => "close"], aliases: []);
choice_value!(
    Intrabar,
    [Intrabar::SlFirst => "sl-first", Intrabar::TpFirst => "tp-first"],
    aliases: ["sl_first" => Intrabar::SlFirst, "tp_first" => Intrabar::TpFirst]
);
/// The words of an engine enum with `ALL` and a `const fn as_str`, as a constant.
macro_rules! words_of {
    ($ty:ty, $n:literal) => {{
        let mut w = [""; $n];
        let mut i = 0;
        while i < $n {
            w[i] = <$ty>::ALL[i].as_str();
            i += 1;
        }
        w
    }};
}

/// Implements [`OptionValue`] for an engine enum that names itself (`ALL`, `as_str`).
macro_rules! named_value {
    ($ty:ty, $n:literal) => {
        impl OptionValue for $ty {
            const KIND: Kind = Kind::Choice(&words_of!($ty, $n));
            fn parse(flag: &'static str, text: &str) -> Result<Self> {
                const WORDS: [&str; $n] = words_of!($ty, $n);
                choice(flag, text, &<$ty>::ALL, &WORDS, &[])
            }
            fn to_text(&self) -> String {
                self.as_str().to_string()
            }
        }
    };
}

named_value!(Mode, 3);
named_value!(Objective, 7);

/// The option table: every row declares the field, its type and default, its flag, its lab
/// label and group, and (as doc comments) its help. Generates `V1Options`, its `Default`,
/// `OPTIONS`, `V1Options::text` and `V1Options::set`.
macro_rules! option_table {
    ($(
        $(#[doc = $doc:literal])*
        $field:ident: $ty:ty = $default:expr; $flag:literal, $label:literal, $group:ident;
    )*) => {
        /// Every option of `backtest v1-baseline` that changes results, as typed (lists as
        /// JSON text). `Default` gives the CLI's defaults.
        #[derive(Debug, Clone, PartialEq)]
        pub struct V1Options {
            $($(#[doc = $doc])* pub $field: $ty,)*
        }

        impl Default for V1Options {
            fn default() -> Self {
                V1Options { $($field: $default,)* }
            }
        }

        /// The option table, in the order of the lab's form and of a share link.
        pub const OPTIONS: &[$crate::option_table::OptionSpec] = &[$(
            $crate::option_table::OptionSpec {
                flag: $flag,
                name: stringify!($field),
                label: $label,
                kind: <$ty as $crate::option_table::OptionValue>::KIND,
                group: $crate::option_table::Group::$group,
                doc: concat!($($doc, "\n",)*),
            },
        )*];

        impl V1Options {
            /// The text of an option by its flag (`None` for a flag not in the table).
            pub fn text(&self, flag: &str) -> Option<String> {
                use $crate::option_table::OptionValue;
                match flag {
                    $($flag => Some(self.$field.to_text()),)*
                    _ => None,
                }
            }

            /// Sets an option by its flag from text; empty text means the default, or "not
            /// set" for an optional value. `None` for a flag not in the table; on an error
            /// the option keeps its value.
            pub fn set(&mut self, flag: &str, text: &str) -> Option<$crate::Result<()>> {
                use $crate::option_table::OptionValue;
                match flag {
                    $($flag => Some(
                        if text.trim().is_empty() && !<$ty as OptionValue>::KIND.optional() {
                            self.$field = $default;
                            Ok(())
                        } else {
                            <$ty as OptionValue>::parse($flag, text).map(|v| self.$field = v)
                        },
                    ),)*
                    _ => None,
                }
            }
        }
    };
}

pub(crate) use option_table;

//! The share link as a plain type: the dataset (URL and manifest hash), the engine version,
//! every field of the form, the selected caller, policy and trade, the tab, a published result
//! bundle, and whether to run on open. The page parses a link into this type and renders from
//! it; link text is never injected.

use crate::form::Form;

/// What the user had selected in the results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selected {
    /// The caller whose details are open, by name.
    pub caller: Option<String>,
    /// The grid point (policy index) selected in that caller's grid.
    pub policy: Option<usize>,
    /// The trade whose candle chart is open: its call's place among the caller's scored calls.
    pub trade: Option<usize>,
}

/// Which tab of the lab is shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tab {
    #[default]
    Search,
    Baseline,
}

/// A share link: `?data=…&v=…&sha=…&<every option>&caller=…&policy=…&trade=…&tab=…&bundle=…&run=1`.
/// The default is the lab's default form and nothing else.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShareLink {
    /// The dataset folder's URL.
    pub data: Option<String>,
    /// The engine version that made the link.
    pub version: Option<String>,
    /// The dataset manifest's SHA-256.
    pub sha: Option<String>,
    pub form: Form,
    pub selected: Selected,
    pub tab: Tab,
    /// A published result bundle's folder (the CLI's `--out-dir`): the page shows it as it
    /// was computed, and runs nothing.
    pub bundle: Option<String>,
    /// Run as soon as the data is loaded.
    pub run: bool,
}

impl ShareLink {
    /// The query string, `?` first. Every field of the form is written, not only those that
    /// differ from today's defaults, so a link reproduces the run even if a default changes
    /// (SPEC §9).
    pub fn to_query(&self) -> String {
        let mut parts = Vec::new();
        let mut push = |k: &str, v: &str| parts.push(format!("{k}={}", percent_encode(v)));
        if let Some(d) = &self.data {
            push("data", d.trim());
        }
        if let Some(v) = &self.version {
            push("v", v);
        }
        if let Some(s) = &self.sha {
            push("sha", s);
        }
        for (spec, text) in self.form.fields() {
            push(spec.key(), text);
        }
        if let Some(c) = &self.selected.caller {
            push("caller", c);
        }
        if let Some(p) = self.selected.policy {
            push("policy", &p.to_string());
        }
        if let Some(t) = self.selected.trade {
            push("trade", &t.to_string());
        }
        if self.tab == Tab::Baseline {
            push("tab", "baseline");
        }
        if let Some(b) = &self.bundle {
            push("bundle", b.trim());
        }
        if self.run {
            push("run", "1");
        }
        format!("?{}", parts.join("&"))
    }

    /// The link of a query string (`?` optional). Keys it does not know are ignored; a field
    /// the link lacks keeps the lab's default; a bad policy index is dropped.
    pub fn parse(query: &str) -> ShareLink {
        let mut link = ShareLink::default();
        for pair in query.trim_start_matches('?').split('&') {
            if pair.is_empty() {
                continue;
            }
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (percent_decode(k), percent_decode(v));
            match k.as_str() {
                // As written (`to_query` trims it): the URL box's text without its blanks.
                "data" => link.data = Some(v.trim().to_string()),
                "v" => link.version = Some(v),
                "sha" => link.sha = Some(v),
                "caller" => link.selected.caller = Some(v),
                "policy" => link.selected.policy = v.parse().ok(),
                "trade" => link.selected.trade = v.parse().ok(),
                "tab" => {
                    link.tab = if v == "baseline" {
                        Tab::Baseline
                    } else {
                        Tab::Search
                    }
                }
                "bundle" => link.bundle = Some(v.trim().to_string()),
                "run" => link.run = v == "1",
                key => {
                    link.form.set(&format!("--{key}"), &v);
                }
            }
        }
        link
    }

    /// The warning to show when the link was made with another engine or on another dataset
    /// than the one loaded.
    pub fn warning(&self, engine_version: &str, loaded_sha: Option<&str>) -> Option<String> {
        if let Some(v) = self.version.as_deref().filter(|v| *v != engine_version) {
            return Some(format!(
                "this link was made with engine {v}; this lab runs engine {engine_version}: results may differ"
            ));
        }
        let (want, have) = (self.sha.as_deref()?, loaded_sha?);
        (want != have).then(|| {
            format!(
                "this link was made on dataset {}, but the loaded one is {}: results will differ",
                want.chars().take(12).collect::<String>(),
                have.chars().take(12).collect::<String>()
            )
        })
    }
}

/// Percent-encodes everything but `A–Z a–z 0–9 - _ . ~`.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` and `+` (as a space); a malformed escape is kept as is.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()));
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantbot_format::option_table::Kind;
    use quantbot_format::options::OPTIONS;

    /// A value for every field that differs from the lab's default and still reads.
    fn changed(kind: Kind, default: &str) -> String {
        match kind {
            Kind::Switch => (default != "true").to_string(),
            Kind::Choice(words) => words.iter().find(|w| **w != default).unwrap().to_string(),
            Kind::Number | Kind::OptNumber => "0.125".into(),
            Kind::Whole | Kind::OptWhole => "7".into(),
            Kind::Text | Kind::OptText => format!("[\"x & y\",\"é 💀🧲\",{default:?}]"),
        }
    }

    #[test]
    fn a_link_round_trips_every_field_and_the_selection() {
        let mut link = ShareLink {
            data: Some("https://host/team/lab/data/demo/?a=1&b=2".into()),
            version: Some("0.1.0".into()),
            sha: Some("ab".repeat(32)),
            form: Form::default(),
            selected: Selected {
                caller: Some("Brook 💀🧲 & co".into()),
                policy: Some(17),
                trade: Some(3),
            },
            tab: Tab::Baseline,
            bundle: Some("../runs/a b&c/".into()),
            run: true,
        };
        for spec in OPTIONS {
            let before = link.form.get(spec.flag).unwrap().to_string();
            let value = changed(spec.kind, &before);
            assert_ne!(value, before, "{}", spec.flag);
            assert!(link.form.set(spec.flag, &value), "{}", spec.flag);
        }
        let q = link.to_query();
        let back = ShareLink::parse(&q);
        assert_eq!(back, link, "{q}");
        // Each field separately: a link that changes one field restores exactly that one.
        for spec in OPTIONS {
            let mut one = ShareLink::default();
            let value = changed(spec.kind, one.form.get(spec.flag).unwrap());
            one.form.set(spec.flag, &value);
            let back = ShareLink::parse(&one.to_query());
            assert_eq!(
                back.form.get(spec.flag),
                Some(value.as_str()),
                "{}",
                spec.flag
            );
            assert_eq!(back, one, "{}", spec.flag);
        }
    }

    #[test]
    fn a_link_is_read_as_text() {
        let q = ShareLink::default().to_query();
        assert!(
            q.starts_with("?tp-mults=%5B1.5%2C2%2C2.5%2C3%2C4%2C5%5D&sl-mults="),
            "{q}"
        );
        assert!(q.contains("&holdout-fraction=0.3&"), "{q}");
        assert!(!q.contains("run="), "{q}");
        // Unknown keys are ignored; a missing field keeps the lab's default; a policy that is
        // not an index is dropped; markup stays text.
        let l = ShareLink::parse("?threads=4&autoload=0&policy=x&caller=%3Cscript%3E&run=0");
        assert_eq!(l.form, Form::default());
        assert_eq!(l.selected.policy, None);
        assert_eq!(l.selected.caller.as_deref(), Some("<script>"));
        assert!(!l.run);
        assert_eq!(
            ShareLink::parse(
                "caller-groups=Brook%20%F0%9F%92%80%F0%9F%A7%B2%2C%20Alpha%20%26%20co"
            )
            .form
            .get("--caller-groups"),
            Some("Brook 💀🧲, Alpha & co")
        );
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("a+b%41"), "a bA");
        assert_eq!(percent_decode("%é%"), "%é%");
        assert_eq!(percent_decode("%+1"), "% 1");
    }

    #[test]
    fn warnings_name_the_engine_or_the_dataset() {
        let link = ShareLink::parse("?v=0.0.9&sha=aaaaaaaaaaaaaaaa");
        let w = link.warning("0.1.0", Some("aaaaaaaaaaaaaaaa")).unwrap();
        assert!(
            w.contains("engine 0.0.9") && w.contains("engine 0.1.0"),
            "{w}"
        );
        let link = ShareLink::parse("?v=0.1.0&sha=aaaaaaaaaaaaaaaa");
        assert_eq!(link.warning("0.1.0", Some("aaaaaaaaaaaaaaaa")), None);
        let w = link.warning("0.1.0", Some("bbbbbbbbbbbbbbbb")).unwrap();
        assert!(
            w.contains("aaaaaaaaaaaa,") && w.contains("bbbbbbbbbbbb:"),
            "{w}"
        );
        // Nothing loaded yet, or a link without a hash: nothing to compare.
        assert_eq!(link.warning("0.1.0", None), None);
        assert_eq!(ShareLink::parse("").warning("0.1.0", Some("b")), None);
    }
}

//! Whether the page may open a dataset URL by itself: a folder on the page's own origin opens at
//! once; one on another origin is shown (its origin and URL) and opened only after the user
//! confirms in the page, so a link cannot make the page contact another site or run on its
//! data by itself. The URL is resolved by the browser's own parser (the one `fetch` uses), so
//! this rule only compares what that parser gave.

/// A dataset URL as the browser resolved it against the page (`URL` of the Web platform).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The whole URL (`href`).
    pub href: String,
    /// Its scheme with the colon (`protocol`): `https:`.
    pub protocol: String,
    /// Its origin as the platform serializes it (`https://host:port`, or `null` for schemes
    /// without one, such as `data:`).
    pub origin: String,
}

/// What the page does with a dataset URL it did not get from a click.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opening {
    /// The page's own origin: open it now.
    Now,
    /// Another origin: show `origin` and `url`, and open only when the user confirms.
    Ask { origin: String, url: String },
    /// Never opened: the message says why.
    Refused(String),
}

/// What the page does with `text` (the link's `data`), resolved by the browser as `resolved`
/// (`None` when it is not a URL at all), on a page of origin `page_origin`.
pub fn opening(text: &str, resolved: Option<&Resolved>, page_origin: &str) -> Opening {
    let Some(r) = resolved else {
        return Opening::Refused(format!("the dataset address {text:?} is not a URL"));
    };
    if r.protocol != "http:" && r.protocol != "https:" {
        return Opening::Refused(format!(
            "the dataset address {text:?} is a {} URL; only http and https datasets can be opened",
            r.protocol.trim_end_matches(':')
        ));
    }
    // An opaque origin ("null") is never the page's, even when the page's is opaque too.
    if r.origin == page_origin && r.origin != "null" {
        return Opening::Now;
    }
    Opening::Ask {
        origin: r.origin.clone(),
        url: r.href.clone(),
    }
}

impl Opening {
    /// The sentence shown above the confirm button, or `None` when nothing is asked.
    /// `runs` says whether the link also asks to run once the data is loaded.
    pub fn question(&self, runs: bool) -> Option<String> {
        let Opening::Ask { origin, url } = self else {
            return None;
        };
        Some(format!(
            "This link's dataset is on another site, {origin} ({url}). Nothing has been requested from it yet. Open it from there{}?",
            if runs { " and run the link's grid" } else { "" }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "http://127.0.0.1:8080";

    fn resolved(href: &str, protocol: &str, origin: &str) -> Resolved {
        Resolved {
            href: href.into(),
            protocol: protocol.into(),
            origin: origin.into(),
        }
    }

    fn check(text: &str, r: Option<Resolved>, want: Opening) {
        assert_eq!(opening(text, r.as_ref(), PAGE), want, "{text}");
    }

    #[test]
    fn the_page_origin_opens_now_and_any_other_asks() {
        let here = |href: &str| resolved(href, "http:", PAGE);
        check(
            "data/demo/",
            Some(here("http://127.0.0.1:8080/data/demo/")),
            Opening::Now,
        );
        check(
            "http://127.0.0.1:8080/x/",
            Some(here("http://127.0.0.1:8080/x/")),
            Opening::Now,
        );
        // Another port, scheme or host is another origin; so are the forms a parser reads as
        // a host (`//`, `/\`, `https:host`), whatever the text looks like.
        for (text, href, protocol, origin) in [
            (
                "http://127.0.0.1:8081/d/",
                "http://127.0.0.1:8081/d/",
                "http:",
                "http://127.0.0.1:8081",
            ),
            (
                "https://127.0.0.1:8080/d/",
                "https://127.0.0.1:8080/d/",
                "https:",
                "https://127.0.0.1:8080",
            ),
            (
                "//evil.example/d/",
                "http://evil.example/d/",
                "http:",
                "http://evil.example",
            ),
            (
                "/\\evil.example/d/",
                "http://evil.example/d/",
                "http:",
                "http://evil.example",
            ),
            (
                "https:evil.example/d/",
                "https://evil.example/d/",
                "https:",
                "https://evil.example",
            ),
        ] {
            check(
                text,
                Some(resolved(href, protocol, origin)),
                Opening::Ask {
                    origin: origin.into(),
                    url: href.into(),
                },
            );
        }
    }

    #[test]
    fn other_schemes_and_non_urls_are_refused() {
        for (text, protocol) in [
            ("data:text/plain,x", "data:"),
            ("javascript:alert(1)//", "javascript:"),
            ("blob:http://127.0.0.1:8080/1", "blob:"),
            ("file:///etc/", "file:"),
        ] {
            let Opening::Refused(m) = opening(text, Some(&resolved(text, protocol, "null")), PAGE)
            else {
                panic!("{text} was not refused");
            };
            assert!(m.contains("only http and https"), "{m}");
        }
        assert_eq!(
            opening("http://[::1", None, PAGE),
            Opening::Refused("the dataset address \"http://[::1\" is not a URL".into())
        );
        // An opaque page origin matches nothing, not even another opaque origin.
        let r = resolved("http://x/", "http:", "null");
        assert!(matches!(
            opening("http://x/", Some(&r), "null"),
            Opening::Ask { .. }
        ));
    }

    #[test]
    fn the_question_names_the_origin_and_the_run() {
        let ask = Opening::Ask {
            origin: "https://data.example.org".into(),
            url: "https://data.example.org/d/".into(),
        };
        assert_eq!(
            ask.question(true).unwrap(),
            "This link's dataset is on another site, https://data.example.org (https://data.example.org/d/). Nothing has been requested from it yet. Open it from there and run the link's grid?"
        );
        assert!(ask
            .question(false)
            .unwrap()
            .ends_with("Open it from there?"));
        assert_eq!(Opening::Now.question(true), None);
    }
}

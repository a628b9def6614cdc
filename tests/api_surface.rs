//! The crate root stays small: at most 30 items with the default features, counted as rustdoc's front
//! page lists them (modules, structs, enums, traits, functions, constants, statics, type aliases,
//! macros, and re-exports). Counted from `src/lib.rs` itself: every `pub mod` and every name of a
//! `pub use` at the top level, leaving out what a feature or `--cfg trc_bench` gates.

const LIMIT: usize = 30;

/// The public names at the crate root with the default features (none).
fn root_items() -> Vec<String> {
    let lib = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs"))
        .expect("src/lib.rs");
    let mut items = Vec::new();
    let mut gated = false;
    let mut lines = lib.lines().peekable();
    while let Some(line) = lines.next() {
        // Only top-level items (no indentation), and only outside doc comments.
        if line.starts_with("#[cfg(") {
            gated = true;
            continue;
        }
        if line.starts_with("#[") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("pub mod ") {
            if !gated {
                items.push(rest.trim_end_matches([';', '{', ' ']).to_owned());
            }
        } else if let Some(rest) = line.strip_prefix("pub use ") {
            let mut statement = rest.to_owned();
            while !statement.contains(';') {
                statement.push_str(lines.next().expect("a pub use ends with ';'"));
            }
            if !gated {
                let names = match (statement.find('{'), statement.rfind('}')) {
                    (Some(open), Some(close)) => statement[open + 1..close].to_owned(),
                    _ => statement
                        .rsplit("::")
                        .next()
                        .unwrap_or_default()
                        .trim_end_matches(';')
                        .to_owned(),
                };
                items.extend(
                    names
                        .split(',')
                        .map(|n| {
                            n.trim()
                                .rsplit(" as ")
                                .next()
                                .unwrap_or_default()
                                .to_owned()
                        })
                        .filter(|n| !n.is_empty()),
                );
            }
        }
        gated = false;
    }
    items
}

#[test]
fn the_root_holds_at_most_thirty_items() {
    let items = root_items();
    assert!(
        items.len() <= LIMIT,
        "{} items at the crate root (at most {LIMIT}): {items:?}",
        items.len()
    );
    // What a handler author types is there.
    for name in [
        "CallbackLayer",
        "Config",
        "CallbackMeta",
        "Ack",
        "Rejection",
        "HandlerError",
        "RawCallback",
        "MemberLeave",
        "service",
        "trtc",
        "departure",
    ] {
        assert!(
            items.iter().any(|i| i == name),
            "{name} is not at the root: {items:?}"
        );
    }
    // The counting itself: nothing gated by a feature.
    for gated in ["chat", "live", "metrics", "testing", "__bench"] {
        assert!(!items.iter().any(|i| i == gated), "{gated}: {items:?}");
    }
    println!("{} root items: {items:?}", items.len());
}

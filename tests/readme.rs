//! The READMEs' contract: a newcomer copies a snippet with the `toml` block above it and it compiles.
//!
//! The doc tests (`ReadmeDoctests` in `src/lib.rs` and in the inbox's `lib.rs`) compile each `rust` block
//! with the workspace's dependencies, where every feature is on; this test checks what they cannot:
//! that each block's nearest `toml` block names every crate the block uses and every feature it needs.
//! It also holds the root README to 300 lines, and every block to a language and no `ignore`.
//! The `synthetic_*` tests show each rule failing on a README made to break it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The root README's length limit (issue 15: a README a new user reads top-down).
const MAX_LINES: usize = 300;

#[test]
fn root_readme_keeps_its_contract() {
    let problems = check(&read("README.md"), Some(MAX_LINES));
    assert!(problems.is_empty(), "README.md:\n{}", problems.join("\n"));
}

#[test]
fn inbox_readme_keeps_its_contract() {
    let problems = check(&read("crates/inbox/README.md"), None);
    assert!(
        problems.is_empty(),
        "crates/inbox/README.md:\n{}",
        problems.join("\n")
    );
}

#[test]
fn readmes_have_compiled_snippets() {
    // Both READMEs are included as doc tests; a README without a rust block would make that moot.
    for path in ["README.md", "crates/inbox/README.md"] {
        let text = read(path);
        assert!(
            blocks(&text).iter().any(|b| b.lang == "rust"),
            "{path} has no rust block"
        );
    }
    let lib = read("src/lib.rs");
    assert!(lib.contains("include_str!(\"../README.md\")"));
    let inbox = read("crates/inbox/src/lib.rs");
    assert!(inbox.contains("include_str!(\"../README.md\")"));
}

fn read(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A fenced code block: its info string's first word, its flags, the line it opens on, its text.
#[derive(Debug)]
struct Block {
    lang: String,
    flags: Vec<String>,
    line: usize,
    code: String,
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            match open.take() {
                Some(block) => out.push(block),
                None => {
                    let mut words = info
                        .split([',', ' '])
                        .map(str::trim)
                        .filter(|w| !w.is_empty());
                    let lang = words.next().unwrap_or("").to_owned();
                    let flags = words.map(str::to_owned).collect();
                    open = Some(Block {
                        lang,
                        flags,
                        line: i + 1,
                        code: String::new(),
                    });
                }
            }
        } else if let Some(block) = open.as_mut() {
            block.code.push_str(line);
            block.code.push('\n');
        }
    }
    out.extend(open);
    out
}

/// The dependencies a `toml` block lists: crate name (as Rust spells it) to its features, and whether
/// its default features are on.
#[derive(Debug, Default)]
struct Deps(BTreeMap<String, (BTreeSet<String>, bool)>);

fn deps(toml: &str) -> Deps {
    let mut deps = Deps::default();
    let mut in_deps = false;
    for line in toml.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line.ends_with("dependencies]");
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        if !in_deps {
            continue;
        }
        let name = name.trim().replace('-', "_");
        let mut features = BTreeSet::new();
        if let Some(list) = value.split_once("features").map(|(_, rest)| rest) {
            if let (Some(a), Some(b)) = (list.find('['), list.find(']')) {
                for f in list[a + 1..b].split(',') {
                    let f = f.trim().trim_matches('"');
                    if !f.is_empty() {
                        features.insert(f.to_owned());
                    }
                }
            }
        }
        let defaults = !value.replace(' ', "").contains("default-features=false");
        deps.0.insert(name, (features, defaults));
    }
    deps
}

/// The code without comments and string literals (so that prose and JSON are not read as paths).
fn strip(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let b = code.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"r#\"") {
            let end = code[i + 3..].find("\"#").map_or(b.len(), |e| i + 3 + e + 2);
            out.push_str("\"\"");
            i = end;
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i += 1;
        } else if b[i] == b'\'' && i + 2 < b.len() && (b[i + 2] == b'\'' || b[i + 1] == b'\\') {
            // A char literal ('x', '\n'); a lifetime has no closing quote there.
            let end = code[i + 1..].find('\'').map_or(b.len(), |e| i + 1 + e + 1);
            out.push_str("' '");
            i = end;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The crates a block names: the first segment of each `use` path and of each other path that starts
/// with a lower-case name (`tokio::main`, `tracing_subscriber::fmt()`), less what the block brings
/// into scope itself (`use x::{testing, ..}`, `mod m`) and the language's own.
fn crates_used(code: &str) -> BTreeSet<String> {
    let code = strip(code);
    let mut local: BTreeSet<String> = ["std", "core", "alloc", "crate", "self", "super", "Self"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut used = BTreeSet::new();
    // `use` statements: from a line that starts with `use` to the next `;`.
    let mut rest = code.as_str();
    while let Some(at) = rest
        .lines()
        .find(|l| {
            let l = l.trim_start();
            l.starts_with("use ") || l.starts_with("pub use ")
        })
        .and_then(|l| rest.find(l))
    {
        let line = &rest[at..];
        let end = line.find(';').unwrap_or(line.len());
        let statement = line[..end].trim_start();
        let path = statement
            .trim_start_matches("pub ")
            .trim_start_matches("use ");
        let path = path.trim_start().trim_start_matches("::");
        let first: String = path.chars().take_while(|&c| is_ident(c)).collect();
        // Every name after the first segment is in scope now.
        for name in path[first.len()..].split(|c: char| !is_ident(c)) {
            if !name.is_empty() {
                local.insert(name.to_owned());
            }
        }
        used.insert(first);
        rest = &line[end..];
    }
    let words: Vec<&str> = code.split_whitespace().collect();
    for pair in words.windows(2) {
        if pair[0] == "mod" {
            local.insert(pair[1].trim_end_matches([';', '{']).to_owned());
        }
    }
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if is_ident(chars[i]) && (i == 0 || !is_ident(chars[i - 1])) {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            let after_path = start >= 2 && chars[start - 1] == ':' && chars[start - 2] == ':';
            // `name::segment`, not a turbofish (`build::<Body>`) nor a method (`.build::<..>`).
            let starts_path = chars.get(i) == Some(&':')
                && chars.get(i + 1) == Some(&':')
                && chars.get(i + 2) != Some(&'<')
                && (start == 0 || chars[start - 1] != '.');
            if starts_path && !after_path && name.starts_with(|c: char| c.is_ascii_lowercase()) {
                used.insert(name);
            }
        } else {
            i += 1;
        }
    }
    used.retain(|c| !local.contains(c) && !c.is_empty());
    used
}

/// The features a block needs, per crate, from what it uses.
fn features_needed(
    code: &str,
    used: &BTreeSet<String>,
) -> Vec<(&'static str, &'static str, String)> {
    let code = strip(code);
    let has = |s: &str| code.contains(s);
    let mut need = Vec::new();
    let mut add = |krate: &'static str, feature: &'static str, why: &str| {
        need.push((krate, feature, why.to_owned()));
    };
    let core = "tencent_room_callback";
    if used.contains("axum") && (has("Ack") || has("Rejection")) {
        add(core, "axum", "an Ack or a Rejection answers an axum route");
    }
    if used.contains("tracing_subscriber") {
        add(
            core,
            "tracing",
            "the block installs a subscriber for the layer's events",
        );
    }
    for (module, feature) in [
        ("testing", "testing"),
        ("chat", "chat"),
        ("live", "live"),
        ("metrics", "metrics"),
    ] {
        if has(&format!("{core}::{module}")) || (has(&format!("{module}::")) && used.contains(core))
        {
            add(core, feature, &format!("the `{module}` module"));
        }
    }
    if has(".clock(") {
        add(core, "testing", "`Config::clock`");
    }
    if has("tokio::main") {
        add("tokio", "macros", "#[tokio::main]");
        if has("current_thread") {
            add("tokio", "rt", "a current-thread runtime");
        } else {
            add(
                "tokio",
                "rt-multi-thread",
                "#[tokio::main]'s multi-thread runtime",
            );
        }
    }
    if has("tokio::test") {
        add("tokio", "macros", "#[tokio::test]");
        add("tokio", "rt", "#[tokio::test]'s runtime");
    }
    for (module, feature) in [
        ("tokio::net", "net"),
        ("tokio::signal", "signal"),
        ("tokio::time", "time"),
        ("tokio::fs", "fs"),
    ] {
        if has(module) {
            add("tokio", feature, module);
        }
    }
    if used.contains("tower")
        && (has("ServiceExt") || has("service_fn") || has("ServiceBuilder") || has("oneshot"))
    {
        add(
            "tower",
            "util",
            "tower's ServiceExt, service_fn or ServiceBuilder",
        );
    }
    for (method, feature) in [
        (".timeout(", "timeout"),
        (".load_shed(", "load-shed"),
        (".concurrency_limit(", "limit"),
        (".rate_limit(", "limit"),
        (".buffer(", "buffer"),
    ] {
        if used.contains("tower") && has("ServiceBuilder") && has(method) {
            add("tower", feature, method);
        }
    }
    if (has("InboxBuilder") && has(".redis(")) || has("builder().redis(") {
        add("tencent_room_callback_inbox", "redis", "the Redis inbox");
    }
    need
}

/// Every rule, on one README; `max_lines` for the root one.
fn check(text: &str, max_lines: Option<usize>) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(max) = max_lines {
        let lines = text.lines().count();
        if lines > max {
            problems.push(format!("{lines} lines, more than {max}"));
        }
    }
    let mut toml: Option<(usize, Deps)> = None;
    for block in blocks(text) {
        let at = block.line;
        if block.lang.is_empty() {
            problems.push(format!("line {at}: a code block without a language"));
        }
        if block.flags.iter().any(|f| f == "ignore") || block.lang == "ignore" {
            problems.push(format!(
                "line {at}: an `ignore`d block (it is not compiled)"
            ));
        }
        if block.lang == "toml" {
            toml = Some((at, deps(&block.code)));
            continue;
        }
        if block.lang != "rust" {
            continue;
        }
        if block.code.lines().any(|l| l.trim_start().starts_with("# ")) {
            problems.push(format!(
                "line {at}: hidden lines (`# ...`): GitHub and crates.io show them"
            ));
        }
        let Some((toml_at, deps)) = &toml else {
            problems.push(format!(
                "line {at}: a rust block with no toml block before it"
            ));
            continue;
        };
        let used = crates_used(&block.code);
        for krate in &used {
            if !deps.0.contains_key(krate) {
                problems.push(format!(
                    "line {at}: uses `{krate}`, which the toml block of line {toml_at} does not list"
                ));
            }
        }
        for (krate, feature, why) in features_needed(&block.code, &used) {
            let Some((features, defaults)) = deps.0.get(krate) else {
                if used.contains(krate) || krate == "tencent_room_callback" {
                    problems.push(format!(
                        "line {at}: needs `{krate}` with `{feature}` ({why}), not listed at line {toml_at}"
                    ));
                }
                continue;
            };
            let on = features.contains(feature)
                || (krate == "tokio" && features.contains("full"))
                || (krate == "tower" && features.contains("full"))
                || (*defaults && default_feature(krate, feature));
            if !on {
                problems.push(format!(
                    "line {at}: needs `{krate}`'s feature `{feature}` ({why}); the toml block of line {toml_at} does not turn it on"
                ));
            }
        }
    }
    problems
}

/// Features a crate turns on by default, as far as the rules above ask.
fn default_feature(krate: &str, feature: &str) -> bool {
    matches!(
        (krate, feature),
        ("axum", "tokio") | ("tracing_subscriber", "fmt")
    )
}

// What follows shows each rule failing on a README made to break it.

const GOOD: &str = r#"# x
```toml
[dependencies]
tencent-room-callback = { version = "0.3", features = ["axum"] }
axum = "0.8"
tokio = { version = "1", features = ["macros", "rt-multi-thread", "net"] }
```

```rust,no_run
use axum::{routing::post, Router};
use tencent_room_callback::{Ack, CallbackLayer, Config};

#[tokio::main]
async fn main() {
    let app: Router = Router::new()
        .route("/callback", post(|| async { Ack::ok() }))
        .layer(CallbackLayer::new(Config::new(1400000000)).path("/callback"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
    axum::serve(listener, app).await.unwrap();
}
```
"#;

fn fails(text: &str, expected: &str) {
    let problems = check(text, Some(MAX_LINES));
    assert!(
        problems.iter().any(|p| p.contains(expected)),
        "expected a problem containing {expected:?}, got {problems:#?}"
    );
}

#[test]
fn synthetic_good_readme_passes() {
    assert_eq!(check(GOOD, Some(MAX_LINES)), Vec::<String>::new());
}

#[test]
fn synthetic_too_long() {
    let long = format!("{GOOD}{}", "line\n".repeat(MAX_LINES));
    fails(&long, "more than 300");
}

#[test]
fn synthetic_ignored_and_bare_blocks() {
    fails(
        &GOOD.replace("rust,no_run", "rust,ignore"),
        "`ignore`d block",
    );
    fails(
        &format!("{GOOD}\n```\ncargo run\n```\n"),
        "without a language",
    );
}

#[test]
fn synthetic_hidden_lines() {
    fails(
        &GOOD.replace("#[tokio::main]", "# #[tokio::main]"),
        "hidden lines",
    );
}

#[test]
fn synthetic_missing_crate() {
    fails(&GOOD.replace("axum = \"0.8\"\n", ""), "uses `axum`");
    fails(
        &GOOD.replace("#[tokio::main]", "#[tokio::main]\n#[tracing::instrument]"),
        "uses `tracing`",
    );
    let no_toml = GOOD.replace("```toml", "```text");
    fails(&no_toml, "no toml block before it");
}

#[test]
fn synthetic_missing_features() {
    fails(
        &GOOD.replace("features = [\"axum\"]", "features = []"),
        "feature `axum`",
    );
    fails(&GOOD.replace("\"macros\", ", ""), "feature `macros`");
    fails(
        &GOOD.replace("\"rt-multi-thread\", ", ""),
        "feature `rt-multi-thread`",
    );
    fails(&GOOD.replace(", \"net\"", ""), "feature `net`");
    let subscriber = GOOD
        .replace(
            "axum = \"0.8\"",
            "axum = \"0.8\"\ntracing-subscriber = \"0.3\"",
        )
        .replace(
            "async fn main() {",
            "async fn main() {\n    tracing_subscriber::fmt::init();",
        );
    fails(&subscriber, "feature `tracing`");
    let testing = GOOD.replace(
        "use tencent_room_callback::{Ack,",
        "use tencent_room_callback::testing::fixtures;\nuse tencent_room_callback::{Ack,",
    );
    fails(&testing, "feature `testing`");
    let chat = GOOD.replace(
        "use tencent_room_callback::{Ack,",
        "use tencent_room_callback::chat::SendMsgAnswer;\nuse tencent_room_callback::{Ack,",
    );
    fails(&chat, "feature `chat`");
    let tower = GOOD
        .replace("axum = \"0.8\"", "axum = \"0.8\"\ntower = \"0.5\"")
        .replace("use axum::", "use tower::ServiceExt;\nuse axum::");
    fails(&tower, "feature `util`");
}

#[test]
fn synthetic_strings_and_comments_are_not_paths() {
    let prose = GOOD.replace(
        "async fn main() {",
        "async fn main() {\n    // see hyper::server for more\n    let _ = \"serde::Value\";",
    );
    assert_eq!(check(&prose, Some(MAX_LINES)), Vec::<String>::new());
}

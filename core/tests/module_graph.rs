//! Import-cycle check for both crates of the workspace.
//!
//! Reads every `.rs` file under `core/src` and `edge/src`, turns the
//! `crate::…`, `super::…`, `self::…` and child-module paths it finds (in
//! `use` trees and in expressions, `pub use` re-exports included) into a
//! module-level dependency graph, and fails when that graph has a cycle
//! that is not on the explicit allowlist below (the number of cycles in
//! each crate is printed; `cargo test --test module_graph -- --nocapture`
//! shows them with the references that make them). A second check keeps
//! core's layers pointing down: the base layer imports only itself, and
//! config (plain settings) only the base layer and the rule syntaxes
//! `access` and `origin`.
//!
//! The rules:
//! - a module is a file: `src/lib.rs` is the crate root, `src/foo.rs` and
//!   `src/foo/mod.rs` are `foo`, `src/foo/bar.rs` is `foo::bar`; inline
//!   modules (`mod tests { … }`) belong to the file they are written in, so
//!   test code counts like any other code;
//! - a path points at the longest file module that prefixes it
//!   (`crate::quota::policy::Policy` is `quota::policy`);
//! - a bare path (`tz::TimeZone`) is followed when its first segment is a
//!   child module, or a sibling brought into scope by `use super::*;`;
//! - `mod foo;` declarations are not edges;
//! - a reference from a module to one of its own ancestors is not an edge:
//!   a child using `super::` reaches into the namespace that encloses it (a
//!   `mod.rs` declares the types its children share and glues them
//!   together). Every other reference is an edge: parent to child, sibling
//!   to sibling (`video::gemini` → `video::vertex`) and across the tree
//!   (`config` → `retry`). So a parent and its child never form a cycle by
//!   themselves, but two siblings, or a child and a module outside its
//!   parent, do;
//! - comments (doc comments and intra-doc links included) and string
//!   literals are ignored; paths into other crates (`reelay_core::…`,
//!   `alloc::…`) are not edges.

// Helpers outside #[test] fns are not covered by clippy.toml's
// allow-*-in-tests; a test binary may fail loudly on an unreadable tree.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Cycles known today that another change is removing (none today: the
/// sealing change removed keys ↔ browser_token). An SCC passes when all its
/// modules are inside one of these sets; everything else must be
/// cycle-free. Add an entry only with a "remove when fixed" note.
const CORE_ALLOWED: &[&[&str]] = &[];

/// Edge cycles being removed by another change (none today: the edge
/// rewrite removed context ↔ cors ↔ keys ↔ quota, routes::realtime ↔
/// routes::realtime_ws and credentials ↔ upstream). Add an entry only with a
/// "remove when fixed" note.
const EDGE_ALLOWED: &[&[&str]] = &[];

/// The base layer of reelay-core: utilities every other module may use.
/// They import nothing from the crate outside this list.
const CORE_BASE: &[&str] = &[
    "encoding",
    "json",
    "money",
    "redact",
    "time",
    "time::tz",
    "time::zones",
];

/// What config (plain settings) may import besides the base layer and its
/// own children: the rule syntaxes it validates settings with. These sit
/// below config and import only the base layer.
const CORE_BELOW_CONFIG: &[&str] = &["access", "origin"];

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    PathSep,
    Punct(char),
}

/// Splits Rust source into identifiers, `::` and single punctuation,
/// dropping whitespace, comments, string, char and number literals and
/// lifetimes.
fn tokenize(src: &str) -> Vec<Tok> {
    let s: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let at = |j: usize| s.get(j).copied().unwrap_or('\0');
    while i < s.len() {
        let c = s[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0usize;
            while i < s.len() {
                if s[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if s[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            i = skip_string(&s, i + 1);
        } else if (c == 'r' || (c == 'b' && at(i + 1) == 'r'))
            && matches!(at(i + usize::from(c == 'b') + 1), '"' | '#')
            && raw_string_start(&s, i + usize::from(c == 'b') + 1).is_some()
        {
            let start = i + usize::from(c == 'b') + 1;
            let hashes = raw_string_start(&s, start).unwrap_or(0);
            i = start + hashes + 1;
            loop {
                if i >= s.len() {
                    break;
                }
                if s[i] == '"' && (0..hashes).all(|k| at(i + 1 + k) == '#') {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
        } else if c == 'b' && at(i + 1) == '"' {
            i = skip_string(&s, i + 2);
        } else if c == 'b' && at(i + 1) == '\'' {
            i = skip_char(&s, i + 1).unwrap_or(i + 2);
        } else if c == '\'' {
            match skip_char(&s, i) {
                Some(end) => i = end,
                None => {
                    // A lifetime or label: skip the quote and its name.
                    i += 1;
                    while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
                        i += 1;
                    }
                }
            }
        } else if c.is_ascii_digit() {
            while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
                i += 1;
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(s[start..i].iter().collect()));
        } else if c == ':' && at(i + 1) == ':' {
            out.push(Tok::PathSep);
            i += 2;
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

/// Index just past the closing quote of a string whose body starts at `i`.
fn skip_string(s: &[char], mut i: usize) -> usize {
    while i < s.len() {
        match s[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// Number of `#`s of a raw string whose `#…"` part starts at `i`.
fn raw_string_start(s: &[char], i: usize) -> Option<usize> {
    let mut n = 0;
    while s.get(i + n) == Some(&'#') {
        n += 1;
    }
    (s.get(i + n) == Some(&'"')).then_some(n)
}

/// Index just past a char literal opening at `i` (`'x'`, `'\n'`,
/// `'\u{..}'`), or `None` when the quote starts a lifetime.
fn skip_char(s: &[char], i: usize) -> Option<usize> {
    if s.get(i + 1) == Some(&'\\') {
        let mut j = i + 2;
        while j < s.len() && s[j] != '\'' && j < i + 12 {
            j += 1;
        }
        return (s.get(j) == Some(&'\'')).then_some(j + 1);
    }
    (s.get(i + 2) == Some(&'\'')).then_some(i + 3)
}

/// A module path: `[]` is the crate root.
type ModPath = Vec<String>;

fn show(m: &[String]) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

/// The module a source file defines, from its path relative to `src`.
fn module_of(rel: &Path) -> ModPath {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop().unwrap_or_default();
    let stem = file.trim_end_matches(".rs");
    if !(stem == "mod" || (parts.is_empty() && (stem == "lib" || stem == "main"))) {
        parts.push(stem.to_string());
    }
    parts
}

/// Parses a path (or a `use` tree) starting at `toks[i]`; returns every
/// full path it names and the index after it.
fn parse_tree(toks: &[Tok], mut i: usize, prefix: &[String], out: &mut Vec<ModPath>) -> usize {
    let mut path = prefix.to_vec();
    loop {
        match toks.get(i) {
            Some(Tok::Ident(name)) => {
                path.push(name.clone());
                i += 1;
            }
            Some(Tok::Punct('{')) => {
                i += 1;
                while let Some(t) = toks.get(i) {
                    match t {
                        Tok::Punct('}') => {
                            i += 1;
                            break;
                        }
                        Tok::Punct(',') | Tok::Punct('*') => i += 1,
                        Tok::Ident(n) if n == "as" => i += 2,
                        Tok::Ident(n) if n == "self" => {
                            out.push(path.clone());
                            i += 1;
                        }
                        _ => {
                            let next = parse_tree(toks, i, &path, out);
                            i = if next == i { i + 1 } else { next };
                        }
                    }
                }
                return i;
            }
            _ => {
                if path.len() > prefix.len() {
                    out.push(path);
                }
                return i;
            }
        }
        if toks.get(i) == Some(&Tok::PathSep) {
            i += 1;
        } else {
            out.push(path);
            return i;
        }
    }
}

/// One reference from a file's module to another module, with the source
/// path that made it.
#[derive(Debug, Clone)]
struct Edge {
    from: ModPath,
    to: ModPath,
    via: String,
}

/// The edges of one crate, given each file's module and source.
fn crate_edges(files: &[(ModPath, String)]) -> Vec<Edge> {
    let modules: BTreeSet<ModPath> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut edges = Vec::new();
    for (file_mod, src) in files {
        let toks = tokenize(src);
        // Inline modules: (path, brace depth inside them).
        let mut stack: Vec<(ModPath, usize)> = vec![(file_mod.clone(), 0)];
        let mut depth = 0usize;
        // Modules glob-imported at file level (`use super::*;`): their
        // child modules are in scope by bare name.
        let mut globs: Vec<ModPath> = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            if stack.len() == 1
                && toks[i] == Tok::Ident("super".into())
                && toks.get(i + 1) == Some(&Tok::PathSep)
                && toks.get(i + 2) == Some(&Tok::Punct('*'))
            {
                globs.extend(file_mod.split_last().map(|(_, parent)| parent.to_vec()));
            }
            match &toks[i] {
                Tok::Punct('{') => {
                    depth += 1;
                    i += 1;
                    continue;
                }
                Tok::Punct('}') => {
                    if stack.len() > 1 && stack.last().is_some_and(|(_, d)| *d == depth) {
                        stack.pop();
                    }
                    depth = depth.saturating_sub(1);
                    i += 1;
                    continue;
                }
                Tok::Ident(kw) if kw == "mod" => {
                    if let (Some(Tok::Ident(name)), Some(Tok::Punct('{'))) =
                        (toks.get(i + 1), toks.get(i + 2))
                    {
                        let mut inner = stack.last().map(|(m, _)| m.clone()).unwrap_or_default();
                        inner.push(name.clone());
                        depth += 1;
                        stack.push((inner, depth));
                        i += 3;
                        continue;
                    }
                    i += 1;
                    continue;
                }
                _ => {}
            }
            let starts_path = matches!(toks[i], Tok::Ident(_))
                && (toks.get(i + 1) == Some(&Tok::PathSep))
                && (i == 0 || toks[i - 1] != Tok::PathSep);
            if !starts_path {
                i += 1;
                continue;
            }
            let mut paths = Vec::new();
            let next = parse_tree(&toks, i, &[], &mut paths);
            let here = stack.last().map(|(m, _)| m.clone()).unwrap_or_default();
            for p in paths {
                if let Some(to) = resolve(&here, &p, &modules, &globs) {
                    let to_is_ancestor =
                        to.len() <= file_mod.len() && file_mod[..to.len()] == to[..];
                    if !to_is_ancestor {
                        edges.push(Edge {
                            from: file_mod.clone(),
                            to,
                            via: p.join("::"),
                        });
                    }
                }
            }
            i = next.max(i + 1);
        }
    }
    edges
}

/// The file module a path written inside module `here` points at, if it
/// is a path inside this crate. A bare path (`gemini::x`) is ours when its
/// first segment names a child module of `here`, or a child of a module
/// glob-imported into the file (`globs`).
fn resolve(
    here: &[String],
    path: &[String],
    modules: &BTreeSet<ModPath>,
    globs: &[ModPath],
) -> Option<ModPath> {
    let (first, rest) = path.split_first()?;
    let mut full: ModPath = match first.as_str() {
        "crate" => Vec::new(),
        "self" => here.to_vec(),
        "super" => {
            let mut base = here.to_vec();
            base.pop()?;
            let mut rest = rest;
            while let Some((s, r)) = rest.split_first() {
                if s != "super" {
                    break;
                }
                base.pop()?;
                rest = r;
            }
            base.extend(rest.iter().cloned());
            return longest_module(&base, modules);
        }
        _ => {
            let base = core::iter::once(here)
                .chain(globs.iter().map(Vec::as_slice))
                .find(|base| {
                    let mut child = base.to_vec();
                    child.push(first.clone());
                    modules.contains(&child)
                })?;
            base.to_vec()
        }
    };
    if !matches!(first.as_str(), "crate" | "self") {
        full.push(first.clone());
    }
    full.extend(rest.iter().cloned());
    longest_module(&full, modules)
}

fn longest_module(path: &[String], modules: &BTreeSet<ModPath>) -> Option<ModPath> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|m| modules.contains(m))
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(edges: &[Edge]) -> Vec<Vec<ModPath>> {
    let mut graph: BTreeMap<&ModPath, BTreeSet<&ModPath>> = BTreeMap::new();
    for e in edges {
        graph.entry(&e.from).or_default().insert(&e.to);
        graph.entry(&e.to).or_default();
    }
    struct State<'a> {
        index: BTreeMap<&'a ModPath, usize>,
        low: BTreeMap<&'a ModPath, usize>,
        on_stack: BTreeSet<&'a ModPath>,
        stack: Vec<&'a ModPath>,
        next: usize,
        sccs: Vec<Vec<ModPath>>,
    }
    fn visit<'a>(
        v: &'a ModPath,
        graph: &BTreeMap<&'a ModPath, BTreeSet<&'a ModPath>>,
        st: &mut State<'a>,
    ) {
        st.index.insert(v, st.next);
        st.low.insert(v, st.next);
        st.next += 1;
        st.stack.push(v);
        st.on_stack.insert(v);
        for &w in graph.get(v).into_iter().flatten() {
            if !st.index.contains_key(w) {
                visit(w, graph, st);
                let lw = st.low[w];
                let lv = st.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if st.on_stack.contains(w) {
                let iw = st.index[w];
                let lv = st.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if st.low[v] == st.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = st.stack.pop() {
                st.on_stack.remove(w);
                scc.push(w.clone());
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                scc.sort();
                st.sccs.push(scc);
            }
        }
    }
    let mut st = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        on_stack: BTreeSet::new(),
        stack: Vec::new(),
        next: 0,
        sccs: Vec::new(),
    };
    for &v in graph.keys() {
        if !st.index.contains_key(v) {
            visit(v, &graph, &mut st);
        }
    }
    st.sccs.sort();
    st.sccs
}

/// Every `.rs` file under `src`, as (module, source).
fn read_tree(src: &Path) -> Vec<(ModPath, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(src, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let module = module_of(p.strip_prefix(src).unwrap());
            (module, fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// Checks one crate: prints its cycles and returns those not allowed.
fn check(name: &str, src: &Path, allowed: &[&[&str]]) -> Vec<String> {
    let edges = crate_edges(&read_tree(src));
    let found = cycles(&edges);
    println!("{name}: {} import cycle(s)", found.len());
    let mut failures = Vec::new();
    for scc in &found {
        let names: BTreeSet<String> = scc.iter().map(|m| show(m)).collect();
        let is_allowed = allowed
            .iter()
            .any(|set| names.iter().all(|n| set.contains(&n.as_str())));
        let mut report = format!(
            "{name}: cycle among {{{}}}{}",
            names.iter().cloned().collect::<Vec<_>>().join(", "),
            if is_allowed { " (allowlisted)" } else { "" }
        );
        let mut seen = BTreeSet::new();
        for e in &edges {
            if scc.contains(&e.from) && scc.contains(&e.to) && seen.insert((&e.from, &e.to)) {
                report.push_str(&format!(
                    "\n    {} -> {} (via {})",
                    show(&e.from),
                    show(&e.to),
                    e.via
                ));
            }
        }
        println!("{report}");
        if !is_allowed {
            failures.push(report);
        }
    }
    for set in allowed {
        let still = found
            .iter()
            .any(|scc| scc.iter().any(|m| set.contains(&show(m).as_str())));
        if !still {
            println!("{name}: allowlisted cycle {set:?} is gone: remove it from the allowlist");
        }
    }
    failures
}

#[test]
fn no_import_cycles_in_core_or_edge() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failures = check("reelay-core", &core.join("src"), CORE_ALLOWED);
    failures.extend(check(
        "reelay-edge",
        &core.join("..").join("edge").join("src"),
        EDGE_ALLOWED,
    ));
    assert!(
        failures.is_empty(),
        "import cycles:\n{}",
        failures.join("\n")
    );
}

#[test]
fn core_layers_point_down() {
    let edges = crate_edges(&read_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
    ));
    let in_base = |m: &str| CORE_BASE.contains(&m);
    let below_config = |m: &str| in_base(m) || CORE_BELOW_CONFIG.contains(&m);
    let mut wrong = Vec::new();
    for e in &edges {
        let (from, to) = (show(&e.from), show(&e.to));
        // The base layer and the rule syntaxes under config import only
        // the base layer.
        let allowed = if below_config(&from) {
            in_base(&to)
        } else if from == "config" || from.starts_with("config::") {
            below_config(&to) || to.starts_with("config::")
        } else {
            true
        };
        if !allowed {
            wrong.push(format!("{from} -> {to} (via {})", e.via));
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that point up the layers (base < access, origin < config < features):\n{}",
        wrong.join("\n")
    );
}

// The detector itself, on synthetic trees.

fn synthetic(files: &[(&str, &str)]) -> Vec<Vec<String>> {
    let files: Vec<(ModPath, String)> = files
        .iter()
        .map(|(path, src)| (module_of(Path::new(path)), (*src).to_string()))
        .collect();
    cycles(&crate_edges(&files))
        .into_iter()
        .map(|scc| scc.iter().map(|m| show(m)).collect())
        .collect()
}

#[test]
fn finds_a_cycle_between_top_level_modules() {
    let found = synthetic(&[
        ("lib.rs", "pub mod config; pub mod retry; pub mod route;"),
        ("config.rs", "use crate::retry::RetrySettings;"),
        ("retry.rs", "fn f() { crate::route::pick(); }"),
        ("route.rs", "use crate::{config::{Deployment, ModelGroup}};"),
    ]);
    assert_eq!(found, vec![vec!["config", "retry", "route"]]);
}

#[test]
fn finds_a_cycle_between_siblings() {
    let found = synthetic(&[
        ("lib.rs", "pub mod video;"),
        ("video/mod.rs", "pub mod gemini; pub mod vertex;"),
        ("video/gemini.rs", "use super::vertex::X;"),
        (
            "video/vertex.rs",
            "use super::{gemini, Operation};\nfn f() { gemini::read(); }",
        ),
    ]);
    assert_eq!(found, vec![vec!["video::gemini", "video::vertex"]]);
}

#[test]
fn a_dag_passes() {
    let found = synthetic(&[
        ("lib.rs", "pub mod base; pub mod config; pub mod retry;"),
        ("base/mod.rs", "pub mod time;"),
        (
            "base/time.rs",
            "// use crate::retry::X;\nconst S: &str = \"crate::retry::X\";",
        ),
        (
            "config.rs",
            "use crate::base::time::days; fn f<'a>(c: char) { let q = '\"'; }",
        ),
        (
            "retry.rs",
            "use crate::config::Settings; use crate::base::{self, time};",
        ),
    ]);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn parent_and_child_are_not_a_cycle_but_child_and_outsider_are() {
    let found = synthetic(&[
        ("lib.rs", "pub mod quota; pub mod keys;"),
        ("quota/mod.rs", "pub mod policy; pub use policy::Policy;"),
        (
            "quota/policy.rs",
            "use super::Cost; use crate::keys::parse;",
        ),
        ("keys.rs", "use crate::quota::Limits;"),
    ]);
    assert_eq!(found, vec![vec!["keys", "quota", "quota::policy"]]);
    let found = synthetic(&[
        ("lib.rs", "pub mod quota;"),
        ("quota/mod.rs", "pub mod policy; pub use policy::Policy;"),
        ("quota/policy.rs", "use super::Cost;"),
    ]);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn siblings_in_scope_through_a_parent_glob_count() {
    let found = synthetic(&[
        ("lib.rs", "pub mod video;"),
        ("video/mod.rs", "pub mod gemini; pub mod vertex;"),
        (
            "video/gemini.rs",
            "use super::*;\nfn f() { vertex::create_call(); }",
        ),
        ("video/vertex.rs", "use super::gemini::veo_body;"),
    ]);
    assert_eq!(found, vec![vec!["video::gemini", "video::vertex"]]);
}

#[test]
fn inline_test_modules_belong_to_their_file() {
    let found = synthetic(&[
        ("lib.rs", "pub mod a; pub mod b;"),
        (
            "a.rs",
            "fn f() {} #[cfg(test)] mod tests { use super::*; use crate::b::X; }",
        ),
        ("b.rs", "mod inner { use super::super::a::f; }"),
    ]);
    assert_eq!(found, vec![vec!["a", "b"]]);
}

//! The shape of the house, checked: no module of any crate depends on another that depends
//! back on it (issue 13: seven files of `api/src/graphql` imported one another in a circle,
//! and so did `http` and `export`). Dependencies point one way: transport -> pipeline -> store
//! -> domain, and within a crate from the modules that use to the modules that are used.
//!
//! A module's dependencies are the `crate::...` and `super::...` paths its file names. A path
//! to the module's own ancestor or descendant is not counted (a parent declares its children
//! and re-exports them; children use the parent's shared items).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: &[&str] = &["domain", "store", "worker", "api", "tests", "bench"];

/// `foo/bar.rs` or `foo/bar/mod.rs` as the module path `["foo", "bar"]` (relative to src).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The paths a source names after `crate::` or `super::`, each as its segments; a
/// `prefix::{a, b::c}` group gives one path per entry (one level of braces).
fn named_paths(source: &str) -> Vec<(bool, Vec<String>)> {
    let mut out = Vec::new();
    let code: String = source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let bytes = code.as_bytes();
    for root in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(root) {
            let start = from + at;
            from = start + root.len();
            // Must not be the tail of another identifier (`roster_store::` is not `store::`).
            if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
                continue;
            }
            let is_super = root == "super::";
            let rest = &code[from..];
            let mut prefix = Vec::new();
            let mut chars = rest.char_indices().peekable();
            let mut seg = String::new();
            let mut end = rest.len();
            while let Some((i, ch)) = chars.next() {
                if ch.is_alphanumeric() || ch == '_' {
                    seg.push(ch);
                } else if ch == ':' && chars.peek().map(|(_, c)| *c) == Some(':') {
                    chars.next();
                    prefix.push(std::mem::take(&mut seg));
                } else {
                    end = i;
                    break;
                }
            }
            if rest[end..].starts_with('{') {
                let group = &rest[end + 1..rest[end..].find('}').map_or(rest.len(), |j| end + j)];
                for item in group.split(',') {
                    let item = item.trim();
                    let mut path = prefix.clone();
                    path.extend(
                        item.split("::")
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty() && s != "self"),
                    );
                    out.push((is_super, path));
                }
            } else {
                if !seg.is_empty() {
                    prefix.push(seg);
                }
                out.push((is_super, prefix));
            }
        }
    }
    out
}

/// The modules of one crate and the modules each depends on.
fn graph(src: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(src, f)).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in &files {
        let me = module_of(src, file);
        let is_dir_module = file
            .file_name()
            .is_some_and(|n| n == "mod.rs" || n == "lib.rs" || n == "main.rs");
        let source = std::fs::read_to_string(file).unwrap();
        for (is_super, path) in named_paths(&source) {
            let mut full = if is_super {
                // `super` of a file module is its parent; of a `mod.rs`, the grandparent.
                let mut base = me.clone();
                base.pop();
                if is_dir_module {
                    base.pop();
                }
                base
            } else {
                Vec::new()
            };
            full.extend(path);
            // The longest prefix that is a module of the crate.
            let target = (0..=full.len())
                .rev()
                .map(|n| full[..n].to_vec())
                .find(|p| modules.contains(p));
            let Some(target) = target else { continue };
            let related = target.starts_with(&me) || me.starts_with(&target);
            if !related {
                edges.entry(me.clone()).or_default().insert(target);
            }
        }
        edges.entry(me).or_default();
    }
    edges
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(g: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<String>> {
    struct State<'a> {
        g: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on: BTreeSet<&'a Vec<String>>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Vec<String>) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on.insert(v);
        let g = s.g;
        for w in g.get(v).into_iter().flatten() {
            let Some((w, _)) = g.get_key_value(w) else {
                continue;
            };
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                scc.push(w.join("::"));
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                scc.sort();
                s.out.push(scc);
            }
        }
    }
    let mut s = State {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in g.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn no_crate_has_an_import_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut found = Vec::new();
    for krate in CRATES {
        let src = if *krate == "tests" {
            root.join("tests/support")
        } else if *krate == "bench" {
            root.join("bench/src")
        } else {
            root.join(krate).join("src")
        };
        for cycle in cycles(&graph(&src)) {
            found.push(format!("{krate}: {}", cycle.join(" <-> ")));
        }
    }
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

#[test]
fn the_checker_sees_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::write(src.join("lib.rs"), "mod a; mod b; mod c;").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::b::Thing;").unwrap();
    std::fs::write(src.join("b.rs"), "use super::{c, a::Other};").unwrap();
    std::fs::write(src.join("c.rs"), "fn f() { roster_store::a::x(); }").unwrap();
    let found = cycles(&graph(src));
    assert_eq!(found, [vec!["a".to_string(), "b".to_string()]]);
}

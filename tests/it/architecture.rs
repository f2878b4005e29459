//! The layering ARCHITECTURE.md promises, checked on the source tree: `http`
//! names from `domain` only the error types it maps and the typed live
//! input, and the top-level modules of `src/` import each other without
//! cycles, but for the known ones in [`KNOWN_BACK_EDGES`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What files under `src/http/` may name from `crate::domain`, per file.
const HTTP_MAY_NAME: &[(&str, &[&str])] = &[
    // Mapping every layer's refusal to a status and a code.
    (
        "error.rs",
        &[
            "crate::domain::DomainError",
            "crate::domain::ErrorKind",
            "crate::domain::live::LiveError",
        ],
    ),
    // The typed input every live action is parsed into.
    ("live.rs", &["crate::domain::live::LiveCommand"]),
];

/// Imports against the direction in ARCHITECTURE.md that close a known
/// cycle, each with what it is for. Empty: there is none, and the test fails
/// on any cycle (and on an entry here that no longer exists).
const KNOWN_BACK_EDGES: &[(&str, &str, &str)] = &[];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir` (or `dir` itself when it is a file).
fn rust_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_owned()];
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).expect("reading the source tree") {
        let p = entry.expect("reading the source tree").path();
        if p.is_dir() {
            files.extend(rust_files(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            files.push(p);
        }
    }
    files.sort();
    files
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The full paths a mention of `prefix` at each place in `text` names:
/// `crate::domain::live::LiveError` names itself,
/// `crate::domain::{DomainError, ErrorKind}` names two.
fn named_paths(text: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices(prefix) {
        let rest = &text[at..];
        let path_len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let path = &rest[..path_len];
        match rest[path_len..].strip_prefix('{') {
            Some(group) if path.ends_with("::") => {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                for item in group.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                    out.push(format!("{path}{item}"));
                }
            }
            _ => out.push(path.trim_end_matches("::").to_owned()),
        }
    }
    out
}

#[test]
fn http_names_from_domain_only_error_types_and_the_live_command() {
    let allowed: BTreeMap<&str, &[&str]> = HTTP_MAY_NAME.iter().copied().collect();
    let mut wrong = Vec::new();
    for file in rust_files(&src().join("http")) {
        let name = file.file_name().unwrap().to_str().unwrap();
        let may = allowed.get(name).copied().unwrap_or(&[]);
        for named in named_paths(&read(&file), "crate::domain") {
            if !may.contains(&named.as_str()) {
                wrong.push(format!("src/http/{name}: {named}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "http parses, calls `service` and renders; these name `domain` \
         (move the rule into `service`, or re-export a typed input/view from it):\n  {}",
        wrong.join("\n  ")
    );
}

/// Top-level module -> the top-level modules its files mention as
/// `crate::<module>` (comment lines skipped). `main.rs` is its own crate.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(src()).expect("reading src/") {
        let path = entry.expect("reading src/").path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        if path.is_dir() || (path.extension().is_some_and(|e| e == "rs") && name != "main") {
            modules.insert(name, path);
        }
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    let mut graph = BTreeMap::new();
    for (name, path) in &modules {
        let mut deps = BTreeSet::new();
        for file in rust_files(path) {
            let text = read(&file);
            for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for named in named_paths(line, "crate::") {
                    let top = named["crate::".len()..].split("::").next().unwrap_or("");
                    if names.contains(top) && top != name {
                        deps.insert(top.to_owned());
                    }
                }
            }
        }
        graph.insert(name.clone(), deps);
    }
    graph
}

/// A cycle in `graph`, as the modules along it, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|n| n == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, done, path) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut done, &mut Vec::new()))
}

#[test]
fn top_level_modules_import_each_other_without_new_cycles() {
    let mut graph = module_graph();
    for (name, deps) in &graph {
        println!("{name} -> {}", Vec::from_iter(deps.clone()).join(", "));
    }
    println!("known cycles, allowed until removed:");
    for (from, to, why) in KNOWN_BACK_EDGES {
        println!("  {from} -> {to} (closes {to} <-> {from}): {why}");
        let removed = graph.get_mut(*from).is_some_and(|d| d.remove(*to));
        assert!(
            removed,
            "{from} no longer imports {to}: take `{from} -> {to}` out of KNOWN_BACK_EDGES"
        );
    }
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "a new import cycle between top-level modules: {} \
             (dependencies point one way, see ARCHITECTURE.md)",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn the_checks_read_paths_as_written() {
    let cases: &[(&str, &[&str])] = &[
        (
            "use crate::domain::{DomainError, ErrorKind};",
            &["crate::domain::DomainError", "crate::domain::ErrorKind"],
        ),
        (
            "impl From<crate::domain::live::LiveError> for X",
            &["crate::domain::live::LiveError"],
        ),
        (
            "use crate::domain::accounts as rules;",
            &["crate::domain::accounts"],
        ),
        ("use crate::domain;", &["crate::domain"]),
        (
            "crate::domain::accounts::validate_name(x)",
            &["crate::domain::accounts::validate_name"],
        ),
    ];
    for (text, want) in cases {
        assert_eq!(named_paths(text, "crate::domain"), *want, "{text}");
    }
    let graph: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c"), ("c", "a")]
        .iter()
        .map(|(f, t)| (f.to_string(), BTreeSet::from([t.to_string()])))
        .collect();
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    let mut acyclic = graph.clone();
    acyclic.get_mut("c").unwrap().clear();
    assert_eq!(find_cycle(&acyclic), None);
}

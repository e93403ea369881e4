//! The module layers of `src/` (README, "Architecture"): every import points
//! down, and no two files or top-level modules import each other, directly
//! or round a longer loop. Read from the source text, so a new upward
//! import fails here with the file that made it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;

/// Top to bottom. Modules of one layer may import each other as long as no
/// cycle forms; `metrics` and `logging` are utilities below everything.
const LAYERS: &[(&str, u8)] = &[
    ("cli", 8),
    ("daemon", 7),
    ("bot", 6),
    ("telegram", 6),
    ("sinks", 6),
    ("sync", 6),
    ("backup", 6),
    ("replay", 6),
    ("core", 5),
    ("store", 4),
    ("config", 2),
    ("export", 2),
    ("domain", 1),
    ("metrics", 0),
    ("logging", 0),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

/// One source file: its module path (`src/a/b.rs` → `[a, b]`) and text
/// without comments and test modules (tests may reach anywhere).
struct File {
    path: PathBuf,
    module: Vec<String>,
    code: String,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn read_files() -> Vec<File> {
    let root = src_dir();
    let mut out = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let rel = path.strip_prefix(&root).unwrap().to_path_buf();
            let name = rel.file_stem().unwrap().to_string_lossy().to_string();
            if path.extension().is_none_or(|e| e != "rs")
                || rel == Path::new("main.rs")
                || rel == Path::new("lib.rs")
                || name == "tests"
                || name.ends_with("_tests")
            {
                continue;
            }
            let mut module: Vec<String> = rel
                .parent()
                .unwrap()
                .components()
                .map(|c| c.as_os_str().to_string_lossy().to_string())
                .collect();
            if name != "mod" {
                module.push(name);
            }
            let text = std::fs::read_to_string(&path).unwrap();
            out.push(File {
                path: rel,
                module,
                code: strip(&text),
            });
        }
    }
    out
}

/// Drops line comments and everything from the first `#[cfg(test)]` module.
fn strip(text: &str) -> String {
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") && lines.peek().is_some_and(|n| n.contains("mod ")) {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        code.push_str(line);
        code.push('\n');
    }
    code
}

/// Expands `a::{b, c::{d, e}}` into `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap().trim();
        return vec![path.to_string()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap()];
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, ch) in inner.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(expand)
        .map(|p| match p.as_str() {
            "self" => prefix.trim_end_matches("::").to_string(),
            _ => format!("{prefix}{p}"),
        })
        .collect()
}

/// Every `crate::…` and `super::…` path a file names, as module paths.
fn paths_of(file: &File) -> Vec<Vec<String>> {
    let uses = Regex::new(r"(?s)\buse\s+((?:crate|super)::[^;]*);").unwrap();
    let inline = Regex::new(r"\b((?:crate|super)(?:::[A-Za-z_][A-Za-z0-9_]*)+)").unwrap();
    let mut raw: Vec<String> = uses
        .captures_iter(&file.code)
        .flat_map(|c| expand(&c[1]))
        .collect();
    raw.extend(inline.captures_iter(&file.code).map(|c| c[1].to_string()));
    raw.into_iter()
        .filter_map(|p| {
            let mut segs: Vec<&str> = p.split("::").map(str::trim).collect();
            let mut base: Vec<String> = match segs.first()? {
                &"crate" => Vec::new(),
                _ => file.module.clone(),
            };
            if segs[0] == "crate" {
                segs.remove(0);
            }
            while segs.first() == Some(&"super") {
                segs.remove(0);
                base.pop()?;
            }
            base.extend(segs.iter().map(|s| s.to_string()));
            Some(base)
        })
        .collect()
}

/// The file of the longest module prefix of `path` that is a file.
fn file_of(path: &[String], known: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| known.contains(p))
}

/// Strongly connected components with more than one member (Tarjan).
fn cycles<N: Ord + Clone>(edges: &BTreeMap<N, BTreeSet<N>>) -> Vec<Vec<N>> {
    struct T<'a, N> {
        edges: &'a BTreeMap<N, BTreeSet<N>>,
        index: BTreeMap<N, usize>,
        low: BTreeMap<N, usize>,
        stack: Vec<N>,
        on: BTreeSet<N>,
        out: Vec<Vec<N>>,
    }
    fn visit<N: Ord + Clone>(t: &mut T<'_, N>, v: &N) {
        let i = t.index.len();
        t.index.insert(v.clone(), i);
        t.low.insert(v.clone(), i);
        t.stack.push(v.clone());
        t.on.insert(v.clone());
        for w in t.edges.get(v).into_iter().flatten() {
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = t.stack.pop().unwrap();
                t.on.remove(&w);
                comp.push(w.clone());
                if &w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn imports_only_point_down_and_form_no_cycles() {
    let files = read_files();
    assert!(files.len() > 50, "read {} files of src/", files.len());
    let known: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
    let mut upward = Vec::new();
    let mut unknown = BTreeSet::new();
    let mut file_edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    let mut module_edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let from = &f.module[0];
        let Some(from_layer) = layer(from) else {
            unknown.insert(from.clone());
            continue;
        };
        for path in paths_of(f) {
            let Some(to) = file_of(&path, &known) else {
                continue;
            };
            // A module file declares and re-exports its children: that is
            // not an import of theirs.
            if to == f.module || to.starts_with(&f.module) {
                continue;
            }
            file_edges
                .entry(f.module.clone())
                .or_default()
                .insert(to.clone());
            let target = &to[0];
            if target == from {
                continue;
            }
            match layer(target) {
                None => {
                    unknown.insert(target.clone());
                }
                Some(l) if l > from_layer => {
                    upward.push(format!("{} imports {}", f.path.display(), to.join("::")));
                }
                Some(_) => {
                    module_edges
                        .entry(from.clone())
                        .or_default()
                        .insert(target.clone());
                }
            }
        }
    }
    upward.sort();
    upward.dedup();
    assert!(
        unknown.is_empty(),
        "modules without a layer: {unknown:?} (add them to LAYERS and the README)"
    );
    assert!(
        upward.is_empty(),
        "imports up the layers:\n{}",
        upward.join("\n")
    );
    let module_cycles = cycles(&module_edges);
    assert!(module_cycles.is_empty(), "module cycles: {module_cycles:?}");
    let file_cycles: Vec<Vec<String>> = cycles(&file_edges)
        .into_iter()
        .map(|c| c.into_iter().map(|m| m.join("::")).collect())
        .collect();
    assert!(
        file_cycles.is_empty(),
        "file import cycles: {file_cycles:?}"
    );
}

#[test]
fn the_checker_sees_grouped_relative_and_inline_imports() {
    let f = File {
        path: PathBuf::from("core/x.rs"),
        module: vec!["core".into(), "x".into()],
        code: strip(
            "use crate::{store::{self, chats::ChatRow}, config};\nuse super::y::Z;\n\
             fn f() { crate::daemon::run(); }\n// use crate::cli::Nope;\n",
        ),
    };
    let mut got: Vec<String> = paths_of(&f).into_iter().map(|p| p.join("::")).collect();
    got.sort();
    got.dedup();
    assert_eq!(
        got,
        [
            "config",
            "core::y::Z",
            "daemon::run",
            "store",
            "store::chats::ChatRow"
        ]
    );
    let mut edges = BTreeMap::new();
    edges.insert(1, BTreeSet::from([2]));
    edges.insert(2, BTreeSet::from([3]));
    edges.insert(3, BTreeSet::from([1]));
    edges.insert(4, BTreeSet::from([1]));
    assert_eq!(cycles(&edges).len(), 1);
}

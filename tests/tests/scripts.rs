//! The structure checks CI runs over the source (`tests/scripts/sizes.py`,
//! `tests/scripts/module_cycles.py`), run on small made-up crates: each must flag what it is
//! there to flag, and nothing else.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};

use lv_tests::workspace_root;

/// Runs `tests/scripts/SCRIPT` with `args` from the workspace root.
fn script(name: &str, args: &[&str]) -> Output {
    let path = workspace_root().join("tests/scripts").join(name);
    let output = Command::new("python3").arg(&path).args(args).output();
    match output {
        Ok(output) => output,
        Err(err) => panic!("cannot run python3 {}: {err}", path.display()),
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create the fixture's folder");
    }
    std::fs::write(&path, text).expect("write a fixture file");
}

/// A function `name` whose body spans `lines` lines in all, from `fn` to `}`.
fn function(name: &str, lines: usize) -> String {
    let mut text = format!("fn {name}() {{\n");
    for i in 0..lines - 2 {
        let _ = writeln!(text, "    let _x{i} = \"{{ not a brace }}\";");
    }
    text.push_str("}\n");
    text
}

#[test]
fn sizes_flags_long_functions_and_files_and_honours_reasons() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path();
    // 60 lines is the limit: fine. 61 is one too many.
    write(src, "ok.rs", &function("sixty", 60));
    write(src, "long.rs", &function("sixty_one", 61));
    // A reason on the line above (attributes in between) grants the exception.
    write(
        src,
        "reasoned.rs",
        &format!(
            "// long fn: one match over every message kind\n#[inline]\n{}",
            function("granted", 80)
        ),
    );
    // Test code is not product code.
    write(
        src,
        "with_tests.rs",
        &format!(
            "#[cfg(test)]\nmod tests {{\n{}}}\n",
            function("a_long_test", 90)
        ),
    );
    write(src, "m/tests.rs", &function("in_a_tests_file", 90));
    // 501 lines of product code, once without and once with a reason.
    let filler: String = (0..501).map(|i| format!("const C{i}: u8 = 0;\n")).collect();
    write(src, "big.rs", &filler);
    write(
        src,
        "big_reasoned.rs",
        &format!("//! long file: the generated table of codes\n{filler}"),
    );

    let src_arg = src.to_string_lossy();
    let output = script("sizes.py", &["--list", &src_arg]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    let flagged: Vec<&str> = out
        .lines()
        .filter(|l| !l.starts_with("granted:") && !l.starts_with("sizes:"))
        .collect();
    assert_eq!(flagged.len(), 2, "{out}");
    assert!(
        flagged
            .iter()
            .any(|l| l.ends_with("long.rs:1: fn sixty_one: 61 lines (limit 60)")),
        "{out}"
    );
    assert!(
        flagged
            .iter()
            .any(|l| l.ends_with("big.rs: 501 lines (limit 500)")),
        "{out}"
    );
    assert!(out.contains("fn granted: 80 lines"), "{out}");
    assert!(out.contains("big_reasoned.rs: 502 lines"), "{out}");
    assert!(
        out.contains("sizes: 2 over the limits, 2 with a reason"),
        "{out}"
    );
    assert!(
        !out.contains("a_long_test") && !out.contains("in_a_tests_file"),
        "{out}"
    );

    // The same tree without the offenders passes.
    std::fs::remove_file(src.join("long.rs")).expect("remove");
    std::fs::remove_file(src.join("big.rs")).expect("remove");
    let output = script("sizes.py", &[&src_arg]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
}

#[test]
fn module_cycles_sees_a_cycle_through_super() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path();
    write(src, "lib.rs", "mod a;\nmod b;\n");
    write(src, "a.rs", "use crate::b::B;\npub struct A;\n");
    write(src, "b.rs", "pub struct B;\n");
    let src_arg = src.to_string_lossy();
    let clean = script("module_cycles.py", &["--relative", &src_arg]);
    assert_eq!(clean.status.code(), Some(0), "{}", stdout(&clean));
    assert!(stdout(&clean).contains("0 cycles"), "{}", stdout(&clean));

    // b now reaches back to a through `super::`: a cycle only --relative counts.
    write(src, "b.rs", "use super::a::A;\npub struct B;\n");
    let cycle = script("module_cycles.py", &["--relative", &src_arg]);
    let out = stdout(&cycle);
    assert_eq!(cycle.status.code(), Some(1), "{out}");
    assert!(out.contains("cycle: a -> b -> a"), "{out}");
    assert!(out.contains("1 cycles"), "{out}");
    // Without --relative, `super::` paths are not edges.
    let crate_only = script("module_cycles.py", &[&src_arg]);
    assert_eq!(crate_only.status.code(), Some(0), "{}", stdout(&crate_only));
}

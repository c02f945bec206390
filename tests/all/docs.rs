//! The README's performance figures are rows of the table `just bench`
//! generates in docs/benchmarks.md, copied as they are, never figures
//! written by hand.

use crate::common::workspace_root;

/// The text between `begin` and `end` in `page`.
fn between<'a>(page: &'a str, begin: &str, end: &str) -> &'a str {
    let start = page.find(begin).unwrap_or_else(|| panic!("no `{begin}`")) + begin.len();
    let stop = page[start..]
        .find(end)
        .unwrap_or_else(|| panic!("no `{end}`"));
    &page[start..start + stop]
}

#[test]
fn the_readmes_figures_are_rows_of_the_generated_benchmark_table() {
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let benchmarks = std::fs::read_to_string(root.join("docs/benchmarks.md")).unwrap();
    let generated = between(
        &benchmarks,
        "<!-- measured by `just bench`: begin -->",
        "<!-- measured by `just bench`: end -->",
    );
    let generated_lines: Vec<&str> = generated.lines().collect();
    let begin = "<!-- rows of docs/benchmarks.md, copied there by `just bench`: begin -->";
    let end = "<!-- rows of docs/benchmarks.md, copied there by `just bench`: end -->";
    let quoted: Vec<&str> = between(&readme, begin, end)
        .lines()
        .filter(|line| !line.is_empty())
        .collect();
    assert!(quoted.len() >= 4, "the README quotes some rows: {quoted:?}");
    for line in &quoted {
        assert!(
            generated_lines.contains(line),
            "a README figure that is not a row of docs/benchmarks.md's generated table: {line}"
        );
    }
    // Outside the quoted rows, no measured figure: no ratio, no microseconds.
    let start = readme.find(begin).unwrap();
    let stop = readme.find(end).unwrap() + end.len();
    let prose = format!("{}{}", &readme[..start], &readme[stop..]);
    for (number, line) in prose.lines().enumerate() {
        let ratio = line
            .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'x'))
            .any(|word| {
                word.len() > 1
                    && word.ends_with('x')
                    && word[..word.len() - 1].parse::<f64>().is_ok()
            });
        assert!(
            !ratio && !line.contains("µs"),
            "README.md line {}: a figure written by hand (take it from docs/benchmarks.md): {line}",
            number + 1
        );
    }
}

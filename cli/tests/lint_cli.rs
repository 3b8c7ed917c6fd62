//! `polc lint`, `polc schema` and `polc explain` run as a user runs them: exit codes, formats,
//! stdin, hostile files, colour and determinism.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const CLEAN_NAMESPACE: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n";

const CLEAN_POLICY: &str = "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: allow-frontend
  namespace: prod
spec:
  endpointSelector:
    matchLabels:
      app: backend
  ingress:
  - fromEndpoints:
    - matchLabels:
        app: frontend
    toPorts:
    - ports:
      - port: \"8080\"
        protocol: TCP
";

/// An unknown metadata field on line 5: an error whatever the spec model accepts.
const BAD_METADATA: &str = "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: web
  bogus: true
spec: {}
";

fn polc(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_polc")).args(args).current_dir(cwd).env_remove("NO_COLOR").output().expect("polc runs")
}

fn polc_stdin(args: &[&str], cwd: &Path, input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_polc"))
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("polc runs");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("polc exits normally")
}

fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn clean_inputs_exit_0_with_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ns.yaml", CLEAN_NAMESPACE);
    let output = polc(&["lint", "ns.yaml"], dir.path());
    assert_eq!(code(&output), 0, "{}", stdout(&output));
    assert_eq!(stdout(&output), "no problems in 1 file\n");
    assert_eq!(stderr(&output), "");

    write(dir.path(), "policy.yaml", CLEAN_POLICY);
    let output = polc(&["lint", "policy.yaml"], dir.path());
    assert_eq!(code(&output), 0, "{}", stdout(&output));
}

#[test]
fn an_error_exits_1_and_points_at_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "policies/web.yaml", BAD_METADATA);
    let output = polc(&["lint", "policies"], dir.path());
    assert_eq!(code(&output), 1);
    let text = stdout(&output);
    assert!(text.starts_with("error[PLC2001]: "), "{text}");
    assert!(text.contains(" --> policies/web.yaml:5:3\n"), "{text}");
    assert!(text.contains("5 |   bogus: true\n  |   ^^^^^"), "{text}");
    assert!(text.ends_with("1 error, 0 warnings in 1 file\n"), "{text}");
}

#[test]
fn usage_and_io_failures_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ns.yaml", CLEAN_NAMESPACE);
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    write(dir.path(), "docs/readme.txt", "not yaml");

    let missing = polc(&["lint", "ns.yaml", "missing.yaml"], dir.path());
    assert_eq!(code(&missing), 2);
    assert_eq!(stderr(&missing), "polc: cannot read `missing.yaml`: no such file or directory\n");
    assert_eq!(stdout(&missing), "", "nothing is linted when an input cannot be read");

    let empty = polc(&["lint", "empty", "docs"], dir.path());
    assert_eq!(code(&empty), 2);
    assert_eq!(stderr(&empty), "polc: no `.yaml` or `.yml` files under `empty`\npolc: no `.yaml` or `.yml` files under `docs`\n");

    assert_eq!(code(&polc(&["lint"], dir.path())), 2);
    assert_eq!(code(&polc(&["lint", "--format", "xml", "ns.yaml"], dir.path())), 2);
    assert_eq!(code(&polc(&["frobnicate"], dir.path())), 2);
    assert_eq!(code(&polc(&["lint", "-", "-"], dir.path())), 2);
}

#[cfg(unix)]
#[test]
fn an_unreadable_file_exits_2() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "secret.yaml", CLEAN_NAMESPACE);
    let path = dir.path().join("secret.yaml");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&path).is_ok() {
        // root reads any file: the permission cannot make the file unreadable here.
        eprintln!("skipped: running as root, a mode 000 file is still readable");
        return;
    }
    let output = polc(&["lint", "secret.yaml"], dir.path());
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("cannot read `secret.yaml`: permission denied"), "{}", stderr(&output));
}

#[test]
fn stdin_is_read_for_a_dash() {
    let dir = tempfile::tempdir().unwrap();
    let output = polc_stdin(&["lint", "-"], dir.path(), BAD_METADATA.as_bytes());
    assert_eq!(code(&output), 1);
    assert!(stdout(&output).contains(" --> <stdin>:5:3\n"), "{}", stdout(&output));
}

#[test]
fn a_file_that_is_not_utf8_is_reported_and_the_others_are_still_linted() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a-binary.yaml", [0x7f, b'E', b'L', b'F', 0xff, 0xfe, 0x00, 0x01]);
    write(dir.path(), "b-web.yaml", BAD_METADATA);
    let output = polc(&["lint", "--format", "json", "."], dir.path());
    assert_eq!(code(&output), 1);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let found: Vec<(&str, &str)> =
        report["diagnostics"].as_array().unwrap().iter().map(|d| (d["code"].as_str().unwrap(), d["file"].as_str().unwrap())).collect();
    assert_eq!(found, [("PLC1008", "a-binary.yaml"), ("PLC2001", "b-web.yaml")]);
    assert_eq!(report["diagnostics"][0]["line"], 1);
    assert_eq!(report["diagnostics"][0]["column"], 5);
}

#[test]
fn a_20_mb_file_is_over_the_default_limit() {
    let dir = tempfile::tempdir().unwrap();
    let line = "- {name: item, value: 0123456789abcdef}\n";
    write(dir.path(), "huge.yaml", line.repeat(20 * 1024 * 1024 / line.len() + 1));
    write(dir.path(), "ns.yaml", CLEAN_NAMESPACE);
    let output = polc(&["lint", "huge.yaml", "ns.yaml"], dir.path());
    assert_eq!(code(&output), 1);
    let text = stdout(&output);
    assert!(text.starts_with("error[PLC1005]: file is 20971"), "{text}");
    assert!(text.contains("more than the limit of 16777216 bytes"), "{text}");
    assert!(text.ends_with("1 error, 0 warnings in 2 files\n"), "{text}");

    // The limit reaches the reader and the compiler alike: a file under a raised limit is parsed.
    let medium: String = (0..50).map(|index| format!("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-{index}\n")).collect();
    write(dir.path(), "medium.yaml", &medium);
    let size = medium.len().to_string();
    let lowered = polc(&["lint", "--max-file-size", "1000", "medium.yaml"], dir.path());
    let expected = format!("error[PLC1005]: file is {size} bytes, more than the limit of 1000 bytes");
    assert!(stdout(&lowered).starts_with(&expected), "{}", stdout(&lowered));
    let raised = polc(&["lint", "--max-file-size", &size, "medium.yaml"], dir.path());
    assert_eq!(code(&raised), 0, "{}", stdout(&raised));
    assert_eq!(stdout(&raised), "no problems in 1 file\n");
}

#[test]
fn skipped_kinds_are_summarised_and_verbose_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let text = "apiVersion: apps/v1\nkind: Deployment\n---\napiVersion: v1\nkind: ConfigMap\n---\napiVersion: apps/v1\nkind: Deployment\n";
    write(dir.path(), "dump.yaml", text);
    let quiet = polc(&["lint", "dump.yaml"], dir.path());
    assert_eq!(code(&quiet), 0);
    assert_eq!(
        stdout(&quiet),
        "skipped 3 documents of kinds polc does not model: Deployment (2), ConfigMap (1) (`--verbose` shows each)\nno problems in 1 file\n"
    );
    let verbose = polc(&["lint", "--verbose", "dump.yaml"], dir.path());
    assert_eq!(code(&verbose), 0);
    assert_eq!(stdout(&verbose).matches("note[PLC1103]").count(), 3, "{}", stdout(&verbose));
    assert!(stdout(&verbose).ends_with("no problems, 3 notes in 1 file\n"), "{}", stdout(&verbose));
}

#[test]
fn a_kind_in_the_wrong_case_is_shown_as_an_error_even_without_verbose() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "p.yaml", "apiVersion: cilium.io/v2\nkind: CiliumNetworkpolicy\nmetadata: {name: x}\n");
    let output = polc(&["lint", "p.yaml"], dir.path());
    assert_eq!(code(&output), 1);
    assert!(stdout(&output).contains("error[PLC1103]"), "{}", stdout(&output));
}

#[test]
fn json_output_has_the_documented_schema() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", BAD_METADATA);
    write(dir.path(), "b.yaml", "apiVersion: apps/v1\nkind: Deployment\n");
    let output = polc(&["lint", "--format", "json", "a.yaml", "b.yaml"], dir.path());
    assert_eq!(code(&output), 1);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["version"], 1);
    assert_eq!(report["files"], 2);
    assert_eq!(report["summary"], serde_json::json!({"errors": 1, "warnings": 0, "notes": 0}));
    assert_eq!(report["skipped"], serde_json::json!([{"kind": "Deployment", "count": 1}]));
    let first = &report["diagnostics"][0];
    assert_eq!(first["code"], "PLC2001");
    assert_eq!(first["name"], "unknown-field");
    assert_eq!(first["severity"], "error");
    assert_eq!(first["file"], "a.yaml");
    assert_eq!((first["line"].as_u64(), first["column"].as_u64()), (Some(5), Some(3)));
    assert_eq!((first["end_line"].as_u64(), first["end_column"].as_u64()), (Some(5), Some(8)));
    assert_eq!(first["path"], "metadata.bogus");
    assert!(first["related"].is_array());
}

#[test]
fn sarif_output_is_what_code_scanning_reads() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "policies/a.yaml", BAD_METADATA);
    let output = polc(&["lint", "--format", "sarif", "policies"], dir.path());
    assert_eq!(code(&output), 1);
    let log: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "polc");
    for rule in driver["rules"].as_array().unwrap() {
        for field in ["id", "name", "shortDescription", "fullDescription", "help"] {
            assert!(!rule[field].is_null(), "rule without {field}: {rule}");
        }
    }
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "PLC2001");
    assert_eq!(result["level"], "error");
    assert_eq!(driver["rules"][result["ruleIndex"].as_u64().unwrap() as usize]["id"], "PLC2001");
    let location = &result["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "policies/a.yaml");
    assert_eq!(location["region"], serde_json::json!({"startLine": 5, "startColumn": 3, "endLine": 5, "endColumn": 8}));
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", BAD_METADATA);
    let piped = polc(&["lint", "a.yaml"], dir.path());
    assert!(!stdout(&piped).contains('\x1b'), "no colour when stdout is a pipe");
    let always = polc(&["lint", "--color", "always", "a.yaml"], dir.path());
    assert!(stdout(&always).contains("\x1b[1;31merror[PLC2001]\x1b[0m"), "{}", stdout(&always));
    let never = polc(&["lint", "--color", "never", "a.yaml"], dir.path());
    assert_eq!(stdout(&never), stdout(&piped));
}

#[test]
fn output_is_deterministic_across_runs_and_file_orders() {
    let dir = tempfile::tempdir().unwrap();
    for (index, name) in ["c.yaml", "a.yaml", "sub/b.yml", "sub/a.yaml"].iter().enumerate() {
        write(dir.path(), name, BAD_METADATA.replace("web", &format!("web-{index}")));
    }
    let first = polc(&["lint", "."], dir.path());
    let text = stdout(&first);
    let order: Vec<&str> = text.lines().filter_map(|line| line.strip_prefix(" --> ")).collect();
    assert_eq!(order, ["a.yaml:5:3", "c.yaml:5:3", "sub/a.yaml:5:3", "sub/b.yml:5:3"]);
    for _ in 0..3 {
        assert_eq!(stdout(&polc(&["lint", "."], dir.path())), text);
    }
}

#[test]
fn a_closed_pipe_is_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    // Enough findings to overflow a pipe buffer.
    let mut text = String::new();
    for index in 0..2000 {
        text.push_str(&format!("---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: p{index}, bogus: 1}}\n"));
    }
    write(dir.path(), "many.yaml", text);
    let mut child = Command::new(env!("CARGO_BIN_EXE_polc"))
        .args(["lint", "many.yaml"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
}

#[test]
fn schema_prints_one_kind_or_all_and_rejects_unknown_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let one = polc(&["schema", "networkpolicy"], dir.path());
    assert_eq!(code(&one), 0);
    let schema: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    assert!(schema["properties"]["spec"].is_object(), "{schema}");

    let all = polc(&["schema"], dir.path());
    assert_eq!(code(&all), 0);
    let schemas: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    assert!(schemas["CiliumNetworkPolicy"].is_object());
    assert!(schemas["HTTPRoute"].is_object());

    let unknown = polc(&["schema", "Deployment"], dir.path());
    assert_eq!(code(&unknown), 2);
    assert!(stderr(&unknown).contains("unknown kind `Deployment`; polc models: CiliumNetworkPolicy"), "{}", stderr(&unknown));
}

#[test]
fn explain_prints_a_code_by_id_or_name_and_lists_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let by_id = polc(&["explain", "PLC1002"], dir.path());
    assert_eq!(code(&by_id), 0);
    assert!(stdout(&by_id).starts_with("PLC1002 duplicate-key (error): a mapping names the same key twice\n"), "{}", stdout(&by_id));
    let by_name = polc(&["explain", "duplicate-key"], dir.path());
    assert_eq!(stdout(&by_name), stdout(&by_id));

    let unknown = polc(&["explain", "PLC0000"], dir.path());
    assert_eq!(code(&unknown), 2);
    assert!(stderr(&unknown).contains("unknown code `PLC0000`"), "{}", stderr(&unknown));

    let list = polc(&["explain", "--list"], dir.path());
    assert_eq!(code(&list), 0);
    assert!(stdout(&list).lines().any(|line| line.starts_with("PLC2001  error    unknown-field ")), "{}", stdout(&list));
    assert_eq!(code(&polc(&["explain"], dir.path())), 2);
}

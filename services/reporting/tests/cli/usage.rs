//! Usage: `--help` that teaches, and wrong arguments refused with status 2 and a message
//! naming what is wrong, before anything is read.

use pretty_assertions::assert_eq;

use crate::fixture::circlemade;

#[tokio::test]
async fn help_describes_every_command_with_examples() {
    let help = circlemade(&["--help"]).await.ok();
    for command in ["export", "history", "rebuild", "report"] {
        assert!(help.contains(&format!("  {command} ")), "{help}");
    }
    assert!(help.contains("Examples:"), "{help}");
    assert!(help.contains("never changes it"), "{help}");

    let export = circlemade(&["export", "--help"]).await.ok();
    for flag in [
        "--data-dir",
        "--nats",
        "--stream",
        "--type",
        "--subject",
        "--since",
        "--until",
        "--output",
    ] {
        assert!(export.contains(flag), "no {flag} in\n{export}");
    }
    assert!(export.contains("circlemade export --nats"), "{export}");

    let report = circlemade(&["report", "--help"]).await.ok();
    for kind in [
        "kpis",
        "composition",
        "growth",
        "participation",
        "collaboration",
    ] {
        assert!(report.contains(kind), "no {kind} in\n{report}");
    }
    let kpis = circlemade(&["report", "kpis", "--help"]).await.ok();
    assert!(kpis.contains("--as-of"), "{kpis}");
    assert!(kpis.contains("Example:"), "{kpis}");
}

#[tokio::test]
async fn wrong_arguments_exit_with_status_2_and_say_what_is_wrong() {
    for (args, says) in [
        (vec![], "Usage: circlemade <COMMAND>"),
        (vec!["replay"], "unrecognized subcommand 'replay'"),
        (vec!["export"], "--data-dir <DIR>"),
        (
            vec![
                "export",
                "--data-dir",
                "a",
                "--nats",
                "nats://127.0.0.1:4222",
            ],
            "cannot be used with",
        ),
        (
            vec!["export", "--data-dir", "a", "--stream", "EVENTS"],
            "'--data-dir <DIR>' cannot be used with '--stream <STREAM>'",
        ),
        (
            vec!["export", "--data-dir", "a", "--since", "yesterday"],
            "RFC 3339",
        ),
        (
            vec![
                "export",
                "--data-dir",
                "a",
                "--since",
                "2018-02-01T00:00:00Z",
                "--until",
                "2018-01-01T00:00:00Z",
            ],
            "no event can match",
        ),
        (
            vec!["export", "--data-dir", "a", "--subject", "member/42"],
            "member/0190b1c2",
        ),
        (vec!["history", "bob", "--data-dir", "a"], "member/<uuid>"),
        (
            vec!["report", "kpis", "--year", "1999", "--data-dir", "a"],
            "programme year",
        ),
        (
            vec!["report", "kpis", "--data-dir", "a", "--format", "xml"],
            "table, json, csv",
        ),
        (
            vec!["report", "composition", "--year", "2018", "--data-dir", "a"],
            "--year",
        ),
        (vec!["rebuild"], "--data-dir <DIR>"),
    ] {
        let run = circlemade(&args).await;
        assert_eq!(run.code, Some(2), "circlemade {args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "circlemade {args:?}");
        assert!(
            run.stderr.contains(says),
            "circlemade {args:?} should say {says:?}:\n{}",
            run.stderr
        );
    }
}

//! `coverage`: the engineer's view of the core, offline. `explain` classifies
//! one issue string, `replay` runs an event file through the same decision and
//! rendering as the Lambda (dry-run, no AWS), `catalog` prints every entry.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use coverage_core::catalog::{self, CommandKind, Entry};
use coverage_core::render::{CommandContext, FilledCommand, fill_commands};
use coverage_core::{Detail, Facts, Issue, Policy, decide, decode_event_bytes, render, summary};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(
    name = "coverage",
    version,
    about = "Explain and replay GuardDuty EKS runtime coverage issues, offline"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Classify one `detail.issue` string: what it means and what to do.
    Explain {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Fill the cluster name into the commands.
        #[arg(long)]
        cluster: Option<String>,
        /// Fill the region into the commands.
        #[arg(long)]
        region: Option<String>,
        /// Fill the account id into the commands.
        #[arg(long)]
        account: Option<String>,
        /// The issue string; `-` reads standard input.
        issue: String,
    },
    /// Decode an EventBridge event file, decide offline (dry-run, no AWS
    /// facts) and print the plan and the exact alert that would be published.
    Replay {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// The event file; `-` reads standard input.
        event_file: PathBuf,
    },
    /// Print every catalog entry.
    Catalog {
        #[arg(long, value_enum, default_value_t = CatalogFormat::Markdown)]
        format: CatalogFormat,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum CatalogFormat {
    Markdown,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Explain {
            format,
            cluster,
            region,
            account,
            issue,
        } => explain(
            format,
            &issue,
            cluster.as_deref(),
            region.as_deref(),
            account.as_deref(),
        ),
        Command::Replay { format, event_file } => replay(format, &event_file),
        Command::Catalog { format } => print_catalog(format),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            // One line: the whole chain of context.
            eprintln!("coverage: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn read_input(path: &std::path::Path) -> Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading standard input")?;
        Ok(bytes)
    } else {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
    }
}

fn explain(
    format: Format,
    issue: &str,
    cluster: Option<&str>,
    region: Option<&str>,
    account: Option<&str>,
) -> Result<String> {
    let text = if issue == "-" {
        String::from_utf8(read_input(std::path::Path::new("-"))?)
            .context("standard input is not UTF-8")?
    } else {
        issue.to_owned()
    };
    let issue = Issue::parse(text.trim_end_matches(['\r', '\n']));
    let entry = catalog::classify(&issue);
    let context = CommandContext::new(cluster, region, account, &issue.raw);
    let commands = fill_commands(entry, &context);
    Ok(match format {
        Format::Json => {
            let value = json!({
                "id": entry.id,
                "title": entry.title,
                "severity": entry.severity,
                "actionability": entry.actionability,
                "issue_type": issue.issue_type.name(),
                "issue_type_known": !matches!(issue.issue_type, coverage_core::IssueType::Unknown(_)),
                "extra_information": issue.extra,
                "addon_issue_code": issue.addon_code().map(|c| c.as_str()),
                "addon_issue_message": issue.addon_issue.as_ref().map(|a| a.message.as_str()),
                "why": entry.why,
                "steps": entry.steps,
                "commands": commands,
                "links": entry.links,
            });
            format!("{}\n", serde_json::to_string_pretty(&value)?)
        }
        Format::Text => explain_text(entry, &issue, &commands),
    })
}

fn explain_text(entry: &Entry, issue: &Issue, commands: &[FilledCommand]) -> String {
    let mut out = String::new();
    out.push_str(&format!("{}  [{}]\n", entry.title, entry.id));
    out.push_str(&format!(
        "severity: {}   actionability: {}\n",
        entry.severity.as_str(),
        entry.actionability.as_str()
    ));
    out.push_str(&format!("issue type: {}\n", issue.issue_type.name()));
    if let Some(addon) = &issue.addon_issue {
        out.push_str(&format!(
            "add-on issue: {} - {}\n",
            addon.code.as_ref().map_or("(no code)", |c| c.as_str()),
            addon.message
        ));
    } else if let Some(extra) = &issue.extra {
        out.push_str(&format!("extra information: {extra}\n"));
    }
    out.push_str(&format!("\nWhy: {}\n\nSteps:\n", entry.why));
    for (index, step) in entry.steps.iter().enumerate() {
        out.push_str(&format!("  {}. {step}\n", index + 1));
    }
    out.push_str("\nCommands:\n");
    for command in commands {
        let note = if command.kind == CommandKind::LogsInsights {
            " (CloudWatch Logs Insights)"
        } else {
            ""
        };
        out.push_str(&format!(
            "  # {}{note}\n  {}\n",
            command.purpose,
            command.command.replace('\n', "\n  ")
        ));
    }
    out.push_str("\nDocs:\n");
    for link in entry.links {
        out.push_str(&format!("  - {}: {}\n", link.title, link.url));
    }
    out
}

fn replay(format: Format, path: &std::path::Path) -> Result<String> {
    let bytes = read_input(path)?;
    let event = decode_event_bytes(&bytes).with_context(|| path.display().to_string())?;
    if let Detail::Malformed { error, .. } = &event.detail {
        anyhow::bail!(
            "{}: event {} is a coverage event whose detail cannot be read: {error} (the Lambda publishes it as a raw-event alert)",
            path.display(),
            event.envelope.id
        );
    }
    let plan = decide(&event, &Facts::offline(), &Policy::offline());
    let outcome = plan
        .outcome_without_call()
        .context("an offline dry-run plan never makes a call; this is a bug")?;
    let alert = render(&plan, &outcome);
    let summary = summary(&plan, &outcome, "not-published");
    Ok(match format {
        Format::Json => {
            let value = json!({
                "summary": summary,
                "plan": plan,
                "outcome": outcome,
                "alert": {
                    "subject": alert.subject,
                    "message": alert.chat_message,
                    "message_attributes": alert.attributes,
                    "text": alert.text_message,
                },
            });
            format!("{}\n", serde_json::to_string_pretty(&value)?)
        }
        Format::Text => {
            let mut out = String::new();
            out.push_str(&format!(
                "event:    {} ({})\n",
                summary.event_id,
                event.envelope.transition.detail_type()
            ));
            out.push_str(&format!("issue:    {}\n", summary.issue_id));
            out.push_str(&format!("action:   {}\n", summary.action));
            out.push_str(&format!("outcome:  {}\n", summary.outcome));
            out.push_str(&format!(
                "mode:     {} (offline: no AWS facts)\n",
                plan.mode.as_str()
            ));
            out.push_str("\n--- SNS subject\n");
            out.push_str(&alert.subject);
            out.push_str("\n\n--- SNS message attributes\n");
            for (name, value) in &alert.attributes {
                out.push_str(&format!("{name} = {value}\n"));
            }
            out.push_str("\n--- SNS message (Amazon Q Developer custom notification)\n");
            out.push_str(&alert.chat_message);
            out.push_str("\n\n--- Plain text rendering (email, stdout)\n");
            out.push_str(&alert.text_message);
            out
        }
    })
}

fn print_catalog(format: CatalogFormat) -> Result<String> {
    Ok(match format {
        CatalogFormat::Json => {
            let entries: Vec<_> = catalog::entries()
                .map(|entry| {
                    json!({
                        "id": entry.id,
                        "title": entry.title,
                        "issue_types": entry.types.names(),
                        "addon_issue_codes": entry.codes.names(),
                        "phrases": entry.phrases,
                        "severity": entry.severity,
                        "actionability": entry.actionability,
                        "why": entry.why,
                        "steps": entry.steps,
                        "commands": entry.commands,
                        "links": entry.links,
                    })
                })
                .collect();
            format!("{}\n", serde_json::to_string_pretty(&entries)?)
        }
        CatalogFormat::Markdown => catalog_markdown(),
    })
}

fn catalog_markdown() -> String {
    let cell = |text: &str| text.replace('|', "\\|");
    let mut out = String::from(
        "# Remediation catalog\n\n\
         Generated by `cargo run -q --bin coverage -- catalog --format markdown`; do not edit by hand.\n\
         Rows are tried in order; the first match wins. Phrases are compared without case, spaces or punctuation.\n\n\
         | id | issue type | add-on issue code | text contains | severity | actionability | title |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for entry in catalog::entries() {
        let types = entry
            .types
            .names()
            .map_or("any".to_owned(), |t| t.join(", "));
        let codes = entry
            .codes
            .names()
            .map_or("any".to_owned(), |c| c.join(", "));
        let phrases = if entry.phrases.is_empty() {
            "anything".to_owned()
        } else {
            entry
                .phrases
                .iter()
                .map(|group| {
                    group
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                })
                .collect::<Vec<_>>()
                .join(" and ")
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} |\n",
            entry.id,
            cell(&types),
            cell(&codes),
            cell(&phrases),
            entry.severity.as_str(),
            entry.actionability.as_str(),
            cell(entry.title)
        ));
    }
    out.push_str("\n## Entries\n");
    for entry in catalog::entries() {
        out.push_str(&format!(
            "\n### `{}`: {}\n\n{}\n\n",
            entry.id, entry.title, entry.why
        ));
        for (index, step) in entry.steps.iter().enumerate() {
            out.push_str(&format!("{}. {step}\n", index + 1));
        }
        out.push_str("\nCommands:\n\n");
        for command in entry.commands {
            let language = if command.kind == CommandKind::LogsInsights {
                ""
            } else {
                "sh"
            };
            out.push_str(&format!(
                "- {}\n\n  ```{language}\n  {}\n  ```\n",
                command.purpose,
                command.template.replace('\n', "\n  ")
            ));
        }
        out.push_str("\nDocs:\n\n");
        for link in entry.links {
            out.push_str(&format!("- [{}]({})\n", link.title, link.url));
        }
    }
    out
}

//! The manual pages: `buhbot(8)` generated from the command line itself
//! (so options never drift from the code) plus hand-written sections, and
//! `buhbot.toml(5)`, hand-written and checked against the configuration's
//! key lists by the tests. `buhbot man` prints or writes them for packaging.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::CommandFactory;

use super::Cli;

/// Hand-written sections of buhbot(8) after the generated ones: what clap
/// cannot know (signals, exit codes, files, troubleshooting).
const BUHBOT_8_TAIL: &str = include_str!("../../man/buhbot.8.tail");
/// buhbot.toml(5), hand-written: the tests check it names every key.
const BUHBOT_TOML_5: &str = include_str!("../../man/buhbot.toml.5");

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// The page: 8 (buhbot) or 5 (buhbot.toml) [default: 8 when printing,
    /// both with --out]
    #[arg(long, value_parser = ["8", "5"])]
    pub section: Option<String>,
    /// Write buhbot.8 / buhbot.toml.5 into this directory instead of stdout
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// One of clap_mangen's `Man::render_*_section` methods.
type RenderSection = fn(&clap_mangen::Man, &mut dyn Write) -> std::io::Result<()>;

/// `buhbot.toml(5)` as shipped.
pub fn render_buhbot_toml_5() -> Vec<u8> {
    BUHBOT_TOML_5.as_bytes().to_vec()
}

/// `buhbot(8)`: clap_mangen's title, NAME, SYNOPSIS, DESCRIPTION and
/// OPTIONS of the top-level command, a SUBCOMMANDS list, every command's
/// synopsis and options, then the hand-written tail. Deterministic (no
/// date), so the checked-in man/buhbot.8 can be compared byte for byte.
pub fn render_buhbot_8() -> Vec<u8> {
    let mut cmd = Cli::command();
    // Sets the subcommands' bin names ("buhbot backup verify") and
    // propagates the global --config, as the parser sees them.
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone())
        .title("BUHBOT")
        .section("8")
        .manual("System Manager's Manual");
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let w: &mut dyn Write = &mut out;
    man.render_title(w).expect("write to Vec");
    // Each render starts with roff's `.ie`/`.el` preamble; once, before
    // the title, is enough.
    let sections: [RenderSection; 4] = [
        clap_mangen::Man::render_name_section,
        clap_mangen::Man::render_synopsis_section,
        clap_mangen::Man::render_description_section,
        clap_mangen::Man::render_options_section,
    ];
    for render in sections {
        let mut buf = Vec::new();
        render(&man, &mut buf).expect("write to Vec");
        out.extend_from_slice(&strip_preamble(&buf, false));
    }

    // clap_mangen's own SUBCOMMANDS list points at buhbot-<cmd>(8) pages,
    // which are not shipped: every command is described below instead.
    out.extend_from_slice(b".SH SUBCOMMANDS\n");
    for sub in visible(&cmd) {
        out.extend_from_slice(format!(".TP\n\\fB{}\\fR\n", esc(sub.get_name())).as_bytes());
        if let Some(about) = sub.get_about() {
            out.extend_from_slice(format!("{}\n", esc(&about.to_string())).as_bytes());
        }
    }
    out.extend_from_slice(
        b".PP\nEach command is described with its options under \\fBCOMMANDS\\fR.\n",
    );

    out.extend_from_slice(b".SH COMMANDS\n");
    for sub in visible(&cmd) {
        command_section(sub, &mut out);
    }
    out.extend_from_slice(BUHBOT_8_TAIL.as_bytes());
    out
}

/// The subcommands a reader should see: not hidden, not clap's `help`.
fn visible(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
}

/// One command's `.SS` heading, description, synopsis and options, then its
/// own subcommands (recursively): clap_mangen renders one command per
/// `Man`, so its sections are re-headed to nest inside COMMANDS.
fn command_section(cmd: &clap::Command, out: &mut Vec<u8>) {
    let name = cmd.get_bin_name().unwrap_or_else(|| cmd.get_name());
    out.extend_from_slice(format!(".SS \"{}\"\n", esc(name)).as_bytes());
    let man = clap_mangen::Man::new(cmd.clone());
    let mut buf = Vec::new();
    man.render_synopsis_section(&mut buf).expect("write to Vec");
    out.extend_from_slice(&strip_preamble(&buf, true));
    let mut buf = Vec::new();
    man.render_description_section(&mut buf)
        .expect("write to Vec");
    let description = strip_preamble(&buf, true);
    if !description.is_empty() {
        out.extend_from_slice(b".PP\n");
        out.extend_from_slice(&description);
    }
    let mut buf = Vec::new();
    man.render_options_section(&mut buf).expect("write to Vec");
    let options = strip_preamble(&buf, true);
    if !options.is_empty() {
        out.extend_from_slice(b".PP\nOptions:\n");
        out.extend_from_slice(&options);
    }
    for sub in visible(cmd) {
        command_section(sub, out);
    }
}

/// Drops roff's `.ie`/`.el` preamble, which the page already carries from
/// its title, and with `headings` clap_mangen's `.SH` lines too, so that a
/// subcommand's sections nest under its `.SS`.
fn strip_preamble(roff: &[u8], headings: bool) -> Vec<u8> {
    let text = String::from_utf8_lossy(roff);
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with(".ie ")
            || line.starts_with(".el ")
            || (headings && line.starts_with(".SH "))
        {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.into_bytes()
}

/// Escapes text for a roff text line.
fn esc(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with(['.', '\'']) {
        format!("\\&{s}")
    } else {
        s
    }
}

pub fn run(args: &ManArgs) -> anyhow::Result<()> {
    let pages: Vec<(&str, Vec<u8>)> = match args.section.as_deref() {
        Some("5") => vec![("buhbot.toml.5", render_buhbot_toml_5())],
        Some(_) => vec![("buhbot.8", render_buhbot_8())],
        None if args.out.is_some() => vec![
            ("buhbot.8", render_buhbot_8()),
            ("buhbot.toml.5", render_buhbot_toml_5()),
        ],
        None => vec![("buhbot.8", render_buhbot_8())],
    };
    match &args.out {
        None => {
            let mut stdout = std::io::stdout().lock();
            for (_, page) in pages {
                stdout.write_all(&page)?;
            }
            stdout.flush()?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            for (name, page) in pages {
                let path = dir.join(name);
                std::fs::write(&path, page)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                println!("{}", path.display());
            }
        }
    }
    Ok(())
}

//! `cpim`: the command-line tool for people and scripts.
//!
//! Output contract: every command prints one JSON value on stdout and exits 0;
//! invalid input prints one line on stderr naming the position and exits 1;
//! usage errors exit 2.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod client;
mod message_cmd;
mod op_cmd;
mod pidf_cmd;
mod uri_cmd;
mod user_cmd;

#[derive(Parser)]
#[command(
    name = "cpim",
    version,
    about = "CPIM messages and presence from the command line"
)]
struct Cli {
    #[command(flatten)]
    connection: client::Connection,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse a CPIM value and print it as JSON.
    #[command(subcommand)]
    Parse(ParseCommand),
    /// Parse a document and write it back out in its serialised form.
    #[command(subcommand)]
    Fmt(FmtCommand),
    /// Accounts of a cpimd data directory.
    #[command(subcommand)]
    User(user_cmd::UserCommand),
    #[command(flatten)]
    Client(client::ClientCommand),
}

#[derive(Subcommand)]
enum ParseCommand {
    /// An `im:` or `pres:` URI.
    Uri { uri: String },
    /// A message/cpim body, a MIME entity of type message/cpim, or a
    /// multipart/signed entity whose first part is one.
    Message {
        /// An extension header this caller implements, as `NS-URI#NAME`.
        #[arg(long = "understand", value_name = "NS-URI#NAME")]
        understand: Vec<String>,
        /// Input file, or `-` for standard input.
        input: PathBuf,
    },
    /// A PIDF document (`application/pidf+xml`).
    Pidf { input: PathBuf },
    /// A CPIM operation in the draft's XML notation.
    Op { input: PathBuf },
}

#[derive(Subcommand)]
enum FmtCommand {
    /// A message/cpim message.
    Message { input: PathBuf },
    /// A PIDF document.
    Pidf { input: PathBuf },
}

/// Why a command failed; decides the exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The input was read but is not valid; the text names the position.
    #[error("{0}")]
    Invalid(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// The command line itself is wrong.
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Invalid(_) | CliError::Read { .. } => 1,
            CliError::Usage(_) => 2,
        }
    }
}

/// What a command produced: JSON to print, or raw bytes (from `fmt`).
pub enum Output {
    Json(serde_json::Value),
    Bytes(Vec<u8>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::User(command) => user_cmd::run(command).map(Output::Json),
        Command::Client(command) => return client::run(&cli.connection, command),
        Command::Parse(ParseCommand::Uri { uri }) => uri_cmd::parse(&uri).map(Output::Json),
        Command::Parse(ParseCommand::Message { understand, input }) => read_input(&input)
            .and_then(|bytes| message_cmd::parse(&bytes, &understand))
            .map(Output::Json),
        Command::Parse(ParseCommand::Pidf { input }) => read_input(&input)
            .and_then(|bytes| pidf_cmd::parse(&bytes))
            .map(Output::Json),
        Command::Parse(ParseCommand::Op { input }) => read_input(&input)
            .and_then(|bytes| op_cmd::parse(&bytes))
            .map(Output::Json),
        Command::Fmt(FmtCommand::Message { input }) => read_input(&input)
            .and_then(|bytes| message_cmd::fmt(&bytes))
            .map(Output::Bytes),
        Command::Fmt(FmtCommand::Pidf { input }) => read_input(&input)
            .and_then(|bytes| pidf_cmd::fmt(&bytes))
            .map(Output::Bytes),
    };
    match result {
        Ok(output) => write_output(output),
        Err(error) => {
            eprintln!("cpim: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

fn write_output(output: Output) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    let written = match output {
        Output::Json(value) => writeln!(stdout, "{value}"),
        Output::Bytes(bytes) => stdout.write_all(&bytes),
    };
    match written.and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cpim: cannot write output: {error}");
            ExitCode::from(1)
        }
    }
}

/// Reads a file, or standard input when the path is `-`.
pub fn read_input(path: &std::path::Path) -> Result<Vec<u8>, CliError> {
    let mut bytes = Vec::new();
    let read = if path.as_os_str() == "-" {
        std::io::stdin().lock().read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|mut file| file.read_to_end(&mut bytes))
    };
    read.map_err(|source| CliError::Read {
        path: path.display().to_string(),
        source,
    })?;
    Ok(bytes)
}

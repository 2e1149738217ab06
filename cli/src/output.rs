//! How the AWS-facing subcommands answer: one JSON object on stdout; exit 0 done, 1 refused
//! (`{"status":"error","error":code,"message":…}`), 2 usage or configuration error (stderr).

use std::process::ExitCode;

use samlgate_domain::VaultError;
use serde_json::json;

pub fn emit(value: &serde_json::Value) -> ExitCode {
    println!("{value}");
    ExitCode::SUCCESS
}

pub fn fail(error: &VaultError) -> ExitCode {
    println!(
        "{}",
        json!({"status": "error", "error": error.code(), "message": error.to_string()})
    );
    ExitCode::from(1)
}

pub fn usage(message: &str) -> ExitCode {
    eprintln!("samlgate: {message}");
    ExitCode::from(2)
}

//! The rotate function's entry point. The platform template wires it (role, schedule, alarms)
//! so that deployments carry it from the start; the rotation itself, IdP metadata refresh and
//! the expiry metrics the template's alarms read are issue 7. Until then a run does nothing
//! and says so in its result and its log line, rather than pretending to have rotated.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![forbid(unsafe_code)]

use serde::Deserialize;
use serde_json::{json, Value};

/// The scheduler's input (template.yaml, `RotateSchedule`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    pub source: String,
    pub action: String,
}

/// One run: refuses an input it does not know, reports what it did (nothing yet).
pub fn handle(event: &Value) -> Result<Value, String> {
    let run: Run = serde_json::from_value(event.clone())
        .map_err(|_| "invalid_event: expected {\"source\", \"action\"}".to_owned())?;
    if run.source != "samlgate.schedule" || run.action != "daily" {
        return Err("invalid_event: unknown source or action".to_owned());
    }
    Ok(json!({
        "action": run.action,
        "sp_keys_rotated": 0,
        "idp_metadata_refreshed": 0,
        "implemented": false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheduled_event_is_accepted_and_reports_nothing_done() {
        let out = handle(&json!({"source": "samlgate.schedule", "action": "daily"})).unwrap();
        assert_eq!(out["implemented"], false);
        assert_eq!(out["sp_keys_rotated"], 0);
    }

    #[test]
    fn anything_else_is_refused() {
        assert!(handle(&json!({"source": "aws.events"})).is_err());
        assert!(handle(&json!({"source": "samlgate.schedule", "action": "wipe"})).is_err());
        assert!(handle(&json!("daily")).is_err());
    }
}

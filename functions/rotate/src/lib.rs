//! The rotate function, daily from EventBridge Scheduler: SP key rotation and IdP metadata
//! refresh (`samlgate_idp::daily`), and the expiry and change metrics the template's alarms
//! watch, as Embedded Metric Format lines. It wraps new keys under organisation keys
//! (GenerateDataKey, `purpose=sp-key`) and never decrypts anything.

use std::sync::Arc;

use samlgate_domain::audit::Caller;
use samlgate_domain::clock::Clock;
use samlgate_domain::ports::{
    AuditLog, GenerateDataKey, MetadataFetcher, OrgDirectory, SpKeyStore, SsoConfigReader,
    SsoConfigWriter,
};
use samlgate_idp::daily::Daily;
use samlgate_idp::refresh::{Outcome, Refresh, RefreshReport};
use samlgate_idp::rotation::{Rotation, RotationReport};
use serde::Deserialize;
use serde_json::{json, Value};

/// The scheduler's input (template.yaml, `RotateSchedule`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    pub source: String,
    pub action: String,
}

/// Refuses an input it does not know.
pub fn parse_event(event: &Value) -> Result<Run, String> {
    let run: Run = serde_json::from_value(event.clone())
        .map_err(|_| "invalid_event: expected {\"source\", \"action\"}".to_owned())?;
    if run.source != "samlgate.schedule" || run.action != "daily" {
        return Err("invalid_event: unknown source or action".to_owned());
    }
    Ok(run)
}

/// rotate's capabilities: what its IAM role allows, nothing else.
#[derive(Clone)]
pub struct App {
    pub orgs: Arc<dyn OrgDirectory>,
    pub config: Arc<dyn SsoConfigReader>,
    pub writer: Arc<dyn SsoConfigWriter>,
    pub sp_keys: Arc<dyn SpKeyStore>,
    pub kms: Arc<dyn GenerateDataKey>,
    pub fetcher: Arc<dyn MetadataFetcher>,
    pub audit: Arc<dyn AuditLog>,
    pub clock: Arc<dyn Clock>,
    /// Local development: metadata URLs may be plain HTTP to loopback.
    pub allow_loopback_http: bool,
    /// The size limit of a federation aggregate (`SAMLGATE_METADATA_AGGREGATE_MAX_BYTES`).
    pub aggregate_max_bytes: usize,
}

/// What a run did: its summary (the invocation's result) and its metrics.
pub struct RunOutput {
    pub summary: Value,
    pub rotation: RotationReport,
    pub refresh: RefreshReport,
}

/// One daily run over every active organisation (`Daily::run`: SP key rotation, then
/// metadata refresh), and its summary.
pub async fn run(app: &App, event: &Value, correlation_id: &str) -> Result<RunOutput, String> {
    parse_event(event)?;
    let caller = Caller {
        actor: "samlgate-rotate".into(),
        correlation_id: correlation_id.to_owned(),
    };
    let daily = Daily {
        orgs: app.orgs.as_ref(),
        config: app.config.as_ref(),
        rotation: Rotation {
            keys: app.kms.as_ref(),
            config: app.config.as_ref(),
            store: app.sp_keys.as_ref(),
            audit: app.audit.as_ref(),
            clock: app.clock.as_ref(),
            caller: &caller,
        },
        refresh: Refresh {
            config: app.config.as_ref(),
            writer: app.writer.as_ref(),
            fetcher: app.fetcher.as_ref(),
            audit: app.audit.as_ref(),
            clock: app.clock.as_ref(),
            caller: &caller,
            allow_loopback_http: app.allow_loopback_http,
            aggregate_max_bytes: app.aggregate_max_bytes,
        },
    };
    let (rotation, refresh) = daily
        .run()
        .await
        .map_err(|e| format!("rotate_unavailable: {e}"))?;
    let summary = json!({
        "action": "daily",
        "orgs": rotation.orgs,
        "idps": rotation.idps,
        "sp_keys": {
            "published": rotation.published,
            "activated": rotation.activated,
            "retired": rotation.retired,
            "replaced": rotation.replaced,
            "already_done": rotation.already_done,
            "failures": rotation.failures,
            // Of the steps above, those of the organisations' token keys.
            "token_keys": rotation.token_rotations,
        },
        "idp_metadata": {
            "checked": refresh.idps.len(),
            "unchanged": refresh.count(&Outcome::Unchanged),
            "applied": refresh.count(&Outcome::Applied),
            "held": refresh.count(&Outcome::Held),
            "failed": refresh.count(&Outcome::Failed),
        },
    });
    Ok(RunOutput {
        summary,
        rotation,
        refresh,
    })
}

/// The run's metrics as Embedded Metric Format documents (one log line each), namespace
/// `samlgate`. Each per-IdP document is published twice: with `Org` and `Idp` dimensions (a
/// dashboard per IdP) and with none (what the template's alarms watch: the minimum over all
/// IdPs, the sum of changes and failures).
pub fn emf_lines(output: &RunOutput, timestamp_ms: i64) -> Vec<String> {
    let document = |org: &str, idp: &str, metrics: Vec<(&str, f64)>| {
        let definitions: Vec<Value> = metrics
            .iter()
            .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
            .collect();
        let mut doc = json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": "samlgate",
                    "Dimensions": [["Org", "Idp"], []],
                    "Metrics": definitions,
                }],
            },
            "Org": org,
            "Idp": idp,
        });
        for (name, value) in metrics {
            doc[name] = json!(value);
        }
        doc.to_string()
    };
    let mut lines = Vec::new();
    for sp in &output.rotation.per_idp {
        let mut metrics = vec![
            ("SpKeyRotations", sp.rotations as f64),
            ("SpKeyRotationFailures", sp.failures as f64),
        ];
        if let Some(days) = sp.days_left {
            metrics.push(("SpCertificateDaysLeft", days as f64));
        }
        lines.push(document(sp.org.as_str(), sp.idp.as_str(), metrics));
    }
    for idp in &output.refresh.days_left {
        lines.push(document(
            idp.org.as_str(),
            idp.idp.as_str(),
            vec![("IdpCertificateDaysLeft", idp.days as f64)],
        ));
    }
    for refreshed in &output.refresh.idps {
        let changed = matches!(refreshed.outcome, Outcome::Applied | Outcome::Held);
        let failed = refreshed.outcome == Outcome::Failed;
        lines.push(document(
            refreshed.org.as_str(),
            refreshed.idp.as_str(),
            vec![
                ("IdpMetadataChanges", f64::from(u8::from(changed))),
                ("IdpMetadataRefreshFailures", f64::from(u8::from(failed))),
            ],
        ));
    }
    // A heartbeat: the template alarms when a day passes without a completed run.
    let heartbeat = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": "samlgate",
                "Dimensions": [[]],
                "Metrics": [{"Name": "RotateRunsCompleted", "Unit": "Count"}],
            }],
        },
        "RotateRunsCompleted": 1,
    });
    lines.push(heartbeat.to_string());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_scheduled_event_is_accepted() {
        assert!(parse_event(&json!({"source": "samlgate.schedule", "action": "daily"})).is_ok());
        assert!(parse_event(&json!({"source": "aws.events"})).is_err());
        assert!(parse_event(&json!({"source": "samlgate.schedule", "action": "wipe"})).is_err());
        assert!(parse_event(&json!("daily")).is_err());
    }

    #[test]
    fn metrics_are_embedded_metric_format_with_and_without_dimensions() {
        use samlgate_domain::ids::{IdpId, OrgId};
        use samlgate_idp::rotation::SpIdpReport;
        let output = RunOutput {
            summary: json!({}),
            rotation: RotationReport {
                per_idp: vec![SpIdpReport {
                    org: OrgId::parse("acme").unwrap(),
                    idp: IdpId::parse("okta").unwrap(),
                    rotations: 1,
                    failures: 0,
                    days_left: Some(700),
                }],
                ..Default::default()
            },
            refresh: RefreshReport::default(),
        };
        let lines = emf_lines(&output, 1_800_000_000_000);
        let first: Value = serde_json::from_str(&lines[0]).unwrap();
        let cw = &first["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "samlgate");
        assert_eq!(cw["Dimensions"], json!([["Org", "Idp"], []]));
        assert_eq!(first["SpCertificateDaysLeft"], 700.0);
        assert_eq!(first["Org"], "acme");
        // Every metric a document declares is a top-level member (the EMF contract).
        for line in &lines {
            let doc: Value = serde_json::from_str(line).unwrap();
            for metric in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
            {
                let name = metric["Name"].as_str().unwrap();
                assert!(doc[name].is_number(), "{name} missing in {line}");
            }
        }
        assert!(lines.last().unwrap().contains("RotateRunsCompleted"));
    }
}

//! Embedded Metric Format (CloudWatch): a metric is a JSON line in the function's log, so
//! counting needs no `cloudwatch:PutMetricData` permission. Namespace `samlgate`.

use samlgate_domain::ids::{IdpId, OrgId};
use samlgate_domain::ports::Metrics;

/// Writes each count to stdout (the Lambda log) as one EMF document.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmfMetrics;

/// One EMF document: `metric` = 1, per organisation and IdP and without dimensions.
pub fn emf_count(org: &OrgId, idp: &IdpId, metric: &str, timestamp_ms: i64) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": "samlgate",
                "Dimensions": [["Org", "Idp"], []],
                "Metrics": [{"Name": metric, "Unit": "Count"}],
            }],
        },
        "Org": org.as_str(),
        "Idp": idp.as_str(),
        metric: 1,
    })
    .to_string()
}

impl Metrics for EmfMetrics {
    fn count(&self, org: &OrgId, idp: &IdpId, metric: &'static str) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        println!("{}", emf_count(org, idp, metric, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_is_an_emf_document_with_both_dimension_sets() {
        let line = emf_count(
            &OrgId::parse("acme").unwrap(),
            &IdpId::parse("okta").unwrap(),
            "AlgorithmExceptionsUsed",
            7,
        );
        let doc: serde_json::Value = serde_json::from_str(&line).unwrap();
        let cw = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "samlgate");
        assert_eq!(cw["Dimensions"], serde_json::json!([["Org", "Idp"], []]));
        assert_eq!(cw["Metrics"][0]["Name"], "AlgorithmExceptionsUsed");
        assert_eq!(
            (doc["Org"].as_str(), doc["AlgorithmExceptionsUsed"].as_i64()),
            (Some("acme"), Some(1))
        );
    }
}

//! Audit items (`AUDIT#{org}` / `{time}#{corr}#{seq}`): written once each, read newest first
//! for the console's search.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use samlgate_domain::audit::AuditEvent;
use samlgate_domain::ids::OrgId;
use samlgate_domain::ports::{AuditLog, AuditPage, AuditReader, AuditWindow};
use samlgate_domain::PortError;

use crate::errors::map;
use crate::keys::{aggregate_sk, audit_pk, audit_sk};
use crate::table::{decode, encode, Item, Table};

#[async_trait]
impl AuditLog for Table {
    async fn record(&self, event: &AuditEvent) -> Result<(), PortError> {
        const OP: &str = "dynamodb:PutItem";
        self.put_new(OP, audit_item(OP, event)?).await
    }

    /// One UpdateItem per failure: `ADD count 1` on the minute's aggregate, created by the
    /// first (its facts kept from then), with the latest correlation ID and the TTL.
    async fn count_failure(&self, event: &AuditEvent, expires_at: i64) -> Result<(), PortError> {
        const OP: &str = "dynamodb:UpdateItem";
        let idp = event.facts.get("idp").map_or("-", String::as_str);
        let sk = aggregate_sk(
            &sortable_instant(&event.at),
            &event.action,
            idp,
            event.reason.as_deref().unwrap_or("-"),
        );
        let pk = audit_pk(&event.org);
        let mut item = encode(OP, pk.clone(), sk.clone(), event)?;
        item.remove("pk");
        item.remove("sk");
        let key = HashMap::from([
            ("pk".to_owned(), AttributeValue::S(pk)),
            ("sk".to_owned(), AttributeValue::S(sk)),
        ]);
        item.remove("count");
        item.insert(
            "expires_at".into(),
            AttributeValue::N(expires_at.to_string()),
        );
        let mut sets = Vec::new();
        let mut names = HashMap::from([("#count".to_owned(), "count".to_owned())]);
        let mut values = HashMap::from([(":one".to_owned(), AttributeValue::N("1".into()))]);
        for (i, (name, value)) in item.into_iter().enumerate() {
            let (n, v) = (format!("#a{i}"), format!(":v{i}"));
            sets.push(if name == "facts" {
                format!("{n} = if_not_exists({n}, {v})")
            } else {
                format!("{n} = {v}")
            });
            names.insert(n, name);
            values.insert(v, value);
        }
        self.client()
            .update_item()
            .table_name(self.name())
            .set_key(Some(key))
            .update_expression(format!("SET {} ADD #count :one", sets.join(", ")))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        Ok(())
    }
}

/// An audit event as its item, written only where no item is (also inside the login steps'
/// transactions). Several events of one request share time and correlation ID (which is per
/// request, so per process); a process-wide sequence number keeps each its own item.
pub(crate) fn audit_item(op: &'static str, event: &AuditEvent) -> Result<Item, PortError> {
    let sk = audit_sk(
        &sortable_instant(&event.at),
        &event.correlation_id,
        next_sequence(),
    );
    encode(op, audit_pk(&event.org), sk, event)
}

/// Newest first (the sort key starts with the event's time); the cursor is the last item's
/// sort key, which the next page starts after.
#[async_trait]
impl AuditReader for Table {
    async fn audit_page(
        &self,
        org: &OrgId,
        window: AuditWindow,
        before: Option<&str>,
        limit: usize,
    ) -> Result<AuditPage, PortError> {
        const OP: &str = "dynamodb:Query";
        let pk = audit_pk(org);
        // Sort keys start with the event's sortable time: a window is a key condition, so a
        // search reads only the items in it. `until` is exclusive: every key of an event at
        // `until` continues past it (`…Z#…`) and sorts after it.
        let bound =
            |t| AttributeValue::S(sortable_instant(&samlgate_domain::clock::format_instant(t)));
        let (condition, bounds) = match (window.from, window.until) {
            (None, None) => ("pk = :pk", vec![]),
            (Some(from), None) => ("pk = :pk AND sk >= :from", vec![(":from", bound(from))]),
            (None, Some(until)) => ("pk = :pk AND sk < :until", vec![(":until", bound(until))]),
            (Some(from), Some(until)) => (
                "pk = :pk AND sk BETWEEN :from AND :until",
                vec![(":from", bound(from)), (":until", bound(until))],
            ),
        };
        let mut values = HashMap::from([(":pk".to_owned(), AttributeValue::S(pk.clone()))]);
        values.extend(bounds.into_iter().map(|(k, v)| (k.to_owned(), v)));
        let start = before.map(|sk| {
            HashMap::from([
                ("pk".to_owned(), AttributeValue::S(pk.clone())),
                ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
            ])
        });
        let out = self
            .client()
            .query()
            .table_name(self.name())
            .key_condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        let next = out
            .last_evaluated_key
            .as_ref()
            .and_then(|k| k.get("sk"))
            .and_then(|v| v.as_s().ok())
            .cloned();
        let events = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| decode(OP, item))
            .collect::<Result<Vec<AuditEvent>, PortError>>()?;
        Ok(AuditPage { events, next })
    }
}

/// An RFC 3339 UTC instant with its fraction padded to nanoseconds
/// (`2026-01-01T00:00:07.5Z` → `2026-01-01T00:00:07.500000000Z`), so that sort keys sort in
/// time order: RFC 3339 text with fractions of varying length does not (`07.5Z` sorts after
/// `07.51Z`, `07Z` after `07.1Z`). Anything else is kept as it is.
fn sortable_instant(at: &str) -> String {
    let Some(body) = at.strip_suffix('Z') else {
        return at.to_owned();
    };
    let (seconds, fraction) = body.split_once('.').unwrap_or((body, ""));
    if seconds.len() != 19 || fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return at.to_owned();
    }
    format!("{seconds}.{fraction:0<9}Z")
}

fn next_sequence() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEQ: AtomicU32 = AtomicU32::new(0);
    SEQ.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::sortable_instant;

    #[test]
    fn audit_sort_keys_sort_in_time_order() {
        let times = [
            "2026-01-01T00:00:06.999Z",
            "2026-01-01T00:00:07Z",
            "2026-01-01T00:00:07.1Z",
            "2026-01-01T00:00:07.5Z",
            "2026-01-01T00:00:07.51Z",
            "2026-01-01T00:00:07.999999999Z",
            "2026-01-01T00:00:08Z",
        ];
        let keys: Vec<String> = times.iter().map(|t| sortable_instant(t)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(
            sortable_instant("2026-01-01T00:00:07.5Z"),
            "2026-01-01T00:00:07.500000000Z"
        );
        assert_eq!(sortable_instant("not a time"), "not a time");
    }
}

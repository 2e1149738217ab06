//! Reading a JSON request body into one of our types, with a refusal that names the field and
//! what it accepts but never quotes what the client sent: a client may have pasted a secret
//! into the wrong field, and serde's own messages quote values (`invalid type: string "…"`,
//! `unknown variant `…``). The field is found with `serde_path_to_error`; the part of serde's
//! message that is ours (what was expected, the allowed names) is kept, the rest replaced.

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

use crate::error::{Result, VaultError};

/// Fields of earlier versions that a request may still carry, with what replaced them.
const REMOVED_FIELDS: &[(&str, &str)] = &[
    (
        "return_urls",
        "applications sign in as OIDC clients (POST /admin/orgs/{org}/clients)",
    ),
    (
        "app_audience",
        "applications sign in as OIDC clients (POST /admin/orgs/{org}/clients)",
    ),
];

/// The longest field name or map key a refusal repeats; longer ones are shown as `…`.
const MAX_NAME: usize = 64;

/// `T` from a JSON body, or `invalid_request` naming the field (`request_binding: unknown
/// value, expected `redirect` or `post``).
pub fn from_json<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|e| VaultError::InvalidRequest(refusal(&e)))?;
    deserializer.end().map_err(|e| {
        VaultError::InvalidRequest(format!(
            "body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    Ok(value)
}

/// `T` from a JSON value (a merged settings object), refused like [`from_json`].
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| VaultError::InvalidRequest(refusal(&e)))
}

/// RFC 7396 JSON Merge Patch: each member of `patch` replaces the one in `target`, objects
/// merge member by member, `null` removes (the field's default applies when read back), and an
/// array is replaced whole.
pub fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    use serde_json::Value;
    let Value::Object(members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(into) = target {
        for (name, value) in members {
            if value.is_null() {
                into.remove(name);
            } else {
                merge_patch(into.entry(name.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// `current` with `patch` merged in ([`merge_patch`]), read back as `T` (so a misspelt field
/// is refused like in a whole body). A patch is a JSON object.
pub fn patched<T: serde::Serialize + DeserializeOwned>(
    current: &T,
    patch: &serde_json::Value,
) -> Result<T> {
    if !patch.is_object() {
        return Err(VaultError::InvalidRequest(
            "a patch is a JSON object of the fields to change (RFC 7396 merge patch)".into(),
        ));
    }
    let mut merged =
        serde_json::to_value(current).map_err(|_| VaultError::Internal("serialisation"))?;
    merge_patch(&mut merged, patch);
    from_value(merged)
}

fn refusal(error: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let inner = error.inner();
    if inner.is_syntax() || inner.is_eof() || inner.is_io() {
        return format!(
            "body is not valid JSON (line {}, column {})",
            inner.line(),
            inner.column()
        );
    }
    // serde_json appends the position; what comes before it is serde's text.
    let text = inner.to_string();
    let suffix = format!(" at line {} column {}", inner.line(), inner.column());
    let text = text.strip_suffix(&suffix).unwrap_or(&text);
    let problem = problem(text);
    // The path of an unknown field ends with the field itself, which the problem names.
    let unknown = problem.strip_prefix("unknown field ");
    if let Some(field) = unknown {
        let name = field.split(',').next().unwrap_or("").trim_matches('`');
        if let Some((_, instead)) = REMOVED_FIELDS.iter().find(|(f, _)| *f == name) {
            return format!("{name} was removed: {instead}");
        }
    }
    match path(error.path(), usize::from(unknown.is_some())) {
        Some(path) => format!("{path}: {problem}"),
        None => problem,
    }
}

/// The field as `settings.mapping.email` or `certificates[2]`, without its last `drop`
/// segments; `None` at the top level. Map keys are the client's text: only short names of
/// letters, digits, `_`, `-` and `.` are repeated.
fn path(path: &serde_path_to_error::Path, drop: usize) -> Option<String> {
    let mut out = String::new();
    let segments: Vec<&Segment> = path.iter().collect();
    let keep = segments.len().saturating_sub(drop);
    for segment in &segments[..keep] {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&safe_name(key));
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

fn safe_name(name: &str) -> String {
    let plain = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if plain && !name.is_empty() && name.len() <= MAX_NAME {
        name.to_owned()
    } else {
        "…".to_owned()
    }
}

/// serde's message without the client's value. Everything after the last `, expected ` is
/// what our type expects (our field and variant names, a type's description), so it is kept.
fn problem(text: &str) -> String {
    let expected = text.rsplit_once(", expected ").map(|(_, e)| e);
    if let Some(rest) = text.strip_prefix("unknown field `") {
        // The field name is the client's text, but it is a key, not a value: repeated when it
        // looks like a name.
        let name = rest.split_once('`').map_or("", |(n, _)| n);
        return match expected {
            Some(expected) => format!("unknown field `{}`, expected {expected}", safe_name(name)),
            None => format!("unknown field `{}`", safe_name(name)),
        };
    }
    if text.starts_with("missing field `") || text.starts_with("duplicate field `") {
        return text.to_owned();
    }
    // Our own types' refusals (`OrgId`, `IdpId` through `try_from`): fixed texts that state
    // the rule, never the value.
    if let Some(ours) = text.strip_prefix("invalid request: ") {
        return ours.to_owned();
    }
    let kind = if text.starts_with("unknown variant ") {
        "unknown value"
    } else if text.starts_with("invalid type: ") {
        "wrong type"
    } else if text.starts_with("invalid length ") {
        "wrong number of items"
    } else {
        "invalid value"
    };
    match expected {
        Some(expected) => format!("{kind}, expected {expected}"),
        None => kind.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idp::{IdpSettings, SsoSettings};

    fn refused<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> String {
        match from_json::<T>(body.as_bytes()).unwrap_err() {
            VaultError::InvalidRequest(m) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_misspelt_field_is_named_with_the_allowed_ones() {
        let m = refused::<IdpSettings>(r#"{"allow_idp_initated": true}"#);
        assert!(
            m.starts_with("unknown field `allow_idp_initated`, expected one of"),
            "{m}"
        );
        assert!(m.contains("`allow_idp_initiated`"), "{m}");
        let m = refused::<IdpSettings>(r#"{"mapping": {"mail": "x"}}"#);
        assert!(m.starts_with("mapping: unknown field `mail`"), "{m}");
    }

    #[test]
    fn a_wrong_enum_value_names_the_field_and_the_values_but_not_the_value() {
        let m = refused::<IdpSettings>(r#"{"request_binding": "HTTP-POST"}"#);
        assert_eq!(
            m,
            "request_binding: unknown value, expected `redirect` or `post`"
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_is_never_quoted() {
        let canary = "CANARY-secret-4f1d";
        let m = refused::<IdpSettings>(&format!(r#"{{"sign_requests": "{canary}"}}"#));
        assert_eq!(m, "sign_requests: wrong type, expected a boolean");
        let m = refused::<IdpSettings>(&format!(r#"{{"clock_skew_secs": "{canary}"}}"#));
        assert!(
            m.starts_with("clock_skew_secs: wrong type, expected u32"),
            "{m}"
        );
        let m = refused::<IdpSettings>(&format!(r#"{{"{canary}, expected x": 1}}"#));
        assert!(!m.contains(canary), "{m}");
        let m = refused::<IdpSettings>(&format!(
            r#"{{"algorithm_exceptions": [1, {{"a": "{canary}"}}]}}"#
        ));
        assert!(m.starts_with("algorithm_exceptions[0]: wrong type"), "{m}");
        assert!(!m.contains(canary), "{m}");
    }

    #[test]
    fn our_own_rules_are_kept() {
        let m = refused::<SsoSettings>(r#"{"default_idp": "Not A Slug"}"#);
        assert_eq!(m, "default_idp: idp id must match [a-z][a-z0-9-]{0,31}");
    }

    #[test]
    fn syntax_errors_give_the_position_only() {
        let m = refused::<IdpSettings>("{\"sign_requests\": tru");
        assert!(
            m.starts_with("body is not valid JSON (line 1, column"),
            "{m}"
        );
        let m = refused::<IdpSettings>("{} trailing");
        assert!(m.starts_with("body is not valid JSON"), "{m}");
    }

    #[test]
    fn removed_fields_say_what_replaced_them() {
        let m = refused::<SsoSettings>(r#"{"return_urls": []}"#);
        assert!(
            m.starts_with("return_urls was removed: applications sign in as OIDC clients"),
            "{m}"
        );
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        use serde_json::json;
        let mut current = IdpSettings::default();
        current.mapping.email = Some("mail".into());
        current.algorithm_exceptions = vec!["sha1".into(), "rsa-sha1".into()];
        let merged = patched(&current, &json!({"request_binding": "post"})).unwrap();
        assert_eq!(merged.request_binding, crate::idp::RequestBinding::Post);
        assert_eq!(merged.mapping.email.as_deref(), Some("mail"));
        assert_eq!(merged.algorithm_exceptions, current.algorithm_exceptions);
        // Nested objects merge; null resets to the default; arrays are replaced whole.
        let merged = patched(
            &current,
            &json!({"mapping": {"name": "cn", "email": null}, "algorithm_exceptions": ["sha1"],
                    "clock_skew_secs": null}),
        )
        .unwrap();
        assert_eq!(merged.mapping.name.as_deref(), Some("cn"));
        assert_eq!(merged.mapping.email, None);
        assert_eq!(merged.algorithm_exceptions, ["sha1"]);
        assert_eq!(merged.clock_skew_secs, 180);
        // A misspelt field is refused, not ignored; so is a patch that is not an object.
        let e = patched(&current, &json!({"allow_idp_initated": true})).unwrap_err();
        assert!(
            e.to_string().contains("unknown field `allow_idp_initated`"),
            "{e}"
        );
        assert!(patched(&current, &json!([1])).is_err());
    }

    #[test]
    fn a_long_or_odd_key_is_not_repeated() {
        let key = "k".repeat(MAX_NAME + 1);
        let m = refused::<IdpSettings>(&format!(r#"{{"{key}": 1}}"#));
        assert!(m.starts_with("unknown field `…`"), "{m}");
        let m = refused::<IdpSettings>(r#"{"a b": 1}"#);
        assert!(m.starts_with("unknown field `…`"), "{m}");
    }
}

//! Collection listing as Watcher does it: `limit` (capped by `max_limit`),
//! `marker`, `sort_key`, `sort_dir`, and a `next` link when a page is full.

use super::error::ApiError;
use super::extract::{parse_uuid, Params};
use serde_json::Value;
use std::cmp::Ordering;
use uuid::Uuid;

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Ascending (default).
    Asc,
    /// Descending.
    Desc,
}

/// A validated list request.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Page size.
    pub limit: usize,
    /// Start after this record.
    pub marker: Option<Uuid>,
    /// Field to sort by; `id` is creation order.
    pub sort_key: String,
    /// Direction.
    pub sort_dir: Dir,
}

impl ListQuery {
    /// Validates `limit`, `marker`, `sort_key` and `sort_dir`.
    pub fn parse(params: &Params, sort_keys: &[&str], max_limit: usize) -> Result<Self, ApiError> {
        let limit = match params.get("limit") {
            None | Some("") => max_limit,
            Some(l) => {
                let n: i64 = l.parse().map_err(|_| {
                    ApiError::bad_request(format!("Invalid limit: '{l}'; expected an integer."))
                })?;
                if n <= 0 {
                    return Err(ApiError::bad_request("Limit must be positive"));
                }
                (n as u64).min(max_limit as u64) as usize
            }
        };
        let marker = match params.get("marker") {
            None | Some("") => None,
            Some(m) => Some(parse_uuid("marker", m)?),
        };
        let sort_key = params.get("sort_key").filter(|k| !k.is_empty()).unwrap_or("id").to_string();
        if !sort_keys.contains(&sort_key.as_str()) {
            return Err(ApiError::bad_request(format!(
                "The sort_key value {sort_key} is an invalid field for sorting"
            )));
        }
        let sort_dir = match params.get("sort_dir").unwrap_or("asc") {
            "asc" | "" => Dir::Asc,
            "desc" => Dir::Desc,
            other => {
                return Err(ApiError::bad_request(format!(
                    "Invalid sort direction: {other}. Acceptable values are 'asc' or 'desc'"
                )))
            }
        };
        Ok(ListQuery { limit, marker, sort_key, sort_dir })
    }
}

/// Orders JSON values: null first, then booleans, numbers, strings.
fn cmp_json(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().unwrap_or(0.0).partial_cmp(&y.as_f64().unwrap_or(0.0)).unwrap_or(Ordering::Equal)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)).then_with(|| a.to_string().cmp(&b.to_string())),
    }
}

/// One record to list: its creation id, uuid, and detail JSON (sorting
/// reads fields from it).
pub struct Row {
    /// Creation order.
    pub id: u64,
    /// Its uuid.
    pub uuid: Uuid,
    /// Detail rendering, used to sort.
    pub detail: Value,
    /// What the page shows (short or detail).
    pub shown: Value,
}

/// A page of a collection.
pub struct Page {
    /// The items shown.
    pub items: Vec<Value>,
    /// The last uuid of a full page, for the `next` link.
    pub last_of_full_page: Option<Uuid>,
}

/// Sorts, skips past the marker and cuts one page. `kind` names the
/// record in the "could not be found" message of an unknown marker.
pub fn page(mut rows: Vec<Row>, q: &ListQuery, kind: &str) -> Result<Page, ApiError> {
    rows.sort_by(|a, b| {
        let primary = if q.sort_key == "id" {
            a.id.cmp(&b.id)
        } else {
            cmp_json(&a.detail[&q.sort_key], &b.detail[&q.sort_key]).then(a.id.cmp(&b.id))
        };
        match q.sort_dir {
            Dir::Asc => primary,
            Dir::Desc => primary.reverse(),
        }
    });
    let start = match q.marker {
        None => 0,
        Some(m) => match rows.iter().position(|r| r.uuid == m) {
            Some(i) => i + 1,
            None => return Err(ApiError::not_found(format!("{kind} {m} could not be found."))),
        },
    };
    let rows: Vec<Row> = rows.into_iter().skip(start).take(q.limit).collect();
    let last_of_full_page = if rows.len() == q.limit { rows.last().map(|r| r.uuid) } else { None };
    Ok(Page { items: rows.into_iter().map(|r| r.shown).collect(), last_of_full_page })
}

/// A collection answer: `{key: [page], "next": link}` (no `next` on a
/// partial page). `filters` are carried into the `next` link.
#[allow(clippy::too_many_arguments)]
pub fn collection(
    rows: Vec<Row>,
    q: &ListQuery,
    kind: &str,
    key: &str,
    host: &str,
    path: &str,
    filters: &[(&str, Option<Uuid>)],
) -> Result<Value, ApiError> {
    let page = page(rows, q, kind)?;
    let mut body = serde_json::json!({ key: page.items });
    if let Some(last) = page.last_of_full_page {
        let filters: Vec<(&str, String)> =
            filters.iter().filter_map(|(k, v)| v.map(|v| (*k, v.to_string()))).collect();
        body["next"] = Value::String(next_link(host, path, q, &filters, last));
    }
    Ok(body)
}

/// The `next` link: the same query from after `marker`.
pub fn next_link(host: &str, path: &str, q: &ListQuery, filters: &[(&str, String)], marker: Uuid) -> String {
    let mut args: Vec<String> = filters.iter().map(|(k, v)| format!("{k}={v}")).collect();
    args.push(format!("sort_key={}", q.sort_key));
    args.push(format!("sort_dir={}", if q.sort_dir == Dir::Asc { "asc" } else { "desc" }));
    args.push(format!("limit={}", q.limit));
    args.push(format!("marker={marker}"));
    format!("{host}{path}?{}", args.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    fn rows(n: u64) -> Vec<Row> {
        (0..n)
            .map(|i| {
                let d = json!({"state": if i % 2 == 0 { "B" } else { "A" }, "n": i});
                Row { id: i, uuid: Uuid::from_u128(i as u128 + 1), detail: d.clone(), shown: d }
            })
            .collect()
    }

    #[test]
    fn limit_is_validated_and_capped() {
        let keys = ["id"];
        assert_eq!(ListQuery::parse(&params(&[]), &keys, 1000).unwrap().limit, 1000);
        assert_eq!(ListQuery::parse(&params(&[("limit", "5000")]), &keys, 1000).unwrap().limit, 1000);
        for bad in ["0", "-1", "x"] {
            assert_eq!(
                ListQuery::parse(&params(&[("limit", bad)]), &keys, 1000).unwrap_err().status,
                400,
                "{bad}"
            );
        }
        assert_eq!(ListQuery::parse(&params(&[("sort_key", "nope")]), &keys, 10).unwrap_err().status, 400);
        assert_eq!(ListQuery::parse(&params(&[("sort_dir", "up")]), &keys, 10).unwrap_err().status, 400);
        assert_eq!(ListQuery::parse(&params(&[("marker", "zz")]), &keys, 10).unwrap_err().status, 400);
    }

    #[test]
    fn pages_follow_the_marker_and_sorting() {
        let q = ListQuery::parse(&params(&[("limit", "2")]), &["id"], 10).unwrap();
        let p1 = page(rows(5), &q, "ActionPlan").unwrap();
        assert_eq!(p1.items.iter().map(|v| v["n"].as_u64().unwrap()).collect::<Vec<_>>(), vec![0, 1]);
        let q2 = ListQuery { marker: p1.last_of_full_page, ..q.clone() };
        let p2 = page(rows(5), &q2, "ActionPlan").unwrap();
        assert_eq!(p2.items.iter().map(|v| v["n"].as_u64().unwrap()).collect::<Vec<_>>(), vec![2, 3]);
        let q3 = ListQuery { marker: p2.last_of_full_page, ..q.clone() };
        let p3 = page(rows(5), &q3, "ActionPlan").unwrap();
        assert_eq!(p3.items.len(), 1);
        assert!(p3.last_of_full_page.is_none(), "a short page has no next link");

        let q =
            ListQuery::parse(&params(&[("sort_key", "state"), ("sort_dir", "desc")]), &["id", "state"], 10)
                .unwrap();
        let p = page(rows(4), &q, "ActionPlan").unwrap();
        assert_eq!(p.items.iter().map(|v| v["n"].as_u64().unwrap()).collect::<Vec<_>>(), vec![2, 0, 3, 1]);

        let unknown = ListQuery { marker: Some(Uuid::from_u128(999)), ..q };
        assert_eq!(page(rows(3), &unknown, "ActionPlan").err().unwrap().status, 404);
    }
}

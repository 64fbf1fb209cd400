//! Collection listing as Watcher does it: `limit` (capped by `max_limit`),
//! `marker`, `sort_key`, `sort_dir`, and a `next` link when a page is full.

use super::error::ApiError;
use super::extract::{parse_uuid, Params};
use rollback_store::{ActionSortKey, PlanSortKey};
use uuid::Uuid;

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Ascending (default).
    Asc,
    /// Descending.
    Desc,
}

/// A field a list may be sorted by: the store's typed keys.
pub trait SortKey: Copy + PartialEq {
    /// Creation order, the default.
    const ID: Self;
    /// The key named `name` (`sort_key=`).
    fn parse(name: &str) -> Option<Self>;
    /// Its name.
    fn name(self) -> &'static str;
}

impl SortKey for PlanSortKey {
    const ID: Self = PlanSortKey::Id;
    fn parse(name: &str) -> Option<Self> {
        PlanSortKey::parse(name)
    }
    fn name(self) -> &'static str {
        PlanSortKey::name(self)
    }
}

impl SortKey for ActionSortKey {
    const ID: Self = ActionSortKey::Id;
    fn parse(name: &str) -> Option<Self> {
        ActionSortKey::parse(name)
    }
    fn name(self) -> &'static str {
        ActionSortKey::name(self)
    }
}

/// The query of the list routes, as the OpenAPI document states it
/// ([`ListQuery::parse`] reads and checks it).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // The document's description of what `parse` reads.
pub struct ListParams {
    /// Page size (at most the server's max_limit).
    limit: Option<String>,
    /// The last uuid of the previous page.
    marker: Option<String>,
    /// The field to sort by (`id`: creation order).
    sort_key: Option<String>,
    /// `asc` or `desc`.
    sort_dir: Option<String>,
}

/// Filter of the plan lists.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Read by the handler from `Params`.
pub struct PlanFilter {
    /// Only plans of this audit.
    audit_uuid: Option<String>,
}

/// Filter of the action lists.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Read by the handler from `Params`.
pub struct ActionFilter {
    /// Only actions of this plan.
    action_plan_uuid: Option<String>,
    /// Only actions of this audit's plans.
    audit_uuid: Option<String>,
}

/// A validated list request.
#[derive(Debug, Clone)]
pub struct ListQuery<K> {
    /// Page size.
    pub limit: usize,
    /// Start after this record.
    pub marker: Option<Uuid>,
    /// Field to sort by; `id` is creation order.
    pub sort_key: K,
    /// Direction.
    pub sort_dir: Dir,
}

impl<K: SortKey> ListQuery<K> {
    /// Validates `limit`, `marker`, `sort_key` and `sort_dir`.
    pub fn parse(params: &Params, max_limit: usize) -> Result<Self, ApiError> {
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
        let sort_key = match params.get("sort_key").filter(|k| !k.is_empty()) {
            None => K::ID,
            Some(name) => K::parse(name).ok_or_else(|| {
                ApiError::bad_request(format!("The sort_key value {name} is an invalid field for sorting"))
            })?,
        };
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

/// One record to list: its position in the order asked for (bytes that
/// compare in the API's order, ties in creation order: the store's own
/// index key), its uuid, and what the page shows.
pub struct Row<T> {
    /// Where it sorts.
    pub position: Vec<u8>,
    /// Its uuid.
    pub uuid: Uuid,
    /// What the page shows (short or detail).
    pub shown: T,
}

/// A page of a collection.
pub struct Page<T> {
    /// The items shown.
    pub items: Vec<T>,
    /// The last uuid of a full page, for the `next` link.
    pub last_of_full_page: Option<Uuid>,
}

/// Sorts, skips past the marker and cuts one page. `kind` names the
/// record in the "could not be found" message of an unknown marker.
pub fn page<T, K>(mut rows: Vec<Row<T>>, q: &ListQuery<K>, kind: &str) -> Result<Page<T>, ApiError> {
    rows.sort_by(|a, b| match q.sort_dir {
        Dir::Asc => a.position.cmp(&b.position),
        Dir::Desc => b.position.cmp(&a.position),
    });
    let start = match q.marker {
        None => 0,
        Some(m) => match rows.iter().position(|r| r.uuid == m) {
            Some(i) => i + 1,
            None => return Err(ApiError::not_found(format!("{kind} {m} could not be found."))),
        },
    };
    let rows: Vec<Row<T>> = rows.into_iter().skip(start).take(q.limit).collect();
    let last_of_full_page = if rows.len() == q.limit { rows.last().map(|r| r.uuid) } else { None };
    Ok(Page { items: rows.into_iter().map(|r| r.shown).collect(), last_of_full_page })
}

/// A page and its `next` link (none on a partial page). `filters` are
/// carried into the link.
pub fn collection<T, K: SortKey>(
    rows: Vec<Row<T>>,
    q: &ListQuery<K>,
    kind: &str,
    (host, path): (&str, &str),
    filters: &[(&str, Option<Uuid>)],
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let page = page(rows, q, kind)?;
    let next = page.last_of_full_page.map(|last| {
        let filters: Vec<(&str, String)> =
            filters.iter().filter_map(|(k, v)| v.map(|v| (*k, v.to_string()))).collect();
        next_link(host, path, q, &filters, last)
    });
    Ok((page.items, next))
}

/// The `next` link: the same query from after `marker`.
pub fn next_link<K: SortKey>(
    host: &str,
    path: &str,
    q: &ListQuery<K>,
    filters: &[(&str, String)],
    marker: Uuid,
) -> String {
    let mut args: Vec<String> = filters.iter().map(|(k, v)| format!("{k}={v}")).collect();
    args.push(format!("sort_key={}", q.sort_key.name()));
    args.push(format!("sort_dir={}", if q.sort_dir == Dir::Asc { "asc" } else { "desc" }));
    args.push(format!("limit={}", q.limit));
    args.push(format!("marker={marker}"));
    format!("{host}{path}?{}", args.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    /// Rows whose position is (state, creation order), as the store's key
    /// is; `by_id` sorts them in creation order instead.
    fn rows(n: u64, by_id: bool) -> Vec<Row<u64>> {
        (0..n)
            .map(|i| {
                let state = if i % 2 == 0 { b'B' } else { b'A' };
                let position = if by_id { vec![i as u8] } else { vec![state, i as u8] };
                Row { position, uuid: Uuid::from_u128(i as u128 + 1), shown: i }
            })
            .collect()
    }

    #[test]
    fn limit_is_validated_and_capped() {
        let parse = |p: &[(&str, &str)], max| ListQuery::<PlanSortKey>::parse(&params(p), max);
        assert_eq!(parse(&[], 1000).unwrap().limit, 1000);
        assert_eq!(parse(&[("limit", "5000")], 1000).unwrap().limit, 1000);
        for bad in ["0", "-1", "x"] {
            assert_eq!(parse(&[("limit", bad)], 1000).unwrap_err().status, 400, "{bad}");
        }
        assert_eq!(parse(&[("sort_key", "nope")], 10).unwrap_err().status, 400);
        assert_eq!(parse(&[("sort_key", "state")], 10).unwrap().sort_key, PlanSortKey::State);
        assert_eq!(parse(&[("sort_dir", "up")], 10).unwrap_err().status, 400);
        assert_eq!(parse(&[("marker", "zz")], 10).unwrap_err().status, 400);
        let actions = ListQuery::<ActionSortKey>::parse(&params(&[("sort_key", "hostname")]), 10);
        assert_eq!(actions.unwrap_err().status, 400, "a plan field is not an action's");
    }

    #[test]
    fn pages_follow_the_marker_and_sorting() {
        let q = ListQuery::<PlanSortKey>::parse(&params(&[("limit", "2")]), 10).unwrap();
        let p1 = page(rows(5, true), &q, "ActionPlan").unwrap();
        assert_eq!(p1.items, vec![0, 1]);
        let q2 = ListQuery { marker: p1.last_of_full_page, ..q.clone() };
        let p2 = page(rows(5, true), &q2, "ActionPlan").unwrap();
        assert_eq!(p2.items, vec![2, 3]);
        let q3 = ListQuery { marker: p2.last_of_full_page, ..q.clone() };
        let p3 = page(rows(5, true), &q3, "ActionPlan").unwrap();
        assert_eq!(p3.items.len(), 1);
        assert!(p3.last_of_full_page.is_none(), "a short page has no next link");

        let q = ListQuery::<PlanSortKey>::parse(&params(&[("sort_key", "state"), ("sort_dir", "desc")]), 10)
            .unwrap();
        let p = page(rows(4, false), &q, "ActionPlan").unwrap();
        assert_eq!(p.items, vec![2, 0, 3, 1]);

        let unknown = ListQuery { marker: Some(Uuid::from_u128(999)), ..q };
        assert_eq!(page(rows(3, false), &unknown, "ActionPlan").err().unwrap().status, 404);
    }
}

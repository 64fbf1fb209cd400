//! Sort indexes: for every field a list may be sorted by, a tree order of
//! (field, value, id) → uuid, so that a page in any order is read from the
//! index instead of sorting the whole table.
//!
//! Creation order (`id`, the API's default) is kept from the start. Every
//! other order is built the first time a list asks for it and kept from
//! then on (`Tables::build_order`; which orders a store keeps is in its
//! `meta` tree), so a write pays one index entry per order in use, not one
//! per sortable field: most stores are only ever listed in creation order.
//!
//! A key is `[field number][value][id, u64 big-endian]` (for `id`, creation
//! order, just `[0][id]`). Values encode so
//! that byte order is the API's order: absent (null) first, then the
//! value — strings byte-wise (NUL escaped as `00 FF`, ended by `00 00`),
//! uuids as their 16 bytes (the order of their hyphenated text), times as
//! nanoseconds with the sign bit flipped. Equal values fall back to
//! creation order (the id), as the API's sort does.
//!
//! Entries are written outside the records' transaction (new ones before
//! it, removed ones after it; see `Tables::apply`), so an entry may name a
//! record that is not there or now has another key. Readers recompute the
//! record's key and skip such an entry: a record is listed once, at its
//! committed position.

use crate::model::{Action, ActionPlan, Timestamp};
use uuid::Uuid;

/// Fields a plan list may be sorted by; `id` is creation order.
pub const PLAN_SORT_KEYS: &[&str] = &[
    "id",
    "uuid",
    "audit_uuid",
    "strategy_name",
    "state",
    "status_message",
    "created_at",
    "updated_at",
    "deleted_at",
    "hostname",
    "finished_at",
    "rollback_of",
    "rolled_back_by",
];

/// Fields an action list may be sorted by; `id` is creation order.
pub const ACTION_SORT_KEYS: &[&str] = &[
    "id",
    "uuid",
    "action_plan_uuid",
    "action_type",
    "state",
    "description",
    "status_message",
    "created_at",
    "updated_at",
    "deleted_at",
];

enum V<'a> {
    /// `id` itself: the key is the field and the id.
    Nothing,
    Str(Option<&'a str>),
    Id(Option<Uuid>),
    Time(Option<Timestamp>),
}

fn encode(field: usize, v: V<'_>, id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(32);
    k.push(field as u8);
    match v {
        V::Nothing => {}
        V::Str(None) | V::Id(None) | V::Time(None) => k.push(0),
        V::Str(Some(s)) => {
            k.push(1);
            for &b in s.as_bytes() {
                k.push(b);
                if b == 0 {
                    k.push(0xFF);
                }
            }
            k.extend_from_slice(&[0, 0]);
        }
        V::Id(Some(u)) => {
            k.push(1);
            k.extend_from_slice(u.as_bytes());
        }
        V::Time(Some(t)) => {
            k.push(1);
            let nanos =
                t.timestamp_nanos_opt().unwrap_or(if t.timestamp() < 0 { i64::MIN } else { i64::MAX });
            k.extend_from_slice(&((nanos as u64) ^ (1 << 63)).to_be_bytes());
        }
    }
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn plan_value<'a>(p: &'a ActionPlan, field: &str) -> V<'a> {
    match field {
        "id" => V::Nothing,
        "uuid" => V::Id(Some(p.uuid)),
        "audit_uuid" => V::Id(p.audit_uuid),
        "strategy_name" => V::Str(Some(&p.strategy_name)),
        "state" => V::Str(Some(p.state.as_str())),
        "status_message" => V::Str(p.status_message.as_deref()),
        "created_at" => V::Time(Some(p.created_at)),
        "updated_at" => V::Time(p.updated_at),
        "deleted_at" => V::Time(p.deleted_at),
        "hostname" => V::Str(p.hostname.as_deref()),
        "finished_at" => V::Time(p.finished_at),
        "rollback_of" => V::Id(p.rollback_of),
        "rolled_back_by" => V::Id(p.rolled_back_by),
        other => unreachable!("{other} is not in PLAN_SORT_KEYS"),
    }
}

fn action_value<'a>(a: &'a Action, field: &str) -> V<'a> {
    match field {
        "id" => V::Nothing,
        "uuid" => V::Id(Some(a.uuid)),
        "action_plan_uuid" => V::Id(Some(a.action_plan_uuid)),
        "action_type" => V::Str(Some(&a.action_type)),
        "state" => V::Str(Some(a.state.as_str())),
        "description" => V::Str(Some(&a.description)),
        "status_message" => V::Str(a.status_message.as_deref()),
        "created_at" => V::Time(Some(a.created_at)),
        "updated_at" => V::Time(a.updated_at),
        "deleted_at" => V::Time(a.deleted_at),
        other => unreachable!("{other} is not in ACTION_SORT_KEYS"),
    }
}

/// The plan's key under sort field number `field`.
pub(crate) fn plan_key(p: &ActionPlan, field: usize) -> Vec<u8> {
    encode(field, plan_value(p, PLAN_SORT_KEYS[field]), p.id)
}

/// The action's key under sort field number `field`.
pub(crate) fn action_key(a: &Action, field: usize) -> Vec<u8> {
    encode(field, action_value(a, ACTION_SORT_KEYS[field]), a.id)
}

/// Index changes for a record going from `old` to `new` (`None`: absent)
/// in the orders `fields`: (key, `Some(uuid)` to insert | `None` to
/// remove), only where a key changed.
pub(crate) fn changes<T>(
    old: Option<&T>,
    new: &T,
    fields: &[usize],
    key: impl Fn(&T, usize) -> Vec<u8>,
    uuid: Uuid,
) -> Vec<(Vec<u8>, Option<Uuid>)> {
    let mut out = Vec::new();
    for &f in fields {
        let k = key(new, f);
        match old.map(|o| key(o, f)) {
            Some(ok) if ok == k => {}
            Some(ok) => {
                out.push((ok, None));
                out.push((k, Some(uuid)));
            }
            None => out.push((k, Some(uuid))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn byte_order_is_the_apis_order() {
        let s = |x: Option<&str>, id| encode(0, V::Str(x), id);
        assert!(s(None, 9) < s(Some(""), 1), "null first");
        assert!(s(Some(""), 9) < s(Some("\0"), 1));
        assert!(s(Some("a"), 9) < s(Some("a\0"), 1));
        assert!(s(Some("a\0"), 9) < s(Some("a\0\0"), 1));
        assert!(s(Some("ab"), 9) < s(Some("b"), 1));
        assert!(s(Some("b"), 1) < s(Some("b"), 2), "ties by id");
        let t = |secs| encode(0, V::Time(Some(chrono::Utc.timestamp_opt(secs, 0).unwrap())), 0);
        assert!(t(-5) < t(0) && t(0) < t(7) && t(7) < t(1_900_000_000));
        let u = |x: u128| encode(0, V::Id(Some(Uuid::from_u128(x))), 0);
        let (a, b) = (Uuid::from_u128(5 << 64), Uuid::from_u128(7));
        assert_eq!(u(5 << 64) > u(7), a.to_string() > b.to_string(), "uuid bytes sort as their text");
        assert!(encode(0, V::Str(Some("zzz")), 0) < encode(1, V::Str(None), 0), "fields do not mix");
    }
}

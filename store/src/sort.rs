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

/// Declares a sort-key enum: its variants are the fields in the order of
/// their field numbers (persisted in index keys: append only, never
/// reorder), each with its API name.
macro_rules! sort_keys {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $(
                #[doc = concat!("`", $text, "`")]
                $variant,
            )+
        }

        impl $name {
            /// Every key, in field-number order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Its name in the API (`sort_key=`).
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The key named `name`, if it is one.
            pub fn parse(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|k| k.name() == name)
            }

            /// Its field number in the index.
            pub(crate) fn field(self) -> usize {
                self as usize
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

sort_keys! {
    /// Fields a plan list may be sorted by; `Id` is creation order.
    PlanSortKey {
        Id = "id",
        Uuid = "uuid",
        AuditUuid = "audit_uuid",
        StrategyName = "strategy_name",
        State = "state",
        StatusMessage = "status_message",
        CreatedAt = "created_at",
        UpdatedAt = "updated_at",
        DeletedAt = "deleted_at",
        Hostname = "hostname",
        FinishedAt = "finished_at",
        RollbackOf = "rollback_of",
        RolledBackBy = "rolled_back_by",
    }
}

sort_keys! {
    /// Fields an action list may be sorted by; `Id` is creation order.
    ActionSortKey {
        Id = "id",
        Uuid = "uuid",
        ActionPlanUuid = "action_plan_uuid",
        ActionType = "action_type",
        State = "state",
        Description = "description",
        StatusMessage = "status_message",
        CreatedAt = "created_at",
        UpdatedAt = "updated_at",
        DeletedAt = "deleted_at",
    }
}

impl PlanSortKey {
    /// `p`'s position in this order, as bytes that compare in the API's
    /// order (the index's own key): for sorting plans that did not come
    /// from the index.
    pub fn position(self, p: &ActionPlan) -> Vec<u8> {
        plan_key(p, self.field())
    }
}

impl ActionSortKey {
    /// Like [`PlanSortKey::position`], for actions.
    pub fn position(self, a: &Action) -> Vec<u8> {
        action_key(a, self.field())
    }
}

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

fn plan_value(p: &ActionPlan, key: PlanSortKey) -> V<'_> {
    use PlanSortKey as K;
    match key {
        K::Id => V::Nothing,
        K::Uuid => V::Id(Some(p.uuid)),
        K::AuditUuid => V::Id(p.audit_uuid),
        K::StrategyName => V::Str(Some(&p.strategy_name)),
        K::State => V::Str(Some(p.state.as_str())),
        K::StatusMessage => V::Str(p.status_message.as_deref()),
        K::CreatedAt => V::Time(Some(p.created_at)),
        K::UpdatedAt => V::Time(p.updated_at),
        K::DeletedAt => V::Time(p.deleted_at),
        K::Hostname => V::Str(p.hostname.as_deref()),
        K::FinishedAt => V::Time(p.finished_at),
        K::RollbackOf => V::Id(p.rollback_of),
        K::RolledBackBy => V::Id(p.rolled_back_by),
    }
}

fn action_value(a: &Action, key: ActionSortKey) -> V<'_> {
    use ActionSortKey as K;
    match key {
        K::Id => V::Nothing,
        K::Uuid => V::Id(Some(a.uuid)),
        K::ActionPlanUuid => V::Id(Some(a.action_plan_uuid)),
        K::ActionType => V::Str(Some(&a.action_type)),
        K::State => V::Str(Some(a.state.as_str())),
        K::Description => V::Str(Some(&a.description)),
        K::StatusMessage => V::Str(a.status_message.as_deref()),
        K::CreatedAt => V::Time(Some(a.created_at)),
        K::UpdatedAt => V::Time(a.updated_at),
        K::DeletedAt => V::Time(a.deleted_at),
    }
}

/// The plan's key under sort field number `field`.
pub(crate) fn plan_key(p: &ActionPlan, field: usize) -> Vec<u8> {
    encode(field, plan_value(p, PlanSortKey::ALL[field]), p.id)
}

/// The action's key under sort field number `field`.
pub(crate) fn action_key(a: &Action, field: usize) -> Vec<u8> {
    encode(field, action_value(a, ActionSortKey::ALL[field]), a.id)
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

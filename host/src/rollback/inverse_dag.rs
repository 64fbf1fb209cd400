//! Builds the rollback plan's DAG from the original DAG and each action's
//! inverse actions.
//!
//! If B depended on A in the original, inverse(A) depends on inverse(B):
//! every first step of A's inverse (one with no dependency inside the
//! plugin's list) waits for every last step of B's inverse (one nothing in
//! the list waits for). An action with an empty inverse (a nop, a failed
//! action) passes the constraint through to its own children. Independent
//! branches stay parallel.
//!
//! An inverse marked `before_dependents` (it restores something the other
//! inverses need, like re-enabling a compute service) flips that edge: the
//! inverses of every action downstream of A (direct dependents and their
//! own dependents, transitively) wait for inverse(A) instead — except
//! actions on the same resource (same type and `resource_id`) and what lies
//! beyond them, whose order must be strictly reversed (power on, off, on
//! undoes as off, on, off). Restores further down do not wait for it:
//! restores run first, side by side.

use std::collections::HashMap;

/// One original action: its parents (indices), the dependency lists of its
/// inverse actions (indices local to that list), and whether its inverse
/// runs before the inverses of its dependents.
pub struct Node {
    /// Indices of the original action's parents.
    pub parents: Vec<usize>,
    /// For each inverse action, the local indices it depends on.
    pub inverse_deps: Vec<Vec<usize>>,
    /// The inverse runs before, not after, its dependents' inverses.
    pub early: bool,
    /// What the original acted on (type and `resource_id`), if known.
    pub resource: Option<String>,
}

/// Where each inverse action goes in the new plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// Index of the original action.
    pub original: usize,
    /// Index in that action's inverse list.
    pub step: usize,
    /// Positions (in the returned list) of the actions it depends on.
    pub parents: Vec<usize>,
}

/// The inverse DAG would have a cycle (plugins marked inverses in a way
/// that cannot all hold).
#[derive(Debug, PartialEq, Eq)]
pub struct Cycle;

/// Orders originals children-first (reverse topological order).
fn children_first(nodes: &[Node], children: &[Vec<usize>]) -> Vec<usize> {
    let mut waiting: Vec<usize> = children.iter().map(Vec::len).collect();
    let mut ready: Vec<usize> = (0..nodes.len()).rev().filter(|&i| waiting[i] == 0).collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(i) = ready.pop() {
        order.push(i);
        for &p in &nodes[i].parents {
            waiting[p] -= 1;
            if waiting[p] == 0 {
                ready.push(p);
            }
        }
    }
    order
}

/// Places every inverse action; the list is in an order where every action
/// comes after those it depends on.
///
/// When the restores' order forms a cycle with the same-resource order
/// (two resources toggled twice, each pair straddling the other: disable
/// host A, power off B, enable A, power on B, with random edges between),
/// it is placed again with the restores ordered only against the inverses
/// of actions whose resource has no restore of its own upstream (moves and
/// other one-way changes: what a restore is for); against a resource with
/// its own restore, already tied by its strict reverse order, a restore
/// on another resource is left unordered. If that cycles too, the caller
/// falls back to strict reverse order.
pub fn build(nodes: &[Node]) -> Result<Vec<Placed>, Cycle> {
    build_with(nodes, false).or_else(|Cycle| build_with(nodes, true))
}

/// Whether a restore upstream of action `d` acts on `d`'s own resource.
/// `seen` is shared by every call (`seen[a] == d + 1`: visited for `d`).
fn restored_upstream(nodes: &[Node], d: usize, seen: &mut [usize]) -> bool {
    let Some(resource) = nodes[d].resource.as_ref() else { return false };
    let mut stack: Vec<usize> = nodes[d].parents.clone();
    while let Some(a) = stack.pop() {
        if std::mem::replace(&mut seen[a], d + 1) == d + 1 {
            continue;
        }
        if nodes[a].early && nodes[a].resource.as_ref() == Some(resource) {
            return true;
        }
        stack.extend(nodes[a].parents.iter().copied());
    }
    false
}

fn build_with(nodes: &[Node], relaxed: bool) -> Result<Vec<Placed>, Cycle> {
    let n = nodes.len();
    let mut seen = vec![0usize; n];
    let tied: Vec<bool> = (0..n).map(|d| relaxed && restored_upstream(nodes, d, &mut seen)).collect();
    let mut children = vec![Vec::new(); n];
    for (i, node) in nodes.iter().enumerate() {
        for &p in &node.parents {
            children[p].push(i);
        }
    }
    let order = children_first(nodes, &children);

    // Slots, in children-first order: (original, step).
    let mut slot_of: HashMap<(usize, usize), usize> = HashMap::new();
    let mut slots: Vec<(usize, usize)> = Vec::new();
    for &i in &order {
        for step in 0..nodes[i].inverse_deps.len() {
            slot_of.insert((i, step), slots.len());
            slots.push((i, step));
        }
    }
    let roots = |i: usize| -> Vec<usize> {
        let deps = &nodes[i].inverse_deps;
        (0..deps.len()).filter(|&s| deps[s].is_empty()).map(|s| slot_of[&(i, s)]).collect()
    };
    let sinks = |i: usize| -> Vec<usize> {
        let deps = &nodes[i].inverse_deps;
        (0..deps.len()).filter(|s| !deps.iter().any(|d| d.contains(s))).map(|s| slot_of[&(i, s)]).collect()
    };
    // What each early inverse goes before: every action downstream of it
    // (direct dependents and theirs, transitively; a migration waiting for
    // two migrations off a disabled host moves something back there too),
    // except actions on its own resource and everything beyond one by any
    // path, whose order stays the strict reverse one.
    let mut before: Vec<Vec<bool>> = vec![Vec::new(); n];
    for i in (0..n).filter(|&i| nodes[i].early && !nodes[i].inverse_deps.is_empty()) {
        let same = |d: usize| nodes[i].resource.is_some() && nodes[d].resource == nodes[i].resource;
        let mut below = vec![false; n];
        let mut stack: Vec<usize> = children[i].clone();
        while let Some(d) = stack.pop() {
            if !std::mem::replace(&mut below[d], true) {
                stack.extend(children[d].iter().copied());
            }
        }
        let mut beyond = vec![false; n];
        let mut stack: Vec<usize> = (0..n).filter(|&d| below[d] && same(d)).collect();
        while let Some(d) = stack.pop() {
            if !std::mem::replace(&mut beyond[d], true) {
                stack.extend(children[d].iter().copied());
            }
        }
        before[i] = (0..n).map(|d| below[d] && !beyond[d] && !tied[d]).collect();
    }
    let flips = |i: usize, d: usize| before[i].get(d).copied().unwrap_or(false);
    // Relaxed: a restore and a tied action on another resource below it
    // are not ordered at all (neither restore-first nor reverse order).
    let loose = |i: usize, d: usize| {
        tied[d]
            && nodes[i].early
            && !nodes[i].inverse_deps.is_empty()
            && nodes[d].resource != nodes[i].resource
    };

    // `done[i]`: the inverses whose end means everything from i down is
    // undone (passing through empty inverses). An early inverse does not
    // wait for what it goes before, so its set also holds those children's:
    // whatever waited for it still waits for them (the disable of a host
    // that a later maintenance disabled again must not come back before the
    // servers that maintenance moved off it).
    let mut done: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &i in &order {
        let mut d: Vec<usize> = if nodes[i].inverse_deps.is_empty() { Vec::new() } else { sinks(i) };
        for &c in &children[i] {
            if nodes[i].inverse_deps.is_empty() || flips(i, c) || loose(i, c) {
                d.extend(done[c].iter().copied());
            }
        }
        d.sort_unstable();
        d.dedup();
        done[i] = d;
    }

    // Edges: slot → the slots it waits for.
    let mut waits: Vec<Vec<usize>> = vec![Vec::new(); slots.len()];
    for (k, &(i, step)) in slots.iter().enumerate() {
        waits[k].extend(nodes[i].inverse_deps[step].iter().map(|&d| slot_of[&(i, d)]));
    }
    for i in 0..n {
        if nodes[i].inverse_deps.is_empty() {
            continue;
        }
        // Reverse order: after what its children leave undone.
        for &c in children[i].iter().filter(|&&c| !flips(i, c) && !loose(i, c)) {
            for r in roots(i) {
                waits[r].extend(done[c].iter().copied().filter(|&d| slots[d].0 != i));
            }
        }
        // A restore goes first. Restores are not ordered among themselves
        // (ordering them ties knots with a resource toggled twice). Only an
        // early inverse flips anything: the others skip the O(n) scan.
        if before[i].is_empty() {
            continue;
        }
        for d in (0..n).filter(|&d| flips(i, d) && !nodes[d].early) {
            for r in roots(d) {
                waits[r].extend(sinks(i));
            }
        }
    }
    // Same resource: strictly reversed, explicitly (a flip elsewhere must
    // not loosen it): each inverse waits for the inverse of the nearest
    // later action on its resource. `seen[a] == i + 1`: visited from i (one
    // array for every walk: a fresh one per action made this O(n²)).
    seen.fill(0);
    for i in 0..n {
        let Some(resource) = nodes[i].resource.as_ref() else { continue };
        if nodes[i].inverse_deps.is_empty() {
            continue;
        }
        let mut stack: Vec<usize> = nodes[i].parents.clone();
        while let Some(a) = stack.pop() {
            if std::mem::replace(&mut seen[a], i + 1) == i + 1 {
                continue;
            }
            if nodes[a].resource.as_ref() == Some(resource) && !nodes[a].inverse_deps.is_empty() {
                for r in roots(a) {
                    waits[r].extend(sinks(i));
                }
                continue;
            }
            stack.extend(nodes[a].parents.iter().copied());
        }
    }
    for w in &mut waits {
        w.sort_unstable();
        w.dedup();
    }

    // Topological order of the slots (stable: children-first order first).
    let mut pending: Vec<usize> = waits.iter().map(Vec::len).collect();
    let mut followers = vec![Vec::new(); slots.len()];
    for (k, w) in waits.iter().enumerate() {
        for &d in w {
            followers[d].push(k);
        }
    }
    let mut ready: std::collections::BTreeSet<usize> =
        (0..slots.len()).filter(|&k| pending[k] == 0).collect();
    let mut position = vec![usize::MAX; slots.len()];
    let mut out: Vec<Placed> = Vec::with_capacity(slots.len());
    while let Some(k) = ready.pop_first() {
        position[k] = out.len();
        let (original, step) = slots[k];
        out.push(Placed { original, step, parents: waits[k].iter().map(|&d| position[d]).collect() });
        for &f in &followers[k] {
            pending[f] -= 1;
            if pending[f] == 0 {
                ready.insert(f);
            }
        }
    }
    if out.len() != slots.len() {
        return Err(Cycle);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(parents: &[usize], inverse_deps: Vec<Vec<usize>>) -> Node {
        Node { parents: parents.to_vec(), inverse_deps, early: false, resource: None }
    }

    fn early(parents: &[usize]) -> Node {
        Node { parents: parents.to_vec(), inverse_deps: vec![vec![]], early: true, resource: None }
    }

    fn on(parents: &[usize], resource: &str, early: bool) -> Node {
        Node { parents: parents.to_vec(), inverse_deps: vec![vec![]], early, resource: Some(resource.into()) }
    }

    /// An inverse action: (original, step).
    type Step = (usize, usize);
    /// Each step with the steps it depends on.
    type Edges = Vec<(Step, Vec<Step>)>;

    /// (original, step) → the (original, step) pairs it depends on.
    fn edges(nodes: &[Node]) -> Edges {
        let placed = build(nodes).unwrap();
        placed
            .iter()
            .map(|p| {
                let mut deps: Vec<Step> =
                    p.parents.iter().map(|&q| (placed[q].original, placed[q].step)).collect();
                deps.sort();
                ((p.original, p.step), deps)
            })
            .collect()
    }

    fn deps_of(e: &[(Step, Vec<Step>)], key: Step) -> Vec<Step> {
        e.iter().find(|(k, _)| *k == key).unwrap().1.clone()
    }

    #[test]
    fn a_chain_is_reversed() {
        let e = edges(&[node(&[], vec![vec![]]), node(&[0], vec![vec![]]), node(&[1], vec![vec![]])]);
        assert_eq!(e, vec![((2, 0), vec![]), ((1, 0), vec![(2, 0)]), ((0, 0), vec![(1, 0)])]);
    }

    #[test]
    fn independent_branches_stay_parallel() {
        let e = edges(&[node(&[], vec![vec![]]), node(&[], vec![vec![]])]);
        assert!(e.iter().all(|(_, deps)| deps.is_empty()), "{e:?}");
    }

    #[test]
    fn an_empty_inverse_passes_the_order_through() {
        let e = edges(&[node(&[], vec![vec![]]), node(&[0], vec![]), node(&[1], vec![vec![]])]);
        assert_eq!(e, vec![((2, 0), vec![]), ((0, 0), vec![(2, 0)])]);
    }

    #[test]
    fn multi_step_inverses_keep_their_order_and_join_at_the_ends() {
        let e = edges(&[node(&[], vec![vec![]]), node(&[0], vec![vec![], vec![0]])]);
        assert_eq!(e, vec![((1, 0), vec![]), ((1, 1), vec![(1, 0)]), ((0, 0), vec![(1, 1)])]);
    }

    #[test]
    fn a_diamond_joins_both_branches() {
        let e = edges(&[
            node(&[], vec![vec![]]),
            node(&[0], vec![vec![]]),
            node(&[0], vec![vec![]]),
            node(&[1, 2], vec![vec![]]),
        ]);
        assert_eq!(deps_of(&e, (0, 0)), vec![(1, 0), (2, 0)]);
        assert_eq!(deps_of(&e, (1, 0)), vec![(3, 0)]);
    }

    #[test]
    fn host_maintenance_undoes_as_power_on_enable_then_migrate_back() {
        // disable(0) → migrate(1), migrate(2) → power off(3)
        let e = edges(&[early(&[]), node(&[0], vec![vec![]]), node(&[0], vec![vec![]]), early(&[1, 2])]);
        assert_eq!(deps_of(&e, (3, 0)), vec![], "power on first");
        assert_eq!(deps_of(&e, (0, 0)), vec![], "enable does not wait for the migrations");
        assert_eq!(
            deps_of(&e, (1, 0)),
            vec![(0, 0), (3, 0)],
            "each migrate back waits for power on and enable"
        );
        assert_eq!(deps_of(&e, (2, 0)), vec![(0, 0), (3, 0)]);
    }

    #[test]
    fn toggles_of_one_resource_undo_in_strict_reverse_even_when_early() {
        // power on(0) → off(1) → on(2), one node; inverse(1) = on is early.
        let e = edges(&[on(&[], "power:n", false), on(&[0], "power:n", true), on(&[1], "power:n", false)]);
        assert_eq!(e, vec![((2, 0), vec![]), ((1, 0), vec![(2, 0)]), ((0, 0), vec![(1, 0)])]);
        // The same through a nop.
        let e = edges(&[on(&[], "power:n", true), node(&[0], vec![]), on(&[1], "power:n", false)]);
        assert_eq!(deps_of(&e, (0, 0)), vec![(2, 0)]);
    }

    #[test]
    fn a_flip_between_resources_keeps_each_resource_strictly_reversed() {
        // power on(0) → enable(1) → power off(2) → disable(3), one host.
        // inverse(2) = power on is early, so inverse(3) = enable may run
        // before it; but enable and the undo of enable(1) must stay ordered.
        let e = edges(&[
            on(&[], "power:h", false),
            on(&[0], "service:h", false),
            on(&[1], "power:h", true),
            on(&[2], "service:h", true),
        ]);
        assert!(deps_of(&e, (1, 0)).contains(&(3, 0)), "undo enable(1) after undo disable(3): {e:?}");
        assert!(deps_of(&e, (0, 0)).contains(&(2, 0)), "undo power on(0) after undo power off(2): {e:?}");
    }

    #[test]
    fn a_restore_does_not_jump_what_follows_a_later_change_of_its_resource() {
        // X(early, r) → B(r) → A(other), A also after X: A comes after B, so
        // its inverse goes before B's and X's (this was a cycle once, and
        // the fallback undid everything in strict reverse order).
        let nodes = [on(&[], "r", true), on(&[0], "r", false), on(&[0, 1], "other", false)];
        let e = edges(&nodes);
        assert_eq!(e, vec![((2, 0), vec![]), ((1, 0), vec![(2, 0)]), ((0, 0), vec![(1, 0), (2, 0)])]);
    }

    #[test]
    fn an_early_inverse_comes_before_everything_downstream_of_it() {
        // Watcher 9's host_maintenance on compute-1: disable(0) → migrate
        // vm-3(1), vm-2(2) → migrate vm-1(3) after both. Moving vm-1 back
        // needs compute-1 enabled as much as the other two do.
        let e = edges(&[
            early(&[]),
            node(&[0], vec![vec![]]),
            node(&[0], vec![vec![]]),
            node(&[1, 2], vec![vec![]]),
        ]);
        assert_eq!(deps_of(&e, (0, 0)), vec![], "enable first");
        assert_eq!(deps_of(&e, (3, 0)), vec![(0, 0)], "vm-1 back after the enable");
        assert_eq!(deps_of(&e, (1, 0)), vec![(0, 0), (3, 0)]);
        assert_eq!(deps_of(&e, (2, 0)), vec![(0, 0), (3, 0)]);
    }

    #[test]
    fn what_waited_for_an_early_inverse_still_waits_for_what_lies_below_it() {
        // enable h(0) → disable h(1, early) → migrate off h(2): undoing the
        // enable (a disable) must wait until the server is back on h.
        let e = edges(&[on(&[], "service:h", false), on(&[0], "service:h", true), node(&[1], vec![vec![]])]);
        assert_eq!(deps_of(&e, (2, 0)), vec![(1, 0)], "back after the re-enable");
        assert!(deps_of(&e, (0, 0)).contains(&(2, 0)), "disabled again only after: {e:?}");
    }

    #[test]
    fn restores_of_different_resources_keep_reverse_order_and_tie_no_knot() {
        // Found by the properties: power off c4(0, early) → disable c2(1,
        // early) → power on c4(2). Flipping 0 before 1 and 1 before 2 while
        // c4's toggles stay strictly reversed was a cycle, and the fallback
        // (strict reverse everywhere) sent servers back to disabled hosts.
        let nodes = [on(&[], "power:c4", true), on(&[0], "service:c2", true), on(&[0, 1], "power:c4", false)];
        let e = edges(&nodes);
        assert_eq!(deps_of(&e, (2, 0)), vec![(1, 0)], "power off again after the enable: {e:?}");
        assert_eq!(deps_of(&e, (0, 0)), vec![(2, 0)], "then on, strictly reversed: {e:?}");
    }

    #[test]
    fn two_maintenances_bring_every_server_back_after_both_enables() {
        // Found by the properties: disable c1(0) → web-1 to c2(1) → web-2
        // to c3(2) → disable c2(3) → web-1 to c3(4) → web-3 to c3(5).
        let nodes = [
            on(&[], "service:c1", true),
            on(&[0], "migrate:web-1", false),
            on(&[1], "migrate:web-2", false),
            on(&[0, 1, 2], "service:c2", true),
            on(&[1, 3], "migrate:web-1", false),
            on(&[4], "migrate:web-3", false),
        ];
        let e = edges(&nodes);
        assert_eq!(deps_of(&e, (3, 0)), vec![], "{e:?}");
        assert_eq!(deps_of(&e, (0, 0)), vec![], "both enables first: {e:?}");
        for moved in [1, 2, 4, 5] {
            assert!(deps_of(&e, (moved, 0)).contains(&(0, 0)), "{moved} after enabling c1: {e:?}");
        }
        assert!(deps_of(&e, (4, 0)).contains(&(3, 0)), "{e:?}");
        assert!(deps_of(&e, (1, 0)).contains(&(4, 0)), "web-1's moves strictly reversed: {e:?}");
    }

    #[test]
    fn a_restore_flips_nothing_beyond_a_later_change_of_its_resource() {
        // disable h(0) → enable h(1) → migrate onto h(2), and 0 → 2 as well:
        // the server leaves h before h is disabled again, by either path.
        let nodes =
            [on(&[], "service:h", true), on(&[0], "service:h", false), on(&[0, 1], "migrate:m", false)];
        let e = edges(&nodes);
        assert_eq!(deps_of(&e, (2, 0)), vec![], "{e:?}");
        assert_eq!(deps_of(&e, (1, 0)), vec![(2, 0)], "{e:?}");
        assert!(deps_of(&e, (0, 0)).contains(&(1, 0)), "{e:?}");
    }

    #[test]
    fn a_resource_toggled_under_a_restore_ties_no_knot() {
        // Found by the properties: disable c4(0) → power off c4(1) → power
        // on c4(2): enable first, then power off again, then on.
        let nodes = [on(&[], "service:c4", true), on(&[0], "power:c4", true), on(&[1], "power:c4", false)];
        let e = edges(&nodes);
        assert_eq!(deps_of(&e, (0, 0)), vec![], "{e:?}");
        assert_eq!(deps_of(&e, (2, 0)), vec![(0, 0)], "{e:?}");
        assert_eq!(deps_of(&e, (1, 0)), vec![(2, 0)], "{e:?}");
    }

    #[test]
    fn an_early_inverse_reaches_through_empty_inverses() {
        // enable-able(0) → nop(1) → migrate(2): migrate back waits for inverse(0).
        let e = edges(&[early(&[]), node(&[0], vec![]), node(&[1], vec![vec![]])]);
        assert_eq!(deps_of(&e, (2, 0)), vec![(0, 0)]);
    }

    #[test]
    fn two_resources_toggled_twice_across_each_other_still_enable_before_the_move_back() {
        // Seen red in CI as a rollback in strict reverse order (the full
        // restore-first order cycles): disable host A (1), move a server
        // off it (2), enable A (4); power the spare off (3) and on (5); an
        // extra edge 1 → 5.
        let nodes = vec![
            on(&[], "power:spare", false),
            on(&[0], "service:A", true),
            on(&[1], "migrate:x", false),
            on(&[0], "power:spare", true),
            on(&[1, 2, 3], "service:A", false),
            on(&[3, 1], "power:spare", false),
        ];
        let check = |nodes: &[Node]| {
            assert_eq!(build_with(nodes, false).err(), Some(Cycle), "the full restore-first order cycles");
            let e = edges(nodes);
            // A: disabled again (undo of 4), then enabled (undo of 1), then
            // the server moves back onto it.
            assert!(deps_of(&e, (1, 0)).contains(&(4, 0)), "{e:?}");
            assert!(deps_of(&e, (2, 0)).contains(&(1, 0)), "{e:?}");
            // The spare: off (undo of 5) before on (undo of 3).
            assert!(deps_of(&e, (3, 0)).contains(&(5, 0)), "{e:?}");
            e
        };
        check(&nodes);
        // And with another server moved onto A once it is enabled again (6):
        // it leaves A (undo of 6) before A is disabled (undo of 4).
        let mut nodes = nodes;
        nodes.push(on(&[4], "migrate:y", false));
        let e = check(&nodes);
        assert!(deps_of(&e, (4, 0)).contains(&(6, 0)), "{e:?}");
    }
}

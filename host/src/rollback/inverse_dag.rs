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
//! inverses of the actions that depended on A wait for inverse(A) instead —
//! except towards actions on the same resource (same type and
//! `resource_id`), whose order must be strictly reversed (power on, off, on
//! undoes as off, on, off).

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
pub fn build(nodes: &[Node]) -> Result<Vec<Placed>, Cycle> {
    let n = nodes.len();
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
    // Passing through empty inverses: the nearest non-empty inverses below.
    let mut eff_sinks: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut eff_roots: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &i in &order {
        if nodes[i].inverse_deps.is_empty() {
            let mut s: Vec<usize> = children[i].iter().flat_map(|&c| eff_sinks[c].clone()).collect();
            let mut r: Vec<usize> = children[i].iter().flat_map(|&c| eff_roots[c].clone()).collect();
            s.sort_unstable();
            s.dedup();
            r.sort_unstable();
            r.dedup();
            eff_sinks[i] = s;
            eff_roots[i] = r;
        } else {
            eff_sinks[i] = sinks(i);
            eff_roots[i] = roots(i);
        }
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
        for &c in &children[i] {
            let same_resource = nodes[i].resource.is_some()
                && eff_roots[c].iter().any(|&r| nodes[slots[r].0].resource == nodes[i].resource);
            if nodes[i].early && !same_resource {
                for r in &eff_roots[c] {
                    waits[*r].extend(sinks(i));
                }
            } else {
                for r in roots(i) {
                    waits[r].extend(eff_sinks[c].iter().copied());
                }
            }
        }
    }
    // Same resource: strictly reversed, explicitly (a flip elsewhere must
    // not loosen it): each inverse waits for the inverse of the nearest
    // later action on its resource.
    for i in 0..n {
        let Some(resource) = nodes[i].resource.as_ref() else { continue };
        if nodes[i].inverse_deps.is_empty() {
            continue;
        }
        let mut stack: Vec<usize> = nodes[i].parents.clone();
        let mut seen = vec![false; n];
        while let Some(a) = stack.pop() {
            if std::mem::replace(&mut seen[a], true) {
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
    fn contradicting_requests_are_reported_as_a_cycle() {
        // X(early, r) → B(r) → A(other): inv(X) after inv(B) (same resource),
        // inv(A) after inv(X) (flip), inv(B) after inv(A) (reverse order).
        let nodes = [on(&[], "r", true), on(&[0], "r", false), on(&[0, 1], "other", false)];
        // X's children are B and A; the flip to A reaches no "r" through A.
        assert_eq!(build(&nodes), Err(Cycle));
        let strict: Vec<Node> = nodes.into_iter().map(|n| Node { early: false, ..n }).collect();
        assert!(build(&strict).is_ok(), "strict reverse order is always acyclic");
    }

    #[test]
    fn an_early_inverse_reaches_through_empty_inverses() {
        // enable-able(0) → nop(1) → migrate(2): migrate back waits for inverse(0).
        let e = edges(&[early(&[]), node(&[0], vec![]), node(&[1], vec![vec![]])]);
        assert_eq!(deps_of(&e, (2, 0)), vec![(0, 0)]);
    }
}

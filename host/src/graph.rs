//! A picture of a plan: its actions as a DAG (type, target, state as
//! colour) and, for a rollback, the original beside its inverse with a
//! dashed link from each action to the inverse actions that undo it.
//!
//! Two renderings of one [`Picture`]: Graphviz DOT text ([`dot`], with the
//! two plans as clusters) and SVG laid out in-process by `layout-rs`
//! ([`svg`]; no Graphviz binary). Each action's SVG group carries
//! `data-uuid` and `data-state`, so pages and tests can find it.

use rollback_store::{Action, ActionPlan, ActionState};
use std::collections::HashMap;
use std::fmt::Write;

/// Most actions (both plans together) drawn as SVG; DOT has no bound.
pub const MAX_SVG_ACTIONS: usize = 400;

/// Most edges (parent links, both plans together) drawn as SVG: the
/// layout's cost grows with them, and 400 actions can carry 79,800.
pub const MAX_SVG_EDGES: usize = 2_000;

/// What to draw: a plan, and the plan that undoes it when there is one.
#[derive(Debug)]
pub struct Picture<'a> {
    /// The plan (the original, when `inverse` is set).
    pub original: (&'a ActionPlan, &'a [Action]),
    /// Its rollback, stored or dry-run.
    pub inverse: Option<(&'a ActionPlan, &'a [Action])>,
    /// Whether `inverse` is a dry run (not stored).
    pub dry_run: bool,
}

/// Why a picture cannot be drawn.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// More actions than [`MAX_SVG_ACTIONS`].
    #[error("{0} actions are too many to draw as SVG (at most {MAX_SVG_ACTIONS}); ask for ?format=dot")]
    TooLarge(usize),
    /// More parent links than [`MAX_SVG_EDGES`].
    #[error("{0} parent links are too many to draw as SVG (at most {MAX_SVG_EDGES}); ask for ?format=dot")]
    TooManyEdges(usize),
    /// The layout engine gave up.
    #[error("the plan could not be laid out: {0}")]
    Layout(String),
}

/// The fill colour of a state.
pub fn colour(state: ActionState) -> &'static str {
    match state {
        ActionState::Pending => "#e8e8e8",
        ActionState::Ongoing => "#ffe08a",
        ActionState::Succeeded => "#b7e4b0",
        ActionState::Failed => "#f4a6a6",
        ActionState::Skipped => "#c9d7f8",
        ActionState::Cancelled | ActionState::Cancelling => "#d0d0d0",
        ActionState::Deleted => "#f5f5f5",
    }
}

/// What an action acts on, from its `input_parameters` (the first of
/// these keys that holds a string; empty when none does). The CLI's tables
/// use the same rule.
pub fn target_of(params: &serde_json::Map<String, serde_json::Value>) -> &str {
    ["resource_name", "resource_id", "host", "node", "uuid"]
        .iter()
        .find_map(|k| params.get(*k).and_then(|v| v.as_str()))
        .unwrap_or("")
}

/// An action's target, cut to fit a box.
pub fn target(a: &Action) -> String {
    target_of(&a.input_parameters).chars().take(40).collect()
}

/// The lines of an action's label.
fn label(a: &Action) -> String {
    let short: String = a.uuid.to_string().chars().take(8).collect();
    let target = target(a);
    if target.is_empty() {
        format!("{}\n{}\n{short}", a.action_type, a.state)
    } else {
        format!("{}\n{target}\n{}\n{short}", a.action_type, a.state)
    }
}

fn title(p: &Picture<'_>) -> String {
    let (plan, _) = p.original;
    match p.inverse {
        None => format!("Action plan {} ({})", plan.uuid, plan.state),
        Some(_) if p.dry_run => {
            format!("Action plan {} ({}) and its dry-run rollback", plan.uuid, plan.state)
        }
        Some((inv, _)) => {
            format!(
                "Action plan {} ({}) and its rollback {} ({})",
                plan.uuid, plan.state, inv.uuid, inv.state
            )
        }
    }
}

/// Quotes a DOT string.
fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The links from original actions to their inverse actions.
fn links<'a>(p: &Picture<'a>) -> Vec<(&'a Action, &'a Action)> {
    let Some((_, inv)) = p.inverse else { return Vec::new() };
    let by_uuid: HashMap<_, _> = p.original.1.iter().map(|a| (a.uuid, a)).collect();
    inv.iter().filter_map(|i| Some((*by_uuid.get(&i.inverse_of?)?, i))).collect()
}

/// The picture as Graphviz DOT.
pub fn dot(p: &Picture<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", q(&title(p)));
    out.push_str("  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"sans-serif\"];\n");
    let mut cluster = |name: &str, caption: String, actions: &[Action]| {
        let _ = writeln!(out, "  subgraph cluster_{name} {{\n    label={};", q(&caption));
        for a in actions {
            let _ = writeln!(
                out,
                "    {} [label={}, fillcolor={}];",
                q(&a.uuid.to_string()),
                q(&label(a)),
                q(colour(a.state))
            );
        }
        for a in actions {
            for parent in &a.parents {
                let _ = writeln!(out, "    {} -> {};", q(&parent.to_string()), q(&a.uuid.to_string()));
            }
        }
        out.push_str("  }\n");
    };
    let (plan, actions) = p.original;
    cluster("original", format!("{} {} ({})", plan.strategy_name, plan.uuid, plan.state), actions);
    if let Some((inv, inv_actions)) = p.inverse {
        let caption = if p.dry_run {
            "rollback (dry run)".to_string()
        } else {
            format!("rollback {} ({})", inv.uuid, inv.state)
        };
        cluster("inverse", caption, inv_actions);
    }
    for (from, to) in links(p) {
        let _ = writeln!(
            out,
            "  {} -> {} [style=dashed, color=\"#3366cc\", constraint=false];",
            q(&from.uuid.to_string()),
            q(&to.uuid.to_string())
        );
    }
    out.push_str("}\n");
    out
}

/// The picture as SVG, laid out left to right: the original plan, then its
/// inverse, dashed blue links between an action and its inverses. Edge
/// crossings are minimised up to [`OPTIMIZE_UP_TO`] actions; beyond, the
/// optimiser's cost grows too fast (see BENCHMARKS.md) and is skipped.
pub fn svg(p: &Picture<'_>) -> Result<String, GraphError> {
    let n = p.original.1.len() + p.inverse.map_or(0, |(_, a)| a.len());
    svg_with(p, n <= OPTIMIZE_UP_TO)
}

/// Most actions whose picture gets edge crossings minimised.
pub const OPTIMIZE_UP_TO: usize = 60;

/// [`svg`] with the crossing optimiser on or off (for benchmarks).
pub fn svg_with(p: &Picture<'_>, optimize: bool) -> Result<String, GraphError> {
    use layout::backends::svg::SVGWriter;
    use layout::core::base::Orientation;
    use layout::core::color::Color;
    use layout::core::style::{LineStyleKind, StyleAttr};
    use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
    use layout::topo::layout::VisualGraph;

    let all: Vec<&Action> = p.original.1.iter().chain(p.inverse.map_or(&[][..], |(_, a)| a)).collect();
    if all.len() > MAX_SVG_ACTIONS {
        return Err(GraphError::TooLarge(all.len()));
    }
    let edges: usize = all.iter().map(|a| a.parents.len()).sum();
    if edges > MAX_SVG_EDGES {
        return Err(GraphError::TooManyEdges(edges));
    }
    let heading = escape(&title(p));
    if all.is_empty() {
        return Ok(format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\" height=\"40\"><title>{heading}</title>\
             <text x=\"10\" y=\"25\">This plan has no actions.</text></svg>"
        ));
    }
    let dry = p.dry_run;
    let inverse_ids: std::collections::HashSet<_> =
        p.inverse.map_or(&[][..], |(_, a)| a).iter().map(|a| a.uuid).collect();
    let drawn = std::panic::catch_unwind(|| {
        let mut vg = VisualGraph::new(Orientation::LeftToRight);
        let mut handles = HashMap::new();
        for a in &all {
            let text = label(a);
            let fill = Color::from_name(colour(a.state)).unwrap_or_else(|| Color::fast("white"));
            let planned = dry && inverse_ids.contains(&a.uuid);
            let line = if planned { Color::fast("gray") } else { Color::fast("black") };
            let look = StyleAttr::new(line, 1, Some(fill), 6, FONT);
            let size = node_size(&text);
            let props = format!(
                "class=\"action\" data-uuid=\"{}\" data-state=\"{}\" data-role=\"{}\"",
                a.uuid,
                a.state,
                if inverse_ids.contains(&a.uuid) { "inverse" } else { "original" }
            );
            let el = Element::create_with_properties(
                ShapeKind::new_box(&text),
                look,
                Orientation::LeftToRight,
                size,
                props,
            );
            handles.insert(a.uuid, vg.add_node(el));
        }
        for a in &all {
            for parent in &a.parents {
                if let (Some(&from), Some(&to)) = (handles.get(parent), handles.get(&a.uuid)) {
                    vg.add_edge(Arrow::simple(""), from, to);
                }
            }
        }
        for (from, to) in links(p) {
            let look = StyleAttr::new(Color::fast("#3366cc"), 1, None, 0, 11);
            let arrow = Arrow::new(
                LineEndKind::None,
                LineEndKind::Arrow,
                LineStyleKind::Dashed,
                "",
                &look,
                &None,
                &None,
            );
            vg.add_edge(arrow, handles[&from.uuid], handles[&to.uuid]);
        }
        let mut svg = SVGWriter::new();
        vg.do_it(false, !optimize, false, &mut svg);
        svg.finalize()
    });
    let text = drawn.map_err(|e| {
        GraphError::Layout(
            e.downcast_ref::<&str>().map_or_else(|| "the layout engine panicked".into(), |s| s.to_string()),
        )
    })?;
    // A title names the picture for screen readers and tooltips.
    Ok(match text.find("<svg").and_then(|at| text[at..].find('>').map(|end| at + end + 1)) {
        Some(end) => format!("{}<title>{heading}</title>{}", &text[..end], &text[end..]),
        None => text,
    })
}

/// Font size of the labels, in pixels.
const FONT: usize = 12;

/// A label's box: about 0.6 em per character and 1.3 em per line, padded
/// (`layout-rs`'s own estimate takes a full em per character).
fn node_size(text: &str) -> layout::core::geometry::Point {
    let longest = text.lines().map(|l| l.chars().count()).max().unwrap_or(1) as f64;
    let lines = text.lines().count().max(1) as f64;
    let em = FONT as f64;
    layout::core::geometry::Point::new(longest * em * 0.62 + 20.0, lines * em * 1.3 + 14.0)
}

/// Escapes text for XML.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

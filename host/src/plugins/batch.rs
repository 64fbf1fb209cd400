//! Many actions of one rollback request inverted in few calls.
//!
//! A fresh sandboxed instance per action costs about 12 µs, three quarters
//! of it the isolation itself (instantiating, then resetting the slot's
//! memory). Isolation is owed between requests, not between the actions of
//! one request, so a plugin that exports the contract's `invert-batch`
//! (0.1.1; the SDK does) gets the actions of one request in chunks, one
//! fresh instance per chunk: up to [`MAX_BATCH_ACTIONS`] actions and
//! [`MAX_BATCH_INPUT_FRACTION`] of the memory cap of input text. The plugin
//! sees them explicitly, as a list; nothing is carried over unseen.
//!
//! A batch never changes an answer. A chunk has one CPU deadline and one
//! memory cap (the per-call ones); when it traps, hits either, or answers a
//! list of the wrong length, its actions are inverted one call each, as
//! without batching, so the error that comes out names the action and the
//! cause exactly as before. A plugin without `invert-batch` (built against
//! 0.1.0), or a lone action, is called through `invert`.

use super::{bindings, call, tiers, Executed, Inverse, LoadedPlugin, PluginError};

/// The most actions in one `invert-batch` call.
pub const MAX_BATCH_ACTIONS: usize = 64;
/// A chunk's input text is at most the memory cap divided by this (the
/// plugin holds the text and what it parses it into at once).
pub const MAX_BATCH_INPUT_FRACTION: usize = 16;

impl LoadedPlugin {
    /// Inverts `actions` (all of this plugin's type, from one request) in
    /// order, appending each action's inverses to `out`. Before each call
    /// it asks `go_on`, and returns `Ok` early (with `out` shorter than
    /// `actions`) when that says no. On a failure, `out.len()` is the index
    /// of the action that failed. Blocks, like [`LoadedPlugin::invert`].
    pub fn invert_many(
        &self,
        actions: &[Executed<'_>],
        out: &mut Vec<Vec<Inverse>>,
        mut go_on: impl FnMut() -> bool,
    ) -> Result<(), PluginError> {
        let code = tiers::current(&self.code);
        let limits = &self.limits;
        let max_input = limits.memory_bytes() / MAX_BATCH_INPUT_FRACTION;
        let mut rest = actions;
        while !rest.is_empty() {
            if !go_on() {
                return Ok(());
            }
            let wit = next_chunk(rest, max_input);
            rest = &rest[wit.len()..];
            let finished = match (&code.batch, wit.len()) {
                (Some(batch), 2..) => self.invert_chunk(&code, batch, &wit, out, &mut go_on)?,
                _ => self.invert_each(&wit, out, &mut go_on)?,
            };
            if !finished {
                return Ok(());
            }
        }
        Ok(())
    }

    /// One `invert` call per action, asking `go_on` before each but the
    /// first; false when it said no.
    fn invert_each(
        &self,
        chunk: &[bindings::ExecutedAction],
        out: &mut Vec<Vec<Inverse>>,
        go_on: &mut impl FnMut() -> bool,
    ) -> Result<bool, PluginError> {
        for (i, record) in chunk.iter().enumerate() {
            if i > 0 && !go_on() {
                return Ok(false);
            }
            out.push(self.invert_one(record)?);
        }
        Ok(true)
    }

    /// One `invert-batch` call for `chunk`, or one `invert` call per action
    /// when the batch failed as a whole; false when `go_on` said no.
    fn invert_chunk(
        &self,
        code: &tiers::Code,
        batch: &wasmtime::component::ComponentExportIndex,
        chunk: &[bindings::ExecutedAction],
        out: &mut Vec<Vec<Inverse>>,
        go_on: &mut impl FnMut() -> bool,
    ) -> Result<bool, PluginError> {
        let plugin = self.metadata.action_type.as_str();
        let started = std::time::Instant::now();
        let answers = match call::invert_batch(&code.engine, &code.pre, batch, &self.limits, plugin, chunk) {
            Ok((answers,)) if answers.len() == chunk.len() => answers,
            failed => {
                let why = match failed {
                    Ok((answers,)) => format!("{} answers for {} actions", answers.len(), chunk.len()),
                    Err(e) => e.to_string(),
                };
                tracing::warn!(
                    plugin,
                    actions = chunk.len(),
                    "invert-batch failed ({why}); inverting those actions one call each"
                );
                if !go_on() {
                    return Ok(false);
                }
                return self.invert_each(chunk, out, go_on);
            }
        };
        let each = started.elapsed().as_secs_f64() / chunk.len() as f64;
        for answer in answers {
            crate::metrics::METRICS.invert(plugin, each, None);
            out.push(self.checked(answer)?);
        }
        Ok(true)
    }
}

/// The contract records of the longest prefix of `actions` that fits one
/// batch (at least one action).
fn next_chunk(actions: &[Executed<'_>], max_input: usize) -> Vec<bindings::ExecutedAction> {
    let mut wit: Vec<bindings::ExecutedAction> = Vec::new();
    let mut bytes = 0;
    for action in actions.iter().take(MAX_BATCH_ACTIONS) {
        let record = action.to_wit();
        let size = record.action_uuid.len()
            + record.action_type.len()
            + record.input_parameters.len()
            + record.pre_state.len()
            + record.result.len();
        if !wit.is_empty() && bytes + size > max_input {
            break;
        }
        bytes += size;
        wit.push(record);
    }
    wit
}

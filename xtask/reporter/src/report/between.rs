//! Every change between two recorded states of the generated client (its
//! API surface and its contract), with what the hand-written code reads of
//! it: the one list regen's changelog entry and `cargo xtask report` are
//! made of.

use std::collections::BTreeMap;
use std::path::Path;

use super::{
    Entry, Impact, compare, deprecated_uses, document_changes, entry, hand_written_breaks,
};
use crate::contract::Contract;
use crate::hand_written::{USING_SOURCES, first_uses};
use crate::request_rules;
use crate::surface::Surface;

/// What regen recorded of the client at one moment.
#[derive(Clone, Copy)]
pub struct Recorded<'a> {
    pub surface: &'a Surface,
    /// `None` before the contract was first recorded.
    pub contract: Option<&'a Contract>,
}

/// Every change from `old` to `new`, breaking ones first: the surface's,
/// the contract's, and what they break in the hand-written sources under
/// `checkout` (`USING_SOURCES`, named relative to it). Never empty when
/// asked about a changed client: a change of the generated code alone is
/// one entry.
pub fn every_change(old: Recorded, new: Recorded, checkout: &Path) -> Vec<Entry> {
    let mut entries = compare(old.surface, new.surface);
    let sources: Vec<_> = USING_SOURCES.iter().map(|dir| checkout.join(dir)).collect();
    let uses = first_uses(&sources, checkout);
    entries.extend(hand_written_breaks(
        old.surface,
        new.surface,
        &uses,
        &sources,
    ));
    if let (Some(old_contract), Some(new_contract)) = (old.contract, new.contract) {
        entries.extend(enforced(
            document_changes(old_contract, new_contract),
            new_contract,
            &uses,
        ));
        entries.extend(moved_rules(old_contract, new_contract, &uses));
        entries.extend(deprecated_uses(old_contract, new_contract, &uses));
    }
    entries.sort_by_key(|entry| entry.impact);
    if entries.is_empty() {
        entries.push(entry(
            Impact::Compatible,
            "generated code changed (documentation, or the generator), the API did not".into(),
            "callers' code is unchanged",
        ));
    }
    entries
}

/// Says, for each request constraint that tightened, whether this crate's
/// typed values check it before sending: whether the hand-written code
/// names the place's generated rules (`request_rules::…`) and the rules
/// check that keyword.
fn enforced(
    entries: Vec<Entry>,
    contract: &Contract,
    uses: &BTreeMap<String, String>,
) -> Vec<Entry> {
    let rules = request_rules::rules(contract);
    entries
        .into_iter()
        .map(|mut entry| {
            let breaking = entry.impact.is_breaking();
            let (Some(at), Some(rule)) = (entry.at.as_ref().filter(|_| breaking), entry.rule)
            else {
                return entry;
            };
            let constant = rules
                .iter()
                .find(|(_, (pointer, _))| pointer == at)
                .map(|(name, _)| name);
            match constant {
                Some(name) if uses.contains_key(name) && request_rules::CHECKED.contains(&rule) => {
                    entry.why.push_str(&format!(
                        "; this crate's typed values check it before sending, from this version \
                         on (`request_rules::{name}`, used at {})",
                        uses[name]
                    ));
                }
                Some(name) if uses.contains_key(name) => entry.why.push_str(&format!(
                    "; this crate's typed values do not check `{rule}` (they check \
                     `request_rules::{name}`'s pattern, lengths, bounds and values)"
                )),
                Some(name) => entry.why.push_str(&format!(
                    "; no typed value of this crate checks it (`request_rules::{name}` is \
                     there for callers)"
                )),
                None => {}
            }
            entry
        })
        .collect()
}

/// The generated rules the hand-written code names that a change took
/// away, moved to another place, or retyped: each named with where it is
/// used.
fn moved_rules(old: &Contract, new: &Contract, uses: &BTreeMap<String, String>) -> Vec<Entry> {
    let (before, after) = (request_rules::rules(old), request_rules::rules(new));
    let mut entries = Vec::new();
    for (name, (pointer, place)) in &before {
        let Some(used_at) = uses.get(name) else {
            continue;
        };
        let change = match after.get(name) {
            None => format!("it is gone (it checked {pointer})"),
            Some((now, _)) if now != pointer => format!("it now checks {now}, not {pointer}"),
            Some((_, now)) if now.fact("type") != place.fact("type") => format!(
                "the value it checks is now of type {}",
                now.fact("type").map_or("none".into(), ToString::to_string)
            ),
            Some(_) => continue,
        };
        let found = entry(
            Impact::ToFixInThisCrate,
            format!("hand-written `{used_at}` uses `request_rules::{name}`: {change}"),
            "this crate's own code, not its callers': change it with this regen (`cargo build` \
             fails there, or checks the wrong value, until then)",
        );
        entries.push(found);
    }
    entries
}

//! What changed in the document that the Rust types do not show (the
//! contract, `contract.rs`), judged by what it means for a service that
//! calls the vendor:
//!
//! - in a request, a constraint added or tightened (`pattern`, `format`,
//!   lengths, bounds, `multipleOf`, `enum` narrowed, a property now
//!   `required`, `nullable` dropped) is **breaking at run time**: the vendor may now refuse requests it took. Loosened, it is
//!   compatible;
//! - in an answer, what clients built before cannot read (another `type`,
//!   `nullable` added, a property no longer `required`, an integer's
//!   `format` widened) is breaking for deployed services; a value added to
//!   an enum is compatible (deployed clients read a string as the enum's
//!   `Unknown` variant, a number as the plain number it is generated as); constraints on answers are documentation (the
//!   client does not check answers against them);
//! - `deprecated` on an operation, parameter or field, added or removed.
//!
//! Places new or gone are left to the surface's report (a field, a type, an
//! operation added or removed). One function per kind of change. Which of
//! oasdiff's areas of rules this covers, and which not: README, "When the
//! vendor changes the document".

use serde_json::Value;

use super::{Entry, Impact, entry};
use crate::contract::{CONSTRAINTS, Contract, Direction, Place};
use crate::naming::escape;

/// Every change of the contract between two documents.
pub fn changes(old: &Contract, new: &Contract) -> Vec<Entry> {
    let mut entries = Vec::new();
    for (pointer, new_place) in &new.places {
        let Some(old_place) = old.places.get(pointer) else {
            continue;
        };
        let at = At {
            pointer,
            name: new_place.name(pointer),
            old,
            new,
        };
        let first = entries.len();
        entries.extend(deprecation(&at, old_place, new_place));
        if !new_place.names.contains_key("operationId") {
            entries.extend(place_changes(&at, old_place, new_place));
        }
        // Each change is at its place, for the report's line.
        for entry in &mut entries[first..] {
            entry.at.get_or_insert_with(|| pointer.clone());
        }
    }
    entries
}

/// The changes of one place's constraints and shapes, by which way its
/// values travel.
fn place_changes(at: &At, old_place: &Place, new_place: &Place) -> Vec<Entry> {
    let mut entries = Vec::new();
    let travels = |direction| {
        old_place.directions.contains(&direction) || new_place.directions.contains(&direction)
    };
    if travels(Direction::Request) {
        entries.extend(request_bounds(at, old_place, new_place));
        entries.extend(request_texts(at, old_place, new_place));
        entries.extend(request_values(at, old_place, new_place));
    }
    if travels(Direction::Answer) {
        entries.extend(answer_shapes(at, old_place, new_place));
        entries.extend(answer_values(at, old_place, new_place));
    }
    entries
}

/// Where a change is: the name a person knows and the place in the
/// document.
struct At<'a> {
    pointer: &'a str,
    name: &'a str,
    old: &'a Contract,
    new: &'a Contract,
}

impl At<'_> {
    /// Whether the place is a property its object does not require (in the
    /// new document).
    fn is_optional_property(&self) -> bool {
        let Some((object, name)) = self.pointer.rsplit_once("/properties/") else {
            return false;
        };
        if name.contains('/') {
            return false;
        }
        let name = name.replace("~1", "/").replace("~0", "~");
        let required = self
            .new
            .places
            .get(object)
            .and_then(|place| place.fact("required"))
            .and_then(Value::as_array);
        !required.is_some_and(|names| names.iter().any(|n| n.as_str() == Some(name.as_str())))
    }

    /// The names of `required` that name a property both documents have:
    /// a property added or removed is the surface's report.
    fn kept(&self, names: Vec<Value>) -> Vec<Value> {
        names
            .into_iter()
            .filter(|name| {
                let Some(name) = name.as_str() else {
                    return false;
                };
                let property = format!("{}/properties/{}", self.pointer, escape(name));
                self.old.places.contains_key(&property) && self.new.places.contains_key(&property)
            })
            .collect()
    }

    fn says(&self, direction: &str, change: String) -> String {
        format!("`{}` ({direction}, {}): {change}", self.name, self.pointer)
    }
}

const REFUSES: &str = "the vendor may now refuse requests it took; a service sending such values gets errors it \
     did not get before";
const ACCEPTS: &str = "the vendor accepts more than before; requests that worked still work";

/// A tightened request constraint: breaking at run time.
fn tightened(at: &At, rule: &'static str, change: String) -> Entry {
    let mut entry = entry(
        Impact::BreakingAtRunTime,
        at.says("in requests", change),
        REFUSES,
    );
    entry.at = Some(at.pointer.to_owned());
    entry.rule = Some(rule);
    entry
}

fn loosened(at: &At, change: String) -> Entry {
    let mut entry = entry(Impact::Compatible, at.says("in requests", change), ACCEPTS);
    entry.at = Some(at.pointer.to_owned());
    entry
}

/// A number a keyword holds (`true` counts as one, for 3.0's boolean
/// `exclusiveMinimum`).
fn number(place: &Place, keyword: &str) -> Option<f64> {
    match place.fact(keyword)? {
        Value::Number(number) => number.as_f64(),
        Value::Bool(true) => Some(1.0),
        _ => None,
    }
}

fn shown(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(text)) => format!("`{text}`"),
        Some(value) => format!("`{value}`"),
        None => "none".into(),
    }
}

/// Bounds: an upper bound added or lowered, a lower bound added or raised,
/// an exclusive bound or `uniqueItems` turned on, `multipleOf` added or
/// changed.
fn request_bounds(at: &At, old: &Place, new: &Place) -> Vec<Entry> {
    let mut entries = Vec::new();
    let upper = [
        "maxLength",
        "maximum",
        "maxItems",
        "maxProperties",
        "exclusiveMaximum",
    ];
    let lower = [
        "minLength",
        "minimum",
        "minItems",
        "minProperties",
        "exclusiveMinimum",
        "uniqueItems",
    ];
    for (keywords, is_upper) in [(&upper[..], true), (&lower[..], false)] {
        for &keyword in keywords {
            let (before, after) = (number(old, keyword), number(new, keyword));
            let change = |verb: &str| {
                format!(
                    "`{keyword}` {verb} ({} → {})",
                    shown(old.fact(keyword)),
                    shown(new.fact(keyword))
                )
            };
            match (before, after) {
                (None, Some(_)) => entries.push(tightened(at, keyword, change("added"))),
                (Some(_), None) => entries.push(loosened(at, change("removed"))),
                (Some(b), Some(a)) if (a < b) == is_upper && a != b => {
                    entries.push(tightened(at, keyword, change("tightened")));
                }
                (Some(b), Some(a)) if a != b => entries.push(loosened(at, change("loosened"))),
                _ => {}
            }
        }
    }
    if old.fact("multipleOf") != new.fact("multipleOf") {
        let change = format!(
            "`multipleOf` {} → {}",
            shown(old.fact("multipleOf")),
            shown(new.fact("multipleOf"))
        );
        // A step that divides the old one takes every value it took.
        let divides = match (number(old, "multipleOf"), number(new, "multipleOf")) {
            (Some(before), Some(after)) => after != 0.0 && (before / after).fract() == 0.0,
            (Some(_), None) => true,
            _ => false,
        };
        entries.push(if divides {
            loosened(at, change)
        } else {
            tightened(at, "multipleOf", change)
        });
    }
    entries
}

/// Text rules: `pattern` and `format` added or changed (an integer's
/// `int32` widened to `int64` takes more). (Another `type` retypes the Rust
/// field: the surface's report says so.)
fn request_texts(at: &At, old: &Place, new: &Place) -> Vec<Entry> {
    let mut entries = Vec::new();
    for keyword in ["pattern", "format"] {
        let (before, after) = (old.fact(keyword), new.fact(keyword));
        if before == after {
            continue;
        }
        let change = format!("`{keyword}` {} → {}", shown(before), shown(after));
        let widened = keyword == "format"
            && before.and_then(Value::as_str) == Some("int32")
            && after.and_then(Value::as_str) == Some("int64");
        entries.push(match after {
            Some(_) if !widened => tightened(at, keyword, change),
            _ => loosened(at, change),
        });
    }
    entries
}

/// Values: `enum` narrowed or widened, properties now required or not,
/// `nullable` dropped or added.
fn request_values(at: &At, old: &Place, new: &Place) -> Vec<Entry> {
    let mut entries = Vec::new();
    match (list(old, "enum"), list(new, "enum")) {
        (None, Some(after)) => entries.push(tightened(
            at,
            "enum",
            format!("`enum` added: only {} now", values(&after)),
        )),
        (Some(before), None) => entries.push(loosened(
            at,
            format!("`enum` removed (was {})", values(&before)),
        )),
        (Some(before), Some(after)) => {
            let gone = missing_from(after.as_slice(), &before);
            let added = missing_from(before.as_slice(), &after);
            if !gone.is_empty() {
                entries.push(tightened(
                    at,
                    "enum",
                    format!("`enum` no longer takes {}", values(&gone)),
                ));
            }
            if !added.is_empty() {
                entries.push(loosened(
                    at,
                    format!("`enum` also takes {}", values(&added)),
                ));
            }
        }
        (None, None) => {}
    }
    let before = list(old, "required").unwrap_or_default();
    let after = list(new, "required").unwrap_or_default();
    let now_required = at.kept(missing_from(&before, &after));
    let no_longer = at.kept(missing_from(&after, &before));
    if !now_required.is_empty() {
        entries.push(tightened(
            at,
            "required",
            format!("`required` now names {}", values(&now_required)),
        ));
    }
    if !no_longer.is_empty() {
        entries.push(loosened(
            at,
            format!("`required` no longer names {}", values(&no_longer)),
        ));
    }
    match (nullable(old), nullable(new)) {
        (true, false) => entries.push(tightened(at, "nullable", "`nullable` removed".into())),
        (false, true) => entries.push(loosened(at, "`nullable` added".into())),
        _ => {}
    }
    entries
}

const UNREADABLE: &str = "breaking for deployed services: clients built before this change \
                          cannot decode such answers (an answer to a send that does not decode \
                          is reported as an outcome unknown); update them before the vendor \
                          ships it";

/// What clients built before cannot read: another `type`, `nullable`
/// added, a property no longer `required`, an integer's `format` changed.
fn answer_shapes(at: &At, old: &Place, new: &Place) -> Vec<Entry> {
    let mut entries = Vec::new();
    entries.extend(answer_type(at, old, new));
    entries.extend(answer_format(at, old, new));
    entries.extend(answer_nullable(at, old, new));
    entries.extend(answer_no_longer_required(at, old, new));
    entries.extend(answer_constraints(at, old, new));
    entries
}

/// A change of answers that clients built before cannot read: breaking for
/// deployed services.
fn unreadable(at: &At, change: String) -> Entry {
    entry(
        Impact::BreakingAtRunTime,
        at.says("in answers", change),
        UNREADABLE,
    )
}

/// A change of answers that clients built before still read, and why.
fn still_readable(at: &At, change: String, why: &'static str) -> Entry {
    entry(Impact::Compatible, at.says("in answers", change), why)
}

/// Another `type`: unreadable, unless a number became an integer.
fn answer_type(at: &At, old: &Place, new: &Place) -> Option<Entry> {
    let (before, after) = (old.fact("type"), new.fact("type"));
    if before == after {
        return None;
    }
    let change = format!("`type` {} → {}", shown(before), shown(after));
    // A number that became an integer still reads as a number.
    let narrowed = before.and_then(Value::as_str) == Some("number")
        && after.and_then(Value::as_str) == Some("integer");
    Some(if narrowed {
        still_readable(
            at,
            change,
            "compatible: an integer is a number to clients built before",
        )
    } else {
        unreadable(at, change)
    })
}

/// Another `format`: unreadable when an `int32` widens or an address
/// format comes or goes; other numbers' and strings' formats still read.
fn answer_format(at: &At, old: &Place, new: &Place) -> Option<Entry> {
    let (before, after) = (old.fact("format"), new.fact("format"));
    if before == after {
        return None;
    }
    let change = format!("`format` {} → {}", shown(before), shown(after));
    let addresses = ["ip", "ipv4", "ipv6"];
    Some(match new.fact("type").and_then(Value::as_str) {
        // An `int32` answer widened (to `int64`, or to no format) can
        // carry what an `i32` cannot hold.
        Some("integer") if format_text(before) == "int32" => unreadable(at, change),
        Some("integer" | "number") => still_readable(
            at,
            change,
            "compatible: clients built before read the narrower values too",
        ),
        _ if addresses.contains(&format_text(before))
            || addresses.contains(&format_text(after)) =>
        {
            unreadable(at, change)
        }
        _ => still_readable(
            at,
            change,
            "compatible: answers' string formats are documentation in this client (read as \
             text)",
        ),
    })
}

/// A `format`'s text, empty when there is none.
fn format_text(format: Option<&Value>) -> &str {
    format.and_then(Value::as_str).unwrap_or("")
}

/// `nullable` added: unreadable, unless on an optional property.
fn answer_nullable(at: &At, old: &Place, new: &Place) -> Option<Entry> {
    if nullable(old) || !nullable(new) {
        return None;
    }
    // An optional property reads `null` as absent; a required one, an
    // item or a whole answer does not.
    Some(if at.is_optional_property() {
        still_readable(
            at,
            "`nullable` added".into(),
            "compatible: the property is optional, and clients built before read `null` as \
             absent",
        )
    } else {
        unreadable(at, "`nullable` added".into())
    })
}

/// Properties no longer `required`: answers may leave out what clients
/// built before expect.
fn answer_no_longer_required(at: &At, old: &Place, new: &Place) -> Option<Entry> {
    let before = list(old, "required").unwrap_or_default();
    let after = list(new, "required").unwrap_or_default();
    let no_longer = at.kept(missing_from(&after, &before));
    if no_longer.is_empty() {
        return None;
    }
    Some(unreadable(
        at,
        format!(
            "`required` no longer names {}: answers may leave it out",
            values(&no_longer)
        ),
    ))
}

/// Constraints changed on answers: documentation, since the client does
/// not check answers against them.
fn answer_constraints(at: &At, old: &Place, new: &Place) -> Vec<Entry> {
    CONSTRAINTS
        .into_iter()
        .filter(|keyword| old.fact(keyword) != new.fact(keyword))
        .map(|keyword| {
            still_readable(
                at,
                format!(
                    "`{keyword}` {} → {}",
                    shown(old.fact(keyword)),
                    shown(new.fact(keyword))
                ),
                "compatible: the client does not check answers against it",
            )
        })
        .collect()
}

/// Values of an answer's enum added or removed.
fn answer_values(at: &At, old: &Place, new: &Place) -> Vec<Entry> {
    let (Some(before), Some(after)) = (list(old, "enum"), list(new, "enum")) else {
        return Vec::new();
    };
    let mut entries = Vec::new();
    let added = missing_from(before.as_slice(), &after);
    let gone = missing_from(after.as_slice(), &before);
    if !added.is_empty() {
        let strings = added.iter().all(Value::is_string);
        let change = at.says(
            "in answers",
            format!("`enum` value {} added", values(&added)),
        );
        // A string enum that requests carry too is not opened (its
        // `Unknown` would be sendable): clients built before cannot read
        // the new value.
        if strings && new.directions.contains(&Direction::Request) {
            entries.push(entry(Impact::BreakingAtRunTime, change, UNREADABLE));
            return entries;
        }
        entries.push(entry(
            Impact::Compatible,
            change,
            if strings {
                "compatible for deployed services: clients built before it read the new value \
                 as the enum's `Unknown` variant, which keeps the text; a caller's `match` \
                 reaches its `_` arm"
            } else {
                "compatible for deployed services: a number's `enum` is generated as a plain \
                 number, which clients built before it read"
            },
        ));
    }
    if !gone.is_empty() {
        entries.push(entry(
            Impact::Compatible,
            at.says(
                "in answers",
                format!("`enum` value {} removed", values(&gone)),
            ),
            "compatible: answers no longer carry it",
        ));
    }
    entries
}

/// `deprecated` added or removed, anywhere.
fn deprecation(at: &At, old: &Place, new: &Place) -> Option<Entry> {
    let direction = if new.names.contains_key("operationId") {
        "operation"
    } else if new.directions.contains(&Direction::Request) {
        "in requests"
    } else {
        "in answers"
    };
    match (old.deprecated(), new.deprecated()) {
        (false, true) => Some(entry(
            Impact::Compatible,
            at.says(direction, "deprecated".into()),
            if direction == "operation" || at.pointer.contains("/properties/") {
                "compatible: it still works; the vendor may remove it later, and the generated \
                 method or field carries `#[deprecated]`, so callers' builds warn where they use \
                 it"
            } else {
                "compatible: it still works; the vendor may remove it later (the generated code \
                 marks operations and fields, not this)"
            },
        )),
        (true, false) => Some(entry(
            Impact::Compatible,
            at.says(direction, "no longer deprecated".into()),
            "compatible",
        )),
        _ => None,
    }
}

/// The values of `values` that `other` lacks.
fn missing_from(other: &[Value], values: &[Value]) -> Vec<Value> {
    values
        .iter()
        .filter(|value| !other.contains(value))
        .cloned()
        .collect()
}

fn list(place: &Place, keyword: &str) -> Option<Vec<Value>> {
    place.fact(keyword).and_then(Value::as_array).cloned()
}

fn nullable(place: &Place) -> bool {
    place.fact("nullable") == Some(&Value::Bool(true))
}

fn values(list: &[Value]) -> String {
    list.iter()
        .map(|value| shown(Some(value)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Impact, changes};
    use crate::contract::Contract;

    fn document(amount: serde_json::Value, token_type: serde_json::Value) -> serde_json::Value {
        json!({ "openapi": "3.0.3", "paths": { "/send": { "post": {
            "operationId": "send",
            "requestBody": { "content": { "application/json": { "schema": {
                "$ref": "#/components/schemas/Recipient" } } } },
            "responses": { "200": { "description": "ok", "content": { "application/json": {
                "schema": { "type": "object", "properties": { "token_type": token_type } } } } } }
        } } }, "components": { "schemas": { "Recipient": {
            "type": "object", "required": ["amount"], "properties": { "amount": amount } } } } })
    }

    fn report(old: serde_json::Value, new: serde_json::Value) -> Vec<(bool, bool, String)> {
        changes(&Contract::of(&old), &Contract::of(&new))
            .into_iter()
            .map(|entry| {
                let at_run_time = entry.impact == Impact::BreakingAtRunTime;
                (entry.impact.is_breaking(), at_run_time, entry.what)
            })
            .collect()
    }

    #[test]
    fn request_constraints_tightened_break_at_run_time_and_loosened_do_not() {
        let plain = json!({ "type": "string" });
        let capped = json!({ "type": "string", "pattern": "^[1-9][0-9]{0,5}$", "maxLength": 6 });
        let answer = json!({ "type": "string", "enum": ["bearer"] });
        assert_eq!(
            report(
                document(plain.clone(), answer.clone()),
                document(capped.clone(), answer.clone())
            ),
            vec![
                (
                    true,
                    true,
                    "`amount` (in requests, /components/schemas/Recipient/properties/amount): \
                     `maxLength` added (none → `6`)"
                        .to_owned()
                ),
                (
                    true,
                    true,
                    "`amount` (in requests, /components/schemas/Recipient/properties/amount): \
                     `pattern` none → `^[1-9][0-9]{0,5}$`"
                        .to_owned()
                ),
            ]
        );
        let loose = report(document(capped, answer.clone()), document(plain, answer));
        assert!(loose.iter().all(|(breaking, _, _)| !breaking), "{loose:?}");
        assert_eq!(loose.len(), 2, "{loose:?}");
    }

    #[test]
    fn an_answer_enum_value_added_is_compatible_and_a_nullable_is_only_on_a_required_field() {
        let amount = json!({ "type": "string" });
        let before = json!({ "type": "string", "enum": ["bearer"] });
        let after = json!({ "type": "string", "enum": ["bearer", "mac"], "nullable": true });
        let at = "`token_type` (in answers, /paths/~1send/post/responses/200/content/\
                  application~1json/schema/properties/token_type)";
        let found = report(
            document(amount.clone(), before.clone()),
            document(amount.clone(), after.clone()),
        );
        assert_eq!(
            found,
            vec![
                (false, false, format!("{at}: `nullable` added")),
                (false, false, format!("{at}: `enum` value `mac` added")),
            ]
        );
        let required = |mut document: serde_json::Value| {
            document["paths"]["/send"]["post"]["responses"]["200"]["content"]["application/json"]
                ["schema"]["required"] = json!(["token_type"]);
            document
        };
        let found = report(
            required(document(amount.clone(), before)),
            required(document(amount, after)),
        );
        assert_eq!(found[0], (true, true, format!("{at}: `nullable` added")));
    }

    #[test]
    fn an_enum_requests_carry_too_is_not_readable_with_a_new_value() {
        // The component is sent (the body) and answered (the 200).
        let mut old = document(json!({ "type": "string" }), json!({ "type": "string" }));
        old["components"]["schemas"]["Recipient"]["properties"]["kind"] =
            json!({ "type": "string", "enum": ["person"] });
        old["paths"]["/send"]["post"]["responses"]["200"]["content"]["application/json"]["schema"] =
            json!({ "$ref": "#/components/schemas/Recipient" });
        let mut new = old.clone();
        new["components"]["schemas"]["Recipient"]["properties"]["kind"]["enum"] =
            json!(["person", "team"]);
        let found = report(old, new);
        assert!(
            found.contains(&(
                true,
                true,
                "`kind` (in answers, /components/schemas/Recipient/properties/kind): `enum` \
                 value `team` added"
                    .to_owned()
            )),
            "{found:?}"
        );
    }

    #[test]
    fn loosenings_that_look_like_changes_are_compatible() {
        let answer = json!({ "type": "string" });
        let step = |step: u64| json!({ "type": "integer", "format": "int32", "multipleOf": step });
        let mut wider = step(2);
        wider["format"] = json!("int64");
        let found = report(document(step(4), answer.clone()), document(wider, answer));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().all(|(breaking, _, _)| !breaking), "{found:?}");
    }

    #[test]
    fn deprecating_an_operation_is_reported() {
        let amount = json!({ "type": "string" });
        let answer = json!({ "type": "string" });
        let old = document(amount.clone(), answer.clone());
        let mut new = document(amount, answer);
        new["paths"]["/send"]["post"]["deprecated"] = json!(true);
        assert_eq!(
            report(old, new),
            vec![(
                false,
                false,
                "`send` (operation, /paths/~1send/post): deprecated".to_owned()
            )]
        );
    }
}

//! specs/ → generated Rust source, in memory. Stages: parse, overlay,
//! validate, plain strings, name error bodies, routes and credentials,
//! generate (progenitor), wrap `send`, format (prettyplease). Every stage
//! reports all the problems it finds; regen stops after the first stage that
//! found any, so that what it reports is never a consequence of an earlier
//! problem.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use openapiv3::OpenAPI;
use progenitor::{GenerationSettings, Generator};
use quote::quote;
use serde_json::Value;

use crate::contract::{CONTRACT_FILE, Contract};
use crate::deprecations;
use crate::diagnostic::{Diagnostic, Problems};
use crate::error_bodies::name_error_bodies;
use crate::generated_docs;
use crate::generator::{first_line, settings, without_panics};
use crate::hand_written;
use crate::input_digest::{ANOTHER_DOCUMENT_MARKER, DIGEST_PREFIX, GENERATED_MARKER, digest};
use crate::mocks;
use crate::non_exhaustive;
use crate::open_enums;
use crate::output::{API_SURFACE_FILE, CLIENT_FILE, GeneratedFile};
use crate::overlay;
use crate::plain_strings::plain_strings;
use crate::progenitor_shapes::{json_request_bodies, one_type_per_side};
use crate::read_input::{is_json, parse_document, read_capped};
use crate::request_rules;
use crate::routes;
use crate::send_wrappers;
use crate::source_map::SourceMap;
use crate::validate;

/// What `--no-overlay` applies: an overlay without actions.
pub const NO_OVERLAY: &str = "overlay: 1.0.0\ninfo: { title: none, version: 1.0.0 }\nactions: []\n";
/// How it is named.
pub const NO_OVERLAY_NAME: &str = "(no overlay)";

/// Where the inputs come from.
pub struct Inputs {
    /// The OpenAPI document, as named to the user.
    pub spec_name: String,
    pub spec: Vec<u8>,
    pub overlay_name: String,
    pub overlay: Vec<u8>,
    /// The operations with a hand-written example in the workspace's
    /// `generated-client/operation-examples/` (by operationId): an input like
    /// the document, so that the output depends on the inputs alone.
    pub examples: BTreeSet<String>,
    /// The success types the workspace's hand-written client code judges
    /// itself (`hand_written.rs`), likewise an input.
    pub judged_answers: BTreeSet<String>,
    /// The `info.title` of the document the overlay `extends` (or `None`
    /// when it names none, or it cannot be read): a document with that
    /// title is the one the overlay was written for, which the overlay
    /// always fits (its unmatched targets are each reported).
    pub extended_title: Option<String>,
}

impl Inputs {
    /// Reads the document and the overlay, and lists the examples in the
    /// workspace at `root`.
    pub fn read(
        spec: &Path,
        overlay: &Path,
        root: &Path,
        shown_as: impl Fn(&Path) -> String,
    ) -> Result<Self, Diagnostic> {
        let read = |path: &Path| read_capped(path, &shown_as(path));
        Ok(Self {
            spec_name: shown_as(spec),
            spec: read(spec)?,
            overlay_name: shown_as(overlay),
            overlay: read(overlay)?,
            examples: examples_in(&root.join(generated_docs::EXAMPLES_DIR)),
            judged_answers: hand_written::judged_answers(&root.join(hand_written::CLIENT_SOURCES)),
            extended_title: extended_title(overlay, spec),
        })
    }

    /// The digest of both inputs under the names they were read by (the
    /// workspace's, relative to its root: what the build scripts compute).
    pub fn digest(&self) -> String {
        digest([
            (self.spec_name.as_str(), self.spec.as_slice()),
            (self.overlay_name.as_str(), self.overlay.as_slice()),
        ])
    }

    /// Both inputs with their source maps, to show problems' source lines.
    /// Built only when there are problems to show.
    pub fn sources(&self) -> Vec<SourceMap> {
        [
            (&self.spec_name, &self.spec),
            (&self.overlay_name, &self.overlay),
        ]
        .into_iter()
        .map(|(name, bytes)| match std::str::from_utf8(bytes) {
            Ok(text) if is_json(name, text) => SourceMap::json(name, text),
            Ok(text) => SourceMap::yaml(name, text),
            Err(_) => SourceMap::unindexed(name),
        })
        .collect()
    }
}

/// The `info.title` of the document the overlay at `overlay` extends
/// (`spec`'s own, read later, when it is that document: [`SAME_DOCUMENT`]).
fn extended_title(overlay: &Path, spec: &Path) -> Option<String> {
    let read = |path: &Path| -> Option<Value> {
        let name = path.display().to_string();
        parse_document(&name, &read_capped(path, &name).ok()?).ok()
    };
    let extends = read(overlay)?.get("extends")?.as_str()?.to_owned();
    let extended = overlay.parent()?.join(extends);
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same(&extended, spec) {
        return Some(SAME_DOCUMENT.into());
    }
    let document = read(&extended)?;
    Some(document.pointer("/info/title")?.as_str()?.to_owned())
}

/// `Inputs::extended_title` when the overlay extends the document read.
const SAME_DOCUMENT: &str = "\0the document read";

/// The stems of the `.md` files in `dir` (none when it does not exist).
fn examples_in(dir: &Path) -> BTreeSet<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeSet::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            name.strip_suffix(".md").map(str::to_owned)
        })
        .collect()
}

/// What regen generates, and what it has to say about it.
pub struct Generated {
    pub files: Vec<GeneratedFile>,
    /// Worth a reader's attention, but not a problem (an operation without
    /// an example).
    pub notes: Vec<String>,
}

/// How long each stage took, for `regen --timings`.
#[derive(Default)]
pub struct Timings(pub Vec<(&'static str, Duration)>);

impl Timings {
    /// Adds the time since `started` to `stage`, and restarts the clock.
    pub fn lap(&mut self, stage: &'static str, started: &mut Instant) {
        let elapsed = started.elapsed();
        match self.0.iter_mut().find(|(name, _)| *name == stage) {
            Some((_, total)) => *total += elapsed,
            None => self.0.push((stage, elapsed)),
        }
        *started = Instant::now();
    }
}

/// Stops when a stage found problems.
fn checked(problems: Problems) -> Result<(), Problems> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

pub fn generate(inputs: &Inputs, timings: &mut Timings) -> Result<Generated, Problems> {
    let mut clock = Instant::now();
    let spec_name = inputs.spec_name.as_str();
    let parsed = parse_document(spec_name, &inputs.spec);
    let overlay_parsed = parse_document(&inputs.overlay_name, &inputs.overlay);
    let (mut document, overlay_document) = match (parsed, overlay_parsed) {
        (Ok(document), Ok(overlay)) => (document, overlay),
        (document, overlay) => {
            return Err([document.err(), overlay.err()]
                .into_iter()
                .flatten()
                .collect());
        }
    };
    timings.lap("parse", &mut clock);

    let mut problems = Problems::new();
    validate::structure(&document, spec_name, &mut problems);
    checked(problems)?;
    let mut problems = Problems::new();
    let written_for_it = match inputs.extended_title.as_deref() {
        Some(SAME_DOCUMENT) => true,
        Some(title) => document.pointer("/info/title").and_then(Value::as_str) == Some(title),
        None => false,
    };
    let fits = overlay::apply(
        &mut document,
        &overlay_document,
        &inputs.overlay_name,
        written_for_it,
        &mut problems,
    );
    timings.lap("overlay", &mut clock);
    if !fits {
        // An overlay written for another document: said once, first, then
        // the document's own problems, which would otherwise never show.
        json_request_bodies(&mut document);
        validate::semantics(&document, spec_name, &mut problems);
        return Err(problems);
    }
    // Problems after a failed action would be its consequences: stop here.
    checked(problems)?;
    json_request_bodies(&mut document);
    let mut problems = Problems::new();
    validate::semantics(&document, spec_name, &mut problems);
    checked(problems)?;
    let contract = Contract::of(&document);
    let mut problems = Problems::new();
    request_rules::check_patterns(&contract, spec_name, &mut problems);
    checked(problems)?;
    let deprecated_operations = deprecations::deprecated_operations(&document);
    deprecations::mark_properties(&mut document);
    plain_strings(&mut document);
    name_error_bodies(&mut document, spec_name).map_err(|problem| vec![problem])?;
    let mut problems = Problems::new();
    one_type_per_side(&mut document, spec_name, &mut problems);
    checked(problems)?;

    let spec: OpenAPI = deserialize_located(&document).map_err(|(pointer, message)| {
        vec![Diagnostic::at(
            spec_name,
            pointer,
            format!("not valid OpenAPI 3.0 here: {message}"),
        )]
    })?;

    let mut problems = Problems::new();
    let environments = routes::environments(&spec, spec_name, &mut problems);
    let files = routes::Files {
        spec: spec_name,
        overlay: &inputs.overlay_name,
    };
    let routes = routes::routes(&spec, &document, &environments, &files, &mut problems);
    checked(problems)?;
    timings.lap("validate", &mut clock);

    let settings = settings();
    let client_tokens = generate_client(&spec, &document, &settings, spec_name)?;
    let mut client: syn::File = syn::parse2(client_tokens).map_err(|error| {
        vec![Diagnostic::new(
            spec_name,
            format!("internal error: progenitor's client does not parse: {error}"),
        )]
    })?;
    send_wrappers::wrap_sends(
        &mut client,
        &environments,
        &routes,
        &inputs.judged_answers,
        spec_name,
    )
    .map_err(|problem| vec![problem])?;
    non_exhaustive::mark_types(&mut client);
    let mut surface = crate::surface::surface(&client, &environments, &routes);
    open_enums::open_answer_enums(&mut client, &mut surface);
    deprecations::mark_items(&mut client, &routes, &deprecated_operations);
    let without_example =
        generated_docs::document(&mut client, &routes, &environments, &inputs.examples);
    let notes = without_example
        .iter()
        .map(|operation| {
            format!(
                "note: operation `{operation}` has no example in its docs: write one in {}/{operation}.md \
                 (a doctest; see the others there)",
                generated_docs::EXAMPLES_DIR
            )
        })
        .collect();
    let routes_tokens = routes::routes_source(&environments, &routes);
    let rules_tokens = request_rules::rules_source(&contract);
    let mocks_tokens = mocks::mocks_source(&spec, &settings, &routes, spec_name)
        .map_err(|problem| vec![problem])?;
    timings.lap("generate", &mut clock);
    // One file per crate: a single rename replaces it whole, so an
    // interrupted regen leaves the crate wholly old or wholly new.
    let source = format_source(
        spec_name,
        quote! {
            #client

            /// The environments, the operations and the route table,
            /// derived from the document's `servers` and `security`
            /// (progenitor ignores them).
            pub mod routes {
                use crate::routing::{Credential, Route};

                #routes_tokens
            }

            /// The document's rules for each value a request carries (after
            /// the overlay), which the typed request values check before
            /// anything is sent.
            pub mod request_rules {
                use crate::values::rules::FieldRules;

                #rules_tokens
            }
        },
    )
    .map_err(|problem| vec![problem])?;
    let mocks = format_source(spec_name, mocks_tokens).map_err(|problem| vec![problem])?;
    timings.lap("format", &mut clock);

    let header = header(inputs);
    let files = vec![
        GeneratedFile {
            relative_path: CLIENT_FILE,
            content: format!("{header}{source}"),
        },
        GeneratedFile {
            relative_path: "generated-mocks/src/generated.rs",
            content: format!("{header}{mocks}"),
        },
        GeneratedFile {
            relative_path: API_SURFACE_FILE,
            content: surface.to_text(),
        },
        GeneratedFile {
            relative_path: CONTRACT_FILE,
            content: contract.to_text(),
        },
    ];
    Ok(Generated { files, notes })
}

/// progenitor's client; a panic inside progenitor or typify becomes one
/// diagnostic at the operation or schema that caused it.
fn generate_client(
    spec: &OpenAPI,
    document: &Value,
    settings: &GenerationSettings,
    spec_file: &str,
) -> Result<proc_macro2::TokenStream, Problems> {
    match without_panics(|| Generator::new(settings).generate_tokens(spec)) {
        Ok(Ok(tokens)) => Ok(tokens),
        Ok(Err(error)) => Err(vec![Diagnostic::new(
            spec_file,
            format!(
                "progenitor cannot generate a client: {}",
                first_line(&error.to_string())
            ),
        )]),
        Err(panic) => Err(crate::panics::culprits(
            document, settings, spec_file, &panic,
        )),
    }
}

/// Names the files really read.
fn header(inputs: &Inputs) -> String {
    let another_document = if inputs.overlay_name == NO_OVERLAY_NAME {
        format!("{ANOTHER_DOCUMENT_MARKER}\n")
    } else {
        String::new()
    };
    format!(
        "{GENERATED_MARKER} from {} and {}.\n\
         // Do not edit by hand: change the inputs and run `cargo xtask regen`.\n\
         {another_document}{DIGEST_PREFIX}{}\n\n",
        inputs.spec_name,
        inputs.overlay_name,
        inputs.digest(),
    )
}

fn format_source(spec_file: &str, tokens: proc_macro2::TokenStream) -> Result<String, Diagnostic> {
    let file: syn::File = syn::parse2(tokens).map_err(|error| {
        Diagnostic::new(
            spec_file,
            format!("internal error: generated code does not parse: {error}"),
        )
    })?;
    Ok(prettyplease::unparse(&file))
}

/// Deserializes the document, locating an error as deep as it can. serde
/// loses the path inside openapiv3's untagged `ReferenceOr`, so an error
/// under `/paths` is looked for again path item by path item, and under a
/// response, as a `Response`.
fn deserialize_located(document: &serde_json::Value) -> Result<OpenAPI, (String, String)> {
    fn attempt<T: serde::de::DeserializeOwned>(
        value: &serde_json::Value,
        prefix: &str,
    ) -> Result<T, (String, String)> {
        serde_path_to_error::deserialize(value.clone()).map_err(|error| {
            (
                format!("{prefix}{}", pointer_of(error.path())),
                error.inner().to_string(),
            )
        })
    }
    let (pointer, message) = match attempt::<OpenAPI>(document, "") {
        Ok(spec) => return Ok(spec),
        Err(failure) => failure,
    };
    let paths = document.get("paths").and_then(serde_json::Value::as_object);
    if pointer != "/paths" || paths.is_none() {
        return Err((pointer, message));
    }
    for (path, item) in paths.into_iter().flatten() {
        let prefix = format!("/paths/{}", crate::naming::escape(path));
        let Err((inner, inner_message)) = attempt::<openapiv3::PathItem>(item, &prefix) else {
            continue;
        };
        if inner.ends_with("/responses") {
            let responses = document
                .pointer(&inner)
                .and_then(serde_json::Value::as_object);
            for (status, response) in responses.into_iter().flatten() {
                if response.get("$ref").is_none() {
                    let here = format!("{inner}/{}", crate::naming::escape(status));
                    attempt::<openapiv3::Response>(response, &here)?;
                }
            }
        }
        return Err((inner, inner_message));
    }
    Err((pointer, message))
}

/// serde_path_to_error's path as a JSON pointer.
fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .map(|segment| match segment {
            Segment::Seq { index } => format!("/{index}"),
            Segment::Map { key } => format!("/{}", crate::naming::escape(key)),
            Segment::Enum { variant } => format!("/{}", crate::naming::escape(variant)),
            Segment::Unknown => "/?".to_owned(),
        })
        .collect()
}

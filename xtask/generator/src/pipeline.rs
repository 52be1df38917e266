//! specs/ → generated Rust source, in memory. [`generate`] runs these
//! stages, in this order (in brackets: the lap of `regen --timings` each
//! one counts in):
//!
//! 1. Read [parse]: parse the document and the overlay.
//! 2. Overlay [overlay]: check the document's structure, then apply the
//!    overlay (`reading/overlay.rs`).
//! 3. Check [validate]: request bodies as JSON, then the document's
//!    semantics; its contract read, and its request patterns checked.
//! 4. Shape for progenitor [validate]: deprecated operations noted and
//!    deprecated properties marked, plain strings, error bodies named, one
//!    type per side; the document read as OpenAPI 3.0.
//! 5. Route model [validate]: the environments (`servers`), then each
//!    operation's route and credential (`paths`, `security`).
//! 6. Generate [generate]: progenitor's client, each builder's `send`
//!    wrapped, types marked `non_exhaustive`, the API surface read from the
//!    code, answer enums opened, deprecated items marked, every item
//!    documented; then the routes, the request rules and the mocks as code.
//! 7. Format [format]: the client crate's file and the mocks' file
//!    (prettyplease).
//! 8. Files: each Rust file under a header naming the inputs, with the API
//!    surface and the contract.
//!
//! Every check reports all the problems it finds; regen stops after the
//! first stage that found any, so that what it reports is never a
//! consequence of an earlier problem. One exception: an overlay written for
//! another document is said once, then the document's own problems follow
//! (stage 3's semantics), which would otherwise never show.

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
use crate::overlay::{self, NotApplied};
use crate::plain_strings::plain_strings;
use crate::progenitor_shapes::{json_request_bodies, one_type_per_side};
use crate::read_input::{is_json, parse_document, read_capped};
use crate::request_rules;
use crate::routes::{self, Environment, Route};
use crate::send_wrappers;
use crate::source_map::SourceMap;
use crate::surface::Surface;
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
    /// The document the overlay `extends`, which the overlay always fits
    /// (its unmatched targets are each reported).
    pub extended: ExtendedDocument,
}

/// The document an overlay says it was written for (its `extends`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtendedDocument {
    /// The overlay names none, or it or the document it names cannot be
    /// read.
    Unknown,
    /// The document read (`--spec`, or the workspace's).
    TheDocumentRead,
    /// Another file, known by its `info.title`: a document with that title
    /// is the one the overlay was written for.
    Titled(String),
}

impl ExtendedDocument {
    /// Whether `document` is the one the overlay was written for.
    fn is(&self, document: &Value) -> bool {
        match self {
            Self::Unknown => false,
            Self::TheDocumentRead => true,
            Self::Titled(title) => {
                document.pointer("/info/title").and_then(Value::as_str) == Some(title.as_str())
            }
        }
    }
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
            extended: extended_document(overlay, spec),
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

/// The document the overlay at `overlay` extends: `spec` itself (whose
/// title is read later), or another, by its title.
fn extended_document(overlay: &Path, spec: &Path) -> ExtendedDocument {
    let read = |path: &Path| -> Option<Value> {
        let name = path.display().to_string();
        parse_document(&name, &read_capped(path, &name).ok()?).ok()
    };
    let extended = read(overlay).and_then(|overlay_document| {
        let extends = overlay_document.get("extends")?.as_str()?.to_owned();
        Some(overlay.parent()?.join(extends))
    });
    let Some(extended) = extended else {
        return ExtendedDocument::Unknown;
    };
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same(&extended, spec) {
        return ExtendedDocument::TheDocumentRead;
    }
    read(&extended)
        .and_then(|document| Some(document.pointer("/info/title")?.as_str()?.to_owned()))
        .map_or(ExtendedDocument::Unknown, ExtendedDocument::Titled)
}

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

/// Runs one stage that reports its problems into a list: what it made, or
/// every problem it found (and regen stops there).
fn stage<T>(run: impl FnOnce(&mut Problems) -> T) -> Result<T, Problems> {
    let mut problems = Problems::new();
    let made = run(&mut problems);
    if problems.is_empty() {
        Ok(made)
    } else {
        Err(problems)
    }
}

/// The problems of a stage that stops at its first.
fn one_problem(problem: Diagnostic) -> Problems {
    vec![problem]
}

/// Runs the stages (see the module's doc), timing each.
pub fn generate(inputs: &Inputs, timings: &mut Timings) -> Result<Generated, Problems> {
    let mut clock = Instant::now();
    let (mut document, overlay_document) = parse_inputs(inputs)?;
    timings.lap("parse", &mut clock);
    apply_overlay(&mut document, &overlay_document, inputs)?;
    timings.lap("overlay", &mut clock);
    let checked = check_and_shape(document, inputs)?;
    timings.lap("validate", &mut clock);
    let code = generate_code(&checked, inputs)?;
    timings.lap("generate", &mut clock);
    let formatted = format_code(&code, &inputs.spec_name)?;
    timings.lap("format", &mut clock);
    Ok(Generated {
        files: files(inputs, formatted, &code.surface, &checked.contract),
        notes: notes(&code.without_example),
    })
}

// ---------------------------------------------------------------------------
// Read and overlay.

/// Stage 1: the document and the overlay, parsed (the problems of both).
fn parse_inputs(inputs: &Inputs) -> Result<(Value, Value), Problems> {
    let parsed = parse_document(&inputs.spec_name, &inputs.spec);
    let overlay_parsed = parse_document(&inputs.overlay_name, &inputs.overlay);
    match (parsed, overlay_parsed) {
        (Ok(document), Ok(overlay)) => Ok((document, overlay)),
        (document, overlay) => Err([document.err(), overlay.err()]
            .into_iter()
            .flatten()
            .collect()),
    }
}

/// Stage 2: the document's structure checked, then the overlay applied.
fn apply_overlay(
    document: &mut Value,
    overlay_document: &Value,
    inputs: &Inputs,
) -> Result<(), Problems> {
    let spec_name = inputs.spec_name.as_str();
    stage(|problems| validate::structure(document, spec_name, problems))?;
    let written_for_it = inputs.extended.is(document);
    let applied = overlay::apply(
        document,
        overlay_document,
        &inputs.overlay_name,
        written_for_it,
    );
    match applied {
        Ok(()) => Ok(()),
        Err(NotApplied::DoesNotFit(problem)) => {
            // An overlay written for another document: said once, first,
            // then the document's own problems, which would otherwise never
            // show.
            let mut problems = vec![problem];
            check_semantics(document, spec_name, &mut problems);
            Err(problems)
        }
        // Problems after a failed action would be its consequences: stop
        // here.
        Err(NotApplied::Malformed(problems) | NotApplied::Actions(problems)) => Err(problems),
    }
}

// ---------------------------------------------------------------------------
// Check, shape for progenitor, and the route model.

/// The document after the checks, shaped for progenitor, with what the code
/// is generated from.
struct Checked {
    /// The shaped document, as JSON (where a panic's culprit is looked for).
    document: Value,
    /// The shaped document, as progenitor reads it.
    spec: OpenAPI,
    /// The document's contract, read before it was shaped.
    contract: Contract,
    /// The operationIds of the deprecated operations.
    deprecated_operations: BTreeSet<String>,
    environments: Vec<Environment>,
    routes: Vec<Route>,
}

/// Stages 3 to 5: the overlaid document checked, shaped for progenitor, and
/// its route model read.
fn check_and_shape(mut document: Value, inputs: &Inputs) -> Result<Checked, Problems> {
    let spec_name = inputs.spec_name.as_str();
    stage(|problems| check_semantics(&mut document, spec_name, problems))?;
    let contract = Contract::of(&document);
    stage(|problems| request_rules::check_patterns(&contract, spec_name, problems))?;
    let deprecated_operations = deprecations::deprecated_operations(&document);
    let spec = shape_for_progenitor(&mut document, spec_name)?;
    let (environments, routes) = stage(|problems| route_model(&spec, &document, inputs, problems))?;
    Ok(Checked {
        document,
        spec,
        contract,
        deprecated_operations,
        environments,
        routes,
    })
}

/// The document's semantics, checked once its request bodies are JSON.
fn check_semantics(document: &mut Value, spec_name: &str, problems: &mut Problems) {
    json_request_bodies(document);
    validate::semantics(document, spec_name, problems);
}

/// Stage 4: the document in the shapes progenitor generates well from, read
/// as OpenAPI 3.0.
fn shape_for_progenitor(document: &mut Value, spec_name: &str) -> Result<OpenAPI, Problems> {
    deprecations::mark_properties(document);
    plain_strings(document);
    name_error_bodies(document, spec_name).map_err(one_problem)?;
    stage(|problems| one_type_per_side(document, spec_name, problems))?;
    deserialize_located(document).map_err(|(pointer, message)| {
        one_problem(Diagnostic::at(
            spec_name,
            pointer,
            format!("not valid OpenAPI 3.0 here: {message}"),
        ))
    })
}

/// Stage 5: the environments, then the routes (every problem of both).
fn route_model(
    spec: &OpenAPI,
    document: &Value,
    inputs: &Inputs,
    problems: &mut Problems,
) -> (Vec<Environment>, Vec<Route>) {
    let environments = routes::environments(spec, &inputs.spec_name, problems);
    let files = routes::Files {
        spec: &inputs.spec_name,
        overlay: &inputs.overlay_name,
    };
    let routes = routes::routes(spec, document, &environments, &files, problems);
    (environments, routes)
}

// ---------------------------------------------------------------------------
// Generate and format.

/// The generated code, before it is formatted, and what was read from it.
struct Code {
    /// progenitor's client, rewritten and documented.
    client: syn::File,
    /// The contents of the generated `mod routes`.
    routes: proc_macro2::TokenStream,
    /// The contents of the generated `mod request_rules`.
    rules: proc_macro2::TokenStream,
    mocks: proc_macro2::TokenStream,
    surface: Surface,
    /// The operations with no hand-written example.
    without_example: Vec<String>,
}

/// Stage 6: the client (progenitor's, rewritten), its surface, and the
/// routes, the request rules and the mocks as code.
fn generate_code(checked: &Checked, inputs: &Inputs) -> Result<Code, Problems> {
    let spec_name = inputs.spec_name.as_str();
    let (environments, routes) = (&checked.environments, &checked.routes);
    let settings = settings();
    let mut client = progenitor_client(checked, &settings, spec_name)?;
    send_wrappers::wrap_sends(
        &mut client,
        environments,
        routes,
        &inputs.judged_answers,
        spec_name,
    )
    .map_err(one_problem)?;
    non_exhaustive::mark_types(&mut client);
    let mut surface = crate::surface::surface(&client, environments, routes);
    open_enums::open_answer_enums(&mut client, &mut surface);
    deprecations::mark_items(&mut client, routes, &checked.deprecated_operations);
    let without_example =
        generated_docs::document(&mut client, routes, environments, &inputs.examples);
    Ok(Code {
        routes: routes::routes_source(environments, routes),
        rules: request_rules::rules_source(&checked.contract),
        mocks: mocks::mocks_source(&checked.spec, &settings, routes, spec_name)
            .map_err(one_problem)?,
        client,
        surface,
        without_example,
    })
}

/// progenitor's client, as syntax to rewrite.
fn progenitor_client(
    checked: &Checked,
    settings: &GenerationSettings,
    spec_name: &str,
) -> Result<syn::File, Problems> {
    let tokens = generate_client(&checked.spec, &checked.document, settings, spec_name)?;
    syn::parse2(tokens).map_err(|error| {
        one_problem(Diagnostic::new(
            spec_name,
            format!("internal error: progenitor's client does not parse: {error}"),
        ))
    })
}

/// The two Rust files, formatted.
struct Formatted {
    /// The client crate's `generated.rs`.
    client: String,
    /// The mocks crate's `generated.rs`.
    mocks: String,
}

/// Stage 7: one file per crate: a single rename replaces it whole, so an
/// interrupted regen leaves the crate wholly old or wholly new.
fn format_code(code: &Code, spec_name: &str) -> Result<Formatted, Problems> {
    let client = format_source(spec_name, client_source(code)).map_err(one_problem)?;
    let mocks = format_source(spec_name, code.mocks.clone()).map_err(one_problem)?;
    Ok(Formatted { client, mocks })
}

/// The client crate's generated file: the client, then the routes and the
/// request rules in modules of their own.
fn client_source(code: &Code) -> proc_macro2::TokenStream {
    let Code {
        client,
        routes,
        rules,
        ..
    } = code;
    quote! {
        #client

        /// The environments, the operations and the route table,
        /// derived from the document's `servers` and `security`
        /// (progenitor ignores them).
        pub mod routes {
            use crate::routing::{Credential, Route};

            #routes
        }

        /// The document's rules for each value a request carries (after
        /// the overlay), which the typed request values check before
        /// anything is sent.
        pub mod request_rules {
            use crate::values::rules::FieldRules;

            #rules
        }
    }
}

// ---------------------------------------------------------------------------
// Files and notes.

/// Stage 8: the generated files, each Rust file under a header naming the
/// inputs.
fn files(
    inputs: &Inputs,
    formatted: Formatted,
    surface: &Surface,
    contract: &Contract,
) -> Vec<GeneratedFile> {
    let header = header(inputs);
    vec![
        GeneratedFile {
            relative_path: CLIENT_FILE,
            content: format!("{header}{}", formatted.client),
        },
        GeneratedFile {
            relative_path: "generated-mocks/src/generated.rs",
            content: format!("{header}{}", formatted.mocks),
        },
        GeneratedFile {
            relative_path: API_SURFACE_FILE,
            content: surface.to_text(),
        },
        GeneratedFile {
            relative_path: CONTRACT_FILE,
            content: contract.to_text(),
        },
    ]
}

/// A note for each operation without an example.
fn notes(without_example: &[String]) -> Vec<String> {
    without_example
        .iter()
        .map(|operation| {
            format!(
                "note: operation `{operation}` has no example in its docs: write one in {}/{operation}.md \
                 (a doctest; see the others there)",
                generated_docs::EXAMPLES_DIR
            )
        })
        .collect()
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

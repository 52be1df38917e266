//! specs/ → generated Rust source, in memory. Stages: parse, overlay, name
//! error bodies, generate (progenitor), format (prettyplease).

use std::path::Path;
use std::time::{Duration, Instant};

use openapiv3::OpenAPI;
use progenitor::{GenerationSettings, Generator, HooksMode, InterfaceStyle, TagStyle, TypeImpl};
use quote::quote;

use crate::error_bodies::name_error_bodies;
use crate::failure::Failure;
use crate::input_digest::{DIGEST_PREFIX, GENERATED_MARKER, digest};
use crate::mocks;
use crate::overlay;
use crate::read_input::{parse_yaml, read_capped};
use crate::routes;
use crate::send_wrappers;
use crate::validate;

/// Where the inputs come from.
pub struct Inputs {
    /// The OpenAPI document, as named to the user.
    pub spec_name: String,
    pub spec: Vec<u8>,
    pub overlay_name: String,
    pub overlay: Vec<u8>,
}

impl Inputs {
    pub fn read(
        spec: &Path,
        overlay: &Path,
        shown_as: impl Fn(&Path) -> String,
    ) -> Result<Self, Failure> {
        let read = |path: &Path| read_capped(path, &shown_as(path));
        Ok(Self {
            spec_name: shown_as(spec),
            spec: read(spec)?,
            overlay_name: shown_as(overlay),
            overlay: read(overlay)?,
        })
    }

    pub fn digest(&self) -> String {
        digest([
            (crate::input_digest::INPUT_FILES[0], self.spec.as_slice()),
            (crate::input_digest::INPUT_FILES[1], self.overlay.as_slice()),
        ])
    }
}

/// One generated file: its path under the output directory and its content.
pub struct GeneratedFile {
    pub relative_path: &'static str,
    pub content: String,
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

pub fn generate(inputs: &Inputs, timings: &mut Timings) -> Result<Vec<GeneratedFile>, Failure> {
    let mut clock = Instant::now();
    let mut document = parse_yaml(&inputs.spec_name, &inputs.spec)?;
    let overlay_document = parse_yaml(&inputs.overlay_name, &inputs.overlay)?;
    timings.lap("parse", &mut clock);
    validate::structure(&document, &inputs.spec_name)?;
    overlay::apply(&mut document, &overlay_document, &inputs.overlay_name)?;
    timings.lap("overlay", &mut clock);
    validate::semantics(&document, &inputs.spec_name)?;
    name_error_bodies(&mut document, &inputs.spec_name)?;

    let spec: OpenAPI = deserialize_located(&document).map_err(|(pointer, message)| {
        Failure::at(
            &inputs.spec_name,
            pointer,
            format!("not valid OpenAPI 3.0 here: {message}"),
        )
    })?;

    let environments = routes::environments(&spec, &inputs.spec_name)?;
    let routes = routes::routes(&spec, &environments, &inputs.spec_name)?;
    timings.lap("validate", &mut clock);

    let mut settings = GenerationSettings::new();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_tag(TagStyle::Merged)
        // Routing, auth and the rest of the runtime live in hand-written code
        // reached through progenitor-client's hooks; `Expected` makes a
        // missing hook implementation a compile error.
        .with_inner_type(quote!(crate::ClientContext))
        .with_hooks(HooksMode::Expected)
        .with_replacement(
            "EpochMillis",
            "crate::EpochMillis",
            [TypeImpl::Display].into_iter(),
        )
        .with_replacement("Secret", "crate::Secret", [TypeImpl::Display].into_iter());
    let client_tokens = without_panics(|| Generator::new(&settings).generate_tokens(&spec))
        .map_err(|panic| {
            Failure::new(
                &inputs.spec_name,
                format!("progenitor cannot generate a client (it panicked: {panic})"),
            )
        })?
        .map_err(|error| {
            Failure::new(
                &inputs.spec_name,
                format!("progenitor cannot generate a client: {error}"),
            )
        })?;
    let operations = routes::operation_variants(&routes, &inputs.spec_name)?;
    let client_tokens = send_wrappers::wrap_sends(
        client_tokens,
        &environments,
        &routes,
        &operations,
        &inputs.spec_name,
    )?;
    let routes_tokens = routes::routes_source(&environments, &routes, &inputs.spec_name)?;
    let mocks_tokens =
        mocks::mocks_source(&spec, &document, &settings, &routes, &inputs.spec_name)?;
    timings.lap("generate", &mut clock);
    // One file per crate: a single rename replaces it whole, so an
    // interrupted regen leaves the crate wholly old or wholly new.
    let source = format_source(
        &inputs.spec_name,
        quote! {
            #client_tokens

            /// The environments and the route table, derived from the
            /// document's `servers` (progenitor ignores them).
            pub mod routes {
                use crate::routing::Route;

                #routes_tokens
            }
        },
    )?;
    let mocks = format_source(&inputs.spec_name, mocks_tokens)?;
    timings.lap("format", &mut clock);

    let header = header(&inputs.digest());
    Ok(vec![
        GeneratedFile {
            relative_path: "generated-client/src/generated.rs",
            content: format!("{header}{source}"),
        },
        GeneratedFile {
            relative_path: "generated-mocks/src/generated.rs",
            content: format!("{header}{mocks}"),
        },
    ])
}

fn header(digest: &str) -> String {
    format!(
        "{GENERATED_MARKER} from {} and {}.\n\
         // Do not edit by hand: change the inputs and run `cargo xtask regen`.\n\
         {DIGEST_PREFIX}{digest}\n\n",
        crate::input_digest::INPUT_FILES[0],
        crate::input_digest::INPUT_FILES[1],
    )
}

fn format_source(spec_file: &str, tokens: proc_macro2::TokenStream) -> Result<String, Failure> {
    let file: syn::File = syn::parse2(tokens).map_err(|error| {
        Failure::new(
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

/// Runs `f`, turning a panic into an error. progenitor and typify panic on
/// some inputs that validation does not foresee; the user gets one line, not
/// a backtrace (unless RUST_BACKTRACE asks for one).
pub fn without_panics<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let quiet = std::env::var_os("RUST_BACKTRACE").is_none();
    let previous = quiet.then(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        previous
    });
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    if let Some(previous) = previous {
        std::panic::set_hook(previous);
    }
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|message| (*message).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned())
    })
}

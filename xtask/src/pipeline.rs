//! specs/ → generated Rust source, in memory. Stages: parse, overlay, name
//! error bodies, generate (progenitor), format (prettyplease).

use std::path::Path;

use openapiv3::OpenAPI;
use progenitor::{GenerationSettings, Generator, HooksMode, InterfaceStyle, TagStyle, TypeImpl};
use quote::quote;
use serde_json::Value;

use crate::error_bodies::name_error_bodies;
use crate::failure::Failure;
use crate::input_digest::{DIGEST_PREFIX, GENERATED_MARKER, digest};
use crate::overlay;
use crate::routes;

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
        let read = |path: &Path| {
            std::fs::read(path).map_err(|error| {
                Failure::new(shown_as(path), format!("cannot read the file: {error}"))
            })
        };
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

pub fn generate(inputs: &Inputs) -> Result<Vec<GeneratedFile>, Failure> {
    let mut document = parse_yaml(&inputs.spec_name, &inputs.spec)?;
    let overlay_document = parse_yaml(&inputs.overlay_name, &inputs.overlay)?;
    overlay::apply(&mut document, &overlay_document, &inputs.overlay_name)?;
    name_error_bodies(&mut document, &inputs.spec_name)?;

    let spec: OpenAPI = serde_json::from_value(document).map_err(|error| {
        Failure::new(
            &inputs.spec_name,
            format!("not an OpenAPI 3.0 document: {error}"),
        )
    })?;

    let environments = routes::environments(&spec, &inputs.spec_name)?;
    let routes = routes::routes(&spec, &environments, &inputs.spec_name)?;

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
    let client_tokens = Generator::new(&settings)
        .generate_tokens(&spec)
        .map_err(|error| {
            Failure::new(
                &inputs.spec_name,
                format!("progenitor cannot generate a client: {error}"),
            )
        })?;
    let client = format_source(&inputs.spec_name, client_tokens)?;
    for route in &routes {
        if !client.contains(&format!("operation_id: \"{}\"", route.hook_id)) {
            return Err(Failure::new(
                &inputs.spec_name,
                format!(
                    "internal error: progenitor named operation `{}` other than `{}`; \
                     the route table would not match it",
                    route.operation_id, route.hook_id
                ),
            ));
        }
    }
    let routes_file = format_source(
        &inputs.spec_name,
        routes::routes_source(&environments, &routes),
    )?;

    let header = header(&inputs.digest());
    Ok(vec![
        GeneratedFile {
            relative_path: "src/generated.rs",
            content: format!("{header}{client}"),
        },
        GeneratedFile {
            relative_path: "src/routes.rs",
            content: format!(
                "{header}//! The environments and the route table derived from the document's \
                 `servers`.\n\nuse crate::routing::Route;\n\n{routes_file}"
            ),
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

fn parse_yaml(file: &str, bytes: &[u8]) -> Result<Value, Failure> {
    serde_yaml::from_slice(bytes).map_err(|error| {
        let mut failure = Failure::new(file, error.to_string());
        if let Some(location) = error.location() {
            failure.location = Some(format!("{}:{}", location.line(), location.column()));
        }
        failure
    })
}

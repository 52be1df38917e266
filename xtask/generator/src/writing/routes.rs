//! The route model as Rust: the generated crate's `Environment`, `Operation`
//! and route table.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use crate::naming::snake_case;
use crate::routes::{Credential, Environment, Route};

/// The Rust source of `mod routes` (without header): `Environment`,
/// `Operation` and the route table, indexed by `Operation`.
pub fn routes_source(environments: &[Environment], routes: &[Route]) -> TokenStream {
    let variants: Vec<_> = environments
        .iter()
        .map(|environment| format_ident!("{}", environment.variant))
        .collect();
    let variant_docs = environments
        .iter()
        .map(|environment| format!("`{}`: `{}`", environment.description, environment.url));
    let descriptions = environments
        .iter()
        .map(|environment| &environment.description);
    let urls = environments.iter().map(|environment| &environment.url);
    let slugs = environments
        .iter()
        .map(|environment| snake_case(&environment.description).replace('_', "-"));
    let count = Literal::usize_unsuffixed(environments.len());
    let route_count = Literal::usize_unsuffixed(routes.len());
    let operations: Vec<_> = routes
        .iter()
        .map(|route| format_ident!("{}", route.variant))
        .collect();
    let operation_ids = routes.iter().map(|route| &route.operation_id);
    let operation_docs = routes.iter().map(|route| {
        format!(
            "`{}`: `{} {}` in the document.",
            route.operation_id, route.http_method, route.spec_path
        )
    });
    let route_items = routes.iter().zip(&operations).map(|(route, operation)| {
        let Route {
            operation_id: _,
            hook_id: _,
            variant: _,
            http_method,
            spec_path,
            virtual_path,
            credential,
            idempotent,
            servers,
            body_constants,
        } = route;
        // Each constant as its JSON text: what tells the operations that
        // share a URL apart in a request's body.
        let constants = body_constants.iter().map(|(name, value)| {
            let json = value.to_string();
            quote!((#name, #json))
        });
        let credential = match credential {
            Credential::None => quote!(Credential::None),
            Credential::BearerToken => quote!(Credential::BearerToken),
        };
        quote! {
            Route {
                operation: Operation::#operation,
                http_method: #http_method,
                spec_path: #spec_path,
                virtual_path: #virtual_path,
                credential: #credential,
                idempotent: #idempotent,
                servers: [#(#servers),*],
                body_constants: &[#(#constants),*],
            }
        }
    });
    quote! {
        /// The vendor's environments: one per global server of the document.
        /// Non-exhaustive: the vendor may add one, which must not break a
        /// caller's `match`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Environment {
            #(#[doc = #variant_docs] #variants,)*
        }

        impl Environment {
            /// Every environment, in the document's order.
            pub const ALL: [Environment; #count] = [#(Environment::#variants),*];

            /// The server's description in the document, such as `Sandbox`.
            pub const fn name(self) -> &'static str {
                match self {
                    #(Environment::#variants => #descriptions,)*
                }
            }

            /// The description in lower-case words joined by `-`, such as
            /// `sandbox`: what command lines take.
            pub const fn slug(self) -> &'static str {
                match self {
                    #(Environment::#variants => #slugs,)*
                }
            }

            /// The global server URL of this environment.
            pub const fn server_url(self) -> &'static str {
                match self {
                    #(Environment::#variants => #urls,)*
                }
            }

            pub(crate) const fn index(self) -> usize {
                self as usize
            }
        }

        /// The document's operations, one variant each: hand-written code
        /// names an operation by this type, never by a string, so a renamed or
        /// removed operation is a compile error where it is used.
        /// Non-exhaustive: the vendor may add one, which must not break a
        /// caller's `match`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Operation {
            #(#[doc = #operation_docs] #operations,)*
        }

        impl Operation {
            /// Every operation, in the document's order.
            pub const ALL: [Operation; #route_count] = [#(Operation::#operations),*];

            /// The document's `operationId`, such as `fetchPoints`.
            pub const fn id(self) -> &'static str {
                match self {
                    #(Operation::#operations => #operation_ids,)*
                }
            }

            /// Where this operation is sent.
            pub const fn route(self) -> &'static Route<#count> {
                &ROUTES[self as usize]
            }
        }

        impl ::std::fmt::Display for Operation {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.id())
            }
        }

        /// Where each operation of the document is sent, in `Operation` order.
        pub static ROUTES: [Route<#count>; #route_count] = [#(#route_items),*];
    }
}

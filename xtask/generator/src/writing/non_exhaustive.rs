//! Every type the client generates is `#[non_exhaustive]`, so that what the
//! vendor may add without breaking its own clients — an optional field of an
//! answer, an enum variant — does not break a caller of this crate either:
//! callers read fields and `match` with a `_` arm, and build request values
//! with builders or constructors, never struct literals. (`Environment` and
//! `Operation` are generated non-exhaustive in `routes/emit.rs`.)

use syn::{Item, parse_quote};

pub fn mark_types(client: &mut syn::File) {
    let Some((_, items)) = client.items.iter_mut().find_map(|item| match item {
        Item::Mod(module) if module.ident == "types" => module.content.as_mut(),
        _ => None,
    }) else {
        return;
    };
    for item in items {
        let attrs = match item {
            Item::Struct(item) => &mut item.attrs,
            Item::Enum(item) => &mut item.attrs,
            _ => continue,
        };
        if !attrs
            .iter()
            .any(|attr| attr.path().is_ident("non_exhaustive"))
        {
            attrs.push(parse_quote!(#[non_exhaustive]));
        }
    }
}

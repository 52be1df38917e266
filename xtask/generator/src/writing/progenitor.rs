//! Running progenitor: this workspace's settings, and progenitor's (or
//! typify's) panics caught, for the client (`pipeline.rs`), the mocks
//! (`mocks.rs`) and the search for a panic's culprit (`panics.rs`) alike.

use progenitor::{GenerationSettings, HooksMode, InterfaceStyle, TagStyle, TypeImpl};
use quote::quote;

/// progenitor's settings for this workspace.
pub fn settings() -> GenerationSettings {
    let mut settings = GenerationSettings::new();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_tag(TagStyle::Merged)
        // Routing, auth and the rest of the runtime live in hand-written code:
        // the call each `send` makes (`send_wrappers.rs`), given explicitly
        // in place of progenitor-client's hooks, which keep their defaults.
        .with_inner_type(quote!(crate::ClientContext))
        .with_hooks(HooksMode::Optional)
        .with_replacement(
            "EpochMillis",
            "crate::EpochMillis",
            [TypeImpl::Display].into_iter(),
        )
        .with_replacement("Secret", "crate::Secret", [TypeImpl::Display].into_iter());
    settings
}

/// The first line of a message, cut at 200 characters; `…` says there was
/// more.
pub fn first_line(message: &str) -> String {
    let mut lines = message.lines();
    let line = lines.next().unwrap_or_default().trim();
    let mut cut: String = line.chars().take(200).collect();
    if cut.len() < line.len() || lines.next().is_some() {
        cut = cut.trim_end_matches(['(', '{', '[', ':', ' ']).to_owned();
        cut.push('…');
    }
    cut
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

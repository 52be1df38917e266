//! What the generated `Environment` cannot know from the document: which
//! environments move real points. An exhaustive `match`, on purpose: when the
//! vendor's document adds an environment, the build stops here until someone
//! decides whether sending there needs a person's confirmation.

use crate::routes::Environment;

impl Environment {
    /// Whether calls in this environment credit and cancel real points: the
    /// `reward-points` command line and payout runs ask before sending there.
    #[cfg(not(another_document))]
    pub const fn is_live(self) -> bool {
        match self {
            Environment::Production => true,
            Environment::Sandbox | Environment::Testing => false,
        }
    }

    /// Whether calls in this environment reach real data: for another
    /// document than the vendor's, every environment counts as live (what
    /// is live there is not known), so nothing is sent without asking.
    #[cfg(another_document)]
    pub const fn is_live(self) -> bool {
        true
    }
}
